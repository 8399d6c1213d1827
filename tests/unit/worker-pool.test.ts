/**
 * The kernel worker pool (shaders/workers/) in Node `worker_threads`: results byte-equal to
 * `runKernelCpu` on the main thread, tasks spread over workers, transferred buffers, back-pressure,
 * cancellation of queued and running tasks, crashing workers (process.exit, an asynchronous
 * throw, out of memory) replaced without harming other tasks, kernel errors passed back with
 * their codes, and `close()` leaving no worker behind (also checked in a child process that must
 * exit on its own).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { uniformBoxes } from './fixtures/broadphase-boxes.ts';
import {
  createWorkerPool, encodeBroadphaseInput, encodeTerrainChunkInput, runKernelCpu, ShadersError, type WorkerPool, type WorkerPoolOptions,
} from '../../shaders/index.ts';
import { registerKernels, spinInput, threadOf } from './fixtures/worker-kernels.ts';

registerKernels();
const KERNELS_MODULE = new URL('./fixtures/worker-kernels.ts', import.meta.url);

const pools: WorkerPool[] = [];
function pool(options: WorkerPoolOptions): WorkerPool {
  const p = createWorkerPool({ modules: [KERNELS_MODULE], ...options });
  pools.push(p);
  return p;
}

afterEach(async () => {
  for (const p of pools.splice(0)) {
    await p.close();
    expect(p.activeWorkers).toBe(0);
  }
});

/** The ShadersError a promise rejects with (fails the test when it resolves or throws anything else). */
async function rejection(promise: Promise<unknown>): Promise<ShadersError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ShadersError);
    return error as ShadersError;
  }
  throw new Error('expected the promise to reject');
}

const TERRAIN_CASES = [
  { seed: 1, chunkX: 0, chunkZ: 0, size: 16 },
  { seed: 7, chunkX: -3, chunkZ: 2, size: 64 },
  { seed: 0xdeadbeef, chunkX: 1000, chunkZ: -1000, size: 128 },
  { seed: 42, chunkX: 5, chunkZ: 1, size: 256, octaves: 3, amplitude: 12.5, border: 1 },
  { seed: 9, chunkX: -1, chunkZ: -1, size: 32, lod: 1, persistence: 0.25, baseHeight: -3 },
];

describe('worker pool: results', () => {
  test('terrain chunks and broadphase pairs from workers are byte-equal to runKernelCpu on the main thread', async () => {
    const p = pool({ size: 2 });
    const inputs: [string, Uint8Array][] = [
      ...TERRAIN_CASES.map((options): [string, Uint8Array] => ['terrain.chunk', encodeTerrainChunkInput(options)]),
      ['broadphase.pairs', encodeBroadphaseInput(uniformBoxes(100, 1))],
      ['broadphase.pairs', encodeBroadphaseInput(uniformBoxes(2000, 2), 2)],
      ['broadphase.pairs', encodeBroadphaseInput(uniformBoxes(5000, 3))],
    ];
    const expected = inputs.map(([kernel, input]) => runKernelCpu(kernel, input));
    const outputs = await Promise.all(inputs.map(([kernel, input]) => p.run(kernel, input, { transfer: false })));
    for (let i = 0; i < inputs.length; i++) {
      expect(outputs[i].byteLength, `${inputs[i][0]} #${i}`).toBe(expected[i].byteLength);
      expect(Buffer.from(outputs[i]).equals(Buffer.from(expected[i])), `${inputs[i][0]} #${i}`).toBe(true);
    }
    // Not trivially equal: the broadphase inputs do overlap, the chunks differ.
    expect(expected[5].byteLength).toBeGreaterThan(0);
    expect(new Set(expected.slice(0, 5).map((e) => Buffer.from(e).toString('base64'))).size).toBe(5);
    expect(p.stats).toMatchObject({ size: 2, workers: 2, busy: 0, queued: 0, completed: inputs.length, failed: 0, crashed: 0, cancelled: 0 });
  }, 60_000);

  test('tasks run in parallel in different workers, not on the main thread', async () => {
    const p = pool({ size: 2 });
    // Each worker runs one task at a time, so two tasks submitted together go to two workers.
    const threads = (await Promise.all([p.run('test.thread', spinInput(200)), p.run('test.thread', spinInput(200))])).map(threadOf);
    expect(new Set(threads).size).toBe(2);
    expect(threads).not.toContain(threadId);
    expect(p.activeWorkers).toBe(2);
  }, 60_000);

  test('transfer detaches a whole-buffer input; transfer: false and views keep the caller\'s bytes; outputs own their buffer', async () => {
    const p = pool({ size: 1 });
    const input = encodeTerrainChunkInput({ seed: 5, chunkX: 1, chunkZ: 1, size: 64 });
    const expected = runKernelCpu('terrain.chunk', input);
    const copy = input.slice();
    const pending = p.run('terrain.chunk', input);
    expect(input.byteLength).toBe(0); // detached as soon as the task was accepted
    const output = await pending;
    expect(Buffer.from(output).equals(Buffer.from(expected))).toBe(true);
    expect(output.byteOffset).toBe(0);
    expect(output.byteLength).toBe(output.buffer.byteLength);

    const kept = copy.slice();
    expect(Buffer.from(await p.run('terrain.chunk', kept, { transfer: false })).equals(Buffer.from(expected))).toBe(true);
    expect(kept).toEqual(copy);

    // A view into a larger buffer: only its bytes are copied; the larger buffer stays usable.
    const big = new Uint8Array(copy.length + 10);
    big.set(copy, 5);
    const view = big.subarray(5, 5 + copy.length);
    expect(Buffer.from(await p.run('terrain.chunk', view)).equals(Buffer.from(expected))).toBe(true);
    expect(view).toEqual(copy);
    expect(big.byteLength).toBe(copy.length + 10);

    // An output that is a view into a larger buffer arrives compacted.
    const viewOut = await p.run('test.view', new Uint8Array([1, 2, 3]));
    expect(viewOut).toEqual(new Uint8Array([1, 2, 3]));
    expect(viewOut.buffer.byteLength).toBe(3);
  }, 60_000);
});

