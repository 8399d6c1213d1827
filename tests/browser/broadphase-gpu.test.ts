/**
 * The broadphase kernel in Chromium's WebGPU (SwiftShader here): the page imports
 * `shaders/index.ts` from the main job's dev server (which loads `broadphase.wgsl` and
 * `scan.wgsl` by URL, the browser path of `loadWgsl`), finds the overlapping pairs of seeded
 * random boxes on the GPU and with the CPU twin, and the pair arrays must be identical. Skipped,
 * with the reason, when the browser offers no WebGPU adapter (the CPU fallback's reason is the
 * skip reason).
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { baseUrl, launchChromium, repoModuleUrl, watchPageErrors } from './chromium.ts';

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

interface PageResult {
  readonly backend: string;
  readonly reason?: string;
  readonly compared: { name: string; boxes: number; gpuPairs: number; cpuPairs: number; equal: boolean; gpuMs: number; cpuMs: number }[];
}

describe('broadphase kernel in Chromium', () => {
  test('GPU pairs equal the CPU twin on uniform, clustered and identical boxes up to 10k', async (ctx) => {
    const page = await browser.newPage();
    const errors = watchPageErrors(page);
    await page.goto(baseUrl());
    // A string, not a function: vitest would rewrite a dynamic import() inside a function body.
    const result = (await page.evaluate(`(async () => {
      const shaders = await import(${JSON.stringify(repoModuleUrl('shaders/index.ts'))});
      const boxes = await import(${JSON.stringify(repoModuleUrl('tests/unit/fixtures/broadphase-boxes.ts'))});
      const backend = await shaders.acquireCompute({ gpu: navigator.gpu });
      if (backend.kind !== 'webgpu') return { backend: backend.kind, reason: backend.reason, compared: [] };
      const sets = [['uniform 1000', boxes.uniformBoxes(1000, 1)], ['uniform 10000', boxes.uniformBoxes(10000, 2)],
        ['clustered 3000', boxes.clusteredBoxes(3000, 3)], ['identical 300', boxes.identicalBoxes(300)]];
      const compared = [];
      try {
        for (const [name, aabbs] of sets) {
          let t = performance.now();
          const gpu = await shaders.findPairs(backend, aabbs);
          const gpuMs = performance.now() - t;
          t = performance.now();
          const cpu = shaders.findPairsCpu(aabbs);
          const cpuMs = performance.now() - t;
          let equal = gpu.length === cpu.length;
          for (let k = 0; equal && k < gpu.length; k++) equal = gpu[k] === cpu[k];
          compared.push({ name, boxes: aabbs.length / 6, gpuPairs: gpu.length / 2, cpuPairs: cpu.length / 2, equal, gpuMs, cpuMs });
        }
      } finally {
        backend.dispose();
      }
      return { backend: 'webgpu (' + backend.adapterName + ')', compared };
    })()`)) as PageResult;
    await page.close();
    if (!result.backend.startsWith('webgpu')) ctx.skip(`no WebGPU adapter in Chromium: ${result.reason ?? 'unknown'}`);
    expect(result.compared).toHaveLength(4);
    for (const c of result.compared) expect(c, JSON.stringify(c)).toMatchObject({ equal: true });
    // The comparisons are not of empty arrays.
    for (const c of result.compared) expect(c.cpuPairs, c.name).toBeGreaterThan(c.boxes / 10);
    expect(result.compared.find((c) => c.name === 'identical 300')?.cpuPairs).toBe((300 * 299) / 2);
    expect(errors).toEqual([]);
    await ctx.annotate(`${result.backend}: ${result.compared.map((c) => `${c.name}: ${c.cpuPairs} pairs identical (GPU ${c.gpuMs.toFixed(0)} ms, CPU ${c.cpuMs.toFixed(0)} ms)`).join('; ')}`);
  }, 120_000);
});
