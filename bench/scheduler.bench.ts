/**
 * Scheduler overhead: one tick of 5 trivial systems over 10k entities through the engine
 * (Scheduler + `query` + `storeOf`) versus the same loops written directly against bitECS
 * (its `query` and plain typed-array stores). The ratio is the engine's per-tick overhead.
 */
import { addComponent as rawAdd, addEntity as rawAddEntity, createWorld as rawWorld, query as rawQuery } from 'bitecs';
import { addComponent, createWorld, defineComponent, Phase, query, Scheduler, spawn, storeOf, type GameWorld } from '../engine/index.ts';
import { runGroup, type BenchRow } from './harness.ts';

const N = 10_000;
const DT = 1 / 60;

const Pos = defineComponent('BenchPos', { x: 'f32', y: 'f32', z: 'f32' });
const Vel = defineComponent('BenchVel', { x: 'f32', y: 'f32', z: 'f32' });
const Health = defineComponent('BenchHealth', { hp: 'f32' });
const moving = [Pos, Vel] as const;
const posOnly = [Pos] as const;
const velOnly = [Vel] as const;
const living = [Health] as const;

function engineSetup(): { world: GameWorld; scheduler: Scheduler } {
  const world = createWorld({ maxEntities: N + 1 });
  const scheduler = new Scheduler(world);
  for (let i = 0; i < N; i++) {
    const e = spawn(world);
    addComponent(world, e, Pos, { x: i, y: 0, z: 0 });
    addComponent(world, e, Vel, { x: 1, y: 2, z: 3 });
    if (i % 2 === 0) addComponent(world, e, Health, { hp: 50 });
  }
  scheduler.addSystem(Phase.Simulation, function integrate(w) {
    const p = storeOf(w, Pos), v = storeOf(w, Vel);
    const es = query(w, moving);
    for (let i = 0; i < es.length; i++) { const e = es[i]!; p.x[e]! += v.x[e]! * DT; p.y[e]! += v.y[e]! * DT; p.z[e]! += v.z[e]! * DT; }
  });
  scheduler.addSystem(Phase.Simulation, function damp(w) {
    const v = storeOf(w, Vel);
    const es = query(w, velOnly);
    for (let i = 0; i < es.length; i++) { const e = es[i]!; v.x[e]! *= 0.999; v.y[e]! *= 0.999; v.z[e]! *= 0.999; }
  });
  scheduler.addSystem(Phase.Physics, function clamp(w) {
    const p = storeOf(w, Pos);
    const es = query(w, posOnly);
    for (let i = 0; i < es.length; i++) { const e = es[i]!; if (p.y[e]! > 100) p.y[e] = 100; }
  });
  scheduler.addSystem(Phase.Simulation, function regen(w) {
    const h = storeOf(w, Health);
    const es = query(w, living);
    for (let i = 0; i < es.length; i++) { const e = es[i]!; h.hp[e] = Math.min(100, h.hp[e]! + 0.1); }
  });
  scheduler.addSystem(Phase.RenderSync, function count(w) {
    w.resources.set('bench.count', query(w, moving).length);
  });
  return { world, scheduler };
}

function rawSetup(): () => void {
  const world = rawWorld();
  const P = { x: new Float32Array(N + 1), y: new Float32Array(N + 1), z: new Float32Array(N + 1) };
  const V = { x: new Float32Array(N + 1), y: new Float32Array(N + 1), z: new Float32Array(N + 1) };
  const H = { hp: new Float32Array(N + 1) };
  for (let i = 0; i < N; i++) {
    const e = rawAddEntity(world);
    rawAdd(world, e, P); P.x[e] = i;
    rawAdd(world, e, V); V.x[e] = 1; V.y[e] = 2; V.z[e] = 3;
    if (i % 2 === 0) { rawAdd(world, e, H); H.hp[e] = 50; }
  }
  let count = 0;
  return () => {
    let es = rawQuery(world, [P, V]);
    for (let i = 0; i < es.length; i++) { const e = es[i]!; P.x[e]! += V.x[e]! * DT; P.y[e]! += V.y[e]! * DT; P.z[e]! += V.z[e]! * DT; }
    es = rawQuery(world, [V]);
    for (let i = 0; i < es.length; i++) { const e = es[i]!; V.x[e]! *= 0.999; V.y[e]! *= 0.999; V.z[e]! *= 0.999; }
    es = rawQuery(world, [H]);
    for (let i = 0; i < es.length; i++) { const e = es[i]!; H.hp[e] = Math.min(100, H.hp[e]! + 0.1); }
    es = rawQuery(world, [P]);
    for (let i = 0; i < es.length; i++) { const e = es[i]!; if (P.y[e]! > 100) P.y[e] = 100; }
    count = rawQuery(world, [P, V]).length;
    if (count < 0) throw new Error('unreachable');
  };
}

/** Runs the scheduler group. */
export async function benchScheduler(): Promise<BenchRow[]> {
  const raw = rawSetup();
  const { scheduler } = engineSetup();
  return runGroup(`tick, ${N / 1000}k entities, 5 systems`, [
    { name: 'raw bitECS loops', fn: raw },
    { name: 'engine Scheduler.step', fn: () => scheduler.step(), baseline: 'raw bitECS loops' },
  ]);
}