describe('worker pool: refusals and back-pressure', () => {
  test('unknown kernels, malformed inputs and bad options are refused before any worker starts, input untouched', async () => {
    const p = pool({ size: 1 });
    const good = encodeTerrainChunkInput({ seed: 1, chunkX: 0, chunkZ: 0 });
    expect((await rejection(p.run('mine.crypto', good))).code).toBe('UnknownKernel');
    expect((await rejection(p.run('terrain.chunk', good.subarray(0, good.length - 1)))).code).toBe('MalformedInput');
    expect((await rejection(p.run('terrain.chunk', new Uint8Array(500)))).code).toBe('MalformedInput');
    expect((await rejection(p.run('terrain.chunk', 'bytes' as unknown as Uint8Array))).code).toBe('MalformedInput');
    expect((await rejection(p.run('terrain.chunk', new Uint8Array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])))).code).toBe('InvalidOption');
    expect((await rejection(p.run('terrain.chunk', good, { transfer: 'yes' as unknown as boolean }))).code).toBe('InvalidOption');
    expect(good.byteLength).toBeGreaterThan(0);
    expect(p.activeWorkers).toBe(0);
    expect(p.stats).toMatchObject({ workers: 0, completed: 0, failed: 0, queued: 0 });
  });

  test('bad pool options throw InvalidOption', () => {
    const code = (options: WorkerPoolOptions) => {
      try {
        createWorkerPool(options);
      } catch (error) {
        return (error as ShadersError).code;
      }
      return 'no error';
    };
    expect(code({ size: 0 })).toBe('InvalidOption');
    expect(code({ size: 1.5 })).toBe('InvalidOption');
    expect(code({ size: 65 })).toBe('InvalidOption');
    expect(code({ maxQueued: -1 })).toBe('InvalidOption');
    expect(code({ modules: ['./relative.ts'] })).toBe('InvalidOption');
    expect(code({ size: 3, maxQueued: 0 })).toBe('no error');
  });

  test('a full queue refuses with WorkerQueueFull and canSubmit says so beforehand', async () => {
    const p = pool({ size: 1, maxQueued: 2 });
    const abort = new AbortController();
    const accepted = [0, 1, 2].map(() => p.run('test.thread', spinInput(60_000), { signal: abort.signal }));
    expect(p.stats).toMatchObject({ busy: 1, queued: 2 });
    expect(p.canSubmit).toBe(false);
    const refused = await rejection(p.run('test.thread', spinInput(1)));
    expect(refused.code).toBe('WorkerQueueFull');
    expect(refused.data).toMatchObject({ kernel: 'test.thread', queued: 2, busy: 1 });
    const outcomes = accepted.map(rejection);
    abort.abort(new Error('test over'));
    for (const outcome of outcomes) expect((await outcome).code).toBe('WorkerTaskCancelled');
    expect(p.canSubmit).toBe(true);
    expect(p.stats.cancelled).toBe(3);

    const none = pool({ size: 1, maxQueued: 0 });
    expect(none.canSubmit).toBe(true);
    const first = none.run('test.thread', spinInput(0));
    expect(none.canSubmit).toBe(false);
    expect((await rejection(none.run('test.thread', spinInput(0)))).code).toBe('WorkerQueueFull');
    expect(threadOf(await first)).not.toBe(threadId);
  }, 60_000);
});

