/**
 * Terrain heightmap: the CPU twin of `heightmap.wgsl`, and the options both share.
 *
 * Heights are bit-exact between this file and the WGSL kernel on any GPU: only integer
 * arithmetic with u32/i32 wrapping semantics (`Math.imul`, `>>> 0`, `| 0` here; WGSL's
 * wrapping `u32`/`i32` operators there), no floating point inside the kernel.
 *
 * Algorithm (the same steps, in the same order, in both files):
 * 1. Vertex `(i, j)` of chunk `(chunkX, chunkZ)` has global integer coordinates
 *    `gx = chunkX * size + i`, `gz = chunkZ * size + j`; heights depend only on these, so
 *    neighbouring chunks share their edge vertices exactly (chunks tile seamlessly).
 *    Level of detail `lod` samples every `2^lod`-th vertex: vertex `(i, j)` of an LOD-`l` chunk
 *    is global vertex `(chunkX * size + i * 2^l, chunkZ * size + j * 2^l)`, so its heights are
 *    exactly every `2^l`-th height of the LOD-0 chunk covering the same area. `border` adds
 *    that many vertices (at the same spacing) around the chunk, for normals at the edges.
 * 2. For octave `o` (0 = coarsest): `salt = pcg(seed ^ pcg(o))`; the lattice is shifted by
 *    `(salt & 0xffff, salt >>> 16)` vertices so octaves do not share lattice points at the origin.
 *    The lattice cell is `2^(cellLog2 - o)` vertices wide (lacunarity 2).
 * 3. Value noise: each lattice point `(cx, cz)` gets `pcg(cx + pcg(cz + salt)) >>> 16` minus
 *    32768, a signed 16-bit value. The four corners are blended bilinearly with the quintic fade
 *    `6t^5 - 15t^4 + 10t^3` (Perlin 2002, "Improving Noise") in Q16 fixed point.
 * 4. fBm (Musgrave, in Ebert et al., "Texturing and Modeling: A Procedural Approach"): the
 *    octaves are summed with amplitudes `amplitude * persistence^o`, pre-scaled on the host to
 *    integers in 1/64 m, so `height += (noise * amp) >> 11` stays within i32.
 *
 * Hash: PCG (O'Neill 2014) in the single-u32 "pcg_hash" form recommended by Jarzynski, Olano,
 * "Hash Functions for GPU Rendering", JCGT 9(3), 2020; multi-dimensional inputs are nested
 * `pcg(x + pcg(z + s))` as that paper does.
 *
 * @example
 * ```ts
 * import { generateChunkCpu, heightmapChecksum, HEIGHT_UNITS_PER_METRE } from 'peercompute/shaders';
 * const heights = generateChunkCpu({ seed: 42, chunkX: 0, chunkZ: -1, size: 64 });
 * const metres = heights[0] / HEIGHT_UNITS_PER_METRE; // vertex (0, 0), i.e. global (0, -64)
 * heightmapChecksum(heights); // same on every peer for the same options
 * ```
 */
import { ShadersError } from '../errors.ts';

/** Heights are integers in 1/1024 m: a value of 2048 is 2 m. */
export const HEIGHT_UNITS_PER_METRE = 1024;
/** Octave amplitudes are passed to the kernel in 1/64 m (16 height units). */
export const AMPLITUDE_UNITS_PER_METRE = 64;
/** Most octaves a chunk can sum (the kernel's uniform block holds 16 amplitudes). */
export const MAX_OCTAVES = 16;
/** Largest `cellLog2`: the fade works on a 16-bit fraction of a cell. */
export const MAX_CELL_LOG2 = 16;
/** Largest `size` (cells per side): 2049^2 heights, 16 MiB, within every WebGPU device's limits. */
export const MAX_CHUNK_SIZE = 2048;

