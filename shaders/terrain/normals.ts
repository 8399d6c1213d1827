/**
 * Terrain normals from integer heights, and cutting a bordered chunk down to its own vertices.
 *
 * Normals come from central differences of the integer heights (1/1024 m), so they depend only
 * on global vertex heights: a vertex on the edge shared by two chunks gets its neighbours from
 * each chunk's one-vertex border (`border: 1` in {@link HeightmapOptions}), which holds the same
 * global heights in both, so adjacent chunks give bit-identical normals on shared vertices.
 *
 * Formula, for vertex `(i, j)` with heights `h` in 1/1024 m and horizontal vertex spacing `s` m:
 * ```
 * dx = h(i + 1, j) - h(i - 1, j)          // 1/1024 m over 2s metres along +X
 * dz = h(i, j + 1) - h(i, j - 1)          // 1/1024 m over 2s metres along +Z
 * n  = normalize(-dx, 2 * s * 1024, -dz)   // the normal of y = h(x, z): (-dh/dx, 1, -dh/dz)
 * ```
 * computed in f64 with `+ - * /` and `Math.sqrt` only (all correctly rounded in IEEE 754), then
 * stored as f32: the same bits on every machine.
 *
 * @example
 * ```ts
 * const options = { seed: 7, chunkX: 0, chunkZ: 0, size: 32, border: 1 };
 * const bordered = generateChunkCpu(options);              // 35 x 35 heights
 * const heights = chunkInterior(bordered, 35, 1);           // 33 x 33, the chunk itself
 * const normals = chunkNormals(bordered, 35, 1, 1);         // 33 x 33 x 3 unit vectors
 * ```
 */
import { ShadersError } from '../errors.ts';
import { HEIGHT_UNITS_PER_METRE } from './heightmap-cpu.ts';

function checkGrid(heights: Int32Array, side: number, border: number, minBorder: number): void {
  if (!Number.isInteger(side) || side < 1 + 2 * border) {
    throw new ShadersError('InvalidOption', `terrain grid side = ${side}: expected an integer >= 1 + 2 * border (${1 + 2 * border})`, { option: 'side', value: side });
  }
  if (!Number.isInteger(border) || border < minBorder) {
    throw new ShadersError('InvalidOption', `terrain grid border = ${border}: expected an integer >= ${minBorder}`, { option: 'border', value: border });
  }
  if (!(heights instanceof Int32Array) || heights.length !== side * side) {
    throw new ShadersError('InvalidOption', `terrain grid heights: expected an Int32Array of side^2 = ${side * side}, got ${heights?.length}`, {
      option: 'heights',
      value: heights?.length,
    });
  }
}

/**
 * The chunk's own vertices of a grid generated with a border.
 *
 * @param heights `side^2` heights, row-major by z (as `generateChunk` returns them).
 * @param side Vertices per side of `heights`, border included.
 * @param border Border vertices on each side (0 returns a copy).
 * @returns `(side - 2 * border)^2` heights, row-major by z.
 * @throws ShadersError `InvalidOption` when the sizes do not match.
 */
export function chunkInterior(heights: Int32Array, side: number, border: number): Int32Array {
  checkGrid(heights, side, border, 0);
  const inner = side - 2 * border;
  const out = new Int32Array(inner * inner);
  for (let j = 0; j < inner; j++) out.set(heights.subarray((j + border) * side + border, (j + border) * side + border + inner), j * inner);
  return out;
}

/**
 * Unit normals of the chunk's own vertices (see the module doc for the formula).
 *
 * @param heights `side^2` heights in 1/1024 m generated with `border >= 1`, row-major by z.
 * @param side Vertices per side of `heights`, border included.
 * @param border Border vertices on each side, >= 1.
 * @param spacing Horizontal distance between neighbouring vertices, metres (> 0): the LOD-0
 *   vertex spacing times `2^lod`.
 * @returns `(side - 2 * border)^2 * 3` floats, `(nx, ny, nz)` per vertex, row-major by z, in
 *   engine axes (right-handed, Y up); `ny > 0`.
 * @throws ShadersError `InvalidOption` when the sizes do not match, `border < 1` or `spacing <= 0`.
 */
export function chunkNormals(heights: Int32Array, side: number, border: number, spacing: number): Float32Array {
  checkGrid(heights, side, border, 1);
  if (typeof spacing !== 'number' || !Number.isFinite(spacing) || spacing <= 0) {
    throw new ShadersError('InvalidOption', `terrain normals spacing = ${spacing}: expected a finite number > 0 (metres)`, { option: 'spacing', value: spacing });
  }
  const inner = side - 2 * border;
  const out = new Float32Array(inner * inner * 3);
  const up = 2 * spacing * HEIGHT_UNITS_PER_METRE;
  const up2 = up * up;
  for (let j = 0; j < inner; j++) {
    const row = (j + border) * side + border;
    for (let i = 0; i < inner; i++) {
      const k = row + i;
      const dx = heights[k + 1]! - heights[k - 1]!;
      const dz = heights[k + side]! - heights[k - side]!;
      const inv = 1 / Math.sqrt(dx * dx + up2 + dz * dz);
      const o = (j * inner + i) * 3;
      out[o] = -dx * inv;
      out[o + 1] = up * inv;
      out[o + 2] = -dz * inv;
    }
  }
  return out;
}
