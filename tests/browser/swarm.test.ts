/**
 * The swarm demo, as a player sees it: opened in Chromium from the main job, running on the
 * browser's WebGPU (SwiftShader here); the state it reaches equals the CPU twin's computed in the
 * same page; the GPU/CPU toggle moves the swarm to the CPU without changing its course; the HUD
 * shows frame and step times; the canvas shows the spheres.
 *
 * The page's state is read through the documented debug handle `window.peercompute`
 * (demos/swarm/README.md). When the browser has no WebGPU adapter the demo runs on the CPU
 * twin, and the GPU assertions are skipped with the reason.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../scripts/server.ts';
import { countDistinctColours, demoUrl, isMostlyBlank, launchChromium, repoModuleUrl, watchPageErrors } from './chromium.ts';

const SCREENSHOT_PATH = path.join(REPO_ROOT, 'test-results', 'swarm.png');
const WAIT_MS = 90_000;
const COUNT = 4096;
const SEED = 5;

interface SwarmHandle {
  ready: boolean;
  backend(): 'webgpu' | 'cpu';
  step(): number;
  checksum(): Promise<{ step: number; checksum: number }>;
  toggle(): boolean;
}

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

const handle = 'window.peercompute';

/** The CPU twin's checksum after `steps` steps, computed in the page from the same module the demo uses. */
async function cpuReference(page: Page, steps: number): Promise<number> {
  const moduleUrl = repoModuleUrl('shaders/index.ts');
  // A string, not a function: vitest would rewrite a dynamic import() inside a function body.
  return (await page.evaluate(`(async () => {
    const shaders = await import(${JSON.stringify(moduleUrl)});
    const swarm = shaders.createSwarm({ count: ${COUNT}, seed: ${SEED} });
    for (let t = 0; t < ${steps}; t++) shaders.stepSwarmCpu(swarm);
    return shaders.swarmChecksum(swarm.state);
  })()`)) as number;
}

async function waitForStep(page: Page, atLeast: number): Promise<void> {
  await page.waitForFunction(`${handle}.step() >= ${atLeast}`, undefined, { timeout: WAIT_MS, polling: 100 });
}

describe('swarm demo', () => {
  test('runs on WebGPU, equals the CPU twin, switches to the CPU twin without a jump, and draws', async (ctx) => {
    const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
    const errors = watchPageErrors(page);
    await page.goto(demoUrl('swarm', `n=${COUNT}&seed=${SEED}&quality=low`));
    await page.waitForFunction(`${handle}?.ready === true`, undefined, { timeout: WAIT_MS, polling: 100 });
    const backend = (await page.evaluate(`${handle}.backend()`)) as string;
    const physicsLabel = await page.textContent('#backend');
    if (backend !== 'webgpu') ctx.skip(`no WebGPU adapter in Chromium: ${physicsLabel ?? ''}`);
    expect(physicsLabel).toMatch(/^GPU: /);

    await waitForStep(page, 30);
    const onGpu = (await page.evaluate(`${handle}.checksum()`)) as { step: number; checksum: number };
    expect(onGpu.step).toBeGreaterThanOrEqual(30);
    expect(onGpu.checksum).toBe(await cpuReference(page, onGpu.step));

    // The toggle, as a player uses it.
    await page.click('#toggle');
    await page.waitForFunction(`${handle}.backend() === 'cpu'`, undefined, { timeout: WAIT_MS, polling: 100 });
    await expect.poll(() => page.textContent('#backend'), { timeout: 5000 }).toMatch(/^CPU twin/);
    await waitForStep(page, onGpu.step + 30);
    const onCpu = (await page.evaluate(`${handle}.checksum()`)) as { step: number; checksum: number };
    expect(onCpu.checksum).toBe(await cpuReference(page, onCpu.step));

    const hud = await page.textContent('#hud');
    expect(hud).toMatch(/Frame\s*[\d.]+ ms \(render call [\d.]+ ms\)/);
    expect(hud).toMatch(/Step\s*[\d.]+ ms/);
    const pairs = Number((await page.textContent('#pairs'))?.replace(/,/g, ''));
    expect(pairs).toBeGreaterThan(0);

    const png = await page.screenshot();
    await mkdir(path.dirname(SCREENSHOT_PATH), { recursive: true });
    await writeFile(SCREENSHOT_PATH, png);
    expect(await isMostlyBlank(page, png)).toBe(false);
    expect(await countDistinctColours(page, png)).toBeGreaterThan(50);
    expect(errors).toEqual([]);
    await page.close();
  });
});
