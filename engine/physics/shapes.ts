/**
 * Shape data that does not fit in components: heightfields and triangle meshes, registered by
 * id in a world resource and named by `Collider.shapeRef`.
 *
 * The data is immutable once registered and is not part of snapshots: every peer must register
 * the same data under the same ids (typically at setup, before the first tick). Registering an
 * id again with identical data is a no-op; with different data it throws, so an id always
 * means one shape for the whole match (rollback may rebuild a body from it at any time).
 * Heightfield and trimesh ids are separate namespaces.
 *
 * @example
 * ```ts
 * registerHeightfield(world, 1, { nrows: 2, ncols: 2, heights: new Float32Array(9), scale: { x: 40, y: 1, z: 40 } });
 * addBody(world, ground, { kind: BodyKind.Fixed, shape: ShapeKind.Heightfield, shapeRef: 1 });
 * ```
 */
import { EngineError } from '../errors.ts';
import { findResource, resourceKey, setResource, type GameWorld } from '../world.ts';

/** A 3D vector, metres or metres per second depending on use. */
export interface Vec3 {
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

/**
 * A heightfield: a grid of heights over the collider's local XZ plane, centred on the collider.
 *
 * Layout (Rapier's): `heights` holds `(nrows + 1) * (ncols + 1)` samples in column-major order.
 * Sample `heights[row + col * (nrows + 1)]` is the height at local
 * `x = (col / ncols - 0.5) * scale.x`, `z = (row / nrows - 0.5) * scale.z`,
 * and its local `y` is `height * scale.y`. So rows run along +Z, columns along +X, and the field
 * covers `scale.x` by `scale.z` metres.
 */
export interface HeightfieldData {
  /** Number of cells along Z (the grid has `nrows + 1` rows of samples). Integer >= 1. */
  readonly nrows: number;
  /** Number of cells along X (the grid has `ncols + 1` columns of samples). Integer >= 1. */
  readonly ncols: number;
  /** `(nrows + 1) * (ncols + 1)` heights, column-major (see above). Finite values. */
  readonly heights: Float32Array;
  /** Size along X and Z (metres) and height multiplier along Y. Finite, > 0. */
  readonly scale: Vec3;
  /**
   * Apply Rapier's `FIX_INTERNAL_EDGES`: contacts with the shared edges of neighbouring
   * triangles are corrected, so balls roll over seams without bumps. Default `false`.
   */
  readonly fixInternalEdges?: boolean;
}

/** A triangle mesh in the collider's local frame. Meant for fixed and kinematic bodies. */
export interface TrimeshData {
  /** Vertex positions `x0, y0, z0, x1, ...` in metres. Length a multiple of 3, finite values. */
  readonly vertices: Float32Array;
  /** Triangles as vertex index triples. Length a positive multiple of 3, every index < vertex count. */
  readonly indices: Uint32Array;
}

/** Registered shape data of one world. */
export interface ShapeRegistry {
  readonly heightfields: Map<number, Readonly<HeightfieldData>>;
  readonly trimeshes: Map<number, Readonly<TrimeshData>>;
}

/** Resource key of the shape registry. */
export const SHAPES = resourceKey<ShapeRegistry>('engine.physics.shapes');

/** The shape registry of `world`, created on first use. */
export function shapesOf(world: GameWorld): ShapeRegistry {
  let shapes = findResource(world, SHAPES);
  if (!shapes) setResource(world, SHAPES, (shapes = { heightfields: new Map(), trimeshes: new Map() }));
  return shapes;
}

function checkId(kind: string, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new EngineError('InvalidConfig', `${kind} id must be an integer in [0, 2^32), got ${id}`, { id });
  }
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/**
 * Registers heightfield `id` for `Collider.shapeRef` (with `Collider.shape` = `ShapeKind.Heightfield`).
 * The arrays are copied.
 * @throws EngineError `InvalidConfig` when the data is malformed (the message says how) or `id`
 *   is already registered with different data.
 */
export function registerHeightfield(world: GameWorld, id: number, data: HeightfieldData): void {
  checkId('heightfield', id);
  const { nrows, ncols, heights, scale } = data;
  if (!Number.isInteger(nrows) || nrows < 1 || !Number.isInteger(ncols) || ncols < 1) {
    throw new EngineError('InvalidConfig', `heightfield ${id}: nrows and ncols must be integers >= 1, got ${nrows} x ${ncols}`, { id, nrows, ncols });
  }
  const expected = (nrows + 1) * (ncols + 1);
  if (!(heights instanceof Float32Array) || heights.length !== expected) {
    throw new EngineError(
      'InvalidConfig',
      `heightfield ${id}: heights must be a Float32Array of (nrows + 1) * (ncols + 1) = ${expected} samples, got ${heights?.length}`,
      { id, expected, got: heights?.length },
    );
  }
  if (!allFinite(heights)) throw new EngineError('InvalidConfig', `heightfield ${id}: heights must be finite`, { id });
  for (const axis of ['x', 'y', 'z'] as const) {
    const v = scale?.[axis];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new EngineError('InvalidConfig', `heightfield ${id}: scale.${axis} must be finite and > 0, got ${v}`, { id, axis, value: v });
    }
  }
  const stored: HeightfieldData = Object.freeze({
    nrows,
    ncols,
    heights: heights.slice(),
    scale: Object.freeze({ x: scale.x, y: scale.y, z: scale.z }),
    fixInternalEdges: data.fixInternalEdges ?? false,
  });
  const registry = shapesOf(world);
  const existing = registry.heightfields.get(id);
  if (existing) {
    const same = existing.nrows === nrows && existing.ncols === ncols && existing.fixInternalEdges === stored.fixInternalEdges
      && Math.fround(existing.scale.x) === Math.fround(scale.x) && Math.fround(existing.scale.y) === Math.fround(scale.y)
      && Math.fround(existing.scale.z) === Math.fround(scale.z) && sameBytes(existing.heights, heights);
    if (same) return;
    throw new EngineError('InvalidConfig', `heightfield ${id} is already registered with different data`, { id });
  }
  registry.heightfields.set(id, stored);
}

