/**
 * Worker pool benchmark (shaders/workers/): a batch of 32 terrain chunks of 256x256 cells
 * (`terrain.chunk`, 257^2 heights each) computed on the main thread with `runKernelCpu`
 * (baseline) against the same batch through a `WorkerPool` of 1 and of 2 Node workers, all 32
 * tasks submitted at once and awaited together.
 *
 * Every run encodes its 32 inputs afresh (the pool transfers, i.e. detaches, them). Workers are
 * started by a warm-up batch before timing, so start-up (tsx loading the kernels, ~0.4 s per
 * worker) is not measured; the cases are interleaved, one batch each per round. `mainMs` in `extra` is the main thread's own time per batch: the 32
 * synchronous `run` calls (validation, buffer detach, queuing) for the pool rows, everything for
 * the baseline. `coresUsed` is the process's CPU time (all threads) over wall time: how many
 * cores the case actually got (other jobs on the machine take their share). With 2 cores, a pool of 2 competes with the main thread and the OS for them.
 */
import { createWorkerPool, encodeTerrainChunkInput, runKernelCpu, type WorkerPool } from '../shaders/index.ts';
import type { BenchRow } from './harness.ts';

const CHUNKS = 32;
const SIZE = 256;
/** Timed batches per case, after one warm-up batch. */
const RUNS = 8;

function inputs(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < CHUNKS; i++) out.push(encodeTerrainChunkInput({ seed: 1234, chunkX: i % 8, chunkZ: Math.floor(i / 8), size: SIZE }));
  return out;
}

interface Batch {
  totalMs: number;
  mainMs: number;
  /** CPU time of the whole process (all threads) during the batch, ms. */
  cpuMs: number;
}

/** CPU time (user + system) of this process so far, all threads, ms. */
function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function mainThreadBatch(): Batch {
  const cpu = cpuMs();
  const t = performance.now();
  let bytes = 0;
  for (const input of inputs()) bytes += runKernelCpu('terrain.chunk', input).byteLength;
  if (bytes !== CHUNKS * (SIZE + 1) ** 2 * 4) throw new Error(`workers bench: main thread produced ${bytes} bytes`);
  const ms = performance.now() - t;
  return { totalMs: ms, mainMs: ms, cpuMs: cpuMs() - cpu };
}

async function poolBatch(pool: WorkerPool): Promise<Batch> {
  const cpu = cpuMs();
  const t = performance.now();
  const batch = inputs();
  const pending = batch.map((input) => pool.run('terrain.chunk', input));
  const mainMs = performance.now() - t;
  const outputs = await Promise.all(pending);
  const totalMs = performance.now() - t;
  const bytes = outputs.reduce((sum, output) => sum + output.byteLength, 0);
  if (bytes !== CHUNKS * (SIZE + 1) ** 2 * 4) throw new Error(`workers bench: pool produced ${bytes} bytes`);
  return { totalMs, mainMs, cpuMs: cpuMs() - cpu };
}

function row(group: string, name: string, batches: Batch[], baseline?: BenchRow, extra: Record<string, number | string> = {}): BenchRow {
  const samples = batches.map((b) => b.totalMs);
  const meanMs = samples.reduce((a, b) => a + b, 0) / samples.length;
  const mainMs = batches.reduce((a, b) => a + b.mainMs, 0) / batches.length;
  // Cores this process actually got: 2 workers on 2 free cores would show ~2.
  const coresUsed = batches.reduce((a, b) => a + b.cpuMs, 0) / samples.reduce((a, b) => a + b, 0);
  return {
    group, name, meanMs, p99Ms: Math.max(...samples), samples: samples.length,
    baseline: baseline?.name, ratio: baseline ? meanMs / baseline.meanMs : undefined,
    extra: { ...extra, mainMs, chunksPerS: (CHUNKS * 1000) / meanMs, coresUsed },
  };
}

/**
 * 32 terrain chunks of 256 cells: main thread vs worker pools of 1 and 2. The cases are
 * interleaved (one batch of each per round) so that load from other processes on this machine
 * hits all of them alike; both pools exist throughout, their idle workers cost nothing.
 */
export async function benchWorkers(): Promise<BenchRow[]> {
  const group = `workers: ${CHUNKS} terrain chunks of ${SIZE}x${SIZE}`;
  const pools = [createWorkerPool({ size: 1 }), createWorkerPool({ size: 2 })];
  const cases: { name: string; batch: () => Batch | Promise<Batch>; results: Batch[] }[] = [
    { name: 'main thread runKernelCpu', batch: mainThreadBatch, results: [] },
    ...pools.map((pool) => ({ name: `worker pool, ${pool.size} worker${pool.size > 1 ? 's' : ''}`, batch: () => poolBatch(pool), results: [] })),
  ];
  try {
    for (const c of cases) await c.batch(); // warm-up: JIT, and the workers start
    for (let r = 0; r < RUNS; r++) for (const c of cases) c.results.push(await c.batch());
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
  }
  for (const pool of pools) if (pool.activeWorkers !== 0) throw new Error(`workers bench: ${pool.activeWorkers} workers left after close()`);
  const base = row(group, cases[0].name, cases[0].results);
  return [base, ...cases.slice(1).map((c, i) => row(group, c.name, c.results, base, { workers: pools[i].size }))];
}
