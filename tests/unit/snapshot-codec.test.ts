/**
 * The snapshot codec (engine/snapshot-codec.ts): round trips of real worlds (ECS + Rapier) and of
 * arbitrary snapshots, canonical bytes, decoding into a reused snapshot, and garbage of every
 * kind refused with `EngineError` `MalformedSnapshot` and a reason, never another exception.
 * Restore's own checks of decoded (possibly crafted) component bytes are covered at the end.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as encoding from 'lib0/encoding';
import {
  addBody, addComponent, checksum, createSnapshot, createWorld, createPhysics, decodeSnapshot, defineComponent, EngineError,
  encodeSnapshot, fnv1a32, initPhysics, MAX_ENCODED_SNAPSHOT_BYTES, MAX_EXTENSION_NAME_BYTES, MAX_SNAPSHOT_EXTENSIONS, restore,
  Scheduler, ShapeKind, BodyKind, snapshot, spawn, storeOf, SNAPSHOT_CODEC_MAGIC, SNAPSHOT_CODEC_VERSION,
  type GameWorld, type SnapshotDecodeFailure, type WorldSnapshot,
} from '../../engine/index.ts';

const Pos = defineComponent('codec.Pos', { x: 'f32', y: 'f64' });
const Hp = defineComponent('codec.Hp', { hp: 'i16' });

/** A small world with physics: a floor, falling balls, a few plain entities. */
function physicsWorld(seed: number): { world: GameWorld; scheduler: Scheduler } {
  const world = createWorld({ seed, maxEntities: 256 });
  const scheduler = new Scheduler(world);
  createPhysics(world, scheduler);
  storeOf(world, Pos);
  storeOf(world, Hp);
  const floor = spawn(world);
  addBody(world, floor, { kind: BodyKind.Fixed, shape: ShapeKind.Cuboid, hx: 10, hy: 0.5, hz: 10 });
  for (let i = 0; i < 8; i++) {
    const ball = spawn(world);
    addBody(world, ball, { shape: ShapeKind.Ball, radius: 0.3, position: { x: world.rng.range(-3, 3), y: 2 + i, z: world.rng.range(-3, 3) } });
    addComponent(world, ball, Hp, { hp: i * 10 });
  }
  for (let i = 0; i < 5; i++) addComponent(world, spawn(world), Pos, { x: i, y: -i });
  return { world, scheduler };
}

/** Expects `fn` to throw `EngineError` `MalformedSnapshot` with `reason` (any reason when omitted). */
function expectMalformed(fn: () => unknown, reason?: SnapshotDecodeFailure): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(EngineError);
  expect((error as EngineError).code).toBe('MalformedSnapshot');
  if (reason !== undefined) expect((error as EngineError).data.reason).toBe(reason);
}

/** Component bytes that pass the codec's checks: a "PCS1" header of `tick`, then `rest`. */
function componentBytes(tick: number, rest: Uint8Array): Uint8Array {
  const out = new Uint8Array(44 + rest.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x31534350, true);
  view.setUint32(8, tick, true);
  out.set(rest, 44);
  return out;
}

function makeSnapshot(tick: number, rest: Uint8Array, extensions: [string, Uint8Array][]): WorldSnapshot {
  const bytes = componentBytes(tick, rest);
  return { tick, bytes, checksum: fnv1a32(bytes), extensions: new Map(extensions) };
}

function sameSnapshot(a: WorldSnapshot, b: WorldSnapshot): void {
  expect(b.tick).toBe(a.tick);
  expect(b.checksum).toBe(a.checksum);
  expect([...b.bytes]).toEqual([...a.bytes]);
  expect([...b.extensions.keys()]).toEqual([...a.extensions.keys()].sort());
  for (const [name, ext] of a.extensions) expect([...b.extensions.get(name)!]).toEqual([...ext]);
}

