/**
 * Physics broadphase (which axis-aligned boxes overlap): the CPU twin of `broadphase.wgsl`, the
 * O(N^2) reference {@link bruteForcePairs}, and the validation and cell size both paths share.
 *
 * Input: `aabbs`, a Float32Array of `6 * N` floats; box k is
 * `[minX, minY, minZ, maxX, maxY, maxZ]` at `6 * k` (any length unit). Two boxes overlap when
 * their closed intervals overlap on all three axes (touching counts). Output: a Uint32Array of
 * pairs flattened `[i0, j0, i1, j1, ...]`, each `i < j`, sorted by `(i, j)`, no duplicates. The
 * GPU kernel, this twin and the brute force return identical arrays.
 *
 * Algorithm (Le Grand, "Broad-Phase Collision Detection with CUDA", GPU Gems 3 ch. 32: uniform
 * grid built by counting sort; hash of Teschner et al., "Optimized Spatial Hashing for Collision
 * Detection of Deformable Objects", VMV 2003):
 * 1. Cell edge `S >= largest box extent` (see {@link minCellSize}). Box i goes to the cell
 *    `floor(centre * (1 / S))` holding its centre (per axis), and to the hash bucket
 *    `(x + (y * 19349663 ^ z * 83492791)) & (T - 1)` of that cell, T = the power of two >= N
 *    (Teschner's primes for the row, x added so that a row's cells are neighbouring buckets;
 *    {@link cellHash}).
 * 2. Counting sort: bucket counts, exclusive scan (shaders/common/scan-cpu.ts), scatter of box
 *    indices into `sorted` (bucket by bucket).
 * 3. Two overlapping boxes have centres at most S apart on each axis, so their cells differ by at
 *    most 1 per axis: box i visits the 27 cells around its own and compares only with the boxes
 *    j > i whose own cell IS that cell (this drops hash collisions, and a bucket reached from two
 *    neighbour cells is not counted twice). It counts its pairs.
 * 4. Exclusive scan of the per-box counts gives each box's output offset; a second visit writes
 *    box i's partners at its offset and sorts them (few per box), so the whole output is sorted
 *    by (i, j) without a global sort. (Boxes are visited in bucket order, so that consecutive
 *    visits share cached buckets.)
 *
 * Float robustness: the cell of a box only decides WHICH boxes are compared; whether a pair is
 * output depends only on exact comparisons of the input floats. So results are identical as long
 * as every overlapping pair lands in neighbouring cells, whatever rounding the centre and cell
 * computations suffer (f64 here, f32 on the GPU, possibly fused or flushing subnormals). The
 * default cell edge pads the largest extent by far more than that rounding (see
 * {@link minCellSize}), and smaller cell sizes are refused.
 *
 * Cost: O(N + pairs + sum over boxes of the boxes in its 27 cells). One huge box makes every cell
 * huge and the cost tends to O(N^2): keep huge static boxes (terrain, walls) out of the broadphase
 * or split them.
 *
 * @example
 * ```ts
 * import { findPairsCpu } from 'peercompute/shaders';
 * const aabbs = new Float32Array([0, 0, 0, 1, 1, 1,   1, 0, 0, 2, 1, 1,   5, 5, 5, 6, 6, 6]);
 * findPairsCpu(aabbs); // Uint32Array [0, 1]: boxes 0 and 1 touch at x = 1
 * ```
 */
import { ShadersError } from '../errors.ts';
import { exclusiveScanCpu } from '../common/scan-cpu.ts';

/** Most boxes per call: 2^22 (their 96 MiB of floats fit WebGPU's default 128 MiB binding). */
export const MAX_BOXES = 4_194_304;
/** Most pairs per call by default and at most: 2^24 (8 bytes each = 128 MiB, WebGPU's default binding limit). */
export const MAX_PAIRS = 16_777_216;
/** Cell coordinates are clamped to +-2^30 so that neighbour arithmetic never overflows i32. */
export const CELL_COORD_LIMIT = 1_073_741_824;
/** Teschner et al.'s hash primes for y and z (x is added unmultiplied, see {@link cellHash}). */
export const HASH_PRIMES = [19349663, 83492791] as const;

