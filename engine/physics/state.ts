/**
 * The physics context of a world: the Rapier world, the map between entities and Rapier
 * handles, and the collision events of the most recent step.
 *
 * It is stored as the world resource {@link PHYSICS}. Everything in it that the simulation
 * depends on is either derived from components or saved by the `physics` snapshot extension
 * (see `snapshot.ts`), so a rollback restores it exactly.
 */
import type {
  EventQueue,
  RigidBody as RapierRigidBody,
  World as RapierWorld,
} from '@dimforge/rapier3d-deterministic-compat';
import { getResource, findResource, resourceKey, type GameWorld } from '../world.ts';
import type { Scheduler } from '../scheduler.ts';
import type { BodyKind } from './components.ts';
import type { ResolvedPhysicsOptions } from './create.ts';

/**
 * A collision (contact or sensor overlap) that started or stopped during a physics step,
 * between the colliders of entities `a` and `b`.
 */
export interface CollisionEvent {
  /** The lower entity id of the pair. */
  readonly a: number;
  /** The higher entity id of the pair (`a < b`). */
  readonly b: number;
  /** `true` when the contact or overlap began in this step, `false` when it ended. */
  readonly started: boolean;
  /** `true` when either collider is a sensor (an overlap, no contact forces). */
  readonly sensor: boolean;
}

/** The public face of a world's physics, returned by `createPhysics` and {@link getPhysics}. */
export interface PhysicsContext {
  /** The world this physics belongs to. */
  readonly world: GameWorld;
  /** Settings in effect (defaults filled in). */
  readonly options: ResolvedPhysicsOptions;
  /**
   * The Rapier world, for read-only queries and debug rendering. It is REPLACED by every
   * snapshot restore: read it again each time, never keep it. Changing Rapier state directly
   * bypasses the components and is not rollback-safe unless done inside a simulation system.
   */
  readonly rapierWorld: RapierWorld;
  /** Number of Rapier bodies (one per entity with Transform + RigidBody + Collider after a step). */
  readonly bodyCount: number;
  /** Whether {@link PhysicsContext.dispose} ran. */
  readonly disposed: boolean;
  /**
   * Frees the Rapier world and event queue, unregisters the `physics` snapshot extension, the
   * `physicsSystem` (when `createPhysics` registered it) and the component observers, and
   * deletes the world resource. Components keep their values. Calling it twice does nothing.
   */
  dispose(): void;
}

/** Resource key of a world's {@link PhysicsContext}. */
export const PHYSICS = resourceKey<PhysicsContext>('engine.physics');

/** Offsets into {@link BodyRecord.shadow}. */
export const SHADOW_PX = 0;
export const SHADOW_QX = 3;
export const SHADOW_LX = 7;
export const SHADOW_AX = 10;
/** Floats per shadow: position 3, rotation 4, linear velocity 3, angular velocity 3. */
export const SHADOW_LENGTH = 13;

/** What the physics system knows about one Rapier body. */
export interface BodyRecord {
  readonly eid: number;
  /** Rapier RigidBodyHandle (an f64 whose bits are index and generation). */
  readonly body: number;
  /** Rapier ColliderHandle. */
  readonly collider: number;
  /** The body's kind as created (later changes of `RigidBody.kind` have no effect). */
  readonly kind: BodyKind;
  readonly sensor: boolean;
  /** Rapier's wrapper of the body in the current Rapier world. */
  readonly rigidBody: RapierRigidBody;
  /**
   * Rapier's pose and velocity as of the last synchronisation, as f32: exactly what the physics
   * system last wrote into Transform/Velocity (or pushed into Rapier). A component value that
   * differs from it was written by game code and is pushed to Rapier. Unused for fixed bodies.
   */
  readonly shadow: Float32Array;
  /** Marker of the last physics step that saw this body's entity; internal bookkeeping. */
  stamp: number;
}

/** The implementation behind {@link PhysicsContext}. Internal to `engine/physics`. */
export class PhysicsState implements PhysicsContext {
  readonly world: GameWorld;
  readonly options: ResolvedPhysicsOptions;
  /** Current Rapier world; replaced by snapshot loads. */
  rapier: RapierWorld;
  readonly eventQueue: EventQueue;
  /** Records by entity id. */
  readonly byEntity = new Map<number, BodyRecord>();
  /** Records by collider handle (to turn collision events into entity ids). */
  readonly byCollider = new Map<number, BodyRecord>();
  /** Collision events of the most recent step, sorted by (a, b, started). */
  events: readonly CollisionEvent[] = [];
  /** Incremented once per physics step; compared with {@link BodyRecord.stamp}. */
  stamp = 0;
  disposed = false;
  /** Undo actions run by dispose, in reverse order. */
  readonly teardown: (() => void)[] = [];
  /** The scheduler the system was registered with by createPhysics, if any. */
  scheduler: Scheduler | undefined;

  constructor(world: GameWorld, rapierWorld: RapierWorld, eventQueue: EventQueue, options: ResolvedPhysicsOptions) {
    this.world = world;
    this.rapier = rapierWorld;
    this.eventQueue = eventQueue;
    this.options = options;
  }

  get rapierWorld(): RapierWorld {
    return this.rapier;
  }

  get bodyCount(): number {
    return this.byEntity.size;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (let i = this.teardown.length - 1; i >= 0; i--) this.teardown[i]!();
    this.teardown.length = 0;
    this.byEntity.clear();
    this.byCollider.clear();
    this.events = [];
    this.eventQueue.free();
    this.rapier.free();
  }
}

/**
 * The physics context of `world`.
 * @throws EngineError `MissingResource` when `createPhysics` was not called for it.
 */
export function getPhysics(world: GameWorld): PhysicsContext {
  return getResource(world, PHYSICS);
}

/** The physics context of `world`, or undefined. */
export function findPhysics(world: GameWorld): PhysicsContext | undefined {
  return findResource(world, PHYSICS);
}

/** Internal: the state behind {@link getPhysics}. */
export function physicsState(world: GameWorld): PhysicsState {
  return getResource(world, PHYSICS) as PhysicsState;
}

/**
 * The collision events of the most recent physics step of `world`, sorted by `a`, then `b`, then
 * `started` (stopped before started). Each event names the pair once with `a < b`. The list is
 * replaced (not mutated) by every step, and restored by snapshot restore together with the rest
 * of the physics state, so after a rollback it is the list of the restored tick. Empty before
 * the first step. Events of a body removed in a step (despawn, component removal) still name
 * its entity id, which may no longer be alive.
 * @throws EngineError `MissingResource` when `createPhysics` was not called for `world`.
 */
export function collisionEvents(world: GameWorld): readonly CollisionEvent[] {
  return physicsState(world).events;
}
