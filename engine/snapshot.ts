/**
 * Snapshot, restore and checksum of a world's rollback state.
 *
 * A snapshot holds everything the deterministic simulation depends on: the tick, the PRNG
 * state, the entity index (which ids are alive and the order in which dead ids are recycled),
 * and, for every component with `rollback: true` (ordered by name), which entities have it and
 * the values of its fields; plus the bytes of each registered {@link SnapshotExtension}
 * (physics). Restoring it makes the world behave exactly as it did when it was taken: the same
 * entities, the same future entity ids, the same random numbers.
 *
 * Component byte layout (all little-endian; offsets in bytes):
 *
 * | offset | type  | content |
 * |-------:|-------|---------|
 * | 0      | u32   | magic `0x31534350` ("PCS1") |
 * | 4      | u32   | layout hash: FNV-1a of rollback component names, field names and types |
 * | 8      | u32   | tick |
 * | 12     | u32x4 | PRNG state |
 * | 28     | u32   | alive entity count A |
 * | 32     | u32   | highest entity id ever allocated |
 * | 36     | u32   | entity index length D (alive ids, then recyclable ids) |
 * | 40     | u32   | number of rollback components C |
 * | 44     | u32xD | entity index (dense order) |
 * | ...    |       | C component sections, in name order: u32 count n, u32 x n entity ids ascending, then per field (declaration order) n values, each field aligned to its size |
 *
 * Snapshots taken with a reused target (`snapshot(world, previous)`) write into the same buffer
 * and allocate nothing once it is large enough.
 *
 * Checksum: 32-bit FNV-1a (Fowler, Noll, Vo; draft-eastlake-fnv) over those component bytes. It
 * covers everything above except extension bytes; physics writes body transforms and velocities
 * back into rollback components every tick, so a physics divergence shows in the checksum.
 */
import {
  $internal,
  addComponent as ecsAddComponent,
  addEntity,
  entityExists,
  query as ecsQuery,
  removeComponent as ecsRemoveComponent,
  removeEntity,
  type InternalWorld,
} from 'bitecs';
import type { ComponentDef, FieldArray, FieldType } from './components.ts';
import { EngineError } from './errors.ts';
import type { GameWorld } from './world.ts';

const MAGIC = 0x31534350;
const HEADER_WORDS = 11;
/** Magic number at offset 0 of the component bytes ("PCS1"); for the snapshot codec. */
export const COMPONENT_MAGIC = MAGIC;
/** Size of the component bytes' header, bytes (magic .. component count); for the snapshot codec. */
export const COMPONENT_HEADER_BYTES = HEADER_WORDS * 4;

/** A snapshot of a world's rollback state. Reuse one per ring-buffer slot. */
export interface WorldSnapshot {
  /** Tick of the world when taken (the next tick it would simulate). */
  tick: number;
  /** Component section: `bytes.byteLength` bytes at the start of a reusable buffer. */
  bytes: Uint8Array;
  /** Bytes of each snapshot extension, by extension name. */
  readonly extensions: Map<string, Uint8Array>;
  /** Checksum of `bytes`, computed when taken. */
  checksum: number;
}

/** Typed views over one backing buffer, created once per buffer so writing allocates nothing. */
interface Views {
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly i8: Int8Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
}

const viewsOf = new WeakMap<WorldSnapshot, Views>();

function makeViews(bytes: number): Views {
  const buffer = new ArrayBuffer(bytes);
  return {
    buffer,
    u8: new Uint8Array(buffer), i8: new Int8Array(buffer),
    u16: new Uint16Array(buffer), i16: new Int16Array(buffer),
    u32: new Uint32Array(buffer), i32: new Int32Array(buffer),
    f32: new Float32Array(buffer), f64: new Float64Array(buffer),
  };
}

function viewFor(v: Views, type: FieldType): FieldArray {
  return v[type];
}