/** Options of {@link findPairsCpu} and `findPairs`. */
export interface BroadphaseOptions {
  /**
   * Grid cell edge, in the boxes' units; default {@link minCellSize} of the boxes (the largest
   * extent plus a rounding margin). Larger values are allowed (more boxes per cell, slower);
   * smaller ones throw, since overlapping boxes could then be more than one cell apart.
   */
  cellSize?: number;
  /**
   * Most pairs the call may return, an integer `0..MAX_PAIRS`; default {@link MAX_PAIRS}. Finding
   * more throws `InvalidOption` (option `maxPairs`, `data.value` = pairs found, saturated at 2^32 - 1).
   */
  maxPairs?: number;
}

/** {@link BroadphaseOptions} and the boxes, validated and converted to what both paths use. */
export interface ResolvedBroadphase {
  /** Number of boxes N. */
  count: number;
  /** Cell edge used (>= {@link minCellSize}). */
  cellSize: number;
  /** `1 / cellSize` rounded DOWN to an f32 (so the effective edge `1 / invCellSize` >= cellSize); both paths multiply by it. */
  invCellSize: number;
  /** Hash buckets T: the power of two >= max(N, 1). */
  tableSize: number;
  /** Most pairs returned. */
  maxPairs: number;
}

function invalid(option: string, value: unknown, message: string, extra: Record<string, unknown> = {}): ShadersError {
  return new ShadersError('InvalidOption', `broadphase ${option}: ${message}`, { option, value, ...extra });
}

/**
 * Checks the boxes: a Float32Array, length a multiple of 6, at most {@link MAX_BOXES} boxes, every
 * value finite, `min <= max` on every axis.
 *
 * @returns The number of boxes.
 * @throws ShadersError code `InvalidOption` (`data.option = 'aabbs'`, `data.box` = the first bad
 *   box index when one is at fault) naming the box and the problem.
 */
export function validateAabbs(aabbs: Float32Array): number {
  if (!(aabbs instanceof Float32Array)) throw invalid('aabbs', typeof aabbs, 'expected a Float32Array of 6 floats per box');
  if (aabbs.length % 6 !== 0) throw invalid('aabbs', aabbs.length, `length ${aabbs.length} is not a multiple of 6 (box ${Math.floor(aabbs.length / 6)} is incomplete)`, { box: Math.floor(aabbs.length / 6) });
  const count = aabbs.length / 6;
  if (count > MAX_BOXES) throw invalid('aabbs', count, `${count} boxes, at most ${MAX_BOXES}`);
  for (let k = 0; k < count; k++) {
    const b = 6 * k;
    for (let axis = 0; axis < 3; axis++) {
      const lo = aabbs[b + axis];
      const hi = aabbs[b + 3 + axis];
      if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
        throw invalid('aabbs', [lo, hi], `box ${k} has a non-finite coordinate on axis ${'xyz'[axis]} (min ${lo}, max ${hi})`, { box: k });
      }
      if (lo > hi) throw invalid('aabbs', [lo, hi], `box ${k} has min ${lo} > max ${hi} on axis ${'xyz'[axis]}`, { box: k });
    }
  }
  return count;
}

/**
 * The smallest safe cell edge for these boxes: `E * (1 + 2^-20) + M * 2^-16 + 2^-120`, where E is
 * the largest extent `max - min` over boxes and axes and M the largest |coordinate|.
 *
 * Why it is safe: overlapping boxes have true centres at most E apart per axis. The GPU computes
 * a centre `lo * 0.5 + hi * 0.5` in f32 with an error below `2^-23 * M + 2^-124` (one rounding
 * of at most half an ulp of M, plus subnormals possibly flushed to zero), then `centre * inv`
 * with a relative error of 2^-24. Two computed cell coordinates (in cell units) thus differ by at
 * most `inv * (E + 2^-21 * M + 2^-123) <= 1` when `1 / inv >= E + 2^-21 * M + 2^-123`, and two
 * reals that differ by at most 1 have floors that differ by at most 1. The margin here is 32
 * times that bound for M and E's own f64 rounding; the CPU twin's f64 errors are far smaller.
 *
 * @param aabbs Validated boxes (see {@link validateAabbs}).
 * @returns The edge in the boxes' units (> 0; 2^-120 for an empty set).
 */
