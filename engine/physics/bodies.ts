/**
 * Helpers that give an entity a physics body with every component field set.
 *
 * Component arrays are zero-initialized and recycled entity ids keep old values, so adding
 * RigidBody or Collider by hand must set every field (a zero `gravityScale` floats, a zero
 * `density` has no mass). {@link addBody} does that with the documented defaults.
 *
 * @example
 * ```ts
 * const crate = spawn(world);
 * addBody(world, crate, { shape: ShapeKind.Cuboid, hx: 0.5, hy: 0.5, hz: 0.5, position: { x: 0, y: 3, z: 0 } });
 * applyImpulse(world, crate, 0, 5, 0);   // 5 N*s upwards at the next Physics phase
 * ```
 */
import { EngineError } from '../errors.ts';
import { Transform, Velocity } from '../transform.ts';
import { addComponent, hasComponent, setFields, storeOf, type GameWorld } from '../world.ts';
import { BodyKind, Collider, Impulse, NO_HANDLE, RigidBody, ShapeKind } from './components.ts';
import type { Vec3 } from './shapes.ts';

/** A rotation as a unit quaternion (x, y, z, w); (0, 0, 0, 1) is no rotation. */
export interface Rotation {
  readonly x: number;
  readonly y: number;
  readonly z: number;
  readonly w: number;
}

/** Defaults of {@link addBody}: Rapier's defaults where it has one. */
export const DEFAULT_BODY = Object.freeze({
  kind: BodyKind.Dynamic as BodyKind,
  /** m */
  radius: 0.5,
  /** m (half extents of a 1 m cube) */
  hx: 0.5,
  hy: 0.5,
  hz: 0.5,
  /** m */
  halfHeight: 0.5,
  shapeRef: 0,
  friction: 0.5,
  restitution: 0,
  /** kg/m^3 (Rapier's default: a 1 m cube weighs 1 kg, a ball of radius 0.5 m 0.52 kg) */
  density: 1,
  sensor: false,
  /** 1/s */
  linearDamping: 0,
  /** 1/s */
  angularDamping: 0,
  gravityScale: 1,
  ccd: false,
  lockRotations: false,
});

/** Options of {@link addBody}. Only `shape` is required; the rest default to {@link DEFAULT_BODY}. */
export interface BodyOptions {
  /** Body kind. Default `BodyKind.Dynamic`. */
  readonly kind?: BodyKind;
  /** Collider shape. Heightfield and Trimesh need `shapeRef` naming registered data. */
  readonly shape: ShapeKind;
  /** Position, m. Default: the existing Transform's, or the origin when the entity has none. */
  readonly position?: Vec3;
  /** Orientation. Default: the existing Transform's, or identity when the entity has none. */
  readonly rotation?: Rotation;
  /** Initial linear velocity, m/s (dynamic and velocity-kinematic bodies). Default: existing Velocity, else 0. */
  readonly linearVelocity?: Vec3;
  /** Initial angular velocity, rad/s (axis times rate). Default: existing Velocity, else 0. */
  readonly angularVelocity?: Vec3;
  /** Ball and Capsule radius, m. Default 0.5. */
  readonly radius?: number;
  /** Cuboid half extents, m. Default 0.5 each. */
  readonly hx?: number;
  readonly hy?: number;
  readonly hz?: number;
  /** Capsule: half height of the cylinder part along Y, m. Default 0.5. */
  readonly halfHeight?: number;
  /** Id of registered heightfield/trimesh data. Default 0. */
  readonly shapeRef?: number;
  /** Coulomb friction coefficient, >= 0. Default 0.5. */
  readonly friction?: number;
  /** Restitution (bounciness), >= 0, typically 0..1. Default 0. */
  readonly restitution?: number;
  /** Density, kg/m^3, >= 0; mass = density x volume. Default 1. */
  readonly density?: number;
  /** A sensor detects overlaps (collision events with `sensor: true`) without contact forces. Default false. */
  readonly sensor?: boolean;
  /** Linear velocity damping, 1/s, >= 0. Default 0. */
  readonly linearDamping?: number;
  /** Angular velocity damping, 1/s, >= 0. Default 0. */
  readonly angularDamping?: number;
  /** Multiplier of world gravity. Default 1. */
  readonly gravityScale?: number;
  /** Continuous collision detection for fast small bodies. Default false. */
  readonly ccd?: boolean;
  /** Keep the body from rotating (characters). Default false. */
  readonly lockRotations?: boolean;
}

