/**
 * Rapier heightfield colliders for the LOD-0 terrain chunks near players.
 *
 * Colliders are simulation state (a ball rolls differently with and without one), so they are
 * a pure function of the world: the {@link createTerrainColliderSystem} runs in
 * `Phase.Simulation` (before Physics), reads the collider viewers (e.g. player transforms),
 * and keeps one fixed body per chunk whose square is within `radius` metres of a viewer; a
 * chunk's body is despawned at `radius + hysteresis`. The heights come from the CPU twin at
 * once (a 32-cell chunk takes ~0.5 ms), never from an asynchronous GPU readback, whose landing
 * tick differs between peers. Every peer and every re-simulation therefore creates the same
 * bodies on the same tick, in ascending `(chunkZ, chunkX)` order, and despawns in ascending
 * entity id order. The chunk of each collider entity lives in the {@link TerrainCollider}
 * component (rolled back), not in a closure.
 *
 * Shape ids: chunk `(cx, cz)`'s heightfield is registered under
 * {@link terrainShapeId}`(cx, cz)` = `0x80000000 + (cx + 2^14) * 2^16 + (cz + 2^15)`, so the
 * ids `>= 0x80000000` are the terrain's (one terrain per world); registered data is immutable
 * and stays registered (the engine keeps shape data for the whole match, a few KB per chunk).
 */
import {
  addBody, BodyKind, defineComponent, despawn, getHeightfield, orderedQuery, registerHeightfield, ShapeKind, spawn, storeOf,
  unregisterHeightfield,
  addComponent, type GameWorld, type HeightfieldData,
} from '../../engine/index.ts';
import { generateChunkCpu, HEIGHT_UNITS_PER_METRE, type ResolvedTerrainSettings, type TerrainViewer } from '../../shaders/index.ts';
import { TerrainPluginError } from './errors.ts';

/** First heightfield id used by terrain colliders. */
export const TERRAIN_SHAPE_ID_BASE = 0x80000000;
/** Chunk x range of colliders: `-2^14 <= chunkX < 2^14`. */
export const TERRAIN_COLLIDER_CHUNK_X_LIMIT = 2 ** 14;
/** Chunk z range of colliders: `-2^15 <= chunkZ < 2^15`. */
export const TERRAIN_COLLIDER_CHUNK_Z_LIMIT = 2 ** 15;

/** Marks a fixed body that is the heightfield collider of terrain chunk `(chunkX, chunkZ)`. */
export const TerrainCollider = defineComponent('TerrainCollider', { chunkX: 'i32', chunkZ: 'i32' }, {
  doc: 'terrain heightfield collider of LOD-0 chunk (chunkX, chunkZ)',
});

/**
 * Heightfield id of chunk `(chunkX, chunkZ)` (see the module doc).
 * @throws TerrainPluginError `OutOfRange` outside the chunk range colliders can name.
 */
export function terrainShapeId(chunkX: number, chunkZ: number): number {
  if (!Number.isInteger(chunkX) || !Number.isInteger(chunkZ) || chunkX < -TERRAIN_COLLIDER_CHUNK_X_LIMIT || chunkX >= TERRAIN_COLLIDER_CHUNK_X_LIMIT
    || chunkZ < -TERRAIN_COLLIDER_CHUNK_Z_LIMIT || chunkZ >= TERRAIN_COLLIDER_CHUNK_Z_LIMIT) {
    throw new TerrainPluginError('OutOfRange', `terrain chunk (${chunkX}, ${chunkZ}) is outside the collider range (|chunkX| <= 2^14, |chunkZ| <= 2^15)`, { chunkX, chunkZ });
  }
  return TERRAIN_SHAPE_ID_BASE + (chunkX + TERRAIN_COLLIDER_CHUNK_X_LIMIT) * 65536 + (chunkZ + TERRAIN_COLLIDER_CHUNK_Z_LIMIT);
}

/**
 * A chunk's LOD-0 heights as Rapier heightfield data for a body at the chunk's centre.
 *
 * @param settings The terrain's settings.
 * @param heights `(chunkCells + 1)^2` heights in 1/1024 m, row-major by z (a chunk's `heights`).
 * @returns `nrows = ncols = chunkCells`, `scale = (chunkMetres, 1, chunkMetres)`, heights in
 *   metres (exact in f32: integers / 1024) transposed to Rapier's column-major layout
 *   (`heights[row + col * (nrows + 1)]`, rows along +Z, columns along +X).
 */
