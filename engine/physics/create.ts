/**
 * `createPhysics`: attaches a Rapier world to a game world.
 *
 * Rapier integration parameters set here (everything else keeps Rapier 0.21's defaults, the same
 * on every peer: contact ERP and natural frequency, prediction distance 0.002 m x lengthUnit,
 * allowed linear error 0.001 m x lengthUnit, sleeping enabled with Rapier's thresholds):
 * - `timestep` = `world.time.dt` (1/60 s at 60 Hz; Rapier keeps it as f32);
 * - `gravity`, `numSolverIterations`, `numInternalPgsIterations`, `maxCcdSubsteps`,
 *   `lengthUnit` from {@link PhysicsOptions}.
 * They are stored in Rapier snapshots, so a restore keeps them.
 *
 * @example
 * ```ts
 * await initPhysics();
 * const world = createWorld({ seed: 1 });
 * const scheduler = new Scheduler(world);
 * createPhysics(world, scheduler);                      // physicsSystem now runs in Phase.Physics
 * const floor = spawn(world);
 * addBody(world, floor, { kind: BodyKind.Fixed, shape: ShapeKind.Cuboid, hx: 10, hy: 0.5, hz: 10 });
 * const ball = spawn(world);
 * addBody(world, ball, { shape: ShapeKind.Ball, radius: 0.5, position: { x: 0, y: 5, z: 0 } });
 * for (let i = 0; i < 120; i++) scheduler.step();       // the ball rests on the floor at y = 1
 * ```
 */
import type { ComponentDef } from '../components.ts';
import { EngineError } from '../errors.ts';
import { Phase, type Scheduler } from '../scheduler.ts';
import { Transform, Velocity } from '../transform.ts';
import {
  deleteResource, findResource, onComponentAdded, query, registerSnapshotExtension, setResource, storeOf,
  unregisterSnapshotExtension, type GameWorld,
} from '../world.ts';
import { Collider, Impulse, NO_HANDLE, RigidBody } from './components.ts';
import { rapier } from './rapier.ts';
import type { Vec3 } from './shapes.ts';
import { physicsExtension, PHYSICS_EXTENSION } from './snapshot.ts';
import { PHYSICS, PhysicsState, type PhysicsContext } from './state.ts';
import { physicsSystem } from './system.ts';

/** Components registered by createPhysics, so every world with physics has the same snapshot layout. */
const PHYSICS_COMPONENTS: readonly ComponentDef[] = [Transform, Velocity, RigidBody, Collider, Impulse];

/** Default gravity: 9.81 m/s^2 downwards (-Y). */
export const DEFAULT_GRAVITY: Vec3 = Object.freeze({ x: 0, y: -9.81, z: 0 });
/** Default constraint solver iterations per step (Rapier's default). */
export const DEFAULT_SOLVER_ITERATIONS = 4;
/** Default internal PGS iterations per solver iteration (Rapier's default). */
export const DEFAULT_PGS_ITERATIONS = 1;
/** Default maximum CCD substeps per step (Rapier's default; 0 disables CCD). */
export const DEFAULT_MAX_CCD_SUBSTEPS = 1;
/** Default length unit: typical object size 1 m (Rapier's default). */
export const DEFAULT_LENGTH_UNIT = 1;

/** Options of {@link createPhysics}. Every peer of a match must use the same. */
export interface PhysicsOptions {
  /** Gravity, m/s^2. Default {@link DEFAULT_GRAVITY} (0, -9.81, 0). */
  readonly gravity?: Vec3;
  /** Constraint solver iterations per step, integer >= 1. Default 4. More is stiffer and slower. */
  readonly solverIterations?: number;
  /** Internal PGS iterations per solver iteration, integer >= 1. Default 1. */
  readonly pgsIterations?: number;
  /** Most CCD substeps per step, integer >= 0 (0 disables CCD). Default 1. */
  readonly maxCcdSubsteps?: number;
  /**
   * Approximate size of typical dynamic objects in metres (Rapier's `lengthUnit`), scaling its
   * internal tolerances. Finite, > 0. Default 1.
   */
  readonly lengthUnit?: number;
}

/** {@link PhysicsOptions} with defaults filled in, plus the timestep in use. */
export interface ResolvedPhysicsOptions {
  readonly gravity: Vec3;
  readonly solverIterations: number;
  readonly pgsIterations: number;
  readonly maxCcdSubsteps: number;
  readonly lengthUnit: number;
  /** Seconds per physics step: `world.time.dt`. */
  readonly timestep: number;
}