describe('worker pool: cancellation', () => {
  test('a cancelled queued task is dropped; the running one finishes', async () => {
    const p = pool({ size: 1 });
    const running = p.run('test.thread', spinInput(300));
    const abort = new AbortController();
    const queued = rejection(p.run('terrain.chunk', encodeTerrainChunkInput({ seed: 1, chunkX: 0, chunkZ: 0, size: 16 }), { signal: abort.signal }));
    expect(p.stats.queued).toBe(1);
    abort.abort(new Error('not needed'));
    const error = await queued;
    expect(error.code).toBe('WorkerTaskCancelled');
    expect(error.data).toMatchObject({ kernel: 'terrain.chunk', running: false, reason: 'not needed' });
    expect(p.stats.queued).toBe(0);
    expect(threadOf(await running)).not.toBe(threadId);
    expect(p.stats).toMatchObject({ completed: 1, cancelled: 1 });
  }, 60_000);

  test('a cancelled running task terminates its worker; the next task runs in a new one', async () => {
    const p = pool({ size: 1 });
    const firstThread = threadOf(await p.run('test.thread', spinInput(0))); // worker loaded
    const abort = new AbortController();
    const spinning = rejection(p.run('test.thread', spinInput(600_000), { signal: abort.signal }));
    setTimeout(() => abort.abort(new Error('too slow')), 50);
    const error = await spinning;
    expect(error.code).toBe('WorkerTaskCancelled');
    expect(error.data).toMatchObject({ kernel: 'test.thread', running: true });
    const input = encodeTerrainChunkInput({ seed: 11, chunkX: 3, chunkZ: 4, size: 64 });
    const expected = runKernelCpu('terrain.chunk', input);
    expect(Buffer.from(await p.run('terrain.chunk', input)).equals(Buffer.from(expected))).toBe(true);
    expect(threadOf(await p.run('test.thread', spinInput(0)))).not.toBe(firstThread);
    await vi.waitFor(() => expect(p.activeWorkers).toBe(1));
    expect(p.stats).toMatchObject({ cancelled: 1, crashed: 0, completed: 3 });
  }, 60_000);

  test('an already aborted signal rejects at once without starting a worker', async () => {
    const p = pool({ size: 1 });
    const input = encodeTerrainChunkInput({ seed: 1, chunkX: 0, chunkZ: 0 });
    expect((await rejection(p.run('terrain.chunk', input, { signal: AbortSignal.abort() }))).code).toBe('WorkerTaskCancelled');
    expect(input.byteLength).toBeGreaterThan(0);
    expect(p.activeWorkers).toBe(0);
  });
});

