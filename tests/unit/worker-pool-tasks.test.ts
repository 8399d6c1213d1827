/**
 * The worker pool used the way it is meant to be, from engine compute tasks: the tick submits
 * `pool.run` as a task, keeps ticking while a worker computes, the heights land on a later tick
 * byte-equal to the main-thread twin, and cancelling the compute task (its AbortSignal) cancels
 * the pool task and terminates the worker running it.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createWorld, installComputeTasks, Scheduler } from '../../engine/index.ts';
import { createWorkerPool, encodeTerrainChunkInput, runKernelCpu, ShadersError, type WorkerPool } from '../../shaders/index.ts';
import { registerKernels, spinInput } from './fixtures/worker-kernels.ts';

registerKernels();
const pools: WorkerPool[] = [];

afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
});

describe('worker pool from compute tasks', () => {
  test('a chunk computed in a worker lands on a later tick, equal to runKernelCpu; ticks go on meanwhile', async () => {
    const pool = createWorkerPool({ size: 1 });
    pools.push(pool);
    const world = createWorld({ seed: 1 });
    const scheduler = new Scheduler(world);
    const tasks = installComputeTasks(scheduler);
    const options = { seed: 77, chunkX: -4, chunkZ: 6, size: 128 };
    const expected = runKernelCpu('terrain.chunk', encodeTerrainChunkInput(options));
    const landed: { bytes: Uint8Array; tick: number }[] = [];
    tasks.submit({
      name: 'chunk -4,6',
      run: (signal) => pool.run('terrain.chunk', encodeTerrainChunkInput(options), { signal }),
      onResult: (w, bytes, info) => landed.push({ bytes, tick: info.landedTick }),
    });
    const submitted = world.time.tick;
    let busyTicks = 0;
    await vi.waitFor(async () => {
      scheduler.step();
      if (pool.stats.busy === 1) busyTicks++;
      await new Promise((resolve) => setImmediate(resolve));
      expect(landed).toHaveLength(1);
    }, { timeout: 30_000, interval: 5 });
    expect(landed[0].tick).toBeGreaterThan(submitted);
    expect(busyTicks).toBeGreaterThan(0); // ticks returned while the worker was computing
    expect(Buffer.from(landed[0].bytes).equals(Buffer.from(expected))).toBe(true);
    expect(tasks.stats).toMatchObject({ completed: 1, failed: 0 });
  }, 60_000);

  test('cancelling the compute task cancels the pool task and terminates its worker', async () => {
    const pool = createWorkerPool({ size: 1, modules: [new URL('./fixtures/worker-kernels.ts', import.meta.url)] });
    pools.push(pool);
    await pool.run('test.thread', spinInput(0)); // worker loaded
    const world = createWorld({ seed: 1 });
    const scheduler = new Scheduler(world);
    const tasks = installComputeTasks(scheduler);
    let poolError: unknown;
    const handle = tasks.submit({
      name: 'endless',
      run: (signal) => pool.run('test.thread', spinInput(600_000), { signal }).catch((error: unknown) => {
        poolError = error;
        throw error;
      }),
    });
    scheduler.step(); // starts it
    expect(pool.stats.busy).toBe(1);
    expect(handle.cancel()).toBe(true);
    await vi.waitFor(() => expect(poolError).toBeInstanceOf(ShadersError));
    expect((poolError as ShadersError).code).toBe('WorkerTaskCancelled');
    expect((poolError as ShadersError).data).toMatchObject({ running: true });
    await vi.waitFor(() => expect(pool.activeWorkers).toBe(0));
    expect(pool.stats).toMatchObject({ busy: 0, cancelled: 1 });
    expect(tasks.stats).toMatchObject({ cancelled: 1, running: 0 });
  }, 60_000);
});