export function chunkHeightfield(settings: ResolvedTerrainSettings, heights: Int32Array): HeightfieldData {
  const cells = settings.chunkCells;
  const side = cells + 1;
  if (heights.length !== side * side) {
    throw new TerrainPluginError('InvalidConfig', `terrain heightfield: expected ${side * side} heights, got ${heights.length}`, { option: 'heights', value: heights.length });
  }
  const out = new Float32Array(side * side);
  for (let j = 0; j < side; j++) {
    for (let i = 0; i < side; i++) out[j + i * side] = heights[j * side + i]! / HEIGHT_UNITS_PER_METRE;
  }
  return { nrows: cells, ncols: cells, heights: out, scale: { x: settings.chunkMetres, y: 1, z: settings.chunkMetres } };
}

/** Options of {@link createTerrainColliderSystem}. */
export interface TerrainColliderOptions {
  /** The terrain's settings. */
  readonly settings: ResolvedTerrainSettings;
  /** Points that need ground under them (players), metres. Must depend on simulation state only. */
  readonly viewers: (world: GameWorld) => readonly TerrainViewer[];
  /** Chunks whose square is closer than this to a viewer get a collider, metres; > 0. */
  readonly radius: number;
  /** Extra distance before a collider is removed, metres; >= 0. */
  readonly hysteresis: number;
  /**
   * LOD-0 heights of a chunk when something already has them (e.g. the streamer's resident
   * chunk), else undefined and the CPU twin generates them. Equal either way (bit-exact).
   */
  readonly heightsOf?: (chunkX: number, chunkZ: number) => Int32Array | undefined;
  /** Friction of the ground; default 0.8. */
  readonly friction?: number;
}

/** Name under which the collider system is registered. */
export const TERRAIN_COLLIDER_SYSTEM = 'terrainColliderSystem';

/**
 * The system (for `Phase.Simulation`) that keeps heightfield colliders under the viewers (see
 * the module doc). The physics system (createPhysics) builds the Rapier bodies.
 */
export function createTerrainColliderSystem(options: TerrainColliderOptions): (world: GameWorld) => void {
  const { settings, radius, hysteresis } = options;
  const size = settings.chunkMetres;
  const friction = options.friction ?? 0.8;
  const distance2 = (viewers: readonly TerrainViewer[], cx: number, cz: number): number => {
    let best = Infinity;
    for (const v of viewers) {
      const dx = Math.max(cx * size - v.x, 0, v.x - (cx + 1) * size);
      const dz = Math.max(cz * size - v.z, 0, v.z - (cz + 1) * size);
      best = Math.min(best, dx * dx + dz * dz);
    }
    return best;
  };
  return function terrainColliderSystem(world: GameWorld): void {
    const viewers = options.viewers(world);
    const store = storeOf(world, TerrainCollider);
    const have = new Map<string, number>();
    const keep2 = (radius + hysteresis) ** 2;
    for (const eid of orderedQuery(world, [TerrainCollider])) {
      const cx = store.chunkX[eid]!;
      const cz = store.chunkZ[eid]!;
      if (distance2(viewers, cx, cz) >= keep2) {
        despawn(world, eid);
        // Its data is regenerated (same bits) if the chunk is needed again; Rapier and snapshots
        // keep their own copy for states from before.
        unregisterHeightfield(world, terrainShapeId(cx, cz));
      } else {
        have.set(`${cx},${cz}`, eid);
      }
    }
    const wanted: Array<{ cx: number; cz: number }> = [];
    const r2 = radius * radius;
    for (const v of viewers) {
      if (!Number.isFinite(v.x) || !Number.isFinite(v.z)) continue;
      for (let cz = Math.floor((v.z - radius) / size); cz <= Math.floor((v.z + radius) / size); cz++) {
        for (let cx = Math.floor((v.x - radius) / size); cx <= Math.floor((v.x + radius) / size); cx++) {
          const key = `${cx},${cz}`;
          if (have.has(key) || distance2([v], cx, cz) >= r2) continue;
          have.set(key, -1);
          wanted.push({ cx, cz });
        }
      }
    }
    wanted.sort((a, b) => a.cz - b.cz || a.cx - b.cx);
    for (const { cx, cz } of wanted) {
      const id = terrainShapeId(cx, cz);
      if (getHeightfield(world, id) === undefined) {
        const heights = options.heightsOf?.(cx, cz)
          ?? generateChunkCpu({ ...settings.noise, seed: settings.seed, chunkX: cx, chunkZ: cz, size: settings.chunkCells });
        registerHeightfield(world, id, chunkHeightfield(settings, heights));
      }
      const eid = spawn(world);
      addComponent(world, eid, TerrainCollider, { chunkX: cx, chunkZ: cz });
      addBody(world, eid, {
        kind: BodyKind.Fixed,
        shape: ShapeKind.Heightfield,
        shapeRef: id,
        friction,
        position: { x: (cx + 0.5) * size, y: 0, z: (cz + 0.5) * size },
      });
    }
  };
}