export function minCellSize(aabbs: Float32Array): number {
  let extent = 0;
  let magnitude = 0;
  for (let b = 0; b < aabbs.length; b += 6) {
    for (let axis = 0; axis < 3; axis++) {
      const lo = aabbs[b + axis];
      const hi = aabbs[b + 3 + axis];
      if (hi - lo > extent) extent = hi - lo;
      const m = Math.max(Math.abs(lo), Math.abs(hi));
      if (m > magnitude) magnitude = m;
    }
  }
  return extent * (1 + 2 ** -20) + magnitude * 2 ** -16 + 2 ** -120;
}

/**
 * `1 / cellSize` rounded down to an f32 value, so the grid's effective edge `1 / result` is at
 * least `cellSize` (the GPU reads this value from its uniform block, the CPU twin multiplies by it
 * in f64).
 *
 * @param cellSize A finite edge > 0 (at least 2^-120 so that the result is a finite f32).
 */
export function invCellSizeF32(cellSize: number): number {
  const exact = 1 / cellSize;
  F32_SCRATCH[0] = exact;
  if (F32_SCRATCH[0] > exact) U32_SCRATCH[0] -= 1; // one f32 ulp down (a positive float's bits)
  return F32_SCRATCH[0];
}

// Scratch for bit manipulation of one f32 (no state: fully written before every read).
const F32_SCRATCH = new Float32Array(1);
const U32_SCRATCH = new Uint32Array(F32_SCRATCH.buffer);

/** Hash buckets for `count` boxes: the power of two >= max(count, 1). */
export function tableSizeFor(count: number): number {
  let t = 1;
  while (t < count) t *= 2;
  return t;
}

/**
 * Validates boxes and options and derives what both paths use.
 *
 * @throws ShadersError code `InvalidOption` for bad boxes (see {@link validateAabbs}), a
 *   `cellSize` that is not finite or below {@link minCellSize} (`data.min` gives the minimum), or
 *   a `maxPairs` that is not an integer `0..MAX_PAIRS`.
 */
export function resolveBroadphase(aabbs: Float32Array, options: BroadphaseOptions = {}): ResolvedBroadphase {
  const count = validateAabbs(aabbs);
  const min = minCellSize(aabbs);
  let cellSize = min;
  if (options.cellSize !== undefined) {
    const c = options.cellSize;
    if (typeof c !== 'number' || !Number.isFinite(c)) throw invalid('cellSize', c, `${String(c)}: expected a finite number (at least ${min})`, { min });
    if (c < min) {
      throw invalid('cellSize', c, `${c} is below ${min}, the largest box extent plus a rounding margin: overlapping boxes could be more than one cell apart`, { min });
    }
    cellSize = c;
  }
  const maxPairs = options.maxPairs ?? MAX_PAIRS;
  if (!Number.isInteger(maxPairs) || maxPairs < 0 || maxPairs > MAX_PAIRS) {
    throw invalid('maxPairs', maxPairs, `${String(maxPairs)}: expected an integer 0..${MAX_PAIRS}`);
  }
  return { count, cellSize, invCellSize: invCellSizeF32(cellSize), tableSize: tableSizeFor(count), maxPairs };
}

/**
 * Spatial hash of an integer cell, as the WGSL computes it (u32 wrapping arithmetic), masked to a
 * power-of-two table: `(x + (y * 19349663 ^ z * 83492791)) & mask`. The (y, z) row is hashed
 * with Teschner et al.'s primes and XOR; x is added unmultiplied so that x-neighbouring cells
 * land in neighbouring buckets, which keeps the 27-cell visits of consecutive boxes in cache
 * (with the bucket-order visits of the CPU twin: 7.2 s -> 2.1 s for 1M boxes here, against
 * Teschner's `x * 73856093 ^ y * 19349663 ^ z * 83492791` and index-order visits).
 *
 * @param x Cell coordinate, an i32.
 * @param mask Table size - 1.
 * @returns Bucket index `0..mask`.
 */
export function cellHash(x: number, y: number, z: number, mask: number): number {
  return ((x + (Math.imul(y, HASH_PRIMES[0]) ^ Math.imul(z, HASH_PRIMES[1]))) & mask) >>> 0;
}

