/**
 * The terrain heightmap kernel in Chromium's WebGPU (SwiftShader here): the page imports
 * `shaders/index.ts` from the main job's dev server (which loads the `.wgsl` by URL, the
 * browser path of `loadWgsl`), generates chunks on the GPU and with the CPU twin, and the
 * heights must be identical bit for bit. Skipped, with the reason, when the browser offers no
 * WebGPU adapter (the CPU fallback's reason is the skip reason).
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
  readonly compared: { size: number; seed: number; chunkX: number; chunkZ: number; gpu: number; cpu: number; equal: boolean }[];
}

describe('terrain heightmap kernel in Chromium', () => {
  test('GPU heights equal the CPU twin bit for bit over several sizes, seeds and chunks', async (ctx) => {
    const page = await browser.newPage();
    const errors = watchPageErrors(page);
    await page.goto(baseUrl());
    const moduleUrl = repoModuleUrl('shaders/index.ts');
    // A string, not a function: vitest would rewrite a dynamic import() inside a function body.
    const result = (await page.evaluate(`(async () => {
      const shaders = await import(${JSON.stringify(moduleUrl)});
      const backend = await shaders.acquireCompute({ gpu: navigator.gpu });
      if (backend.kind !== 'webgpu') return { backend: backend.kind, reason: backend.reason, compared: [] };
      const compared = [];
      try {
        for (const [size, seed, chunkX, chunkZ] of [[16, 1, 0, 0], [64, 7, -3, 2], [128, 0xdeadbeef, 1000, -1000], [256, 42, 0, 1]]) {
          const options = { seed, chunkX, chunkZ, size };
          const gpu = await shaders.generateChunk(backend, options);
          const cpu = shaders.generateChunkCpu(options);
          let equal = gpu.length === cpu.length;
          for (let i = 0; equal && i < gpu.length; i++) equal = gpu[i] === cpu[i];
          compared.push({ size, seed, chunkX, chunkZ, gpu: shaders.heightmapChecksum(gpu), cpu: shaders.heightmapChecksum(cpu), equal });
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
    // Different seeds and chunks really differ (the comparison is not of empty arrays).
    expect(new Set(result.compared.map((c) => c.cpu)).size).toBe(4);
    expect(errors).toEqual([]);
    await ctx.annotate(`${result.backend}: ${result.compared.map((c) => `${c.size}x${c.size} seed ${c.seed} chunk (${c.chunkX}, ${c.chunkZ})`).join('; ')} identical`);
  }, 120_000);
});
