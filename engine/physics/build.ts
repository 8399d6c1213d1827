/**
 * Turning components into Rapier bodies and colliders, and back.
 *
 * Creation is split in two so that a physics step is all-or-nothing: {@link prepareBody} reads
 * and validates an entity's components and builds Rapier descriptors (plain JavaScript objects,
 * nothing allocated in the Rapier world), throwing a clear `EngineError` for bad data;
 * {@link insertBody} then creates the body and collider. The physics system prepares every
 * pending entity before it changes anything.
 */
import type { ColliderDesc, RigidBodyDesc } from '@dimforge/rapier3d-deterministic-compat';
import { EngineError } from '../errors.ts';
import { Transform, Velocity } from '../transform.ts';
import { hasComponent, storeOf, type GameWorld } from '../world.ts';
import { BodyKind, Collider, NO_HANDLE, RigidBody, ShapeKind } from './components.ts';
import type { Rapier } from './rapier.ts';
import { shapesOf } from './shapes.ts';
import {
  SHADOW_AX, SHADOW_LENGTH, SHADOW_LX, SHADOW_PX, SHADOW_QX, type BodyRecord, type PhysicsState,
} from './state.ts';

/** Descriptors of a body about to be created. */
export interface PreparedBody {
  readonly eid: number;
  readonly kind: BodyKind;
  readonly sensor: boolean;
  readonly bodyDesc: RigidBodyDesc;
  readonly colliderDesc: ColliderDesc;
}

/** A unit quaternion, written by {@link normalizeRotation}. */
export interface Quat {
  x: number;
  y: number;
  z: number;
  w: number;
}

function fail(eid: number, field: string, value: unknown, rule: string): never {
  throw new EngineError('Physics', `entity ${eid}: ${field} ${String(value)} ${rule}`, { eid, field, value });
}

function positive(eid: number, field: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) fail(eid, field, value, 'must be finite and > 0');
  return value;
}

function nonNegative(eid: number, field: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) fail(eid, field, value, 'must be finite and >= 0');
  return value;
}

function finite(eid: number, field: string, value: number): number {
  if (!Number.isFinite(value)) fail(eid, field, value, 'must be finite');
  return value;
}

/**
 * Writes the unit quaternion of `(x, y, z, w)` into `out` (f64 arithmetic, deterministic). The
 * zero quaternion (a zero-initialized Transform) counts as the identity.
 * @returns false when a component is not finite.
 */
export function normalizeRotation(x: number, y: number, z: number, w: number, out: Quat): boolean {
  const n2 = x * x + y * y + z * z + w * w;
  if (!Number.isFinite(n2)) return false;
  if (n2 === 0) {
    out.x = 0; out.y = 0; out.z = 0; out.w = 1;
  } else if (n2 === 1) {
    out.x = x; out.y = y; out.z = z; out.w = w;
  } else {
    const inv = 1 / Math.sqrt(n2);
    out.x = x * inv; out.y = y * inv; out.z = z * inv; out.w = w * inv;
  }
  return true;
}

const tmpQuat: Quat = { x: 0, y: 0, z: 0, w: 1 };

/**
 * Validates the Transform, RigidBody, Collider (and Velocity, when present) of `eid` and builds
 * Rapier descriptors for them. Changes nothing.
 * @throws EngineError `Physics` naming the entity and the offending field or shape reference.
 */
