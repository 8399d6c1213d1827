/**
 * Takes the README screenshot of the arena: starts the main job (as `npm start` does) on a free
 * port, opens the demo in Chromium (the browser tests' launcher and flags), lets the props
 * settle, rolls the player a few metres towards the crate pyramid and saves a 1280x720 PNG.
 *
 * Usage: `npx tsx demos/arena/screenshot.ts [out.png]` (default `docs/screenshot-<folder>.png`,
 * i.e. `docs/screenshot-arena.png`). Needs Chromium (see tests/browser/chromium.ts:
 * `/usr/bin/chromium` or `$CHROMIUM_PATH`). A forked demo can keep this script (it opens the
 * folder it lives in) and change the choreography below.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT, startMainJob } from '../../scripts/server.ts';
import { launchChromium } from '../../tests/browser/chromium.ts';

/** The forward key is released once the ball's centre has passed this z, m (it spawns at z = 8). */
const RELEASE_Z = 5.5;
/** Ticks (at 60 Hz) between releasing the key and taking the shot (the ball keeps rolling). */
const TICKS_AFTER_RELEASE = 8;

/** This demo's folder name, which is also its URL path (`/arena/`). */
const demo = path.basename(path.dirname(fileURLToPath(import.meta.url)));
const out = path.resolve(process.argv[2] ?? path.join(REPO_ROOT, 'docs', `screenshot-${demo}.png`));
const job = await startMainJob({ port: 0, logLevel: 'warn' });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto(new URL(`${demo}/`, job.urls.landing).href);
  await page.waitForFunction(() => window.peercompute?.ready === true, undefined, { timeout: 120_000 });
  // Let the dropped props settle for one simulated second.
  const settled = (await page.evaluate(() => window.peercompute!.world.time.tick)) + 60;
  await page.waitForFunction((tick) => window.peercompute!.world.time.tick >= tick, settled, { timeout: 120_000 });
  await page.keyboard.down('KeyW');
  await page.waitForFunction((z) => window.peercompute!.playerPosition().z < z, RELEASE_Z, { timeout: 120_000, polling: 'raf' });
  await page.keyboard.up('KeyW');
  const shotTick = (await page.evaluate(() => window.peercompute!.world.time.tick)) + TICKS_AFTER_RELEASE;
  await page.waitForFunction((tick) => window.peercompute!.world.time.tick >= tick, shotTick, { timeout: 120_000, polling: 'raf' });
  const png = await page.screenshot();
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, png);
  console.log(`Saved ${out} (${png.byteLength} bytes)`);
} finally {
  await browser.close();
  await job.close();
}
