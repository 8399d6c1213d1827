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

export { snapshot, restore, checksum, createSnapshot, diffSnapshots, fnv1a32, layoutHash } from './snapshot.ts';
export type { SnapshotDifference, WorldSnapshot } from './snapshot.ts';

export { Transform, Velocity, transformAt } from './transform.ts';

// Input: devices -> action map -> 8-byte per-tick input record (engine/input/).
export {
  INPUT_RECORD_BYTES, INPUT_BUTTON_COUNT, INPUT_AXIS_COUNT, AXIS_QUANT_MAX,
  createInputRecord, clearInputRecord, copyInputRecord, inputRecordsEqual,
  quantizeAxis, dequantizeAxis, assertValidInputRecord,
  encodeInputRecord, decodeInputRecord, isValidInputRecordBytes,
} from './input/record.ts';
export type { InputRecord } from './input/record.ts';

export {
  DEFAULT_ACTION_MAP, DEFAULT_DEAD_ZONE, DEFAULT_MOUSE_SCALE,
  cloneActionMap, validateActionMap, assertSameActionLayout,
  buttonMask, axisIndex, isPressed, axisValue, boundKeyCodes,
} from './input/actions.ts';
export type {
  ActionMap, ReadonlyActionMap, ButtonBinding, AxisBinding, AxisIndex, TouchButtonBinding, TouchAxisBinding,
} from './input/actions.ts';

export type { InputDevice } from './input/device.ts';
export { KeyboardDevice } from './input/keyboard.ts';
export type { KeyboardDeviceOptions } from './input/keyboard.ts';
export { MouseDevice } from './input/mouse.ts';
export type { MouseDeviceOptions } from './input/mouse.ts';
export { GamepadDevice } from './input/gamepad.ts';
export type { GamepadDeviceOptions, GamepadLike } from './input/gamepad.ts';
export { TouchDevice, DEFAULT_TOUCH_STICK_RADIUS } from './input/touch.ts';
export type { TouchDeviceOptions, TouchBounds } from './input/touch.ts';

export { InputSampler, ScriptedInputSource, createBrowserInputSampler, applyDeadZone } from './input/sampler.ts';
export type { InputSource, InputDevices, BrowserInputSamplerOptions } from './input/sampler.ts';

export { PlayerInput, LocalPlayer, readInputRecord, writeInputRecord } from './input/component.ts';
export { createInputSystem } from './input/inputSystem.ts';

export { BodyKind, ShapeKind, NO_HANDLE, RigidBody, Collider, Impulse, initPhysics, isPhysicsReady, createPhysics, DEFAULT_GRAVITY, DEFAULT_SOLVER_ITERATIONS, DEFAULT_PGS_ITERATIONS, DEFAULT_MAX_CCD_SUBSTEPS, DEFAULT_LENGTH_UNIT, PHYSICS, getPhysics, findPhysics, collisionEvents, physicsSystem, PHYSICS_EXTENSION, registerHeightfield, registerTrimesh, getHeightfield, getTrimesh, addBody, applyImpulse, DEFAULT_BODY, castRay } from './physics/index.ts';
export type { Rapier, PhysicsOptions, ResolvedPhysicsOptions, PhysicsContext, CollisionEvent, HeightfieldData, TrimeshData, Vec3, BodyOptions, Rotation, RayHit } from './physics/index.ts';