describe('worker pool: failures', () => {
  test('a worker calling process.exit fails its task with WorkerCrashed; other tasks and later tasks are unaffected', async () => {
    const p = pool({ size: 2 });
    const inputs = TERRAIN_CASES.map((options) => encodeTerrainChunkInput(options));
    const expected = inputs.map((input) => runKernelCpu('terrain.chunk', input));
    const crash = rejection(p.run('test.exit', new Uint8Array([7])));
    const others = inputs.map((input) => p.run('terrain.chunk', input));
    const error = await crash;
    expect(error.code).toBe('WorkerCrashed');
    expect(error.message).toContain('test.exit');
    expect(error.data).toMatchObject({ kernel: 'test.exit', exitCode: 7 });
    const outputs = await Promise.all(others);
    outputs.forEach((output, i) => expect(Buffer.from(output).equals(Buffer.from(expected[i])), `chunk ${i}`).toBe(true));
    expect(p.stats).toMatchObject({ crashed: 1, completed: inputs.length, failed: 0 });
    await vi.waitFor(() => expect(p.activeWorkers).toBeLessThanOrEqual(2));
  }, 60_000);

  test('an asynchronous throw after a task ends the idle worker; the pool notices and the next task works', async () => {
    const p = pool({ size: 1 });
    expect(await p.run('test.later', new Uint8Array(0))).toEqual(new Uint8Array([1]));
    await vi.waitFor(() => expect(p.stats.crashed).toBe(1), { timeout: 10_000 });
    await vi.waitFor(() => expect(p.activeWorkers).toBe(0));
    const input = encodeTerrainChunkInput({ seed: 2, chunkX: 0, chunkZ: 9, size: 32 });
    expect(Buffer.from(await p.run('terrain.chunk', input, { transfer: false })).equals(Buffer.from(runKernelCpu('terrain.chunk', input)))).toBe(true);
  }, 60_000);

  test('a worker running out of memory fails its task with WorkerCrashed', async () => {
    const p = pool({ size: 1, nodeResourceLimits: { maxOldGenerationSizeMb: 48 } });
    const error = await rejection(p.run('test.oom', new Uint8Array(0)));
    expect(error.code).toBe('WorkerCrashed');
    expect(String(error.data.reason)).toMatch(/memory/i);
    expect(threadOf(await p.run('test.thread', spinInput(0)))).not.toBe(threadId);
  }, 60_000);

  test('a kernel throwing a ShadersError returns its code and data; a plain throw is KernelFailed; the worker lives on', async () => {
    const p = pool({ size: 1 });
    const before = threadOf(await p.run('test.thread', spinInput(0)));
    const fail = await rejection(p.run('test.fail', new Uint8Array([42])));
    expect(fail.code).toBe('InvalidOption');
    expect(fail.message).toBe('test.fail refuses 42');
    expect(fail.data).toEqual({ option: 'test', value: 42 });
    const thrown = await rejection(p.run('test.throw', new Uint8Array(0)));
    expect(thrown.code).toBe('KernelFailed');
    expect(thrown.message).toContain('TypeError: not a ShadersError');
    expect(thrown.data).toMatchObject({ kernel: 'test.throw' });
    // The worker's own check of the input (broadphase boxes with NaN pass decode, fail in the kernel).
    const nan = await rejection(p.run('broadphase.pairs', encodeBroadphaseInput(new Float32Array([0, 0, 0, Number.NaN, 1, 1]))));
    expect(nan.code).toBe('InvalidOption');
    expect(threadOf(await p.run('test.thread', spinInput(0)))).toBe(before);
    expect(p.stats).toMatchObject({ failed: 3, crashed: 0, completed: 2 });
  }, 60_000);

  test('a module that fails to load or has no registerKernels fails the task with WorkerStart', async () => {
    const missing = pool({ size: 1, modules: [new URL('./fixtures/worker-no-such-module.ts', import.meta.url)] });
    const error = await rejection(missing.run('terrain.chunk', encodeTerrainChunkInput({ seed: 1, chunkX: 0, chunkZ: 0, size: 16 })));
    expect(error.code).toBe('WorkerStart');
    expect(String(error.data.url)).toContain('worker-no-such-module.ts');
    const noRegister = pool({ size: 1, modules: [new URL('./fixtures/worker-no-register.ts', import.meta.url)] });
    const error2 = await rejection(noRegister.run('terrain.chunk', encodeTerrainChunkInput({ seed: 1, chunkX: 0, chunkZ: 0, size: 16 })));
    expect(error2.code).toBe('WorkerStart');
    expect(error2.message).toContain('registerKernels');
    expect(missing.stats.failed).toBe(1);
  }, 60_000);
});

describe('worker pool: close', () => {
  test('close() rejects running and queued tasks with WorkerPoolClosed and terminates every worker', async () => {
    const p = pool({ size: 2 });
    await Promise.all([p.run('test.thread', spinInput(0)), p.run('test.thread', spinInput(0))]);
    expect(p.activeWorkers).toBe(2);
    const tasks = [0, 1, 2, 3].map(() => rejection(p.run('test.thread', spinInput(600_000))));
    expect(p.stats).toMatchObject({ busy: 2, queued: 2 });
    const closing = p.close();
    expect(p.close()).toBe(closing);
    for (const task of tasks) expect((await task).code).toBe('WorkerPoolClosed');
    await closing;
    expect(p.activeWorkers).toBe(0);
    expect(p.stats).toMatchObject({ workers: 0, busy: 0, queued: 0, cancelled: 4 });
    expect(p.canSubmit).toBe(false);
    expect((await rejection(p.run('test.thread', spinInput(0)))).code).toBe('WorkerPoolClosed');
  }, 60_000);

  test('close() while a worker is still starting stops it too', async () => {
    const p = pool({ size: 1 });
    const task = rejection(p.run('test.thread', spinInput(0)));
    expect(p.activeWorkers).toBe(1);
    await p.close();
    expect((await task).code).toBe('WorkerPoolClosed');
    expect(p.activeWorkers).toBe(0);
  }, 60_000);

  test.each(['close', 'idle'])('a Node process using a pool exits on its own (%s)', async (mode) => {
    const fixture = fileURLToPath(new URL('./fixtures/worker-exit.ts', import.meta.url));
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
      // Guard against a hang (a worker keeping the process alive): kill it and fail below.
      const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(guard);
        resolve({ code, stdout, stderr });
      });
    });
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    const report = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { equal: boolean; activeWorkers: number };
    expect(report.equal).toBe(true);
    expect(report.activeWorkers).toBe(mode === 'close' ? 0 : 1);
  }, 60_000);
});
