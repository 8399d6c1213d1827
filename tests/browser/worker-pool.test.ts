/**
 * The kernel worker pool in Chromium: the page imports `shaders/index.ts` from the main job's dev
 * server, which serves `shaders/workers/worker-entry.ts` as a module Web Worker. Terrain chunks
 * computed in the workers must equal `runKernelCpu` in the page byte for byte; a game kernel
 * module passed through `modules` is loaded in every worker; a kernel error comes back with its
 * code; a cancelled running task and an uncaught error in a worker (the browser's crash) replace
 * the worker; `close()` terminates every worker (Playwright's `page.workers()` goes to 0).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { baseUrl, launchChromium, repoModuleUrl, watchPageErrors } from './chromium.ts';

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

interface PageReport {
  readonly compared: { size: number; seed: number; equal: boolean; bytes: number }[];
  readonly detached: boolean;
  readonly keptIntact: boolean;
  readonly fail: { name: string; code: string; message: string; data: unknown } | null;
  readonly unknown: string | null;
  readonly cancelled: { code: string; running: unknown } | null;
  readonly crashed: number;
  readonly afterCrashEqual: boolean;
  readonly stats: Record<string, number>;
  readonly activeWorkers: number;
}

/** Waits until the page has exactly `n` dedicated workers (Playwright tracks their start and end). */
async function expectWorkers(page: Page, n: number): Promise<void> {
  await vi.waitFor(() => expect(page.workers()).toHaveLength(n), { timeout: 20_000, interval: 100 });
}

describe('worker pool in Chromium', () => {
  test('Web Workers compute terrain chunks equal to runKernelCpu; errors, cancellation, crashes; close() ends every worker', async (ctx) => {
    const page = await browser.newPage();
    const errors = watchPageErrors(page);
    await page.goto(baseUrl());
    const shadersUrl = repoModuleUrl('shaders/index.ts');
    const fixtureUrl = repoModuleUrl('tests/unit/fixtures/worker-browser-kernels.ts');
    // A string, not a function: vitest would rewrite a dynamic import() inside a function body.
    const report = (await page.evaluate(`(async () => {
      const shaders = await import(${JSON.stringify(shadersUrl)});
      const fixture = await import(${JSON.stringify(fixtureUrl)});
      fixture.registerKernels();
      const pool = shaders.createWorkerPool({ size: 2, modules: [new URL(${JSON.stringify(fixtureUrl)}, location.href).href] });
      window.__workerPool = pool;
      const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
      const errorOf = (p) => p.then(() => null, (e) => ({ name: e.name, code: e.code, message: e.message, data: e.data }));
      const cases = [[16, 1, 0, 0], [64, 7, -3, 2], [128, 0xdeadbeef, 1000, -1000], [256, 42, 0, 1], [96, 5, 9, 9]];
      const inputs = cases.map(([size, seed, chunkX, chunkZ]) => shaders.encodeTerrainChunkInput({ seed, chunkX, chunkZ, size }));
      const expected = inputs.map((input) => shaders.runKernelCpu('terrain.chunk', input));
      const keep = inputs[0].slice();
      const outputs = await Promise.all(inputs.map((input, i) => pool.run('terrain.chunk', input, { transfer: i !== 0 })));
      const compared = cases.map(([size, seed], i) => ({ size, seed, equal: same(outputs[i], expected[i]), bytes: outputs[i].byteLength }));
      const detached = inputs.slice(1).every((input) => input.byteLength === 0);
      const keptIntact = same(inputs[0], keep);
      const fail = await errorOf(pool.run('test.fail', new Uint8Array([42])));
      const unknown = (await errorOf(pool.run('mine.crypto', new Uint8Array(4))))?.code ?? null;
      const abort = new AbortController();
      const spin = new Uint8Array(4);
      new DataView(spin.buffer).setUint32(0, 600000, true);
      const spinning = errorOf(pool.run('test.spin', spin, { signal: abort.signal }));
      setTimeout(() => abort.abort(new Error('too slow')), 200);
      const cancelledError = await spinning;
      const cancelled = cancelledError && { code: cancelledError.code, running: cancelledError.data.running };
      await pool.run('test.later', new Uint8Array(0));
      for (let i = 0; i < 100 && pool.stats.crashed === 0; i++) await new Promise((r) => setTimeout(r, 50));
      const again = shaders.encodeTerrainChunkInput({ seed: 3, chunkX: 1, chunkZ: 1, size: 64 });
      const againExpected = shaders.runKernelCpu('terrain.chunk', again);
      const afterCrashEqual = same(await pool.run('terrain.chunk', again), againExpected);
      return { compared, detached, keptIntact, fail, unknown, cancelled, crashed: pool.stats.crashed, afterCrashEqual, stats: pool.stats, activeWorkers: pool.activeWorkers };
    })()`)) as PageReport;

    expect(report.compared).toHaveLength(5);
    for (const c of report.compared) expect(c, JSON.stringify(c)).toMatchObject({ equal: true });
    expect(report.compared.map((c) => c.bytes)).toEqual([17 * 17 * 4, 65 * 65 * 4, 129 * 129 * 4, 257 * 257 * 4, 97 * 97 * 4]);
    expect(report.detached).toBe(true);
    expect(report.keptIntact).toBe(true);
    expect(report.fail).toMatchObject({ name: 'ShadersError', code: 'InvalidOption', message: 'test.fail refuses 42', data: { option: 'test', value: 42 } });
    expect(report.unknown).toBe('UnknownKernel');
    expect(report.cancelled).toEqual({ code: 'WorkerTaskCancelled', running: true });
    expect(report.crashed).toBe(1);
    expect(report.afterCrashEqual).toBe(true);
    expect(report.stats).toMatchObject({ size: 2, completed: 7, failed: 1, cancelled: 1, crashed: 1 });
    expect(report.activeWorkers).toBeGreaterThanOrEqual(1);
    await expectWorkers(page, report.activeWorkers);

    const closed = (await page.evaluate(`(async () => {
      const pool = window.__workerPool;
      await pool.close();
      const late = await pool.run('terrain.chunk', new Uint8Array(4)).then(() => null, (e) => e.code);
      return { activeWorkers: pool.activeWorkers, late };
    })()`)) as { activeWorkers: number; late: string };
    expect(closed).toEqual({ activeWorkers: 0, late: 'WorkerPoolClosed' });
    await expectWorkers(page, 0);
    await page.close();
    // The uncaught error of test.later is the worker's own; the page itself must have none.
    expect(errors.filter((e) => !e.includes('test.later'))).toEqual([]);
    await ctx.annotate(`5 chunks (16..256) equal in Web Workers; stats ${JSON.stringify(report.stats)}`);
  }, 120_000);
});