/** Default cells per side of a chunk (257 x 257 heights). */
export const DEFAULT_CHUNK_SIZE = 256;
/** Default number of fBm octaves. */
export const DEFAULT_OCTAVES = 6;
/** Default log2 of the coarsest octave's lattice cell, in vertices: 7, i.e. 128 vertices. */
export const DEFAULT_CELL_LOG2 = 7;
/** Default amplitude of the coarsest octave, metres. */
export const DEFAULT_AMPLITUDE = 64;
/** Default ratio between the amplitudes of successive octaves. */
export const DEFAULT_PERSISTENCE = 0.5;
/** Default height added to every vertex, metres. */
export const DEFAULT_BASE_HEIGHT = 0;
/** Most extra vertices around a chunk ({@link HeightmapOptions.border}). */
export const MAX_BORDER = 8;

/** Options of one heightmap chunk, shared by the GPU kernel and its CPU twin. */
export interface HeightmapOptions {
  /** World seed, an integer 0..2^32-1. Peers with the same seed see the same terrain. */
  seed: number;
  /** Chunk column along x, an integer; `|chunkX * size| <= 2^30`. */
  chunkX: number;
  /** Chunk row along z, an integer; `|chunkZ * size| <= 2^30`. */
  chunkZ: number;
  /**
   * Cells per side, an integer 1..{@link MAX_CHUNK_SIZE}; default {@link DEFAULT_CHUNK_SIZE}.
   * The chunk holds `(size + 1)^2` heights; its last row and column equal the first row and
   * column of the next chunks. The horizontal spacing of vertices is the caller's choice.
   */
  size?: number;
  /** fBm octaves, an integer 1..min(16, cellLog2 + 1); default {@link DEFAULT_OCTAVES}. */
  octaves?: number;
  /**
   * log2 of the coarsest octave's lattice cell in vertices, an integer 0..16; default
   * {@link DEFAULT_CELL_LOG2} (features about 128 vertices wide).
   */
  cellLog2?: number;
  /** Amplitude of the coarsest octave in metres, 0..1023; default {@link DEFAULT_AMPLITUDE}. */
  amplitude?: number;
  /** Amplitude ratio between successive octaves, 0..1; default {@link DEFAULT_PERSISTENCE}. */
  persistence?: number;
  /** Height added to every vertex in metres, |value| <= 10^6; default 0. */
  baseHeight?: number;
  /**
   * Level of detail, an integer 0..log2(size) with `size % 2^lod === 0`; default 0. The chunk
   * still covers `size` LOD-0 cells per side but samples every `2^lod`-th vertex, so it holds
   * `(size / 2^lod + 1)^2` heights (plus the border).
   */
  lod?: number;
  /**
   * Extra vertices generated around the chunk on every side, at the chunk's vertex spacing,
   * an integer 0..{@link MAX_BORDER}; default 0. With border `b` the result holds
   * `(size / 2^lod + 1 + 2b)^2` heights whose vertex `(0, 0)` is `b` steps before the chunk's
   * corner on both axes (used for seamless normals, see `chunkNormals`).
   */
  border?: number;
}

/** {@link HeightmapOptions} validated and converted to the integers the kernel reads. */
export interface ResolvedHeightmap {
  /** Seed as u32. */
  seed: number;
  /** Global x of vertex (0, 0): `chunkX * size - border * 2^lod`, i32. */
  originX: number;
  /** Global z of vertex (0, 0): `chunkZ * size - border * 2^lod`, i32. */
  originZ: number;
  /** Vertices per side of the result, `size / 2^lod + 1 + 2 * border`. */
  side: number;
  /** Level of detail: vertex spacing is `2^lod` global vertices. */
  lod: number;
  /** Extra vertices on each side (see {@link HeightmapOptions.border}). */
  border: number;
  /** Number of octaves. */
  octaves: number;
  /** log2 of the coarsest lattice cell in vertices. */
  cellLog2: number;
  /** Base height in 1/1024 m. */
  baseHeight: number;
  /** Amplitude of each octave in 1/64 m (0..65535), {@link MAX_OCTAVES} entries, unused ones 0. */
  amplitudes: Int32Array;
}

