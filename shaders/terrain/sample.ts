/**
 * Terrain settings shared by every peer of a world, and height queries in metres.
 *
 * A terrain is the heightmap noise of `heightmap-cpu.ts` laid out in world space: global vertex
 * `(gx, gz)` sits at `(gx * vertexSpacing, gz * vertexSpacing)` metres, and chunk `(cx, cz)`
 * covers `[cx * chunkMetres, (cx + 1) * chunkMetres)` on both axes, `chunkMetres =
 * chunkCells * vertexSpacing`. Every peer that uses the same {@link TerrainSettings} sees the
 * same heights (integer noise, see heightmap-cpu.ts), whether chunks came from a GPU or the CPU.
 *
 * {@link TerrainSampler.heightAt} answers "how high is the ground at (x, z)" without any chunk
 * being generated: bilinear interpolation between the four LOD-0 vertex heights around the
 * point, computed from the integer heights with f64 `+ - *` and `Math.floor` only, so the
 * answer is the same on every machine (usable in simulation code).
 *
 * @example
 * ```ts
 * const sampler = createTerrainSampler({ seed: 42, noise: { amplitude: 6 } });
 * const y = sampler.heightAt(12.3, -4.5); // metres
 * ```
 */
import { ShadersError } from '../errors.ts';
import {
  heightAt as vertexHeightAt, HEIGHT_UNITS_PER_METRE, resolveHeightmapOptions, type HeightmapOptions, type ResolvedHeightmap,
} from './heightmap-cpu.ts';

/** Default LOD-0 cells per chunk side. */
export const DEFAULT_TERRAIN_CHUNK_CELLS = 32;
/** Default distance between neighbouring LOD-0 vertices, metres. */
export const DEFAULT_TERRAIN_VERTEX_SPACING = 1;
/** Largest chunk (LOD-0 cells per side). */
export const MAX_TERRAIN_CHUNK_CELLS = 1024;

/** Noise options of a terrain: {@link HeightmapOptions} without the per-chunk fields. */
export type TerrainNoiseOptions = Omit<HeightmapOptions, 'seed' | 'chunkX' | 'chunkZ' | 'size' | 'lod' | 'border'>;

/** What every peer of a world must agree on to see the same terrain. */
export interface TerrainSettings {
  /** World seed, an integer 0..2^32-1 (e.g. derived from the room id). */
  readonly seed: number;
  /** LOD-0 cells per chunk side, a power of two 2..{@link MAX_TERRAIN_CHUNK_CELLS}; default 32. */
  readonly chunkCells?: number;
  /** Distance between LOD-0 vertices, metres, 0.01..1000; default 1. */
  readonly vertexSpacing?: number;
  /** Noise shape (octaves, cellLog2, amplitude m, persistence, baseHeight m); heightmap defaults. */
  readonly noise?: TerrainNoiseOptions;
}

/** {@link TerrainSettings} validated, with derived sizes. */
export interface ResolvedTerrainSettings {
  readonly seed: number;
  readonly chunkCells: number;
  /** m */
  readonly vertexSpacing: number;
  /** Side of a chunk, metres: `chunkCells * vertexSpacing`. */
  readonly chunkMetres: number;
  /** Coarsest level of detail a chunk can have: `log2(chunkCells) - 1` (2 cells per side). */
  readonly maxLod: number;
  readonly noise: TerrainNoiseOptions;
  /** The kernel's integers (chunk 0, 0 at LOD 0), for {@link vertexHeightAt}. */
  readonly resolved: ResolvedHeightmap;
}

/**
 * Validates terrain settings.
 * @throws ShadersError `InvalidOption` naming the setting that is out of range (noise options
 *   are checked as the kernel checks them).
 */
export function resolveTerrainSettings(settings: TerrainSettings): ResolvedTerrainSettings {
  const chunkCells = settings.chunkCells ?? DEFAULT_TERRAIN_CHUNK_CELLS;
  if (!Number.isInteger(chunkCells) || chunkCells < 2 || chunkCells > MAX_TERRAIN_CHUNK_CELLS || (chunkCells & (chunkCells - 1)) !== 0) {
    throw new ShadersError('InvalidOption', `terrain option chunkCells = ${String(chunkCells)}: expected a power of two 2..${MAX_TERRAIN_CHUNK_CELLS}`, {
      option: 'chunkCells',
      value: chunkCells,
    });
  }
  const vertexSpacing = settings.vertexSpacing ?? DEFAULT_TERRAIN_VERTEX_SPACING;
  if (typeof vertexSpacing !== 'number' || !Number.isFinite(vertexSpacing) || vertexSpacing < 0.01 || vertexSpacing > 1000) {
    throw new ShadersError('InvalidOption', `terrain option vertexSpacing = ${String(vertexSpacing)}: expected a number 0.01..1000 (metres)`, {
      option: 'vertexSpacing',
      value: vertexSpacing,
    });
  }
  const noise: TerrainNoiseOptions = { ...(settings.noise ?? {}) };
  const resolved = resolveHeightmapOptions({ ...noise, seed: settings.seed, chunkX: 0, chunkZ: 0, size: chunkCells });
  return {
    seed: resolved.seed,
    chunkCells,
    vertexSpacing,
    chunkMetres: chunkCells * vertexSpacing,
    maxLod: Math.log2(chunkCells) - 1,
    noise,
    resolved,
  };
}

/** Height queries of one terrain. */
export interface TerrainSampler {
  readonly settings: ResolvedTerrainSettings;
  /**
   * Ground height at `(x, z)` metres, in metres: bilinear between the four LOD-0 vertices
   * around the point (deterministic, see the module doc). The rendered and collision meshes
   * are triangulated, so they may differ from this by a few centimetres inside a cell on slopes.
   * @throws ShadersError `InvalidOption` for a non-finite or too distant coordinate
   *   (beyond `2^30` vertices from the origin).
   */
  heightAt(x: number, z: number): number;
  /** Height of global LOD-0 vertex `(gx, gz)` (integers), in 1/1024 m. */
  vertexHeight(gx: number, gz: number): number;
}

const LIMIT = 2 ** 30;

/**
 * Creates the height queries of a terrain.
 * @throws ShadersError `InvalidOption` for bad settings.
 */
export function createTerrainSampler(settings: TerrainSettings | ResolvedTerrainSettings): TerrainSampler {
  const s = 'resolved' in settings ? settings : resolveTerrainSettings(settings);
  const p = s.resolved;
  const spacing = s.vertexSpacing;
  return {
    settings: s,
    vertexHeight: (gx, gz) => vertexHeightAt(p, gx | 0, gz | 0),
    heightAt(x, z) {
      const u = x / spacing;
      const v = z / spacing;
      if (!Number.isFinite(u) || !Number.isFinite(v) || Math.abs(u) >= LIMIT || Math.abs(v) >= LIMIT) {
        throw new ShadersError('InvalidOption', `terrain heightAt(${x}, ${z}): expected finite coordinates within 2^30 vertices of the origin`, {
          option: 'position',
          value: [x, z],
        });
      }
      const gx = Math.floor(u);
      const gz = Math.floor(v);
      const fx = u - gx;
      const fz = v - gz;
      const h00 = vertexHeightAt(p, gx, gz);
      const h10 = vertexHeightAt(p, gx + 1, gz);
      const h01 = vertexHeightAt(p, gx, gz + 1);
      const h11 = vertexHeightAt(p, gx + 1, gz + 1);
      const a = h00 + (h10 - h00) * fx;
      const b = h01 + (h11 - h01) * fx;
      return (a + (b - a) * fz) / HEIGHT_UNITS_PER_METRE;
    },
  };
}
