/**
 * The `physics` snapshot extension: what a world snapshot carries for physics besides the
 * components (which already hold Transform, Velocity, RigidBody and Collider with their handles).
 *
 * Byte layout (little-endian; offsets in bytes):
 *
 * | offset      | type        | content |
 * |------------:|-------------|---------|
 * | 0           | u32         | magic `0x31504350` ("PCP1") |
 * | 4           | u32         | body record count N |
 * | 8           | u32         | collision event count E |
 * | 12          | u32         | Rapier snapshot length L |
 * | 16          | 24 x N      | records, ascending entity id: u32 eid, u8 kind, u8 sensor, u16 0, f64 body handle, f64 collider handle |
 * | 16 + 24N    | 12 x E      | events of the last step, in list order: u32 a, u32 b, u32 flags (bit 0 started, bit 1 sensor) |
 * | 16+24N+12E  | L           | `World.takeSnapshot()` of the Rapier world |
 *
 * Why the records are saved rather than rebuilt from the components' handles: components may
 * change between the physics step and the snapshot (a system in a later phase despawns an
 * entity). Its Rapier body then still exists and the next physics step removes it. A restore
 * must reproduce that, so the entity-to-body map is saved as it was, not inferred.
 */
import { EngineError } from '../errors.ts';
import type { GameWorld, SnapshotExtension } from '../world.ts';
import { readShadow } from './build.ts';
import { BodyKind } from './components.ts';
import { rapier } from './rapier.ts';
import { SHADOW_LENGTH, type BodyRecord, type CollisionEvent, type PhysicsState } from './state.ts';

/** Name of the physics snapshot extension (key in `WorldSnapshot.extensions`). */
export const PHYSICS_EXTENSION = 'physics';

const MAGIC = 0x31504350;
const HEADER_BYTES = 16;
const RECORD_BYTES = 24;
const EVENT_BYTES = 12;

function byEid(a: BodyRecord, b: BodyRecord): number {
  return a.eid - b.eid;
}

/**
 * Buffers allocated by {@link savePhysics}. Only these are reused: a `previous` array that came
 * from elsewhere (a decoded snapshot's view into a network buffer) is never written into.
 */
const ownBuffers = new WeakSet<ArrayBuffer>();

/**
 * Serializes `state` (records, last events, Rapier world) as described in the module docs.
 *
 * `previous` (what this function returned for the same snapshot slot last time) is reused when
 * its buffer is ours and large enough, so a snapshot ring saves without new buffers at steady
 * state; a new buffer gets 25 % headroom. Rapier's own `takeSnapshot()` still allocates its
 * copy of the world on every call (its API has no "into" variant), which this function copies
 * and drops.
 */
export function savePhysics(state: PhysicsState, previous?: Uint8Array): Uint8Array {
  const rapierBytes = state.rapier.takeSnapshot();
  const records = [...state.byEntity.values()].sort(byEid);
  const events = state.events;
  const total = HEADER_BYTES + records.length * RECORD_BYTES + events.length * EVENT_BYTES + rapierBytes.length;
  let buffer: ArrayBuffer;
  if (previous !== undefined && ownBuffers.has(previous.buffer as ArrayBuffer) && previous.buffer.byteLength >= total) {
    buffer = previous.buffer as ArrayBuffer;
  } else {
    buffer = new ArrayBuffer(total + (total >> 2));
    ownBuffers.add(buffer);
  }
  const out = new Uint8Array(buffer, 0, total);
  const view = new DataView(buffer, 0, total);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, records.length, true);
  view.setUint32(8, events.length, true);
  view.setUint32(12, rapierBytes.length, true);
  let o = HEADER_BYTES;
  for (const r of records) {
    view.setUint32(o, r.eid, true);
    view.setUint8(o + 4, r.kind);
    view.setUint8(o + 5, r.sensor ? 1 : 0);
    view.setFloat64(o + 8, r.body, true);
    view.setFloat64(o + 16, r.collider, true);
    o += RECORD_BYTES;
  }
  for (const ev of events) {
    view.setUint32(o, ev.a, true);
    view.setUint32(o + 4, ev.b, true);
    view.setUint32(o + 8, (ev.started ? 1 : 0) | (ev.sensor ? 2 : 0), true);
    o += EVENT_BYTES;
  }
  out.set(rapierBytes, o);
  return out;
}

