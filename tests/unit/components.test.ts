import { describe, expect, it } from 'vitest';
import {
  addComponent, createWorld, defineComponent, despawn, EngineError, getFields, hasComponent, orderedQuery, query,
  removeComponent, Rng, spawn, storeOf, getResource, setResource, resourceKey, findResource,
} from '../../engine/index.ts';

describe('components and registry', () => {
  const Mixed = defineComponent('Mixed', {
    a: 'f32', b: 'f64', c: 'i8', d: 'i16', e: 'i32', f: 'u8', g: 'u16', h: { type: 'u32', unit: 'ticks', doc: 'a counter' },
  });

  it('stores each field in its own typed array, per world', () => {
    const w1 = createWorld({ maxEntities: 64 });
    const w2 = createWorld({ maxEntities: 64 });
    const s1 = storeOf(w1, Mixed);
    expect(s1.a).toBeInstanceOf(Float32Array);
    expect(s1.b).toBeInstanceOf(Float64Array);
    expect(s1.c).toBeInstanceOf(Int8Array);
    expect(s1.d).toBeInstanceOf(Int16Array);
    expect(s1.e).toBeInstanceOf(Int32Array);
    expect(s1.f).toBeInstanceOf(Uint8Array);
    expect(s1.g).toBeInstanceOf(Uint16Array);
    expect(s1.h).toBeInstanceOf(Uint32Array);
    expect(s1.a.length).toBe(64);
    const e = spawn(w1);
    addComponent(w1, e, Mixed, { a: 0.1, c: -3, h: 7 });
    expect(getFields(w1, e, Mixed)).toMatchObject({ a: Math.fround(0.1), c: -3, h: 7 });
    expect(storeOf(w2, Mixed).h[e]).toBe(0); // other world untouched
    expect(Mixed.fields.map((f) => f.name)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
    expect(Mixed.fields[7]).toMatchObject({ type: 'u32', bytes: 4, unit: 'ticks' });
  });

  it('knows every registered component, sorted by name, and which roll back', () => {
    const w = createWorld();
    const Z = defineComponent('Zeta', { v: 'f32' });
    const A = defineComponent('Alpha', { v: 'f32' });
    const R = defineComponent('RenderOnly', { v: 'f32' }, { rollback: false });
    storeOf(w, Z);
    storeOf(w, R);
    storeOf(w, A);
    expect(w.components.all().map((d) => d.name)).toEqual(['Alpha', 'RenderOnly', 'Zeta']);
    expect(w.components.rollback().map((d) => d.name)).toEqual(['Alpha', 'Zeta']);
    expect(w.components.byName('Zeta')).toBe(Z);
  });

  it('rejects bad definitions and duplicate names', () => {
    expect(() => defineComponent('1bad', {})).toThrowError(expect.objectContaining({ code: 'InvalidConfig' }));
    expect(() => defineComponent('X', { v: 'f16' as 'f32' })).toThrowError(/unknown type/);
    expect(() => defineComponent('X', { 'not ok': 'f32' })).toThrowError(/invalid field name/);
    const w = createWorld();
    storeOf(w, defineComponent('Dup', { v: 'f32' }));
    expect(() => storeOf(w, defineComponent('Dup', { v: 'f32' }))).toThrowError(expect.objectContaining({ code: 'DuplicateComponent' }));
  });

  it('adds, removes and queries, with ordered queries sorted by id', () => {
    const w = createWorld();
    const T = defineComponent('Tag', {});
    const ids = Array.from({ length: 10 }, () => spawn(w));
    for (const e of [...ids].reverse()) addComponent(w, e, T);
    despawn(w, ids[3]!);
    removeComponent(w, ids[5]!, T);
    const reused = spawn(w);
    addComponent(w, reused, T);
    expect(hasComponent(w, ids[5]!, T)).toBe(false);
    const ordered = Array.from(orderedQuery(w, [T]));
    expect(ordered).toEqual([...ordered].sort((a, b) => a - b));
    expect(new Set(query(w, [T]))).toEqual(new Set(ordered));
    expect(ordered).not.toContain(ids[5]);
    expect(() => addComponent(w, 9999, T)).toThrowError(expect.objectContaining({ code: 'UnknownEntity' }));
  });

  it('refuses to spawn past maxEntities', () => {
    const w = createWorld({ maxEntities: 4 });
    spawn(w); spawn(w); spawn(w); // ids 1..3
    let err: unknown;
    try { spawn(w); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('EntityLimit');
    expect((err as EngineError).data).toMatchObject({ eid: 4, maxEntities: 4 });
  });

  it('keeps typed resources', () => {
    const w = createWorld();
    const key = resourceKey<{ n: number }>('test.counter');
    expect(findResource(w, key)).toBeUndefined();
    expect(() => getResource(w, key)).toThrowError(expect.objectContaining({ code: 'MissingResource' }));
    setResource(w, key, { n: 2 });
    expect(getResource(w, key).n).toBe(2);
  });
});

describe('Rng', () => {
  it('is reproducible from a seed and differs across seeds', () => {
    const a = new Rng(42), b = new Rng(42), c = new Rng(43);
    const sa = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(sa);
    expect(sa.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)).toBe(true);
  });

  it('draws floats in [0,1) and unbiased ints in range', () => {
    const r = new Rng(1);
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60000; i++) {
      const f = r.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
      counts[r.nextInt(6)]!++;
    }
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(500);
    expect(() => r.nextInt(0)).toThrow(RangeError);
  });

  it('matches a pinned sequence (cross-platform determinism guard)', () => {
    const r = new Rng(0);
    const seq = [r.nextU32(), r.nextU32(), r.nextU32()];
    // Pinned when written; any change to seeding or the generator breaks every replay.
    expect(seq).toMatchInlineSnapshot(`
      [
        3809008728,
        1133695204,
        53579671,
      ]
    `);
  });
});
