/**
 * PeerCompute for Babylon.js: the front door of `plugins/babylon`.
 *
 * Adds a PeerCompute world to an existing Babylon scene in a few lines. The plugin
 *
 * - drives the engine's fixed-step scheduler from the render loop (`scheduler.advance` with the
 *   frame's duration, before Babylon updates cameras);
 * - binds entities to meshes: your mesh to an entity (`bindMesh`), a new entity with a fitted
 *   collider for your mesh (`createEntityFromMesh`), or a new mesh for an entity's collider shape
 *   (`createMeshForEntity`: ball, cuboid, capsule, heightfield, trimesh);
 * - interpolates rendered poses between the last two ticks (lerp position, slerp rotation);
 * - converts coordinates: the engine is right-handed Y-up; in a left-handed scene (Babylon's
 *   default) Z is mirrored, in a `useRightHandedSystem` scene coordinates are copied as they are;
 * - shows a debug overlay (backend, tick, ticks/s, tick ms, entities, alpha), toggled with the
 *   Backquote key (left of `1`) or the `overlay` option;
 * - disposes cleanly: `runtime.dispose()` removes its observers, its RenderSync system, the
 *   overlay and the meshes it created. Attaching twice to one scene with the same world and
 *   scheduler returns the same runtime.
 *
 * Importing this module creates and registers nothing of its own (no observers, no systems, no
 * DOM until `attachPeerCompute`). It imports Babylon's `*.pure` modules where they exist; the one
 * exception is Babylon's standard `Engine` module (`Engines/engine.js`, which installs the
 * engine's own prototype extensions, as in any Babylon page) for `createBabylonEngine`. Your page
 * still imports what it renders with (e.g. `@babylonjs/core/Materials/standardMaterial.js`,
 * `@babylonjs/core/Lights/Shadows/shadowGeneratorSceneComponent.js`).
 *
 * @example
 * ```ts
 * import { Scene } from '@babylonjs/core/scene.js';
 * import { createWorld, Scheduler } from '../../engine/index.ts';
 * import { attachPeerCompute, createBabylonEngine } from '../../plugins/babylon/index.ts';
 *
 * const { engine, backend } = await createBabylonEngine(canvas, { prefer: 'webgpu' });
 * const scene = new Scene(engine);
 * const world = createWorld({ seed: 1 });
 * const scheduler = new Scheduler(world);
 * // ... physics, game systems, entities with Transform + Collider ...
 * const runtime = attachPeerCompute(scene, { world, scheduler, overlay: true });
 * runtime.createMeshForEntity(player, { material: playerMaterial });
 * engine.runRenderLoop(() => scene.render());
 * ```
 */
export { BabylonPluginError } from './errors.ts';
export type { BabylonPluginErrorCode } from './errors.ts';

export { createBabylonEngine, backendOf } from './engineFactory.ts';
export type { BabylonBackend, BabylonEngineOptions, CreatedBabylonEngine } from './engineFactory.ts';

export { attachPeerCompute, getPeerComputeRuntime, PeerComputeRuntime, DEFAULT_OVERLAY_KEY } from './runtime.ts';
export type {
  AttachOptions, BindOptions, CreateMeshOptions, DespawnAction, EntityFromMeshOptions, FrameInfo,
  OverlayOptions, UnbindInfo,
} from './runtime.ts';

export { createShapeMesh, inferShape, heightfieldTriangles, trianglesToScene, boxProjectUVs, DEFAULT_SHAPE_SEGMENTS } from './meshes.ts';
export type { ShapeDescription, ShapeHint, ShapeMeshOptions } from './meshes.ts';

export { positionToScene, rotationToScene, positionFromScene, rotationFromScene, interpolatePose } from './coordinates.ts';

export { formatOverlayText, OVERLAY_REFRESH_MS } from './overlay.ts';
export type { OverlayFigures } from './overlay.ts';

export { createTerrainMeshes, terrainChunkGeometry, terrainColour, DEFAULT_TERRAIN_SKIRT, DEFAULT_TERRAIN_HEIGHT_RANGE } from './terrain.ts';
export type { TerrainGeometryOptions, TerrainMeshes, TerrainMeshOptions } from './terrain.ts';
