/**
 * `physicsSystem`: the Physics phase. Steps Rapier once by `world.time.dt` and keeps it in step
 * with the components.
 *
 * Each run, in this order (every Rapier mutation in ascending entity id order, so two peers,
 * or a world and its restored copy, issue identical call sequences):
 *
 * 1. Read phase, which changes nothing and throws `EngineError` `Physics` on bad data, so a
 *    failing tick leaves the physics world untouched:
 *    - entities with Transform + RigidBody + Collider whose handles do not name their recorded
 *      body are prepared for creation (descriptors built and validated);
 *    - recorded bodies whose entity lost one of those components, was despawned, or whose
 *      handles no longer match (component removed and re-added) are marked for removal;
 *    - Transform and Velocity values that differ from what the system last wrote (exact f32
 *      compare) are game-code changes to push; Impulses are read.
 * 2. Stale bodies are removed, new bodies created (handles written into RigidBody.handle and
 *    Collider.handle).
 * 3. Game-code changes are pushed: a changed Transform teleports a dynamic or
 *    velocity-kinematic body (waking it) and sets the next pose of a position-kinematic body; a
 *    changed Velocity sets the velocity of a dynamic or velocity-kinematic body (waking it).
 *    Fixed bodies are never synchronised: they stay where they were created.
 * 4. Impulses are applied to dynamic bodies (ignored for other kinds and for entities without
 *    a body) and zeroed.
 * 5. Rapier steps once, collecting collision events.
 * 6. Transform (position, rotation) and, when present, Velocity (linear, angular) of every
 *    non-fixed body are written back from Rapier.
 * 7. Collision events become the sorted list read by `collisionEvents(world)`.
 */
import { Transform, Velocity } from '../transform.ts';
import { hasComponent, orderedQuery, storeOf, type GameWorld } from '../world.ts';
import { EngineError } from '../errors.ts';
import { insertBody, normalizeRotation, prepareBody, readShadow, removeBody, type PreparedBody, type Quat } from './build.ts';
import { BodyKind, Collider, Impulse, RigidBody } from './components.ts';
import { rapier } from './rapier.ts';
import {
  SHADOW_AX, SHADOW_LX, SHADOW_PX, SHADOW_QX, physicsState, type BodyRecord, type CollisionEvent, type PhysicsState,
} from './state.ts';

const PHYSICAL = [Transform, RigidBody, Collider] as const;
const IMPULSED = [RigidBody, Impulse] as const;
const NO_EVENTS: readonly CollisionEvent[] = Object.freeze([]);

/** Flags of a pending push. */
const PUSH_POSE = 1;
const PUSH_VELOCITY = 2;

const tmpQuat: Quat = { x: 0, y: 0, z: 0, w: 1 };
const tmpVec = { x: 0, y: 0, z: 0 };

function byEid(a: BodyRecord, b: BodyRecord): number {
  return a.eid - b.eid;
}

function compareEvents(x: CollisionEvent, y: CollisionEvent): number {
  return x.a - y.a || x.b - y.b || Number(x.started) - Number(y.started);
}

/**
 * The Physics phase system (see the module docs for what one run does). Registered in
 * `Phase.Physics` by `createPhysics(world, scheduler)`; register it yourself when you create
 * physics without a scheduler.
 * @throws EngineError `MissingResource` when `createPhysics` was not called for `world`;
 *   `Physics` when an entity's components cannot make a valid body (the message names the
 *   entity and the field or shape reference; nothing was changed by this run in that case).
 */