/** FNV-1a, 32 bit, over `bytes[0 .. length)`. Offset basis 2166136261, prime 16777619. */
export function fnv1a32(bytes: Uint8Array, length = bytes.length, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const textEncoder = new TextEncoder();

/** Hash identifying the rollback layout (component names, field names and types, in order). */
export function layoutHash(world: GameWorld): number {
  let desc = '';
  for (const def of world.components.rollback()) {
    desc += `${def.name}{`;
    for (const f of def.fields) desc += `${f.name}:${f.type},`;
    desc += '}';
  }
  return fnv1a32(textEncoder.encode(desc));
}

function align(offset: number, size: number): number {
  return (offset + size - 1) & ~(size - 1);
}

function entityIndexOf(world: GameWorld) {
  return (world as unknown as InternalWorld)[$internal].entityIndex;
}

function membersOf(world: GameWorld, def: ComponentDef): readonly number[] {
  return ecsQuery(world, [world.components.storeOf(def)]) as readonly number[];
}

/** Upper bound of the component bytes a snapshot of `world` needs now. */
function requiredBytes(world: GameWorld): number {
  const index = entityIndexOf(world);
  let n = (HEADER_WORDS + index.dense.length) * 4;
  for (const def of world.components.rollback()) {
    const count = membersOf(world, def).length;
    n += 4 + count * 4;
    for (const f of def.fields) n += f.bytes * count + 8;
  }
  return n;
}

/**
 * Takes a snapshot of `world`'s rollback state, writing into `target` when given (its buffer is
 * reused, and grown by doubling when too small) or into a new snapshot.
 * @returns the snapshot written (`target` when given).
 */
export function snapshot(world: GameWorld, target?: WorldSnapshot): WorldSnapshot {
  const snap = writeComponents(world, target ?? createSnapshot());
  const names = [...world.snapshotExtensions.keys()].sort();
  for (const name of [...snap.extensions.keys()]) if (!world.snapshotExtensions.has(name)) snap.extensions.delete(name);
  // Each extension gets back the bytes it wrote into this snapshot last time, to reuse.
  for (const name of names) snap.extensions.set(name, world.snapshotExtensions.get(name)!.save(world, snap.extensions.get(name)));
  return snap;
}

/** Writes the component section (and checksum) of `snap`; leaves its extensions alone. */
function writeComponents(world: GameWorld, snap: WorldSnapshot): WorldSnapshot {
  const need = requiredBytes(world);
  let v = viewsOf.get(snap);
  if (!v || v.buffer.byteLength < need) {
    v = makeViews(Math.max(align(need, 8), v ? v.buffer.byteLength * 2 : 0, 256));
    viewsOf.set(snap, v);
  }
  const index = entityIndexOf(world);
  const rollback = world.components.rollback();
  const u32 = v.u32;
  u32[0] = MAGIC;
  u32[1] = layoutHash(world);
  u32[2] = world.time.tick;
  u32.set(world.rng.state, 3);
  u32[7] = index.aliveCount;
  u32[8] = index.maxId;
  u32[9] = index.dense.length;
  u32[10] = rollback.length;
  let offset = HEADER_WORDS * 4;
  const dense = index.dense;
  for (let i = 0, w = offset >> 2; i < dense.length; i++) u32[w + i] = dense[i]!;
  offset += dense.length * 4;

  for (const def of rollback) {
    const members = membersOf(world, def);
    const n = members.length;
    u32[offset >> 2] = n;
    offset += 4;
    const idsAt = offset >> 2;
    for (let i = 0; i < n; i++) u32[idsAt + i] = members[i]!;
    u32.subarray(idsAt, idsAt + n).sort();
    offset += n * 4;
    const arrays = world.components.fieldArrays(def);
    for (let f = 0; f < def.fields.length; f++) {
      const field = def.fields[f]!;
      const aligned = align(offset, field.bytes);
      v.u8.fill(0, offset, aligned); // padding is checksummed: never leave stale bytes there
      offset = aligned;
      const out = viewFor(v, field.type);
      const src = arrays[f]!;
      const at = offset / field.bytes;
      for (let i = 0; i < n; i++) out[at + i] = src[u32[idsAt + i]!]!;
      offset += n * field.bytes;
    }
  }
  snap.tick = world.time.tick;
  snap.bytes = snap.bytes.buffer === v.buffer && snap.bytes.byteLength === offset ? snap.bytes : new Uint8Array(v.buffer, 0, offset);
  snap.checksum = fnv1a32(v.u8, offset);
  return snap;
}

/**
 * The checksum of `world`'s rollback state now: equal on two worlds exactly when their
 * snapshots' component bytes are equal. Same algorithm and bytes as `WorldSnapshot.checksum`.
 */
export function checksum(world: GameWorld): number {
  return writeComponents(world, scratchFor(world)).checksum;
}

const scratch = new WeakMap<GameWorld, WorldSnapshot>();
function scratchFor(world: GameWorld): WorldSnapshot {
  let s = scratch.get(world);
  if (!s) scratch.set(world, (s = createSnapshot()));
  return s;
}

const restoreFlags = new WeakMap<GameWorld, Uint8Array>();
/** One reusable per-entity flag array per world, so a restore (every rollback) allocates no `maxEntities` bytes. */
function flagsFor(world: GameWorld): Uint8Array {
  let flags = restoreFlags.get(world);
  if (!flags) restoreFlags.set(world, (flags = new Uint8Array(world.maxEntities)));
  return flags;
}

function readView(snap: WorldSnapshot): Views {
  const own = viewsOf.get(snap);
  if (own && snap.bytes.buffer === own.buffer && snap.bytes.byteOffset === 0) return own;
  // A snapshot whose bytes came from elsewhere (decoded from the network, structured clone):
  // copy once into an aligned buffer of its own.
  const v = makeViews(align(Math.max(snap.bytes.byteLength, 8), 8));
  v.u8.set(snap.bytes);
  viewsOf.set(snap, v);
  snap.bytes = new Uint8Array(v.buffer, 0, snap.bytes.byteLength);
  return v;
}

function checkHeader(world: GameWorld, snap: WorldSnapshot, v: Views): void {
  if (snap.bytes.byteLength < HEADER_WORDS * 4 || v.u32[0] !== MAGIC) {
    throw new EngineError('InvalidSnapshot', 'bytes are not a PeerCompute world snapshot (bad magic or too short)', { byteLength: snap.bytes.byteLength });
  }
  const expected = layoutHash(world);
  if (v.u32[1] !== expected) {
    throw new EngineError(
      'InvalidSnapshot',
      `snapshot layout ${v.u32[1]} does not match this world's rollback components (${expected}): register the same components (${world.components.rollback().map((d) => d.name).join(', ')}) before restoring`,
      { snapshotLayout: v.u32[1], worldLayout: expected },
    );
  }
}

/**
 * Checks, before `restore` changes anything, that every section of `snap` lies within its bytes
 * and names only entities the snapshot has: entity index ids distinct, at most `maxId`; each
 * component's members alive in the snapshot, ascending, with all their field values present;
 * nothing after the last section; and an extension of the world for each extension state. A
 * snapshot taken by {@link snapshot} always passes; bytes from a peer may not (the checksum only
 * detects accidents, not a peer that computes it over crafted bytes).
 */
function checkSections(world: GameWorld, snap: WorldSnapshot, v: Views, aliveCount: number, maxId: number, denseLength: number): void {
  const fail = (what: string, data: Record<string, unknown> = {}): never => {
    throw new EngineError('InvalidSnapshot', `snapshot is inconsistent: ${what}`, data);
  };
  const u32 = v.u32;
  const length = snap.bytes.byteLength;
  const seen = flagsFor(world);
  seen.fill(0);
  for (let i = 0; i < denseLength; i++) {
    const eid = u32[HEADER_WORDS + i]!;
    if (eid > maxId || seen[eid] !== 0) fail(`entity index entry ${i} (${eid}) is above the highest id ${maxId} or repeated`, { eid });
    seen[eid] = i < aliveCount ? 1 : 2;
  }
  let offset = (HEADER_WORDS + denseLength) * 4;
  for (const def of world.components.rollback()) {
    if (offset + 4 > length) fail(`component ${def.name} is cut off`, { component: def.name });
    const n = u32[offset >> 2]!;
    offset += 4;
    if (n > aliveCount || offset + n * 4 > length) fail(`component ${def.name} has ${n} members`, { component: def.name, n });
    const idsAt = offset >> 2;
    for (let i = 0; i < n; i++) {
      const eid = u32[idsAt + i]!;
      if (seen[eid] !== 1 || (i > 0 && eid <= u32[idsAt + i - 1]!)) fail(`component ${def.name} member ${eid} is not alive or out of order`, { component: def.name, eid });
    }
    offset += n * 4;
    for (const field of def.fields) {
      offset = align(offset, field.bytes) + n * field.bytes;
      if (offset > length) fail(`field ${def.name}.${field.name} is cut off`, { component: def.name, field: field.name });
    }
  }
  if (offset !== length) fail(`${length - offset} bytes after the last component`, { trailing: length - offset });
  for (const name of snap.extensions.keys()) {
    if (!world.snapshotExtensions.has(name)) {
      throw new EngineError('InvalidSnapshot', `snapshot has state of extension ${name}, which this world does not have`, { extension: name });
    }
  }
}

/**
 * Restores `world` to the state of `snap`: tick, PRNG, the entity index, membership and values
 * of every rollback component, then each snapshot extension (in name order).
 *
 * Entities alive now but not in the snapshot are despawned (all their components go, rollback
 * or not); entities in the snapshot but not alive now are re-created with the same ids.
 * Non-rollback components of entities alive in both are left untouched. Add/remove observers
 * fire for the membership changes.
 *
 * @throws EngineError `InvalidSnapshot` when `snap` was taken with other rollback components,
 *   its bytes are not a snapshot or are inconsistent (a section out of bounds, an unknown
 *   entity), or it holds the state of an extension the world does not have. The world is
 *   unchanged in those cases (an extension's own `load` may still throw after the components
 *   were restored).
 */
export function restore(world: GameWorld, snap: WorldSnapshot): void {
  const v = readView(snap);
  checkHeader(world, snap, v);
  const u32 = v.u32;
  const aliveCount = u32[7]!;
  const maxId = u32[8]!;
  const denseLength = u32[9]!;
  const denseAt = HEADER_WORDS;
  if ((HEADER_WORDS + denseLength) * 4 > snap.bytes.byteLength || aliveCount > denseLength || maxId >= world.maxEntities) {
    throw new EngineError('InvalidSnapshot', 'snapshot entity index is out of range', { aliveCount, maxId, denseLength });
  }
  checkSections(world, snap, v, aliveCount, maxId, denseLength);
  const index = entityIndexOf(world);

  // 1. Despawn entities that are alive now but not in the snapshot.
  const wanted = flagsFor(world);
  wanted.fill(0);
  for (let i = 0; i < aliveCount; i++) wanted[u32[denseAt + i]!] = 1;
  const aliveNow = index.dense.slice(0, index.aliveCount);
  for (const eid of aliveNow) if (!wanted[eid]) removeEntity(world, eid);

  // 2. Re-create entities of the snapshot that are not alive now, with their exact ids: make
  //    the id the next one the entity index hands out, then add it through bitECS.
  for (let i = 0; i < aliveCount; i++) {
    const eid = u32[denseAt + i]!;
    if (entityExists(world, eid)) continue;
    while (index.maxId < eid) {
      const id = ++index.maxId;
      index.sparse[id] = index.dense.length;
      index.dense.push(id);
    }
    const at = index.sparse[eid]!;
    const swapWith = index.aliveCount;
    const other = index.dense[swapWith]!;
    index.dense[swapWith] = eid;
    index.sparse[eid] = swapWith;
    index.dense[at] = other;
    index.sparse[other] = at;
    const got = addEntity(world);
    if (got !== eid) throw new EngineError('InvalidSnapshot', `could not re-create entity ${eid} (got ${got})`, { eid, got });
  }

  // 3. The alive set now matches; adopt the snapshot's exact index (recycling order, maxId).
  for (let i = denseLength; i < index.dense.length; i++) index.sparse[index.dense[i]!] = undefined as unknown as number;
  index.dense.length = denseLength;
  for (let i = 0; i < denseLength; i++) {
    const id = u32[denseAt + i]!;
    index.dense[i] = id;
    index.sparse[id] = i;
  }
  index.aliveCount = aliveCount;
  index.maxId = maxId;

  // 4. Component membership and values.
  let offset = (HEADER_WORDS + denseLength) * 4;
  const flags = wanted; // reuse: 0 = not member in snapshot, 1 = member
  for (const def of world.components.rollback()) {
    const n = u32[offset >> 2]!;
    offset += 4;
    const idsAt = offset >> 2;
    offset += n * 4;
    const store = world.components.storeOf(def);
    flags.fill(0);
    for (let i = 0; i < n; i++) flags[u32[idsAt + i]!] = 1;
    const current = Array.from(ecsQuery(world, [store]) as readonly number[]);
    for (const eid of current) {
      if (flags[eid] === 1) flags[eid] = 2;
      else ecsRemoveComponent(world, eid, store);
    }
    for (let i = 0; i < n; i++) {
      const eid = u32[idsAt + i]!;
      if (flags[eid] === 1) ecsAddComponent(world, eid, store);
    }
    const arrays = world.components.fieldArrays(def);
    for (let f = 0; f < def.fields.length; f++) {
      const field = def.fields[f]!;
      offset = align(offset, field.bytes);
      const src = viewFor(v, field.type);
      const dst = arrays[f]!;
      const at = offset / field.bytes;
      for (let i = 0; i < n; i++) dst[u32[idsAt + i]!] = src[at + i]!;
      offset += n * field.bytes;
    }
  }

  world.time.tick = u32[2]!;
  world.rng.state.set(u32.subarray(3, 7));

  for (const name of [...snap.extensions.keys()].sort()) {
    const ext = world.snapshotExtensions.get(name);
    if (!ext) throw new EngineError('InvalidSnapshot', `snapshot has state of extension ${name}, which this world does not have`, { extension: name });
    ext.load(world, snap.extensions.get(name)!);
  }
}

/** One difference found by {@link diffSnapshots}. */
export interface SnapshotDifference {
  /** Component name, or `'tick'`, `'rng'`, `'entities'` for header differences. */
  readonly component: string;
  /** Field name, or `'membership'` when the entity has the component in one snapshot only. */
  readonly field: string;
  /** Entity id (0 for header differences). */
  readonly eid: number;
  /** Value in `a` (NaN when absent). */
  readonly a: number;
  /** Value in `b` (NaN when absent). */
  readonly b: number;
}

interface ParsedComponent {
  readonly ids: Uint32Array;
  readonly values: Map<string, FieldArray>;
}

function parse(world: GameWorld, snap: WorldSnapshot): { header: Uint32Array; dense: Uint32Array; comps: Map<string, ParsedComponent> } {
  const v = readView(snap);
  checkHeader(world, snap, v);
  const header = v.u32.slice(0, HEADER_WORDS);
  const denseLength = header[9]!;
  const dense = v.u32.slice(HEADER_WORDS, HEADER_WORDS + header[7]!).sort();
  let offset = (HEADER_WORDS + denseLength) * 4;
  const comps = new Map<string, ParsedComponent>();
  for (const def of world.components.rollback()) {
    const n = v.u32[offset >> 2]!;
    offset += 4;
    const ids = v.u32.slice(offset >> 2, (offset >> 2) + n);
    offset += n * 4;
    const values = new Map<string, FieldArray>();
    for (const field of def.fields) {
      offset = align(offset, field.bytes);
      const at = offset / field.bytes;
      values.set(field.name, viewFor(v, field.type).slice(at, at + n));
      offset += n * field.bytes;
    }
    comps.set(def.name, { ids, values });
  }
  return { header, dense, comps };
}

/**
 * Lists where two snapshots of worlds with the same rollback layout differ: tick, PRNG, alive
 * entities, component membership and field values (NaN-aware: equal bit patterns are equal).
 * For sync tests and desync reports; allocates freely.
 *
 * @param limit most differences to return. Default 100.
 * @throws EngineError `InvalidSnapshot` when either snapshot has another layout than `world`.
 */
export function diffSnapshots(world: GameWorld, a: WorldSnapshot, b: WorldSnapshot, limit = 100): SnapshotDifference[] {
  const pa = parse(world, a);
  const pb = parse(world, b);
  const out: SnapshotDifference[] = [];
  const push = (d: SnapshotDifference) => {
    if (out.length < limit) out.push(d);
  };
  if (pa.header[2] !== pb.header[2]) push({ component: 'tick', field: 'tick', eid: 0, a: pa.header[2]!, b: pb.header[2]! });
  for (let i = 3; i < 7; i++) {
    if (pa.header[i] !== pb.header[i]) push({ component: 'rng', field: `state${i - 3}`, eid: 0, a: pa.header[i]!, b: pb.header[i]! });
  }
  const aliveA = new Set(pa.dense);
  const aliveB = new Set(pb.dense);
  for (const e of pa.dense) if (!aliveB.has(e)) push({ component: 'entities', field: 'alive', eid: e, a: 1, b: 0 });
  for (const e of pb.dense) if (!aliveA.has(e)) push({ component: 'entities', field: 'alive', eid: e, a: 0, b: 1 });
  for (const def of world.components.rollback()) {
    const ca = pa.comps.get(def.name)!;
    const cb = pb.comps.get(def.name)!;
    const posB = new Map<number, number>();
    cb.ids.forEach((e, i) => posB.set(e, i));
    const seen = new Set<number>();
    ca.ids.forEach((eid, i) => {
      const j = posB.get(eid);
      seen.add(eid);
      if (j === undefined) {
        push({ component: def.name, field: 'membership', eid, a: 1, b: 0 });
        return;
      }
      for (const field of def.fields) {
        const va = ca.values.get(field.name)![i]!;
        const vb = cb.values.get(field.name)![j]!;
        if (!Object.is(va, vb) && !(Number.isNaN(va) && Number.isNaN(vb))) push({ component: def.name, field: field.name, eid, a: va, b: vb });
      }
    });
    for (const eid of cb.ids) if (!seen.has(eid)) push({ component: def.name, field: 'membership', eid, a: 0, b: 1 });
  }
  return out;
}

/** A new, empty snapshot object to use as a reusable target of {@link snapshot}. */
export function createSnapshot(): WorldSnapshot {
  return { tick: 0, bytes: new Uint8Array(0), extensions: new Map(), checksum: 0 };
}