export function prepareBody(R: Rapier, world: GameWorld, eid: number): PreparedBody {
  const tr = storeOf(world, Transform);
  const rb = storeOf(world, RigidBody);
  const co = storeOf(world, Collider);

  const kind = rb.kind[eid]! as BodyKind;
  let bodyDesc: RigidBodyDesc;
  switch (kind) {
    case BodyKind.Dynamic: bodyDesc = R.RigidBodyDesc.dynamic(); break;
    case BodyKind.KinematicPosition: bodyDesc = R.RigidBodyDesc.kinematicPositionBased(); break;
    case BodyKind.KinematicVelocity: bodyDesc = R.RigidBodyDesc.kinematicVelocityBased(); break;
    case BodyKind.Fixed: bodyDesc = R.RigidBodyDesc.fixed(); break;
    default: fail(eid, 'RigidBody.kind', kind, 'is not a BodyKind (0 Dynamic, 1 KinematicPosition, 2 KinematicVelocity, 3 Fixed)');
  }
  bodyDesc.setTranslation(
    finite(eid, 'Transform.px', tr.px[eid]!),
    finite(eid, 'Transform.py', tr.py[eid]!),
    finite(eid, 'Transform.pz', tr.pz[eid]!),
  );
  if (!normalizeRotation(tr.qx[eid]!, tr.qy[eid]!, tr.qz[eid]!, tr.qw[eid]!, tmpQuat)) {
    fail(eid, 'Transform rotation', `(${tr.qx[eid]}, ${tr.qy[eid]}, ${tr.qz[eid]}, ${tr.qw[eid]})`, 'must be finite');
  }
  bodyDesc.setRotation({ x: tmpQuat.x, y: tmpQuat.y, z: tmpQuat.z, w: tmpQuat.w });
  bodyDesc.setLinearDamping(nonNegative(eid, 'RigidBody.linearDamping', rb.linearDamping[eid]!));
  bodyDesc.setAngularDamping(nonNegative(eid, 'RigidBody.angularDamping', rb.angularDamping[eid]!));
  bodyDesc.setGravityScale(finite(eid, 'RigidBody.gravityScale', rb.gravityScale[eid]!));
  if (rb.ccd[eid] !== 0) bodyDesc.setCcdEnabled(true);
  if (rb.lockRotations[eid] !== 0) bodyDesc.lockRotations();
  if ((kind === BodyKind.Dynamic || kind === BodyKind.KinematicVelocity) && hasComponent(world, eid, Velocity)) {
    const v = storeOf(world, Velocity);
    bodyDesc.setLinvel(finite(eid, 'Velocity.lx', v.lx[eid]!), finite(eid, 'Velocity.ly', v.ly[eid]!), finite(eid, 'Velocity.lz', v.lz[eid]!));
    bodyDesc.setAngvel({ x: finite(eid, 'Velocity.ax', v.ax[eid]!), y: finite(eid, 'Velocity.ay', v.ay[eid]!), z: finite(eid, 'Velocity.az', v.az[eid]!) });
  }

  const shape = co.shape[eid]!;
  let colliderDesc: ColliderDesc;
  switch (shape) {
    case ShapeKind.Ball:
      colliderDesc = R.ColliderDesc.ball(positive(eid, 'Collider.radius', co.radius[eid]!));
      break;
    case ShapeKind.Cuboid:
      colliderDesc = R.ColliderDesc.cuboid(
        positive(eid, 'Collider.hx', co.hx[eid]!), positive(eid, 'Collider.hy', co.hy[eid]!), positive(eid, 'Collider.hz', co.hz[eid]!),
      );
      break;
    case ShapeKind.Capsule:
      colliderDesc = R.ColliderDesc.capsule(nonNegative(eid, 'Collider.halfHeight', co.halfHeight[eid]!), positive(eid, 'Collider.radius', co.radius[eid]!));
      break;
    case ShapeKind.Heightfield: {
      const ref = co.shapeRef[eid]!;
      const data = shapesOf(world).heightfields.get(ref);
      if (!data) {
        const hint = shapesOf(world).trimeshes.has(ref) ? ' (a trimesh has that id: check Collider.shape)' : '';
        throw new EngineError('Physics', `entity ${eid}: Collider.shapeRef ${ref} names no registered heightfield${hint}; call registerHeightfield(world, ${ref}, ...) on every peer before the body is created`, { eid, shapeRef: ref });
      }
      colliderDesc = R.ColliderDesc.heightfield(
        data.nrows, data.ncols, data.heights, { x: data.scale.x, y: data.scale.y, z: data.scale.z },
        data.fixInternalEdges ? R.HeightFieldFlags.FIX_INTERNAL_EDGES : undefined,
      );
      break;
    }
    case ShapeKind.Trimesh: {
      const ref = co.shapeRef[eid]!;
      const data = shapesOf(world).trimeshes.get(ref);
      if (!data) {
        const hint = shapesOf(world).heightfields.has(ref) ? ' (a heightfield has that id: check Collider.shape)' : '';
        throw new EngineError('Physics', `entity ${eid}: Collider.shapeRef ${ref} names no registered trimesh${hint}; call registerTrimesh(world, ${ref}, ...) on every peer before the body is created`, { eid, shapeRef: ref });
      }
      colliderDesc = R.ColliderDesc.trimesh(data.vertices, data.indices);
      break;
    }
    default:
      fail(eid, 'Collider.shape', shape, 'is not a ShapeKind (0 Ball, 1 Cuboid, 2 Capsule, 3 Heightfield, 4 Trimesh)');
  }
  const sensor = co.sensor[eid] !== 0;
  colliderDesc
    .setFriction(nonNegative(eid, 'Collider.friction', co.friction[eid]!))
    .setRestitution(nonNegative(eid, 'Collider.restitution', co.restitution[eid]!))
    .setDensity(nonNegative(eid, 'Collider.density', co.density[eid]!))
    .setSensor(sensor)
    .setActiveEvents(R.ActiveEvents.COLLISION_EVENTS);
  // Sensors also report kinematic and fixed bodies (a fixed trigger zone sees a kinematic
  // character); solid colliders keep Rapier's default (no kinematic-fixed contacts).
  if (sensor) colliderDesc.setActiveCollisionTypes(R.ActiveCollisionTypes.ALL);
  return { eid, kind, sensor, bodyDesc, colliderDesc };
}