function resolveOptions(world: GameWorld, options: PhysicsOptions): ResolvedPhysicsOptions {
  const gravity = options.gravity ?? DEFAULT_GRAVITY;
  for (const axis of ['x', 'y', 'z'] as const) {
    if (typeof gravity[axis] !== 'number' || !Number.isFinite(gravity[axis])) {
      throw new EngineError('InvalidConfig', `gravity.${axis} must be a finite number (m/s^2), got ${gravity[axis]}`, { axis, value: gravity[axis] });
    }
  }
  const integer = (name: string, value: number, min: number): number => {
    if (!Number.isInteger(value) || value < min || value > 1024) {
      throw new EngineError('InvalidConfig', `${name} must be an integer in [${min}, 1024], got ${value}`, { [name]: value });
    }
    return value;
  };
  const lengthUnit = options.lengthUnit ?? DEFAULT_LENGTH_UNIT;
  if (!Number.isFinite(lengthUnit) || lengthUnit <= 0) {
    throw new EngineError('InvalidConfig', `lengthUnit must be finite and > 0 (m), got ${lengthUnit}`, { lengthUnit });
  }
  return Object.freeze({
    gravity: Object.freeze({ x: gravity.x, y: gravity.y, z: gravity.z }),
    solverIterations: integer('solverIterations', options.solverIterations ?? DEFAULT_SOLVER_ITERATIONS, 1),
    pgsIterations: integer('pgsIterations', options.pgsIterations ?? DEFAULT_PGS_ITERATIONS, 1),
    maxCcdSubsteps: integer('maxCcdSubsteps', options.maxCcdSubsteps ?? DEFAULT_MAX_CCD_SUBSTEPS, 0),
    lengthUnit,
    timestep: world.time.dt,
  });
}

function attach(state: PhysicsState, scheduler: Scheduler): void {
  if (scheduler.world !== state.world) {
    throw new EngineError('InvalidConfig', 'createPhysics: the scheduler belongs to another world', {});
  }
  const remove = scheduler.addSystem(Phase.Physics, physicsSystem);
  state.scheduler = scheduler;
  state.teardown.push(() => {
    remove();
    state.scheduler = undefined;
  });
}

/**
 * Creates the physics of `world` (synchronously: Rapier must be loaded, see `initPhysics`):
 * a Rapier world with the given options and timestep `world.time.dt`, the world resource
 * `PHYSICS`, the snapshot extension `'physics'` (so `snapshot`/`restore` carry the physics
 * state), and, when `scheduler` is given, `physicsSystem` in `Phase.Physics`.
 *
 * It registers the physics components (Transform, Velocity, RigidBody, Collider, Impulse) so
 * every world with physics has the same snapshot layout, resets the `handle` fields of
 * entities that already have RigidBody or Collider (the new Rapier world has no bodies), and
 * observes RigidBody and Collider additions to reset `handle` to `NO_HANDLE`, so a freshly added
 * component is never mistaken for a created body (component arrays start at 0, a valid handle).
 *
 * Safe to call twice: a second call returns the existing context and ignores `options`; given a
 * scheduler when the first call had none, it registers the system with it.
 *
 * @throws EngineError `Physics` when Rapier is not initialized; `InvalidConfig` for bad options,
 *   a scheduler of another world, or a second, different scheduler.
 */
export function createPhysics(world: GameWorld, scheduler?: Scheduler, options: PhysicsOptions = {}): PhysicsContext {
  const existing = findResource(world, PHYSICS) as PhysicsState | undefined;
  if (existing) {
    if (scheduler && existing.scheduler !== scheduler) {
      if (existing.scheduler) {
        throw new EngineError('InvalidConfig', 'createPhysics: physics of this world already runs in another scheduler', {});
      }
      attach(existing, scheduler);
    }
    return existing;
  }
  const R = rapier();
  const resolved = resolveOptions(world, options);
  for (const def of PHYSICS_COMPONENTS) storeOf(world, def);

  const rapierWorld = new R.World({ x: resolved.gravity.x, y: resolved.gravity.y, z: resolved.gravity.z });
  rapierWorld.timestep = resolved.timestep;
  rapierWorld.numSolverIterations = resolved.solverIterations;
  rapierWorld.numInternalPgsIterations = resolved.pgsIterations;
  rapierWorld.maxCcdSubsteps = resolved.maxCcdSubsteps;
  rapierWorld.lengthUnit = resolved.lengthUnit;
  const state = new PhysicsState(world, rapierWorld, new R.EventQueue(true), resolved);

  try {
    const rb = storeOf(world, RigidBody);
    const co = storeOf(world, Collider);
    for (const e of query(world, [RigidBody])) rb.handle[e] = NO_HANDLE;
    for (const e of query(world, [Collider])) co.handle[e] = NO_HANDLE;
    state.teardown.push(onComponentAdded(world, RigidBody, (e) => { rb.handle[e] = NO_HANDLE; }));
    state.teardown.push(onComponentAdded(world, Collider, (e) => { co.handle[e] = NO_HANDLE; }));

    const extension = physicsExtension(state);
    registerSnapshotExtension(world, extension);
    state.teardown.push(() => {
      if (world.snapshotExtensions.get(PHYSICS_EXTENSION) === extension) unregisterSnapshotExtension(world, PHYSICS_EXTENSION);
    });

    setResource(world, PHYSICS, state);
    state.teardown.push(() => {
      if (findResource(world, PHYSICS) === state) deleteResource(world, PHYSICS);
    });

    if (scheduler) attach(state, scheduler);
  } catch (error) {
    state.dispose();
    throw error;
  }
  return state;
}