/** Cell coordinate of one axis: `floor((lo * 0.5 + hi * 0.5) * inv)`, clamped to +-2^30. */
function cellCoord(lo: number, hi: number, inv: number): number {
  const q = Math.floor((lo * 0.5 + hi * 0.5) * inv);
  return q < -CELL_COORD_LIMIT ? -CELL_COORD_LIMIT : q > CELL_COORD_LIMIT ? CELL_COORD_LIMIT : q;
}

/**
 * The error both paths throw when more than `maxPairs` pairs are found: code `InvalidOption`,
 * `data = { option: 'maxPairs', value: found, found, maxPairs }`.
 *
 * @param found Pairs found, saturated at 2^32 - 1.
 */
export function tooManyPairsError(found: number, maxPairs: number): ShadersError {
  return invalid('maxPairs', found, `found ${found >= 0xffffffff ? 'at least 4294967295' : found} pairs, more than maxPairs = ${maxPairs}`, { found, maxPairs });
}

/** Sorts `a[from..to)` ascending; insertion sort for short runs, the engine's numeric sort otherwise. */
function sortRange(a: Uint32Array, from: number, to: number): void {
  if (to - from > 32) {
    a.subarray(from, to).sort();
    return;
  }
  for (let k = from + 1; k < to; k++) {
    const v = a[k];
    let m = k - 1;
    while (m >= from && a[m] > v) {
      a[m + 1] = a[m];
      m--;
    }
    a[m + 1] = v;
  }
}

/**
 * The broadphase on already resolved input (see {@link resolveBroadphase}); what
 * {@link findPairsCpu} runs after validating.
 */
export function findPairsResolvedCpu(aabbs: Float32Array, r: ResolvedBroadphase): Uint32Array {
  const n = r.count;
  const inv = r.invCellSize;
  const mask = r.tableSize - 1;
  // 1. Cells and buckets.
  const cx = new Int32Array(n);
  const cy = new Int32Array(n);
  const cz = new Int32Array(n);
  const bucketOf = new Uint32Array(n);
  const start = new Uint32Array(r.tableSize + 1);
  for (let i = 0; i < n; i++) {
    const b = 6 * i;
    const x = cellCoord(aabbs[b], aabbs[b + 3], inv);
    const y = cellCoord(aabbs[b + 1], aabbs[b + 4], inv);
    const z = cellCoord(aabbs[b + 2], aabbs[b + 5], inv);
    cx[i] = x;
    cy[i] = y;
    cz[i] = z;
    const h = cellHash(x, y, z, mask);
    bucketOf[i] = h;
    start[h]++;
  }
  // 2. Counting sort: bucket h holds slots start[h] .. start[h + 1]; slot s has the record
  //    sorted[4s..] = [box, cellX, cellY, cellZ] and the box's floats at boxes[6s..] (copies,
  //    so that the candidates of a bucket are read sequentially).
  exclusiveScanCpu(start, r.tableSize);
  const cursor = start.slice(0, r.tableSize);
  const sorted = new Int32Array(4 * n);
  const boxes = new Float32Array(6 * n);
  for (let i = 0; i < n; i++) {
    const s = cursor[bucketOf[i]]++;
    sorted[4 * s] = i;
    sorted[4 * s + 1] = cx[i];
    sorted[4 * s + 2] = cy[i];
    sorted[4 * s + 3] = cz[i];
    for (let f = 0; f < 6; f++) boxes[6 * s + f] = aabbs[6 * i + f];
  }

  // 3./4. The box in slot s visits the 27 cells around its own; counts its partners j > i, or
  // writes them at out[at..]. Boxes are visited in slot order, as they lie in the buckets:
  // consecutive boxes are then mostly in x-neighbouring cells, whose 27 neighbours are the same
  // buckets give or take one row (the hash keeps x-neighbours in neighbouring buckets).
  const visit = (s: number, out: Uint32Array | null, at: number): number => {
    const i = sorted[4 * s];
    const x = sorted[4 * s + 1], y = sorted[4 * s + 2], z = sorted[4 * s + 3];
    const b = 6 * s;
    const ax0 = boxes[b], ay0 = boxes[b + 1], az0 = boxes[b + 2];
    const ax1 = boxes[b + 3], ay1 = boxes[b + 4], az1 = boxes[b + 5];
    let found = 0;
    for (let dz = -1; dz <= 1; dz++) {
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx, ny = y + dy, nz = z + dz;
          const h = cellHash(nx, ny, nz, mask);
          for (let t = start[h], end = start[h + 1]; t < end; t++) {
            const k = 4 * t;
            if (sorted[k] <= i || sorted[k + 1] !== nx || sorted[k + 2] !== ny || sorted[k + 3] !== nz) continue;
            const c = 6 * t;
            if (boxes[c] <= ax1 && ax0 <= boxes[c + 3] && boxes[c + 1] <= ay1 && ay0 <= boxes[c + 4] && boxes[c + 2] <= az1 && az0 <= boxes[c + 5]) {
              if (out !== null) out[at + found] = sorted[k];
              found++;
            }
          }
        }
      }
    }
    return found;
  };

  const offsets = new Uint32Array(n + 1);
  for (let s = 0; s < n; s++) offsets[sorted[4 * s]] = visit(s, null, 0);
  const total = exclusiveScanCpu(offsets, n);
  if (total > r.maxPairs) throw tooManyPairsError(total, r.maxPairs);
  const partners = new Uint32Array(total);
  for (let s = 0; s < n; s++) {
    const i = sorted[4 * s];
    const from = offsets[i];
    const to = offsets[i + 1];
    if (to === from) continue;
    visit(s, partners, from);
    sortRange(partners, from, to);
  }
  const pairs = new Uint32Array(2 * total);
  for (let i = 0; i < n; i++) {
    for (let p = offsets[i], end = offsets[i + 1]; p < end; p++) {
      pairs[2 * p] = i;
      pairs[2 * p + 1] = partners[p];
    }
  }
  return pairs;
}