/**
 * Registers triangle mesh `id` for `Collider.shapeRef` (with `Collider.shape` = `ShapeKind.Trimesh`).
 * The arrays are copied.
 * @throws EngineError `InvalidConfig` when the data is malformed (the message says how) or `id`
 *   is already registered with different data.
 */
export function registerTrimesh(world: GameWorld, id: number, data: TrimeshData): void {
  checkId('trimesh', id);
  const { vertices, indices } = data;
  if (!(vertices instanceof Float32Array) || vertices.length === 0 || vertices.length % 3 !== 0) {
    throw new EngineError('InvalidConfig', `trimesh ${id}: vertices must be a non-empty Float32Array of x, y, z triples, got length ${vertices?.length}`, { id });
  }
  if (!(indices instanceof Uint32Array) || indices.length === 0 || indices.length % 3 !== 0) {
    throw new EngineError('InvalidConfig', `trimesh ${id}: indices must be a non-empty Uint32Array of triangle triples, got length ${indices?.length}`, { id });
  }
  if (!allFinite(vertices)) throw new EngineError('InvalidConfig', `trimesh ${id}: vertices must be finite`, { id });
  const vertexCount = vertices.length / 3;
  for (let i = 0; i < indices.length; i++) {
    if (indices[i]! >= vertexCount) {
      throw new EngineError('InvalidConfig', `trimesh ${id}: index ${indices[i]} at position ${i} is out of range (${vertexCount} vertices)`, { id, position: i });
    }
  }
  const registry = shapesOf(world);
  const existing = registry.trimeshes.get(id);
  if (existing) {
    if (sameBytes(existing.vertices, vertices) && sameBytes(existing.indices, indices)) return;
    throw new EngineError('InvalidConfig', `trimesh ${id} is already registered with different data`, { id });
  }
  registry.trimeshes.set(id, Object.freeze({ vertices: vertices.slice(), indices: indices.slice() }));
}

/**
 * Forgets heightfield `id` (streamed terrain that moved out of range). Bodies already created
 * keep their shape: Rapier holds its own copy, and physics snapshots carry it, so restoring a
 * state from before the removal needs no registration. Only a NEW body using `id` needs the
 * data registered again first (the same data: registration is idempotent).
 * @returns Whether `id` was registered.
 */
export function unregisterHeightfield(world: GameWorld, id: number): boolean {
  return findResource(world, SHAPES)?.heightfields.delete(id) ?? false;
}

/** Heightfield `id` as registered (for renderers; do not mutate its arrays), or undefined. */
export function getHeightfield(world: GameWorld, id: number): Readonly<HeightfieldData> | undefined {
  return findResource(world, SHAPES)?.heightfields.get(id);
}

/** Trimesh `id` as registered (for renderers; do not mutate its arrays), or undefined. */
export function getTrimesh(world: GameWorld, id: number): Readonly<TrimeshData> | undefined {
  return findResource(world, SHAPES)?.trimeshes.get(id);
}
