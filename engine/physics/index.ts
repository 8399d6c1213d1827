/**
 * Physics: Rapier (deterministic build) as the engine's Physics phase.
 *
 * Entities with `Transform` + `RigidBody` + `Collider` get a Rapier body and collider; each tick
 * `physicsSystem` pushes game-code changes (teleports, velocities, impulses) into Rapier, steps
 * it by `world.time.dt`, writes Transform and Velocity back and lists the collision events.
 * The Rapier world is saved and restored with the world (`snapshot`/`restore`, extension
 * `'physics'`), so rollback re-simulates it exactly.
 *
 * Units: metres, seconds, kilograms, radians; velocities m/s and rad/s, impulses N*s.
 *
 * @example
 * ```ts
 * import {
 *   createWorld, Scheduler, spawn, storeOf, Transform, snapshot, restore, checksum,
 *   initPhysics, createPhysics, addBody, BodyKind, ShapeKind, collisionEvents,
 * } from 'peercompute/engine';
 *
 * await initPhysics();
 * const world = createWorld({ seed: 1 });
 * const scheduler = new Scheduler(world);
 * createPhysics(world, scheduler);
 * const floor = spawn(world);
 * addBody(world, floor, { kind: BodyKind.Fixed, shape: ShapeKind.Cuboid, hx: 10, hy: 0.5, hz: 10 });
 * const ball = spawn(world);
 * addBody(world, ball, { shape: ShapeKind.Ball, radius: 0.5, position: { x: 0, y: 3, z: 0 } });
 * const saved = snapshot(world);
 * for (let i = 0; i < 60; i++) scheduler.step();
 * console.log(storeOf(world, Transform).py[ball], collisionEvents(world));
 * const sum = checksum(world);
 * restore(world, saved);                          // back to the start, physics included
 * for (let i = 0; i < 60; i++) scheduler.step();
 * console.log(checksum(world) === sum);           // true
 * ```
 */
export { BodyKind, ShapeKind, NO_HANDLE, RigidBody, Collider, Impulse } from './components.ts';
export { initPhysics, isPhysicsReady } from './rapier.ts';
export type { Rapier } from './rapier.ts';
export {
  createPhysics, DEFAULT_GRAVITY, DEFAULT_SOLVER_ITERATIONS, DEFAULT_PGS_ITERATIONS, DEFAULT_MAX_CCD_SUBSTEPS,
  DEFAULT_LENGTH_UNIT,
} from './create.ts';
export type { PhysicsOptions, ResolvedPhysicsOptions } from './create.ts';
export { PHYSICS, getPhysics, findPhysics, collisionEvents } from './state.ts';
export type { PhysicsContext, CollisionEvent } from './state.ts';
export { physicsSystem } from './system.ts';
export { PHYSICS_EXTENSION } from './snapshot.ts';
export { registerHeightfield, registerTrimesh, getHeightfield, getTrimesh, unregisterHeightfield } from './shapes.ts';
export type { HeightfieldData, TrimeshData, Vec3 } from './shapes.ts';
export { addBody, applyImpulse, DEFAULT_BODY } from './bodies.ts';
export type { BodyOptions, Rotation } from './bodies.ts';
export { castRay } from './raycast.ts';
export type { RayHit } from './raycast.ts';