export function physicsSystem(world: GameWorld): void {
  const state = physicsState(world);
  const R = rapier();
  const stamp = ++state.stamp;
  const tr = storeOf(world, Transform);
  const rb = storeOf(world, RigidBody);
  const co = storeOf(world, Collider);
  const ve = storeOf(world, Velocity);

  // ---- 1. Read phase: no mutation of Rapier or components past this point until it ends. ----
  const entities = orderedQuery(world, PHYSICAL);
  let pending: PreparedBody[] | undefined;
  let pushes: BodyRecord[] | undefined;
  let pushFlags: number[] | undefined;
  let kept = 0;
  // 1 where the entity has Velocity, by position in `entities` (read once, used again in step 6).
  const hasVelocity = new Uint8Array(entities.length);
  for (let i = 0; i < entities.length; i++) {
    const e = entities[i]!;
    const withVelocity = hasComponent(world, e, Velocity);
    hasVelocity[i] = withVelocity ? 1 : 0;
    const rec = state.byEntity.get(e);
    if (rec === undefined || rec.body !== rb.handle[e] || rec.collider !== co.handle[e]) {
      (pending ??= []).push(prepareBody(R, world, e));
      continue;
    }
    rec.stamp = stamp;
    kept++;
    if (rec.kind === BodyKind.Fixed) continue;
    const s = rec.shadow;
    let flags = 0;
    if (tr.px[e] !== s[SHADOW_PX] || tr.py[e] !== s[SHADOW_PX + 1] || tr.pz[e] !== s[SHADOW_PX + 2]
      || tr.qx[e] !== s[SHADOW_QX] || tr.qy[e] !== s[SHADOW_QX + 1] || tr.qz[e] !== s[SHADOW_QX + 2] || tr.qw[e] !== s[SHADOW_QX + 3]) {
      checkFinite(e, 'Transform', tr.px[e]!, tr.py[e]!, tr.pz[e]!, tr.qx[e]!, tr.qy[e]!, tr.qz[e]!, tr.qw[e]!);
      flags |= PUSH_POSE;
    }
    if (rec.kind !== BodyKind.KinematicPosition && withVelocity
      && (ve.lx[e] !== s[SHADOW_LX] || ve.ly[e] !== s[SHADOW_LX + 1] || ve.lz[e] !== s[SHADOW_LX + 2]
        || ve.ax[e] !== s[SHADOW_AX] || ve.ay[e] !== s[SHADOW_AX + 1] || ve.az[e] !== s[SHADOW_AX + 2])) {
      checkFinite(e, 'Velocity', ve.lx[e]!, ve.ly[e]!, ve.lz[e]!, ve.ax[e]!, ve.ay[e]!, ve.az[e]!);
      flags |= PUSH_VELOCITY;
    }
    if (flags !== 0) {
      (pushes ??= []).push(rec);
      (pushFlags ??= []).push(flags);
    }
  }
  let stale: BodyRecord[] | undefined;
  if (kept !== state.byEntity.size) {
    stale = [];
    for (const rec of state.byEntity.values()) if (rec.stamp !== stamp) stale.push(rec);
    stale.sort(byEid);
  }
  const impulsed = orderedQuery(world, IMPULSED);
  const im = storeOf(world, Impulse);
  for (let i = 0; i < impulsed.length; i++) {
    const e = impulsed[i]!;
    checkFinite(e, 'Impulse', im.x[e]!, im.y[e]!, im.z[e]!);
  }

  // ---- 2. Remove stale bodies, create new ones. ----
  let removed: Map<number, BodyRecord> | undefined;
  if (stale) {
    removed = new Map();
    for (const rec of stale) {
      removeBody(state, rec);
      removed.set(rec.collider, rec);
    }
  }
  if (pending) for (const p of pending) insertBody(state, p);

  // ---- 3. Push game-code changes of Transform and Velocity. ----
  if (pushes) {
    for (let i = 0; i < pushes.length; i++) pushChanges(state, pushes[i]!, pushFlags![i]!);
  }

  // ---- 4. Impulses. ----
  for (let i = 0; i < impulsed.length; i++) {
    const e = impulsed[i]!;
    const x = im.x[e]!, y = im.y[e]!, z = im.z[e]!;
    if (x === 0 && y === 0 && z === 0) continue;
    const rec = state.byEntity.get(e);
    if (rec !== undefined && rec.kind === BodyKind.Dynamic) {
      tmpVec.x = x; tmpVec.y = y; tmpVec.z = z;
      rec.rigidBody.applyImpulse(tmpVec, true);
    }
    im.x[e] = 0; im.y[e] = 0; im.z[e] = 0;
  }

  // ---- 5. Step. ----
  state.rapier.step(state.eventQueue);

  // ---- 6. Write back. ----
  for (let i = 0; i < entities.length; i++) {
    const e = entities[i]!;
    const rec = state.byEntity.get(e)!;
    if (rec.kind === BodyKind.Fixed) continue;
    readShadow(rec);
    const s = rec.shadow;
    tr.px[e] = s[SHADOW_PX]!; tr.py[e] = s[SHADOW_PX + 1]!; tr.pz[e] = s[SHADOW_PX + 2]!;
    tr.qx[e] = s[SHADOW_QX]!; tr.qy[e] = s[SHADOW_QX + 1]!; tr.qz[e] = s[SHADOW_QX + 2]!; tr.qw[e] = s[SHADOW_QX + 3]!;
    if (hasVelocity[i] === 1) {
      ve.lx[e] = s[SHADOW_LX]!; ve.ly[e] = s[SHADOW_LX + 1]!; ve.lz[e] = s[SHADOW_LX + 2]!;
      ve.ax[e] = s[SHADOW_AX]!; ve.ay[e] = s[SHADOW_AX + 1]!; ve.az[e] = s[SHADOW_AX + 2]!;
    }
  }

  // ---- 7. Collision events. ----
  let events: CollisionEvent[] | undefined;
  state.eventQueue.drainCollisionEvents((h1, h2, started) => {
    const r1 = state.byCollider.get(h1) ?? removed?.get(h1);
    const r2 = state.byCollider.get(h2) ?? removed?.get(h2);
    if (r1 === undefined || r2 === undefined) return;
    const sensor = r1.sensor || r2.sensor;
    const event: CollisionEvent = r1.eid < r2.eid
      ? { a: r1.eid, b: r2.eid, started, sensor }
      : { a: r2.eid, b: r1.eid, started, sensor };
    (events ??= []).push(event);
  });
  state.events = events ? events.sort(compareEvents) : NO_EVENTS;
}