/**
 * Overlapping pairs of boxes on the CPU: the same uniform-grid algorithm as the GPU kernel, in
 * typed arrays (about 80 bytes per box plus 12 per pair; no allocation per pair).
 *
 * @param aabbs `6 * N` floats, box k = `[minX, minY, minZ, maxX, maxY, maxZ]` at `6k`.
 * @param options See {@link BroadphaseOptions}: cellSize = {@link minCellSize}, maxPairs = 2^24.
 * @returns Pairs flattened `[i0, j0, i1, j1, ...]`, `i < j`, sorted by (i, j); equal to
 *   {@link bruteForcePairs} and to the GPU kernel.
 * @throws ShadersError code `InvalidOption` for bad boxes (naming the box) or options, or when
 *   more than `maxPairs` pairs are found.
 */
export function findPairsCpu(aabbs: Float32Array, options: BroadphaseOptions = {}): Uint32Array {
  return findPairsResolvedCpu(aabbs, resolveBroadphase(aabbs, options));
}

/**
 * The O(N^2) reference: tests every pair of boxes. For tests and small N only (10k boxes take
 * about 0.1 s, 100k about 10 s).
 *
 * @param aabbs As for {@link findPairsCpu}.
 * @returns The same array as {@link findPairsCpu} (pairs flattened, `i < j`, sorted by (i, j)).
 * @throws ShadersError code `InvalidOption` for bad boxes (see {@link validateAabbs}).
 */
export function bruteForcePairs(aabbs: Float32Array): Uint32Array {
  const n = validateAabbs(aabbs);
  let out = new Uint32Array(1024);
  let length = 0;
  for (let i = 0; i < n; i++) {
    const b = 6 * i;
    const ax0 = aabbs[b], ay0 = aabbs[b + 1], az0 = aabbs[b + 2];
    const ax1 = aabbs[b + 3], ay1 = aabbs[b + 4], az1 = aabbs[b + 5];
    for (let j = i + 1; j < n; j++) {
      const c = 6 * j;
      if (aabbs[c] <= ax1 && ax0 <= aabbs[c + 3] && aabbs[c + 1] <= ay1 && ay0 <= aabbs[c + 4] && aabbs[c + 2] <= az1 && az0 <= aabbs[c + 5]) {
        if (length + 2 > out.length) {
          const grown = new Uint32Array(out.length * 2);
          grown.set(out);
          out = grown;
        }
        out[length++] = i;
        out[length++] = j;
      }
    }
  }
  return out.slice(0, length);
}
