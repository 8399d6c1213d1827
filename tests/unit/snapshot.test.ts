import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { getAllEntities } from 'bitecs';
import {
  addComponent, checksum, createSnapshot, createWorld, defineComponent, despawn, diffSnapshots, fnv1a32, getFields,
  hasComponent, isAlive, registerSnapshotExtension, removeComponent, restore, snapshot, spawn, storeOf,
  type GameWorld,
} from '../../engine/index.ts';

const Pos = defineComponent('Pos', { x: 'f32', y: 'f64' });
const Hp = defineComponent('Hp', { hp: 'i16', flags: 'u8', big: 'u32' });
const Tag = defineComponent('Tag', {});
const Local = defineComponent('LocalOnly', { v: 'f32' }, { rollback: false });
const COMPONENTS = [Pos, Hp, Tag] as const;

type Op =
  | { k: 'spawn' }
  | { k: 'despawn'; i: number }
  | { k: 'add'; i: number; c: number; v: number }
  | { k: 'remove'; i: number; c: number }
  | { k: 'set'; i: number; v: number }
  | { k: 'rng' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({ k: 'spawn' }),
  fc.record({ k: fc.constant('despawn' as const), i: fc.nat(1000) }),
  fc.record({ k: fc.constant('add' as const), i: fc.nat(1000), c: fc.nat(2), v: fc.integer({ min: -1000, max: 1000 }) }),
  fc.record({ k: fc.constant('remove' as const), i: fc.nat(1000), c: fc.nat(2) }),
  fc.record({ k: fc.constant('set' as const), i: fc.nat(1000), v: fc.double({ noNaN: true, min: -1e6, max: 1e6 }) }),
  fc.constant<Op>({ k: 'rng' }),
);

function alive(w: GameWorld): number[] {
  return [...getAllEntities(w)].sort((a, b) => a - b);
}

/** Applies ops deterministically: entity choice is by index into the sorted alive list. */
function apply(w: GameWorld, ops: readonly Op[]): void {
  for (const op of ops) {
    const ents = alive(w);
    const pick = 'i' in op && ents.length > 0 ? ents[op.i % ents.length]! : undefined;
    switch (op.k) {
      case 'spawn': {
        const e = spawn(w);
        addComponent(w, e, Pos, { x: w.rng.range(-10, 10), y: e });
        break;
      }
      case 'despawn': if (pick !== undefined) despawn(w, pick); break;
      case 'add':
        if (pick === undefined) break;
        if (op.c === 0) addComponent(w, pick, Pos, { x: op.v, y: op.v * 2 });
        if (op.c === 1) addComponent(w, pick, Hp, { hp: op.v, flags: op.v & 0xff, big: op.v >>> 0 });
        if (op.c === 2) addComponent(w, pick, Tag);
        addComponent(w, pick, Local, { v: op.v });
        break;
      case 'remove': if (pick !== undefined) removeComponent(w, pick, COMPONENTS[op.c]!); break;
      case 'set': if (pick !== undefined && hasComponent(w, pick, Pos)) storeOf(w, Pos).y[pick] = op.v; break;
      case 'rng': w.rng.nextU32(); break;
    }
  }
}

function newWorld(): GameWorld {
  const w = createWorld({ seed: 5, maxEntities: 512 });
  for (const c of [...COMPONENTS, Local]) storeOf(w, c);
  return w;
}

