/**
 * Overlap queries on top of the broadphase: which bodies touch each trigger volume or sensor
 * box. `queryOverlaps(backend, bodies, queries)` runs the broadphase (GPU or CPU twin) on the
 * bodies and the queries together and keeps the body-query pairs, as a compressed list per query
 * (CSR: `offsets`, `bodies`), identical on both backends.
 *
 * Cost: the broadphase's, over `bodies + queries` boxes, so also the body-body pairs it finds
 * (then dropped), and its grid cell is at least the largest box. It suits trigger volumes and
 * sensors about the size of the bodies. For interest management with a radius much larger than
 * the bodies (which entities are within 50 m of a player), cells that big put many bodies in one
 * cell: query a coarser proxy (one box per region) instead.
 *
 * @example
 * ```ts
 * const { offsets, bodies: hits } = await queryOverlaps(backend, bodyBoxes, triggerBoxes);
 * for (let q = 0; q < offsets.length - 1; q++) {
 *   for (let k = offsets[q]; k < offsets[q + 1]; k++) onEnter(q, hits[k]);   // body indices, ascending
 * }
 * ```
 */
import { ShadersError } from '../errors.ts';
import type { ComputeBackend } from '../runtime.ts';
import { findPairs } from './broadphase.ts';
import { validateAabbs } from './broadphase-cpu.ts';

/** The bodies overlapping each query box. */
export interface OverlapResult {
  /** `queries + 1` entries: the bodies of query `q` are `bodies[offsets[q] .. offsets[q + 1])`. */
  readonly offsets: Uint32Array;
  /** Body indices (into the `bodies` boxes), ascending within each query. */
  readonly bodies: Uint32Array;
}

/**
 * Turns the sorted pair list of `[...bodies, ...queries]` into per-query body lists. Pairs are
 * sorted by (i, j) with i < j, so a body-query pair is (body, nBodies + q) and the bodies of a
 * query come out ascending after a counting pass.
 */
export function overlapsFromPairs(pairs: Uint32Array, nBodies: number, nQueries: number): OverlapResult {
  const offsets = new Uint32Array(nQueries + 1);
  for (let p = 0; p < pairs.length; p += 2) {
    const i = pairs[p]!;
    const j = pairs[p + 1]!;
    if (i < nBodies && j >= nBodies) offsets[j - nBodies + 1]!++;
  }
  for (let q = 0; q < nQueries; q++) offsets[q + 1]! += offsets[q]!;
  const bodies = new Uint32Array(offsets[nQueries]!);
  const cursor = offsets.slice(0, nQueries);
  // Pairs are sorted by i (the body), so each query's list fills in ascending body order.
  for (let p = 0; p < pairs.length; p += 2) {
    const i = pairs[p]!;
    const j = pairs[p + 1]!;
    if (i < nBodies && j >= nBodies) bodies[cursor[j - nBodies]!++] = i;
  }
  return { offsets, bodies };
}

/**
 * The bodies whose boxes overlap each query box (closed intervals, touching counts).
 *
 * @param backend From `acquireCompute()`: the GPU broadphase, or its CPU twin.
 * @param bodies Body boxes, 6 floats each (`[minX, minY, minZ, maxX, maxY, maxZ]`).
 * @param queries Query boxes (triggers, sensors), same layout.
 * @returns Per-query body lists ({@link OverlapResult}), identical on both backends.
 * @throws ShadersError `InvalidOption` for malformed boxes (naming `bodies` or `queries` and the
 *   box), or more pairs than the broadphase's `MAX_PAIRS`; GPU errors as `findPairs`.
 */
export async function queryOverlaps(backend: ComputeBackend, bodies: Float32Array, queries: Float32Array): Promise<OverlapResult> {
  for (const [option, boxes] of [['bodies', bodies], ['queries', queries]] as const) {
    try {
      validateAabbs(boxes);
    } catch (error) {
      if (error instanceof ShadersError) {
        throw new ShadersError(error.code, `queryOverlaps ${option}: ${error.message}`, { ...error.data, option });
      }
      throw error;
    }
  }
  const all = new Float32Array(bodies.length + queries.length);
  all.set(bodies, 0);
  all.set(queries, bodies.length);
  const pairs = await findPairs(backend, all);
  return overlapsFromPairs(pairs, bodies.length / 6, queries.length / 6);
}