/** Appends the trailing FNV-1a checksum: crafted bodies pass the integrity check and reach the field checks. */
function seal(enc: encoding.Encoder): Uint8Array {
  const body = encoding.toUint8Array(enc);
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, fnv1a32(body), true);
  return out;
}

/** An encoder holding magic, version, tick, checksum and components of a valid snapshot; the caller adds the rest. */
function craft(tick = 3, components = componentBytes(3, new Uint8Array(4)), sum = fnv1a32(components)): encoding.Encoder {
  const enc = encoding.createEncoder();
  encoding.writeUint32(enc, SNAPSHOT_CODEC_MAGIC);
  encoding.writeUint8(enc, SNAPSHOT_CODEC_VERSION);
  encoding.writeVarUint(enc, tick);
  encoding.writeUint32(enc, sum);
  encoding.writeVarUint8Array(enc, components);
  return enc;
}

const nameArb = fc.string({ minLength: 1, maxLength: MAX_EXTENSION_NAME_BYTES, unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) });
const snapshotArb = fc.record({
  tick: fc.nat({ max: 0xffff_ffff }),
  rest: fc.uint8Array({ maxLength: 300 }),
  extensions: fc.uniqueArray(fc.tuple(nameArb, fc.uint8Array({ maxLength: 200 })), { maxLength: 6, selector: ([n]) => n }),
}).map(({ tick, rest, extensions }) => makeSnapshot(tick, rest, extensions));

beforeAll(async () => {
  await initPhysics();
});