function checkFinite(eid: number, component: string, ...values: number[]): void {
  for (const v of values) {
    if (!Number.isFinite(v)) {
      throw new EngineError('Physics', `entity ${eid}: ${component} holds a non-finite value (${values.join(', ')})`, { eid, component });
    }
  }
}

/** Pushes the changed Transform and/or Velocity of `rec`'s entity into Rapier and the shadow. */
function pushChanges(state: PhysicsState, rec: BodyRecord, flags: number): void {
  const e = rec.eid;
  const s = rec.shadow;
  const body = rec.rigidBody;
  if (flags & PUSH_POSE) {
    const tr = storeOf(state.world, Transform);
    normalizeRotation(tr.qx[e]!, tr.qy[e]!, tr.qz[e]!, tr.qw[e]!, tmpQuat);
    tmpVec.x = tr.px[e]!; tmpVec.y = tr.py[e]!; tmpVec.z = tr.pz[e]!;
    if (rec.kind === BodyKind.KinematicPosition) {
      body.setNextKinematicTranslation(tmpVec);
      body.setNextKinematicRotation(tmpQuat);
    } else {
      body.setTranslation(tmpVec, true);
      body.setRotation(tmpQuat, true);
    }
    s[SHADOW_PX] = tmpVec.x; s[SHADOW_PX + 1] = tmpVec.y; s[SHADOW_PX + 2] = tmpVec.z;
    s[SHADOW_QX] = tmpQuat.x; s[SHADOW_QX + 1] = tmpQuat.y; s[SHADOW_QX + 2] = tmpQuat.z; s[SHADOW_QX + 3] = tmpQuat.w;
  }
  if (flags & PUSH_VELOCITY) {
    const ve = storeOf(state.world, Velocity);
    tmpVec.x = ve.lx[e]!; tmpVec.y = ve.ly[e]!; tmpVec.z = ve.lz[e]!;
    body.setLinvel(tmpVec, true);
    s[SHADOW_LX] = tmpVec.x; s[SHADOW_LX + 1] = tmpVec.y; s[SHADOW_LX + 2] = tmpVec.z;
    tmpVec.x = ve.ax[e]!; tmpVec.y = ve.ay[e]!; tmpVec.z = ve.az[e]!;
    body.setAngvel(tmpVec, true);
    s[SHADOW_AX] = tmpVec.x; s[SHADOW_AX + 1] = tmpVec.y; s[SHADOW_AX + 2] = tmpVec.z;
  }
}
