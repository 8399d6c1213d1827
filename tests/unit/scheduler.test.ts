import { describe, expect, it } from 'vitest';
import { createWorld, EngineError, Phase, PHASE_ORDER, Scheduler, type GameWorld } from '../../engine/index.ts';

function recorder() {
  const log: string[] = [];
  const sys = (name: string) => {
    const fn = (w: GameWorld) => void log.push(`${name}@${w.time.tick}`);
    Object.defineProperty(fn, 'name', { value: name });
    return fn;
  };
  return { log, sys };
}

describe('Scheduler', () => {
  it('runs phases in enum order regardless of registration order, systems in registration order within a phase', () => {
    const world = createWorld();
    const s = new Scheduler(world);
    const { log, sys } = recorder();
    s.addSystem(Phase.RenderSync, sys('render'));
    s.addSystem(Phase.Physics, sys('physics'));
    s.addSystem(Phase.Simulation, sys('simB'));
    s.addSystem(Phase.Input, sys('input'));
    s.addSystem(Phase.Compute, sys('compute'));
    s.addSystem(Phase.Replication, sys('replication'));
    s.addSystem(Phase.Network, sys('network'));
    s.addSystem(Phase.Simulation, sys('simA'), 'simA-late');
    s.step();
    // tick increments after the simulation phases (Simulation, Physics)
    expect(log).toEqual(['input@0', 'network@0', 'simB@0', 'simA@0', 'physics@0', 'compute@1', 'replication@1', 'render@1']);
    expect(world.time.tick).toBe(1);
    expect(PHASE_ORDER).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('simulateTick runs only Simulation and Physics', () => {
    const world = createWorld();
    const s = new Scheduler(world);
    const { log, sys } = recorder();
    for (const phase of PHASE_ORDER) s.addSystem(phase, sys(Phase[phase]));
    s.simulateTick();
    expect(log).toEqual(['Simulation@0', 'Physics@0']);
    expect(world.time.tick).toBe(1);
  });

  it('with external simulation, step() leaves Simulation and Physics to the Network phase', () => {
    const world = createWorld();
    const s = new Scheduler(world);
    const { log, sys } = recorder();
    for (const phase of PHASE_ORDER) s.addSystem(phase, sys(Phase[phase]));
    s.addSystem(Phase.Network, function rollbackDriver() {
      s.simulateTick(); // e.g. two advance requests after a rollback
      s.simulateTick();
    });
    s.externalSimulation = true;
    s.step();
    expect(log).toEqual(['Input@0', 'Network@0', 'Simulation@0', 'Physics@0', 'Simulation@1', 'Physics@1', 'Compute@2', 'Replication@2', 'RenderSync@2']);
    expect(world.time.tick).toBe(2);
  });

  it('accumulates wall time into whole ticks and exposes the remainder as alpha', () => {
    const world = createWorld({ tickRate: 60 });
    const s = new Scheduler(world);
    expect(s.advance(10)).toBe(0);
    expect(s.alpha).toBeCloseTo(0.6, 6);
    expect(s.advance(10)).toBe(1); // 20 ms
    expect(s.alpha).toBeCloseTo((20 - 1000 / 60) / (1000 / 60), 6);
    // three frames of exactly 1000/60 ms make exactly three ticks despite binary rounding
    const w2 = createWorld({ tickRate: 60 });
    const s2 = new Scheduler(w2);
    for (let i = 0; i < 3; i++) s2.advance(1000 / 60);
    expect(w2.time.tick).toBe(3);
    expect(s2.advance(50)).toBe(3);
    expect(w2.time.tick).toBe(6);
  });

  it('caps catch-up steps and counts dropped time', () => {
    const world = createWorld({ tickRate: 100 });
    const s = new Scheduler(world, { maxCatchUpSteps: 4 });
    expect(s.advance(1000)).toBe(4);
    expect(world.time.tick).toBe(4);
    expect(s.stats.droppedMs).toBeCloseTo(960, 6);
    expect(s.alpha).toBeLessThan(1);
    expect(s.advance(-5)).toBe(0);
    expect(s.advance(Number.NaN)).toBe(0);
  });

  it('uses the world tick rate', () => {
    const world = createWorld({ tickRate: 30 });
    const s = new Scheduler(world);
    expect(s.stepMs).toBeCloseTo(1000 / 30, 9);
    expect(world.time.dt).toBeCloseTo(1 / 30, 12);
    expect(s.advance(100)).toBe(3);
  });

  it('rejects duplicate and unknown systems, and bad settings, with codes', () => {
    const world = createWorld();
    const s = new Scheduler(world);
    const off = s.addSystem(Phase.Simulation, function move() {});
    expect(() => s.addSystem(Phase.Physics, function move() {})).toThrowError(expect.objectContaining({ code: 'DuplicateSystem' }));
    expect(() => s.addSystem(Phase.Physics, () => {}, '')).toThrowError(EngineError);
    expect(() => s.addSystem(99 as Phase, function x() {})).toThrowError(expect.objectContaining({ code: 'InvalidConfig' }));
    off();
    expect(s.systemsOf(Phase.Simulation)).toEqual([]);
    expect(() => s.removeSystem('move')).toThrowError(expect.objectContaining({ code: 'UnknownSystem' }));
    expect(() => new Scheduler(world, { maxCatchUpSteps: 0 })).toThrowError(expect.objectContaining({ code: 'InvalidConfig' }));
    expect(() => createWorld({ tickRate: 0 })).toThrowError(expect.objectContaining({ code: 'InvalidConfig' }));
    expect(() => createWorld({ maxEntities: 1.5 })).toThrowError(expect.objectContaining({ code: 'InvalidConfig' }));
  });
});