function invalid(message: string, data: Record<string, unknown> = {}): never {
  throw new EngineError('InvalidSnapshot', `physics snapshot: ${message}`, data);
}

/**
 * Replaces `state`'s Rapier world, records and events with those saved in `bytes`. The old Rapier
 * world is freed. On error the state is unchanged.
 * @throws EngineError `InvalidSnapshot` when the bytes are malformed or inconsistent.
 */
export function loadPhysics(state: PhysicsState, bytes: Uint8Array): void {
  if (bytes.byteLength < HEADER_BYTES) invalid(`${bytes.byteLength} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) invalid('bad magic');
  const n = view.getUint32(4, true);
  const e = view.getUint32(8, true);
  const l = view.getUint32(12, true);
  const rapierAt = HEADER_BYTES + n * RECORD_BYTES + e * EVENT_BYTES;
  if (rapierAt + l !== bytes.byteLength) invalid(`length ${bytes.byteLength} does not match its header (${n} bodies, ${e} events, ${l} Rapier bytes)`, { n, e, l });

  const next = rapier().World.restoreSnapshot(bytes.subarray(rapierAt, rapierAt + l));
  if (!next) invalid('Rapier could not deserialize its world');

  const records: BodyRecord[] = [];
  let o = HEADER_BYTES;
  try {
    for (let i = 0; i < n; i++, o += RECORD_BYTES) {
      const eid = view.getUint32(o, true);
      const body = view.getFloat64(o + 8, true);
      const collider = view.getFloat64(o + 16, true);
      // Rapier's JS-side lookups ignore the handle generation: compare the wrapper's handle.
      const rigidBody = next.getRigidBody(body);
      const col = next.getCollider(collider);
      if (!rigidBody || rigidBody.handle !== body || !col || col.handle !== collider) {
        invalid(`entity ${eid}: body or collider handle not in the Rapier world`, { eid });
      }
      records.push({
        eid,
        body,
        collider,
        kind: view.getUint8(o + 4) as BodyKind,
        sensor: view.getUint8(o + 5) !== 0,
        rigidBody,
        // The shadow is overwritten below (readShadow) or unused (fixed): reuse the entity's old one.
        shadow: state.byEntity.get(eid)?.shadow ?? new Float32Array(SHADOW_LENGTH),
        stamp: state.stamp,
      });
    }
  } catch (error) {
    next.free();
    throw error;
  }
  const events: CollisionEvent[] = [];
  for (let i = 0; i < e; i++, o += EVENT_BYTES) {
    const flags = view.getUint32(o + 8, true);
    events.push({ a: view.getUint32(o, true), b: view.getUint32(o + 4, true), started: (flags & 1) !== 0, sensor: (flags & 2) !== 0 });
  }

  state.rapier.free();
  state.rapier = next;
  state.byEntity.clear();
  state.byCollider.clear();
  for (const rec of records) {
    if (rec.kind !== BodyKind.Fixed) readShadow(rec);
    state.byEntity.set(rec.eid, rec);
    state.byCollider.set(rec.collider, rec);
  }
  state.events = events;
}

/** The snapshot extension object registered by `createPhysics` for `state`. */
export function physicsExtension(state: PhysicsState): SnapshotExtension {
  return {
    name: PHYSICS_EXTENSION,
    save: (_world: GameWorld, previous?: Uint8Array) => savePhysics(state, previous),
    load: (_world: GameWorld, bytes: Uint8Array) => loadPhysics(state, bytes),
  };
}