function invalid(option: string, value: unknown, expected: string): ShadersError {
  return new ShadersError('InvalidOption', `heightmap option ${option} = ${String(value)}: expected ${expected}`, {
    option,
    value,
  });
}

function integerIn(option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(option, value, `an integer ${min}..${max}`);
  return value;
}

function numberIn(option: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(option, value, `a number ${min}..${max}`);
  }
  return value;
}

/**
 * Validates heightmap options and converts them to the kernel's integers.
 *
 * Octave amplitudes are `amplitude * persistence^o` computed by repeated multiplication (IEEE
 * multiplication is exact-rounded everywhere; `Math.pow` is not guaranteed to be), then rounded
 * to 1/64 m, so every peer's host code gives the kernel the same integers.
 *
 * @throws ShadersError code `InvalidOption` naming the option when one is out of range.
 */
export function resolveHeightmapOptions(options: HeightmapOptions): ResolvedHeightmap {
  const seed = integerIn('seed', options.seed, 0, 0xffffffff);
  const size = integerIn('size', options.size ?? DEFAULT_CHUNK_SIZE, 1, MAX_CHUNK_SIZE);
  const chunkX = integerIn('chunkX', options.chunkX, -Math.floor(2 ** 30 / size), Math.floor(2 ** 30 / size));
  const chunkZ = integerIn('chunkZ', options.chunkZ, -Math.floor(2 ** 30 / size), Math.floor(2 ** 30 / size));
  const cellLog2 = integerIn('cellLog2', options.cellLog2 ?? DEFAULT_CELL_LOG2, 0, MAX_CELL_LOG2);
  const octaves = integerIn('octaves', options.octaves ?? DEFAULT_OCTAVES, 1, Math.min(MAX_OCTAVES, cellLog2 + 1));
  const amplitude = numberIn('amplitude', options.amplitude ?? DEFAULT_AMPLITUDE, 0, 1023);
  const persistence = numberIn('persistence', options.persistence ?? DEFAULT_PERSISTENCE, 0, 1);
  const baseHeight = numberIn('baseHeight', options.baseHeight ?? DEFAULT_BASE_HEIGHT, -1e6, 1e6);
  const lod = integerIn('lod', options.lod ?? 0, 0, Math.log2(size & -size));
  const border = integerIn('border', options.border ?? 0, 0, MAX_BORDER);
  const amplitudes = new Int32Array(MAX_OCTAVES);
  let amp = amplitude * AMPLITUDE_UNITS_PER_METRE;
  for (let o = 0; o < octaves; o++) {
    amplitudes[o] = Math.min(65535, Math.round(amp));
    amp *= persistence;
  }
  return {
    seed,
    originX: chunkX * size - (border << lod),
    originZ: chunkZ * size - (border << lod),
    side: (size >> lod) + 1 + 2 * border,
    lod,
    border,
    octaves,
    cellLog2,
    baseHeight: Math.round(baseHeight * HEIGHT_UNITS_PER_METRE),
    amplitudes,
  };
}

/**
 * PCG hash of one u32 (Jarzynski, Olano 2020, after O'Neill's PCG): a well-mixed u32.
 *
 * @param v Any number; its low 32 bits are used.
 * @returns u32 (0..2^32-1). Same as `pcg_hash` in `heightmap.wgsl`.
 */
