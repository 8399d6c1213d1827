/**
 * Compute benchmarks (shaders area): GPU kernels against their CPU twins in the same run.
 *
 * 1. Broadphase on uniformly random boxes (extents uniform in 0..1, in a cube sized for about two
 *    partners per box) at 10k, 100k and 1M boxes: `findPairs` on WebGPU (Dawn, with upload and
 *    both readbacks), the GPU-resident path alone (`encode` + submit + `onSubmittedWorkDone`, what
 *    a per-frame consumer pays), the CPU twin `findPairsCpu` (baseline), and at 10k only the
 *    O(N^2) `bruteForcePairs`. Pairs found per row in `extra`.
 * 2. Terrain: one 256x256 chunk (`generateChunk`) on WebGPU against `generateChunkCpu`.
 *
 * Dawn finds SwiftShader only in a process started with `nodeGpuEnv()` (docs/pitfalls.md), so
 * the GPU rows are measured by this file run as a child (`--child`), which prints JSON; the
 * adapter's name is in the GPU rows. SwiftShader is a CPU rasteriser: its figures say nothing
 * about a real GPU. Runs are timed one by one after a warm-up run (tinybench's minimum of 20
 * samples would take minutes at 1M), so p99 is the slowest sample.
 */
import { fileURLToPath } from 'node:url';
import {
  broadphaseKernel, bruteForcePairs, findPairs, findPairsCpu, generateChunk, generateChunkCpu, minCellSize, USAGE,
  type HeightmapOptions,
} from '../shaders/index.ts';
import { acquireNodeCompute } from '../shaders/node-gpu.ts';
import { runGpuBenchChild, sampleRow as row, timeRuns, type GpuChildOutput, type Timing } from './gpu-bench.ts';
import type { BenchRow } from './harness.ts';
import { uniformBoxes } from '../tests/unit/fixtures/broadphase-boxes.ts';

const SIZES = [10_000, 100_000, 1_000_000] as const;
/** Timed runs per size after one warm-up run. */
const RUNS: Record<number, number> = { 10_000: 10, 100_000: 4, 1_000_000: 2 };
const CHUNK: HeightmapOptions = { seed: 42, chunkX: 1, chunkZ: -1, size: 256 };

/** `n` boxes, extents uniform in [0, 1], corners uniform in a cube of edge cbrt(n / 2) (about two partners each). */
const boxes = (n: number): Float32Array => uniformBoxes(n, n, { maxExtent: 1, overlaps: 2 });

async function gpuChild(): Promise<GpuChildOutput> {
  const backend = await acquireNodeCompute();
  if (backend.kind === 'cpu') return { adapter: null, reason: backend.reason };
  try {
    const timings: Timing[] = [];
    const device = backend.device;
    for (const n of SIZES) {
      const aabbs = boxes(n);
      let pairs = 0;
      timings.push({ name: `broadphase ${n}`, samples: await timeRuns(RUNS[n], async () => { pairs = (await findPairs(backend, aabbs)).length / 2; }), extra: { pairs } });
      // The GPU-resident path: boxes already on the GPU, no readback; capacity as findPairs found.
      const kernel = await broadphaseKernel(device);
      const buffer = device.createBuffer({ label: 'bench.aabbs', size: aabbs.byteLength, usage: USAGE.STORAGE | USAGE.COPY_DST });
      device.queue.writeBuffer(buffer, 0, aabbs.buffer, 0, aabbs.byteLength);
      const cellSize = minCellSize(aabbs);
      timings.push({
        name: `encode ${n}`,
        samples: await timeRuns(RUNS[n], async () => {
          const encoder = device.createCommandEncoder();
          kernel.encode(encoder, { aabbs: buffer, count: n, cellSize, maxPairs: pairs });
          device.queue.submit([encoder.finish()]);
          await device.queue.onSubmittedWorkDone();
        }),
        extra: { pairs },
      });
      buffer.destroy();
    }
    timings.push({ name: 'terrain', samples: await timeRuns(10, () => generateChunk(backend, CHUNK)) });
    return { adapter: backend.adapterName, timings };
  } finally {
    backend.dispose();
  }
}

/** Broadphase and terrain, GPU (Dawn, in a child process) against the CPU twins. */
export async function benchCompute(): Promise<BenchRow[]> {
  const gpu = await runGpuBenchChild(fileURLToPath(import.meta.url));
  const gpuName = gpu.adapter === null ? null : gpu.adapter;
  const gpuTiming = (name: string) => (gpu.adapter === null ? undefined : gpu.timings.find((t) => t.name === name));
  if (gpu.adapter === null) process.stderr.write(`compute: no GPU rows: ${gpu.reason}\n`);
  const rows: BenchRow[] = [];
  for (const n of SIZES) {
    const group = `compute broadphase, ${n / 1000}k uniform boxes`;
    const aabbs = boxes(n);
    let pairs = 0;
    const cpu = row(group, 'CPU twin findPairsCpu', await timeRuns(RUNS[n], () => { pairs = findPairsCpu(aabbs).length / 2; }), undefined, { pairs });
    rows.push(cpu);
    const g = gpuTiming(`broadphase ${n}`);
    if (g) rows.push(row(group, `GPU findPairs (${gpuName}, upload+readback)`, g.samples, cpu, { pairs: g.extra?.pairs ?? 0 }));
    const e = gpuTiming(`encode ${n}`);
    if (e) rows.push(row(group, 'GPU encode+submit+wait (resident, no readback)', e.samples, cpu, { pairs: e.extra?.pairs ?? 0 }));
    if (n === 10_000) {
      let brute = 0;
      rows.push(row(group, 'brute force O(N^2)', await timeRuns(3, () => { brute = bruteForcePairs(aabbs).length / 2; }), cpu, { pairs: brute }));
    }
  }
  const group = 'compute terrain, one 256x256 chunk';
  const cpu = row(group, 'CPU twin generateChunkCpu', await timeRuns(10, () => generateChunkCpu(CHUNK)));
  rows.push(cpu);
  const t = gpuTiming('terrain');
  if (t) rows.push(row(group, `GPU generateChunk (${gpuName}, with readback)`, t.samples, cpu));
  return rows;
}

if (process.argv.includes('--child') && process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(await gpuChild())}\n`);
}
