/**
 * Swarm physics benchmarks: one step of N spheres (radius 0.25 m, piled in the default box
 * after 2 s of falling) with the swarm's CPU twin and on WebGPU (Dawn on SwiftShader, in a child
 * process; step plus readback, what the demo pays per step), against raw Rapier stepping the
 * same N balls from the same starting positions in the same box (the baseline: "beyond what
 * Rapier handles in a frame"). Rapier runs up to 16k balls; 65k only the swarm paths.
 */
import { fileURLToPath } from 'node:url';
import { initPhysics } from '../engine/index.ts';
import { rapier } from '../engine/physics/rapier.ts';
import { createSwarm, stepSwarmCpu, SwarmKernel, SWARM_UNITS_PER_METRE, type SwarmOptions } from '../shaders/index.ts';
import { acquireNodeCompute } from '../shaders/node-gpu.ts';
import { runGpuBenchChild, sampleRow, timeRuns, type GpuChildOutput, type Timing } from './gpu-bench.ts';
import type { BenchRow } from './harness.ts';

const SIZES = [4096, 16_384, 65_536] as const;
const RAPIER_MAX = 16_384;
/** Steps before timing (the spheres fall and pile up), and timed steps. */
const SETTLE_STEPS = 120;
const TIMED_STEPS = 10;

const optionsFor = (count: number): SwarmOptions => ({ count, seed: 1, fountainSpeed: 0 });

async function gpuChild(): Promise<GpuChildOutput> {
  const backend = await acquireNodeCompute();
  if (backend.kind === 'cpu') return { adapter: null, reason: backend.reason };
  try {
    const timings: Timing[] = [];
    for (const n of SIZES) {
      const kernel = await SwarmKernel.create(backend.device, optionsFor(n));
      kernel.step(SETTLE_STEPS);
      let pairs = (await kernel.read()).pairs;
      const samples = await timeRuns(TIMED_STEPS, async () => {
        kernel.step();
        pairs = (await kernel.read()).pairs;
      });
      timings.push({ name: `swarm ${n}`, samples, extra: { pairs } });
      kernel.destroy();
    }
    return { adapter: backend.adapterName, timings };
  } finally {
    backend.dispose();
  }
}

/** A Rapier world with the swarm's box (floor and four walls) and its N balls at their initial positions. */
function rapierSwarm(options: SwarmOptions) {
  const R = rapier();
  const swarm = createSwarm(options);
  const p = swarm.options;
  const U = SWARM_UNITS_PER_METRE;
  const half = p.maxX / U + p.radius / U;
  const world = new R.World({ x: 0, y: -9.81, z: 0 });
  world.timestep = 1 / 60;
  const fixed = world.createRigidBody(R.RigidBodyDesc.fixed());
  world.createCollider(R.ColliderDesc.cuboid(half, 0.5, half).setTranslation(0, -0.5, 0), fixed);
  for (const [x, z, hx, hz] of [[half + 0.5, 0, 0.5, half], [-half - 0.5, 0, 0.5, half], [0, half + 0.5, half, 0.5], [0, -half - 0.5, half, 0.5]] as const) {
    world.createCollider(R.ColliderDesc.cuboid(hx, 25, hz).setTranslation(x, 25, z), fixed);
  }
  const pos = swarm.state.positions;
  for (let k = 0; k < p.count; k++) {
    const body = world.createRigidBody(R.RigidBodyDesc.dynamic().setTranslation(pos[3 * k]! / U, pos[3 * k + 1]! / U, pos[3 * k + 2]! / U));
    world.createCollider(R.ColliderDesc.ball(p.radius / U), body);
  }
  return world;
}

/** Swarm step: CPU twin and GPU (child process) against raw Rapier. */
export async function benchSwarm(): Promise<BenchRow[]> {
  await initPhysics();
  const gpu = await runGpuBenchChild(fileURLToPath(import.meta.url));
  if (gpu.adapter === null) process.stderr.write(`swarm: no GPU rows: ${gpu.reason}\n`);
  const rows: BenchRow[] = [];
  for (const n of SIZES) {
    const group = `swarm step, ${n} spheres`;
    let baseline: BenchRow | undefined;
    if (n <= RAPIER_MAX) {
      const world = rapierSwarm(optionsFor(n));
      for (let s = 0; s < SETTLE_STEPS; s++) world.step();
      baseline = sampleRow(group, 'raw Rapier world.step (balls)', await timeRuns(TIMED_STEPS, () => world.step()));
      rows.push(baseline);
      world.free();
    }
    const swarm = createSwarm(optionsFor(n));
    for (let s = 0; s < SETTLE_STEPS; s++) stepSwarmCpu(swarm);
    const cpu = sampleRow(group, 'swarm CPU twin stepSwarmCpu', await timeRuns(TIMED_STEPS, () => stepSwarmCpu(swarm)), baseline, { pairs: swarm.stats.pairs });
    rows.push(cpu);
    const g = gpu.adapter === null ? undefined : gpu.timings.find((t) => t.name === `swarm ${n}`);
    if (g && gpu.adapter !== null) rows.push(sampleRow(group, `swarm GPU step+readback (${gpu.adapter})`, g.samples, baseline ?? cpu, g.extra));
  }
  return rows;
}

if (process.argv.includes('--child') && process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(await gpuChild())}\n`);
}