describe('snapshot / restore / checksum', () => {
  it('restores exactly, and a restored world continues like one that never diverged (property)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), fc.array(opArb, { maxLength: 60 }), fc.array(opArb, { maxLength: 60 }), (p, q, r) => {
        const w = newWorld();
        apply(w, p);
        const snap = snapshot(w);
        const c0 = checksum(w);
        expect(snap.checksum).toBe(c0);
        apply(w, q);
        restore(w, snap);
        expect(checksum(w)).toBe(c0);
        apply(w, r);
        const reference = newWorld();
        apply(reference, p);
        apply(reference, r);
        expect(alive(w)).toEqual(alive(reference));
        expect(checksum(w)).toBe(checksum(reference));
      }),
      { numRuns: 150, seed: 20261123 },
    );
  });

  it('checksum changes with any rollback field, membership, rng or tick, but not with non-rollback data', () => {
    const w = newWorld();
    const e = spawn(w);
    addComponent(w, e, Pos, { x: 1, y: 2 });
    addComponent(w, e, Local, { v: 1 });
    const base = checksum(w);
    storeOf(w, Local).v[e] = 99;
    expect(checksum(w)).toBe(base);
    const mutations: Array<[string, () => void, () => void]> = [
      ['field', () => { storeOf(w, Pos).x[e] = 1.5; }, () => { storeOf(w, Pos).x[e] = 1; }],
      ['membership', () => addComponent(w, e, Tag), () => removeComponent(w, e, Tag)],
      ['tick', () => { w.time.tick++; }, () => { w.time.tick--; }],
      ['rng', () => { w.rng.state[0]! ^= 1; }, () => { w.rng.state[0]! ^= 1; }],
    ];
    for (const [name, change, undo] of mutations) {
      change();
      expect(checksum(w), name).not.toBe(base);
      undo();
      expect(checksum(w), name).toBe(base);
    }
  });

  it('re-creates despawned entities with their ids and leaves non-rollback components of survivors alone', () => {
    const w = newWorld();
    const a = spawn(w), b = spawn(w);
    addComponent(w, a, Pos, { x: 1, y: 1 });
    addComponent(w, b, Hp, { hp: 5 });
    addComponent(w, a, Local, { v: 3 });
    const snap = snapshot(w);
    despawn(w, b);
    storeOf(w, Local).v[a] = 4;
    const c = spawn(w); // recycles b's id in bitECS
    addComponent(w, c, Tag);
    restore(w, snap);
    expect(isAlive(w, b)).toBe(true);
    expect(getFields(w, b, Hp).hp).toBe(5);
    expect(hasComponent(w, b, Tag)).toBe(false);
    expect(hasComponent(w, a, Local)).toBe(true);
    expect(storeOf(w, Local).v[a]).toBe(4);
  });

  it('restores into another world of the same layout (a second peer, a sync-test shadow)', () => {
    const w1 = newWorld();
    apply(w1, [{ k: 'spawn' }, { k: 'spawn' }, { k: 'add', i: 1, c: 1, v: 7 }, { k: 'rng' }, { k: 'despawn', i: 0 }]);
    const snap = snapshot(w1);
    const w2 = newWorld();
    restore(w2, snap);
    expect(checksum(w2)).toBe(checksum(w1));
    expect(diffSnapshots(w1, snapshot(w1), snapshot(w2))).toEqual([]);
  });

  it('diffSnapshots names the component, field and entity that differ', () => {
    const w = newWorld();
    const e = spawn(w);
    addComponent(w, e, Hp, { hp: 10 });
    const a = snapshot(w, createSnapshot());
    storeOf(w, Hp).hp[e] = 11;
    addComponent(w, e, Tag);
    const b = snapshot(w, createSnapshot());
    expect(diffSnapshots(w, a, b)).toEqual([
      { component: 'Hp', field: 'hp', eid: e, a: 10, b: 11 },
      { component: 'Tag', field: 'membership', eid: e, a: 0, b: 1 },
    ]);
  });

  it('reuses the target buffer once it is large enough', () => {
    const w = newWorld();
    apply(w, Array.from({ length: 50 }, () => ({ k: 'spawn' as const })));
    const target = createSnapshot();
    snapshot(w, target);
    const buffer = target.bytes.buffer;
    storeOf(w, Pos).x[3] = 42;
    snapshot(w, target);
    expect(target.bytes.buffer).toBe(buffer);
  });

  it('refuses snapshots of another layout or garbage, leaving the world unchanged', () => {
    const w = newWorld();
    spawn(w);
    const before = checksum(w);
    const other = createWorld();
    storeOf(other, defineComponent('Other', { q: 'f32' }));
    expect(() => restore(w, snapshot(other))).toThrowError(expect.objectContaining({ code: 'InvalidSnapshot' }));
    const junk = createSnapshot();
    junk.bytes = new Uint8Array([1, 2, 3]);
    expect(() => restore(w, junk)).toThrowError(/not a PeerCompute world snapshot/);
    expect(checksum(w)).toBe(before);
  });

  it('saves and loads extensions in name order after components', () => {
    const w = newWorld();
    const order: string[] = [];
    let value = 1;
    for (const name of ['zz', 'aa']) {
      registerSnapshotExtension(w, {
        name,
        save: () => new Uint8Array([value]),
        load: (_w, bytes) => { order.push(`${name}:${bytes[0]}`); },
      });
    }
    const snap = snapshot(w);
    value = 2;
    restore(w, snap);
    expect([...snap.extensions.keys()]).toEqual(['aa', 'zz']);
    expect(order).toEqual(['aa:1', 'zz:1']);
  });

  it('fnv1a32 matches the published test vectors', () => {
    const enc = new TextEncoder();
    expect(fnv1a32(enc.encode(''))).toBe(0x811c9dc5);
    expect(fnv1a32(enc.encode('a'))).toBe(0xe40c292c);
    expect(fnv1a32(enc.encode('foobar'))).toBe(0xbf9cf968);
  });
});
