/**
 * PeerCompute terrain: the front door of `plugins/terrain`, which puts the `shaders` terrain
 * (integer fBm heightmap kernel with a CPU twin, LOD, seamless normals, streaming) into an
 * engine world: a Compute-phase streaming system feeding the streamer through compute tasks
 * (results land on later ticks, never stalling one), Rapier heightfield colliders under players
 * (a deterministic Simulation-phase system), and height queries. Rendering is in
 * `plugins/babylon/terrain.ts`.
 *
 * Importing this module registers nothing; `createTerrain` installs, `terrain.dispose()` undoes.
 *
 * @example
 * ```ts
 * import { createTerrain, terrainHeightAt } from '../../plugins/terrain/index.ts';
 * await initPhysics();
 * createPhysics(world, scheduler);
 * const terrain = createTerrain(scheduler, {
 *   seed: 7, noise: { amplitude: 6, cellLog2: 6 }, lodRadii: [48, 96, 160],
 *   viewers: (w) => players(w),               // streaming centres, metres
 *   colliders: { radius: 16 },                // heightfield bodies under players
 *   backend: await acquireCompute(),          // WebGPU kernel, or the CPU twin
 * });
 * scheduler.step();
 * terrainHeightAt(world, 0.5, 0.5);           // metres, deterministic
 * ```
 */
export { TerrainPluginError } from './errors.ts';
export type { TerrainPluginErrorCode } from './errors.ts';

export { createTerrain, terrainOf, terrainHeightAt, TERRAIN, TERRAIN_STREAM_SYSTEM, DEFAULT_STREAM_EVERY_TICKS } from './terrain.ts';
export type { ChunkOffload, Terrain, TerrainColliderSettings, TerrainOptions, TerrainStats } from './terrain.ts';

export {
  chunkHeightfield, createTerrainColliderSystem, terrainShapeId, TerrainCollider, TERRAIN_COLLIDER_SYSTEM, TERRAIN_SHAPE_ID_BASE,
  TERRAIN_COLLIDER_CHUNK_X_LIMIT, TERRAIN_COLLIDER_CHUNK_Z_LIMIT,
} from './colliders.ts';
export type { TerrainColliderOptions } from './colliders.ts';
