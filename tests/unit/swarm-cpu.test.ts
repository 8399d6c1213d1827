/**
 * Swarm physics, CPU twin (shaders/swarm/swarm-cpu.ts): integer math helpers, determinism,
 * conservation, containment and settling. The GPU twin is compared with it in swarm-gpu.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  createSwarm, isqrt, resolveSwarmOptions, stepSwarmCpu, swarmAabbs, swarmChecksum, swarmNarrowphase, SWARM_UNITS_PER_METRE,
} from '../../shaders/swarm/swarm-cpu.ts';
import { bruteForcePairs } from '../../shaders/broadphase/broadphase-cpu.ts';

describe('swarm CPU twin', () => {
  test('isqrt is the exact floor square root over 0..2^31-1', () => {
    for (const v of [0, 1, 2, 3, 4, 15, 16, 17, 2 ** 30, 2 ** 31 - 1, 46340 ** 2, 46340 ** 2 - 1]) {
      expect(isqrt(v), String(v)).toBe(Math.floor(Math.sqrt(v)));
    }
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (v) => {
      const r = isqrt(v);
      return r * r <= v && (r + 1) * (r + 1) > v;
    }), { numRuns: 2000 });
  });

  test('same options give the same state after 120 steps; another seed does not', () => {
    const a = createSwarm({ count: 1500, seed: 11 });
    const b = createSwarm({ count: 1500, seed: 11 });
    const c = createSwarm({ count: 1500, seed: 12 });
    for (let t = 0; t < 120; t++) {
      stepSwarmCpu(a);
      stepSwarmCpu(b);
      stepSwarmCpu(c);
    }
    expect(a.state.tick).toBe(120);
    expect(swarmChecksum(a.state)).toBe(swarmChecksum(b.state));
    expect(a.state.positions).toEqual(b.state.positions);
    expect(swarmChecksum(a.state)).not.toBe(swarmChecksum(c.state));
  });

  test('contact impulses are equal and opposite: the velocity changes of a step sum to exactly zero', () => {
    const swarm = createSwarm({ count: 3000, seed: 5, fountainSpeed: 0 });
    for (let t = 0; t < 240; t++) stepSwarmCpu(swarm); // let them land and pile up
    const p = swarm.options;
    const aabbs = swarmAabbs(swarm.state, p.radius);
    const pairs = bruteForcePairs(aabbs);
    const dv = new Int32Array(p.count * 3);
    swarmNarrowphase(p, swarm.state, pairs, pairs.length / 2, dv);
    let touched = 0;
    const sum = [0, 0, 0];
    for (let k = 0; k < p.count; k++) {
      for (let a = 0; a < 3; a++) sum[a] += dv[3 * k + a]!;
      if (dv[3 * k] !== 0 || dv[3 * k + 1] !== 0 || dv[3 * k + 2] !== 0) touched++;
    }
    expect(touched).toBeGreaterThan(1000); // the pile is in contact
    expect(sum).toEqual([0, 0, 0]);
  });

  test('bodies stay inside the box, fall and come to rest in a pile without deep overlaps', () => {
    const swarm = createSwarm({ count: 2000, seed: 3, fountainSpeed: 0 });
    const p = swarm.options;
    const meanY = (): number => {
      let s = 0;
      for (let k = 0; k < p.count; k++) s += swarm.state.positions[3 * k + 1]!;
      return s / p.count / SWARM_UNITS_PER_METRE;
    };
    const startY = meanY();
    for (let t = 0; t < 600; t++) stepSwarmCpu(swarm);
    const pos = swarm.state.positions;
    for (let k = 0; k < p.count; k++) {
      expect(pos[3 * k]!).toBeGreaterThanOrEqual(p.minX);
      expect(pos[3 * k]!).toBeLessThanOrEqual(p.maxX);
      expect(pos[3 * k + 1]!).toBeGreaterThanOrEqual(p.minY);
      expect(pos[3 * k + 2]!).toBeGreaterThanOrEqual(p.minZ);
      expect(pos[3 * k + 2]!).toBeLessThanOrEqual(p.maxZ);
    }
    expect(meanY()).toBeLessThan(startY / 4);
    // Resting: speeds are small.
    let fast = 0;
    for (let k = 0; k < p.count * 3; k++) if (Math.abs(swarm.state.velocities[k]!) > 0.5 * SWARM_UNITS_PER_METRE / 60) fast++;
    expect(fast).toBeLessThan(p.count * 0.02);
    // No two centres closer than 60 % of a diameter.
    const pairs = bruteForcePairs(swarmAabbs(swarm.state, p.radius));
    let closest = Infinity;
    for (let q = 0; q < pairs.length; q += 2) {
      const i = pairs[q]!, j = pairs[q + 1]!;
      const d = Math.hypot(pos[3 * j]! - pos[3 * i]!, pos[3 * j + 1]! - pos[3 * i + 1]!, pos[3 * j + 2]! - pos[3 * i + 2]!);
      closest = Math.min(closest, d);
    }
    expect(closest).toBeGreaterThan(0.6 * 2 * p.radius);
  });

  test('the fountain keeps bodies moving', () => {
    const swarm = createSwarm({ count: 2000, seed: 3 });
    for (let t = 0; t < 600; t++) stepSwarmCpu(swarm);
    let rising = 0;
    for (let k = 0; k < swarm.options.count; k++) if (swarm.state.velocities[3 * k + 1]! > SWARM_UNITS_PER_METRE / 60) rising++;
    expect(rising).toBeGreaterThan(5);
  });

  test('pairs past maxPairs are dropped and counted', () => {
    const swarm = createSwarm({ count: 2000, seed: 3, fountainSpeed: 0, maxPairs: 50 });
    for (let t = 0; t < 120; t++) stepSwarmCpu(swarm);
    expect(swarm.stats.pairs).toBeGreaterThan(50);
    expect(swarm.stats.droppedPairs).toBe(swarm.stats.pairs - 50);
  });

  test('bad options are refused with the option named', () => {
    expect(() => resolveSwarmOptions({ count: 0 })).toThrow(/count/);
    expect(() => resolveSwarmOptions({ count: 10, radius: 5 })).toThrow(/radius/);
    expect(() => resolveSwarmOptions({ count: 10, stiffness: 300 })).toThrow(/stiffness/);
    expect(() => resolveSwarmOptions({ count: 10, halfWidth: Number.NaN })).toThrow(/halfWidth/);
  });
});
