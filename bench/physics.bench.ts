/**
 * Physics benchmarks.
 *
 * 1. Step cost for 100/500/1000 dynamic bodies: the engine's Physics phase (`simulateTick`:
 *    sync to Rapier, step, write-back, events) against the same scene stepped in raw Rapier.
 *    Both scenes are identical and deterministic and both run the same fixed number of
 *    iterations, so they pass through the same states (falling, colliding, settling).
 * 2. Snapshot and restore after the bodies have settled for 2 s: the engine's snapshot (ECS
 *    components + physics extension) against Rapier's own `takeSnapshot` alone, and
 *    engine snapshot+restore against Rapier takeSnapshot+restoreSnapshot. Bytes per body are
 *    reported for each part.
 */
import {
  addBody, BodyKind, createPhysics, createSnapshot, createWorld, initPhysics, restore, Scheduler, ShapeKind, snapshot, spawn,
  type GameWorld,
} from '../engine/index.ts';
import { rapier } from '../engine/physics/rapier.ts';
import { runGroup, type BenchRow } from './harness.ts';

const SIZES = [100, 500, 1000] as const;
const STEP_ITERATIONS = 240;

interface SceneBody {
  readonly ball: boolean;
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

/** A floor plus `n` balls and boxes in a grid above it, no trigonometry (pitfalls.md). */
function sceneBodies(n: number): SceneBody[] {
  const side = Math.ceil(Math.cbrt(n));
  const out: SceneBody[] = [];
  for (let i = 0; i < n; i++) {
    const gx = i % side;
    const gz = Math.floor(i / side) % side;
    const gy = Math.floor(i / (side * side));
    out.push({ ball: i % 2 === 0, x: (gx - side / 2) * 1.3, y: 1 + gy * 1.3, z: (gz - side / 2) * 1.3 });
  }
  return out;
}

function engineScene(n: number): { world: GameWorld; scheduler: Scheduler } {
  const world = createWorld({ maxEntities: n + 16 });
  const scheduler = new Scheduler(world);
  createPhysics(world, scheduler);
  addBody(world, spawn(world), { kind: BodyKind.Fixed, shape: ShapeKind.Cuboid, hx: 50, hy: 0.5, hz: 50, position: { x: 0, y: -0.5, z: 0 } });
  for (const b of sceneBodies(n)) {
    addBody(world, spawn(world), b.ball
      ? { shape: ShapeKind.Ball, radius: 0.5, position: b }
      : { shape: ShapeKind.Cuboid, hx: 0.5, hy: 0.5, hz: 0.5, position: b });
  }
  return { world, scheduler };
}

function rawScene(n: number) {
  const R = rapier();
  const world = new R.World({ x: 0, y: -9.81, z: 0 });
  world.timestep = 1 / 60;
  world.numSolverIterations = 4;
  world.numInternalPgsIterations = 1;
  world.maxCcdSubsteps = 1;
  world.lengthUnit = 1;
  const floor = world.createRigidBody(R.RigidBodyDesc.fixed().setTranslation(0, -0.5, 0));
  world.createCollider(R.ColliderDesc.cuboid(50, 0.5, 50).setFriction(0.5).setDensity(1), floor);
  for (const b of sceneBodies(n)) {
    const body = world.createRigidBody(R.RigidBodyDesc.dynamic().setTranslation(b.x, b.y, b.z));
    world.createCollider((b.ball ? R.ColliderDesc.ball(0.5) : R.ColliderDesc.cuboid(0.5, 0.5, 0.5)).setFriction(0.5).setDensity(1), body);
  }
  return world;
}

/** ms per physics step, engine vs raw Rapier. */
export async function benchPhysicsStep(): Promise<BenchRow[]> {
  await initPhysics();
  const rows: BenchRow[] = [];
  for (const n of SIZES) {
    const raw = rawScene(n);
    const eventQueue = new (rapier().EventQueue)(true);
    const { scheduler } = engineScene(n);
    rows.push(...await runGroup(`physics step, ${n} dynamic bodies`, [
      { name: 'raw Rapier world.step', fn: () => raw.step(eventQueue) },
      { name: 'engine Physics phase', fn: () => scheduler.simulateTick(), baseline: 'raw Rapier world.step' },
    ], { time: 0, iterations: STEP_ITERATIONS }));
    eventQueue.free();
    raw.free();
  }
  return rows;
}

/** Snapshot/restore cost and size, engine vs Rapier's own snapshot. */
export async function benchSnapshot(): Promise<BenchRow[]> {
  await initPhysics();
  const rows: BenchRow[] = [];
  for (const n of SIZES) {
    const { world, scheduler } = engineScene(n);
    for (let i = 0; i < 120; i++) scheduler.simulateTick();
    let raw = rawScene(n);
    const eq = new (rapier().EventQueue)(true);
    for (let i = 0; i < 120; i++) raw.step(eq);
    eq.free();
    const target = createSnapshot();
    snapshot(world, target);
    const ecsBytes = target.bytes.byteLength;
    const physicsBytes = target.extensions.get('physics')!.byteLength;
    const rapierBytes = raw.takeSnapshot().byteLength;
    const perBody = (b: number) => b / n;
    rows.push(...await runGroup(`snapshot, ${n} bodies`, [
      { name: 'Rapier takeSnapshot', fn: () => void raw.takeSnapshot(), extra: { 'B/body': perBody(rapierBytes) } },
      { name: 'engine snapshot (ECS+physics)', fn: () => void snapshot(world, target), baseline: 'Rapier takeSnapshot', extra: { 'ECS B/body': perBody(ecsBytes), 'physics B/body': perBody(physicsBytes) } },
      {
        name: 'Rapier take+restoreSnapshot',
        fn: () => {
          const next = rapier().World.restoreSnapshot(raw.takeSnapshot());
          raw.free();
          raw = next;
        },
      },
      {
        name: 'engine snapshot+restore',
        fn: () => {
          snapshot(world, target);
          restore(world, target);
        },
        baseline: 'Rapier take+restoreSnapshot',
      },
    ], { time: 300, iterations: 20 }));
    raw.free();
  }
  return rows;
}