describe('snapshot codec', () => {
  it('round-trips a physics world: the decoded snapshot restores into a fresh world of the same build, which then runs identically', () => {
    const a = physicsWorld(7);
    for (let i = 0; i < 30; i++) a.scheduler.step();
    const snap = snapshot(a.world);
    const bytes = encodeSnapshot(snap);
    expect(bytes.length).toBeGreaterThan(snap.bytes.length + snap.extensions.get('physics')!.length);
    const decoded = decodeSnapshot(bytes);
    sameSnapshot(snap, decoded);
    bytes.fill(0); // the decoded snapshot holds copies

    const b = physicsWorld(7);
    restore(b.world, decoded);
    expect(checksum(b.world)).toBe(checksum(a.world));
    for (let i = 0; i < 30; i++) {
      a.scheduler.step();
      b.scheduler.step();
    }
    expect(checksum(b.world)).toBe(checksum(a.world));
    expect(storeOf(b.world, Pos).x.length).toBeGreaterThan(0);
  });

  it('round-trips arbitrary snapshots, canonically (property)', () => {
    fc.assert(fc.property(snapshotArb, (snap) => {
      const bytes = encodeSnapshot(snap);
      const decoded = decodeSnapshot(bytes);
      sameSnapshot(snap, decoded);
      expect(encodeSnapshot(decoded)).toEqual(bytes);
    }), { numRuns: 200 });
  });

  it('decodes into a reused snapshot (its component buffer reused when large enough) and leaves it alone on bad bytes', () => {
    const a = physicsWorld(3);
    const first = encodeSnapshot(snapshot(a.world));
    a.scheduler.step();
    const second = encodeSnapshot(snapshot(a.world));
    const into = createSnapshot();
    decodeSnapshot(first, into);
    const buffer = into.bytes.buffer;
    const back = decodeSnapshot(second, into);
    expect(back).toBe(into);
    expect(into.bytes.buffer).toBe(buffer);
    expect(into.tick).toBe(1);
    const b = physicsWorld(3);
    restore(b.world, into);
    expect(checksum(b.world)).toBe(checksum(a.world));

    const before = { tick: into.tick, checksum: into.checksum, bytes: [...into.bytes], physics: into.extensions.get('physics') };
    const damaged = second.slice();
    damaged[20] ^= 0xff;
    expectMalformed(() => decodeSnapshot(damaged, into), 'Corrupt');
    expect({ tick: into.tick, checksum: into.checksum, bytes: [...into.bytes], physics: into.extensions.get('physics') }).toEqual(before);
    // A snapshot taken into a target keeps its buffer too, and decoding into it reuses that buffer.
    const taken = snapshot(a.world);
    const takenBuffer = taken.bytes.buffer;
    decodeSnapshot(first, taken);
    expect(taken.bytes.buffer).toBe(takenBuffer);
    expect(taken.tick).toBe(0);
  });

  it('refuses garbage with MalformedSnapshot, never another exception (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
      expectMalformed(() => decodeSnapshot(junk));
    }), { numRuns: 300 });
    // Garbage after a valid magic and version too.
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
      const bytes = new Uint8Array(5 + junk.length);
      new DataView(bytes.buffer).setUint32(0, SNAPSHOT_CODEC_MAGIC, true);
      bytes[4] = SNAPSHOT_CODEC_VERSION;
      bytes.set(junk, 5);
      expectMalformed(() => decodeSnapshot(bytes));
    }), { numRuns: 300 });
    expectMalformed(() => decodeSnapshot('PCWS' as unknown as Uint8Array), 'NotBytes');
  });

  it('detects every cut and every damaged byte of an encoding (property)', () => {
    fc.assert(fc.property(snapshotArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (snap, at, xor) => {
      const bytes = encodeSnapshot(snap);
      expectMalformed(() => decodeSnapshot(bytes.subarray(0, at % bytes.length)));
      const damaged = bytes.slice();
      damaged[at % bytes.length] ^= xor;
      expectMalformed(() => decodeSnapshot(damaged));
      const longer = new Uint8Array(bytes.length + 1);
      longer.set(bytes);
      expectMalformed(() => decodeSnapshot(longer));
    }), { numRuns: 200 });
  });

  it('names the reason: magic, version, size, tick, components, checksum, extensions, trailing bytes', () => {
    const good = encodeSnapshot(makeSnapshot(3, new Uint8Array(4), [['physics', new Uint8Array([1, 2])]]));
    const wrongMagic = good.slice();
    wrongMagic[0] = 0x51;
    expectMalformed(() => decodeSnapshot(wrongMagic), 'BadMagic');
    const nextVersion = good.slice();
    nextVersion[4] = SNAPSHOT_CODEC_VERSION + 1;
    expectMalformed(() => decodeSnapshot(nextVersion), 'UnsupportedVersion');
    expectMalformed(() => decodeSnapshot(good.subarray(0, 2)), 'Truncated');
    expectMalformed(() => decodeSnapshot(good.subarray(0, good.length - 1)), 'Corrupt');
    // Larger than the cap: refused before anything is read.
    const huge = new Uint8Array(MAX_ENCODED_SNAPSHOT_BYTES + 1);
    expectMalformed(() => decodeSnapshot(huge), 'Oversized');

    // Crafted with a valid trailing checksum, to reach each field check.
    const tickTooLarge = craft(2 ** 33);
    expectMalformed(() => decodeSnapshot(seal(tickTooLarge)), 'BadTick');
    const otherTick = craft(4);
    encoding.writeVarUint(otherTick, 0);
    expectMalformed(() => decodeSnapshot(seal(otherTick)), 'BadComponents');
    const notComponents = craft(3, new Uint8Array(50));
    encoding.writeVarUint(notComponents, 0);
    expectMalformed(() => decodeSnapshot(seal(notComponents)), 'BadComponents');
    const wrongSum = craft(3, componentBytes(3, new Uint8Array(4)), 12345);
    encoding.writeVarUint(wrongSum, 0);
    expectMalformed(() => decodeSnapshot(seal(wrongSum)), 'ChecksumMismatch');
    const lengthPastEnd = craft();
    encoding.writeVarUint(lengthPastEnd, 1);
    encoding.writeVarString(lengthPastEnd, 'physics');
    encoding.writeVarUint(lengthPastEnd, 1_000_000);
    expectMalformed(() => decodeSnapshot(seal(lengthPastEnd)), 'Truncated');
    const tooMany = craft();
    encoding.writeVarUint(tooMany, MAX_SNAPSHOT_EXTENSIONS + 1);
    expectMalformed(() => decodeSnapshot(seal(tooMany)), 'BadExtension');
    for (const names of [['a b'], [''], ['x'.repeat(MAX_EXTENSION_NAME_BYTES + 1)], ['b', 'a'], ['a', 'a'], ['\u00e9t\u00e9']]) {
      const enc = craft();
      encoding.writeVarUint(enc, names.length);
      for (const n of names) {
        encoding.writeVarString(enc, n);
        encoding.writeVarUint8Array(enc, new Uint8Array(1));
      }
      expectMalformed(() => decodeSnapshot(seal(enc)), 'BadExtension');
    }
    const trailing = craft();
    encoding.writeVarUint(trailing, 0);
    encoding.writeUint8(trailing, 0);
    expectMalformed(() => decodeSnapshot(seal(trailing)), 'TrailingBytes');
    const fine = craft();
    encoding.writeVarUint(fine, 0);
    expect(decodeSnapshot(seal(fine)).tick).toBe(3);
  });

  it('encodeSnapshot refuses what snapshot() never makes', () => {
    const invalid = (snap: WorldSnapshot) => expect(() => encodeSnapshot(snap)).toThrowError(expect.objectContaining({ code: 'InvalidSnapshot' }));
    invalid(createSnapshot());
    const ok = makeSnapshot(5, new Uint8Array(8), []);
    invalid({ ...ok, tick: -1 });
    invalid({ ...ok, tick: 6 });
    invalid({ ...ok, checksum: ok.checksum ^ 1 });
    invalid({ ...ok, extensions: new Map([['has space', new Uint8Array(1)]]) });
    invalid({ ...ok, extensions: new Map(Array.from({ length: MAX_SNAPSHOT_EXTENSIONS + 1 }, (_, i) => [`e${i}`, new Uint8Array(0)])) });
    expect(decodeSnapshot(encodeSnapshot(ok)).tick).toBe(5);
  });

  it('restore refuses decoded component bytes that are inconsistent, leaving the world unchanged', () => {
    const a = physicsWorld(9);
    a.scheduler.step();
    const good = snapshot(a.world);
    const b = physicsWorld(9);
    const before = checksum(b.world);
    /** `good` with its component bytes changed by `edit` (checksum recomputed, as a hostile peer would). */
    const crafted = (edit: (u32: Uint32Array) => void, cut = 0): WorldSnapshot => {
      const bytes = good.bytes.slice(0, good.bytes.length - cut);
      edit(new Uint32Array(bytes.buffer, 0, bytes.length >> 2));
      return decodeSnapshot(encodeSnapshot({ tick: good.tick, bytes, checksum: fnv1a32(bytes), extensions: new Map(good.extensions) }));
    };
    const denseLength = good.bytes[36]! | (good.bytes[37]! << 8);
    const firstCount = 11 + denseLength; // word index of the first component's member count
    const cases: WorldSnapshot[] = [
      crafted((u) => { u[firstCount] = 100_000; }), // more members than alive entities / bytes
      crafted((u) => { u[11] = u[12]!; }), // an entity listed twice in the index
      crafted(() => {}, 4), // cut off
      crafted((u) => { if (u[firstCount]! > 0) u[firstCount + 1] = 255; }), // a member that is not alive
    ];
    const withForeignExtension = decodeSnapshot(encodeSnapshot(good));
    withForeignExtension.extensions.set('nobody', new Uint8Array(1));
    cases.push(withForeignExtension);
    for (const snap of cases) {
      expect(() => restore(b.world, snap)).toThrowError(expect.objectContaining({ code: 'InvalidSnapshot' }));
      expect(checksum(b.world)).toBe(before);
    }
    restore(b.world, decodeSnapshot(encodeSnapshot(good)));
    expect(checksum(b.world)).toBe(checksum(a.world));
  });
});