export function pcgHash(v: number): number {
  const state = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const word = Math.imul((state >>> ((state >>> 28) + 4)) ^ state, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Signed 16-bit lattice value (-32768..32767) of point (cx, cz) for an octave's salt. */
function latticeValue(salt: number, cx: number, cz: number): number {
  const h = pcgHash(((cx >>> 0) + pcgHash(((cz >>> 0) + salt) >>> 0)) >>> 0);
  return (h >>> 16) - 32768;
}

/** Quintic fade of a Q16 fraction t (0..65535), result Q15 (0..32767). */
function fadeQ15(t: number): number {
  const t2 = (Math.imul(t, t) >>> 0) >>> 16;
  const t3 = (Math.imul(t2, t) >>> 0) >>> 16;
  const inner = (655360 - 15 * t + 6 * t2) >>> 0; // (10 - 15t + 6t^2) in Q16, 65536..655360
  const f = (Math.imul(t3, inner >>> 4) >>> 0) >>> 12; // Q16
  return f >>> 1;
}

/** a + (b - a) * f / 32768 in i32, f in Q15. */
function lerpQ15(a: number, b: number, f: number): number {
  return (a + (Math.imul(b - a, f) >> 15)) | 0;
}

/**
 * Height of one global vertex, in 1/1024 m. The per-vertex body of the kernel.
 *
 * @param p Resolved options (only seed, octaves, cellLog2, baseHeight and amplitudes are read).
 * @param gx Global vertex x (i32).
 * @param gz Global vertex z (i32).
 */
export function heightAt(p: ResolvedHeightmap, gx: number, gz: number): number {
  let height = p.baseHeight | 0;
  for (let o = 0; o < p.octaves; o++) {
    const salt = pcgHash((p.seed ^ pcgHash(o)) >>> 0);
    const x = (gx + (salt & 0xffff)) | 0;
    const z = (gz + (salt >>> 16)) | 0;
    const shift = p.cellLog2 - o;
    const mask = (1 << shift) - 1;
    const cx = x >> shift;
    const cz = z >> shift;
    const fx = fadeQ15((x & mask) << (16 - shift));
    const fz = fadeQ15((z & mask) << (16 - shift));
    const v00 = latticeValue(salt, cx, cz);
    const v10 = latticeValue(salt, (cx + 1) | 0, cz);
    const v01 = latticeValue(salt, cx, (cz + 1) | 0);
    const v11 = latticeValue(salt, (cx + 1) | 0, (cz + 1) | 0);
    const noise = lerpQ15(lerpQ15(v00, v10, fx), lerpQ15(v01, v11, fx), fz);
    height = (height + (Math.imul(noise, p.amplitudes[o]) >> 11)) | 0;
  }
  return height;
}

/**
 * Generates one chunk's heights on the CPU; bit-exact with the GPU kernel.
 *
 * @param options See {@link HeightmapOptions}.
 * @returns `side^2` heights in 1/1024 m with `side = size / 2^lod + 1 + 2 * border` (default
 *   `size + 1`), row-major by z: vertex `(i, j)` (x, z) at index `j * side + i`, global vertex
 *   `(originX + i * 2^lod, originZ + j * 2^lod)`. Absolute values stay below `|baseHeight| + amplitude / (1 - persistence)`.
 *   A 256 chunk with 6 octaves takes ~27 ms in Node 20 on one core.
 * @throws ShadersError code `InvalidOption` when an option is out of range.
 */
export function generateChunkCpu(options: HeightmapOptions): Int32Array {
  const p = resolveHeightmapOptions(options);
  return generateResolvedCpu(p);
}

/** {@link generateChunkCpu} for already resolved options. */
export function generateResolvedCpu(p: ResolvedHeightmap): Int32Array {
  const heights = new Int32Array(p.side * p.side);
  const lod = p.lod;
  for (let j = 0; j < p.side; j++) {
    const gz = (p.originZ + (j << lod)) | 0;
    for (let i = 0; i < p.side; i++) heights[j * p.side + i] = heightAt(p, (p.originX + (i << lod)) | 0, gz);
  }
  return heights;
}

/**
 * FNV-1a 32-bit checksum of a chunk's heights (each height's 4 bytes, little-endian), for
 * comparing chunks between peers and pinning the algorithm in tests.
 *
 * @returns u32.
 */
export function heightmapChecksum(heights: Int32Array): number {
  let hash = 0x811c9dc5;
  for (let k = 0; k < heights.length; k++) {
    const v = heights[k];
    for (let b = 0; b < 32; b += 8) hash = Math.imul(hash ^ ((v >>> b) & 0xff), 0x01000193);
  }
  return hash >>> 0;
}