/**
 * Creates the Rapier body and collider of a prepared entity, records it and writes the handles
 * into its RigidBody and Collider components.
 */
export function insertBody(state: PhysicsState, prepared: PreparedBody): BodyRecord {
  const world = state.world;
  const rigidBody = state.rapier.createRigidBody(prepared.bodyDesc);
  const collider = state.rapier.createCollider(prepared.colliderDesc, rigidBody);
  const record: BodyRecord = {
    eid: prepared.eid,
    body: rigidBody.handle,
    collider: collider.handle,
    kind: prepared.kind,
    sensor: prepared.sensor,
    rigidBody,
    shadow: new Float32Array(SHADOW_LENGTH),
    stamp: state.stamp,
  };
  readShadow(record);
  if (record.kind === BodyKind.Fixed) {
    // Fixed bodies are never written back: store Rapier's pose (unit quaternion) once, so
    // renderers and checksums see what Rapier simulates.
    const tr = storeOf(world, Transform);
    const s = record.shadow;
    const e = record.eid;
    tr.px[e] = s[SHADOW_PX]!; tr.py[e] = s[SHADOW_PX + 1]!; tr.pz[e] = s[SHADOW_PX + 2]!;
    tr.qx[e] = s[SHADOW_QX]!; tr.qy[e] = s[SHADOW_QX + 1]!; tr.qz[e] = s[SHADOW_QX + 2]!; tr.qw[e] = s[SHADOW_QX + 3]!;
  }
  state.byEntity.set(record.eid, record);
  state.byCollider.set(record.collider, record);
  storeOf(world, RigidBody).handle[record.eid] = record.body;
  storeOf(world, Collider).handle[record.eid] = record.collider;
  return record;
}

/** Removes a recorded body (and its collider) from Rapier and forgets it. */
export function removeBody(state: PhysicsState, record: BodyRecord): void {
  state.rapier.removeRigidBody(record.rigidBody);
  state.byEntity.delete(record.eid);
  state.byCollider.delete(record.collider);
  // Clear handles that still point at the removed objects (the entity may keep a RigidBody
  // without a Collider, or be dead: writing a dead entity's store slot is harmless).
  const rb = storeOf(state.world, RigidBody);
  const co = storeOf(state.world, Collider);
  if (rb.handle[record.eid] === record.body) rb.handle[record.eid] = NO_HANDLE;
  if (co.handle[record.eid] === record.collider) co.handle[record.eid] = NO_HANDLE;
}

const tmpVec = { x: 0, y: 0, z: 0 };
const tmpRot = { x: 0, y: 0, z: 0, w: 1 };

/** Copies Rapier's current pose and velocity of `record`'s body into its shadow (as f32). */
export function readShadow(record: BodyRecord): void {
  const s = record.shadow;
  const b = record.rigidBody;
  b.translation(tmpVec);
  s[SHADOW_PX] = tmpVec.x; s[SHADOW_PX + 1] = tmpVec.y; s[SHADOW_PX + 2] = tmpVec.z;
  b.rotation(tmpRot);
  s[SHADOW_QX] = tmpRot.x; s[SHADOW_QX + 1] = tmpRot.y; s[SHADOW_QX + 2] = tmpRot.z; s[SHADOW_QX + 3] = tmpRot.w;
  b.linvel(tmpVec);
  s[SHADOW_LX] = tmpVec.x; s[SHADOW_LX + 1] = tmpVec.y; s[SHADOW_LX + 2] = tmpVec.z;
  b.angvel(tmpVec);
  s[SHADOW_AX] = tmpVec.x; s[SHADOW_AX + 1] = tmpVec.y; s[SHADOW_AX + 2] = tmpVec.z;
}
