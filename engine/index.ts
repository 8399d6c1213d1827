/**
 * PeerCompute engine: the front door of the `engine` area.
 *
 * A bitECS 0.4 world with typed components, a fixed-timestep scheduler with named phases,
 * deterministic utilities for rollback (seeded PRNG, ordered queries, snapshot/restore,
 * checksum), input sampling and Rapier physics.
 *
 * @example
 * ```ts
 * import { createWorld, defineComponent, Scheduler, Phase, spawn, addComponent, query, storeOf } from 'peercompute/engine';
 *
 * const Position = defineComponent('Position', { x: { type: 'f32', unit: 'm' } });
 * const Velocity = defineComponent('Velocity', { x: { type: 'f32', unit: 'm/s' } });
 * const moving = [Position, Velocity] as const;
 *
 * const world = createWorld({ seed: 7 });
 * const scheduler = new Scheduler(world);
 * scheduler.addSystem(Phase.Simulation, function movementSystem(w) {
 *   const p = storeOf(w, Position), v = storeOf(w, Velocity);
 *   for (const e of query(w, moving)) p.x[e] += v.x[e] * w.time.dt;
 * });
 * const e = spawn(world);
 * addComponent(world, e, Position, { x: 0 });
 * addComponent(world, e, Velocity, { x: 2 });
 * scheduler.step(); // Position.x is now 2/60 m
 * ```
 */
export { EngineError } from './errors.ts';
export type { EngineErrorCode } from './errors.ts';

export { defineComponent, createStore, componentBytes } from './components.ts';
export type {
  ComponentDef, ComponentOptions, FieldArray, FieldInfo, FieldSpec, FieldType, FieldValues, Schema, Store, TypedArrayOf,
} from './components.ts';

export { Rng } from './rng.ts';

export {
  DEFAULT_MAX_ENTITIES, DEFAULT_TICK_RATE, ComponentRegistry, createWorld, storeOf, spawn, despawn, isAlive, entityCount,
  addComponent, removeComponent, hasComponent, setFields, getFields, query, orderedQuery,
  onComponentAdded, onComponentRemoved, resourceKey, setResource, getResource, findResource, deleteResource,
  registerSnapshotExtension, unregisterSnapshotExtension,
} from './world.ts';
export type { GameWorld, QueryOptions, ResourceKey, SnapshotExtension, WorldContext, WorldOptions, WorldTime } from './world.ts';

export { Phase, PHASE_ORDER, SIMULATION_PHASES, DEFAULT_MAX_CATCH_UP_STEPS, Scheduler } from './scheduler.ts';
export type { SchedulerOptions, SchedulerStats, System } from './scheduler.ts';

export {
  ComputeTasks, computeTasks, computeTaskSystem, installComputeTasks, uninstallComputeTasks,
  COMPUTE_TASKS, COMPUTE_TASK_SYSTEM, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_QUEUED,
} from './compute-tasks.ts';
export type { ComputeTaskHandle, ComputeTaskInfo, ComputeTaskSpec, ComputeTaskState, ComputeTaskStats, ComputeTasksOptions } from './compute-tasks.ts';

export { snapshot, restore, checksum, createSnapshot, diffSnapshots, fnv1a32, layoutHash } from './snapshot.ts';
export type { SnapshotDifference, WorldSnapshot } from './snapshot.ts';
export { encodeSnapshot, decodeSnapshot, SNAPSHOT_CODEC_MAGIC, SNAPSHOT_CODEC_VERSION, MAX_ENCODED_SNAPSHOT_BYTES, MAX_SNAPSHOT_EXTENSIONS, MAX_EXTENSION_NAME_BYTES } from './snapshot-codec.ts';
export type { SnapshotDecodeFailure } from './snapshot-codec.ts';

export { Transform, Velocity, transformAt } from './transform.ts';

// Input (engine/input/) and physics (engine/physics/): each sub-area's front door lists its
// public API explicitly; the engine's door re-exports them rather than repeating the lists.
export * from './input/index.ts';
export * from './physics/index.ts';
