/**
 * The arena demo, as a player sees it: served by the main job (started by globalSetup exactly as
 * `npm start` starts it), opened in Chromium, driven with the keyboard, observed through the
 * documented debug handle `window.peercompute` (demos/arena/README.md).
 *
 * Directions are engine space: forward is -Z, right is +X, up is +Y.
 *
 * Timing: on software rendering a frame can take 100-300 ms, and the scheduler runs at most 5
 * ticks per frame, so simulated time runs slower than wall time. Every wait below polls the
 * simulation's state (with generous timeouts) instead of sleeping a fixed time.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../scripts/server.ts';
import { countDistinctColours, demoUrl, isMostlyBlank, launchChromium, watchPageErrors } from './chromium.ts';

/** Where the screenshot of a passing run is saved (gitignored). */
const SCREENSHOT_PATH = path.join(REPO_ROOT, 'test-results', 'arena.png');
/** How long to wait for the demo to be ready or for the player to reach a state, ms. */
const WAIT_MS = 90_000;

interface Vec { x: number; y: number; z: number }

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

/** Opens the arena at `query` and waits until `window.peercompute.ready`. */
async function openArena(query?: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  const errors = watchPageErrors(page);
  await page.goto(demoUrl('arena', query));
  await page.waitForFunction(() => window.peercompute?.ready === true, undefined, { timeout: WAIT_MS, polling: 100 });
  return { page, errors };
}

function position(page: Page): Promise<Vec> {
  return page.evaluate(() => window.peercompute!.playerPosition());
}

function velocity(page: Page): Promise<Vec> {
  return page.evaluate(() => window.peercompute!.playerVelocity());
}

/** Waits until the player ball is (nearly) at rest: speed below 0.15 m/s. */
async function waitForRest(page: Page): Promise<void> {
  await expect.poll(async () => {
    const v = await velocity(page);
    return Math.sqrt(v.x * v.x + v.y * v.y + v.z * v.z);
  }, { timeout: WAIT_MS, interval: 100 }).toBeLessThan(0.15);
}

/** Holds `key` until `moved(start, now)` is true, then releases it; returns start and end positions. */
async function holdUntil(page: Page, key: string, moved: (start: Vec, now: Vec) => boolean): Promise<{ start: Vec; end: Vec }> {
  const start = await position(page);
  await page.keyboard.down(key);
  try {
    await expect.poll(async () => moved(start, await position(page)), { timeout: WAIT_MS, interval: 100 }).toBe(true);
  } finally {
    await page.keyboard.up(key);
  }
  return { start, end: await position(page) };
}

describe('arena demo (WebGL2)', () => {
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    ({ page, errors } = await openArena());
  });

  afterAll(async () => {
    await page?.close();
  });

  test('renders a lit, textured scene with the debug handle in place', async () => {
    const handle = await page.evaluate(() => {
      const pc = window.peercompute!;
      return { backend: pc.backend, player: pc.player, bound: pc.runtime.boundCount, tick: pc.world.time.tick };
    });
    expect(handle.backend).toBe('webgl2');
    expect(handle.player).toBeGreaterThan(0);
    expect(handle.bound).toBeGreaterThan(50); // floor, walls, ramp, crates, boxes, balls, player
    await expect.poll(() => page.evaluate(() => window.peercompute!.world.time.tick), { timeout: WAIT_MS }).toBeGreaterThan(handle.tick);

    const png = await page.locator('#game').screenshot();
    await mkdir(path.dirname(SCREENSHOT_PATH), { recursive: true });
    await writeFile(SCREENSHOT_PATH, png);
    expect(await isMostlyBlank(page, png)).toBe(false);
    expect(await countDistinctColours(page, png)).toBeGreaterThan(500);
    expect(errors).toEqual([]);
  });

  test('the Backquote key toggles the debug overlay', async () => {
    const overlay = page.locator('[data-peercompute-overlay]');
    expect(await overlay.isVisible()).toBe(false);
    await page.keyboard.press('Backquote');
    await expect.poll(() => overlay.textContent(), { timeout: WAIT_MS }).toMatch(/backend\s+webgl2/);
    expect(await overlay.textContent()).toMatch(/entities\s+\d+ \(\d+ meshes\)/);
    await page.keyboard.press('Backquote');
    expect(await overlay.isVisible()).toBe(false);
  });

  test('holding W rolls the player forward (-Z)', async () => {
    await waitForRest(page);
    const { start, end } = await holdUntil(page, 'KeyW', (s, now) => s.z - now.z > 2);
    expect(start.z - end.z).toBeGreaterThan(2);
    expect(Math.abs(end.x - start.x)).toBeLessThan(0.5);
  });

  test('holding D rolls the player right (+X)', async () => {
    await waitForRest(page);
    const { start, end } = await holdUntil(page, 'KeyD', (s, now) => now.x - s.x > 2);
    expect(end.x - start.x).toBeGreaterThan(2);
    expect(Math.abs(end.z - start.z)).toBeLessThan(0.5);
  });

  test('Space makes the player jump and land again', async () => {
    await waitForRest(page);
    const ground = (await position(page)).y;
    await page.keyboard.press('Space');
    await expect.poll(async () => (await position(page)).y, { timeout: WAIT_MS, interval: 50 }).toBeGreaterThan(ground + 0.5);
    await expect.poll(async () => (await position(page)).y, { timeout: WAIT_MS, interval: 100 }).toBeLessThan(ground + 0.05);
    expect(errors).toEqual([]);
  });
});

describe('arena demo (?engine=webgpu)', () => {
  test('renders with WebGPU when the page asks for it', async () => {
    const { page, errors } = await openArena('engine=webgpu');
    try {
      expect(await page.evaluate(() => window.peercompute!.backend)).toBe('webgpu');
      await expect.poll(() => page.evaluate(() => window.peercompute!.world.time.tick), { timeout: WAIT_MS }).toBeGreaterThan(5);
      const png = await page.locator('#game').screenshot();
      expect(await isMostlyBlank(page, png)).toBe(false);
      expect(await countDistinctColours(page, png)).toBeGreaterThan(500);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