/**
 * Gives `eid` a rigid body and collider: adds Transform when missing (setting `position` and
 * `rotation` when given), Velocity for non-fixed bodies when missing, and RigidBody and Collider
 * with every field set (defaults in {@link DEFAULT_BODY}, handles `NO_HANDLE`). The Rapier
 * objects are created at the next Physics phase, which also validates the values (throwing
 * `EngineError` `Physics` naming the entity and field).
 *
 * Calling it on an entity that already has a body rebuilds the body with the new settings at the
 * next Physics phase; Transform and Velocity keep their values unless given.
 * @throws EngineError `UnknownEntity` when `eid` is not alive.
 */
export function addBody(world: GameWorld, eid: number, options: BodyOptions): void {
  const d = DEFAULT_BODY;
  const kind = options.kind ?? d.kind;
  const p = options.position;
  const q = options.rotation;
  if (!hasComponent(world, eid, Transform)) {
    addComponent(world, eid, Transform, {
      px: p?.x ?? 0, py: p?.y ?? 0, pz: p?.z ?? 0, qx: q?.x ?? 0, qy: q?.y ?? 0, qz: q?.z ?? 0, qw: q?.w ?? 1,
    });
  } else {
    if (p) setFields(world, eid, Transform, { px: p.x, py: p.y, pz: p.z });
    if (q) setFields(world, eid, Transform, { qx: q.x, qy: q.y, qz: q.z, qw: q.w });
  }
  const lv = options.linearVelocity;
  const av = options.angularVelocity;
  if (kind !== BodyKind.Fixed && !hasComponent(world, eid, Velocity)) {
    addComponent(world, eid, Velocity, {
      lx: lv?.x ?? 0, ly: lv?.y ?? 0, lz: lv?.z ?? 0, ax: av?.x ?? 0, ay: av?.y ?? 0, az: av?.z ?? 0,
    });
  } else if (hasComponent(world, eid, Velocity)) {
    if (lv) setFields(world, eid, Velocity, { lx: lv.x, ly: lv.y, lz: lv.z });
    if (av) setFields(world, eid, Velocity, { ax: av.x, ay: av.y, az: av.z });
  }
  addComponent(world, eid, RigidBody, {
    kind,
    linearDamping: options.linearDamping ?? d.linearDamping,
    angularDamping: options.angularDamping ?? d.angularDamping,
    gravityScale: options.gravityScale ?? d.gravityScale,
    ccd: (options.ccd ?? d.ccd) ? 1 : 0,
    lockRotations: (options.lockRotations ?? d.lockRotations) ? 1 : 0,
    handle: NO_HANDLE,
  });
  addComponent(world, eid, Collider, {
    shape: options.shape,
    hx: options.hx ?? d.hx,
    hy: options.hy ?? d.hy,
    hz: options.hz ?? d.hz,
    radius: options.radius ?? d.radius,
    halfHeight: options.halfHeight ?? d.halfHeight,
    shapeRef: options.shapeRef ?? d.shapeRef,
    friction: options.friction ?? d.friction,
    restitution: options.restitution ?? d.restitution,
    density: options.density ?? d.density,
    sensor: (options.sensor ?? d.sensor) ? 1 : 0,
    handle: NO_HANDLE,
  });
}

/**
 * Adds an impulse (N*s, world frame) to `eid`'s pending Impulse (adding the component when
 * missing). The physics system applies it to a dynamic body at the next Physics phase (a body
 * of mass m gains velocity impulse / m) and zeroes it; other kinds ignore it.
 * @throws EngineError `UnknownEntity` when `eid` is not alive; `InvalidConfig` when a value is not finite.
 */
export function applyImpulse(world: GameWorld, eid: number, x: number, y: number, z: number): void {
  if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) {
    throw new EngineError('InvalidConfig', `impulse for entity ${eid} must be finite, got (${x}, ${y}, ${z})`, { eid });
  }
  if (!hasComponent(world, eid, Impulse)) addComponent(world, eid, Impulse, { x: 0, y: 0, z: 0 });
  const im = storeOf(world, Impulse);
  im.x[eid] += x;
  im.y[eid] += y;
  im.z[eid] += z;
}
