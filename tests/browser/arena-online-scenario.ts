/**
 * The arena played online by real browsers, as a script: starts its own main job (dev server +
 * relay, free ports, throwaway relay identity), opens N Chromium pages of
 * `demos/arena/?room=R&players=N&bot=K&quality=low` (each page played by a seeded bot, rendered
 * without shadows at half resolution: software rendering is the bottleneck here), and checks that they
 * agree on a match, synchronize their rollback sessions over libp2p, and play: frames advance,
 * players move, and every confirmed frame that two pages both recorded has the same checksum,
 * also after the first page switched its "bad network" on (latency and loss make rollbacks).
 * Finally the last page closes and the others see its player leave and go on.
 *
 * Prints progress on stderr and one result line on stdout: `ARENA_ONLINE_RESULT {json}`
 * ({@link ArenaOnlineResult}). Chromium needs a non-loopback interface for WebRTC:
 * tests/browser/arena-online.test.ts runs this inside a private network namespace
 * (tests/browser/netns.ts). By hand, as root (see p2p-scenario.ts for the full `unshare` line):
 * `unshare -n sh -c '<NETNS_SETUP>' sh node_modules/.bin/tsx tests/browser/arena-online-scenario.ts --pages 2 --play-ms 10000`.
 *
 * Options: `--pages N` (2..4, default 2), `--watchers N` (0..2 pages opened once the match runs,
 * which late-join as spectators; default 0), `--play-ms N` (wall time of play, half of it with the
 * bad network on; default 10000), `--screenshots DIR`, `--room NAME`, `--quality low|high` (default
 * low), `--viewport WxH` (default 640x400).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import type { ArenaDebugHandle } from '../../demos/arena/main.ts';
import { REPO_ROOT, startMainJob, type MainJob } from '../../scripts/server.ts';
import { launchChromium, watchPageErrors } from './chromium.ts';
import { nonLoopbackInterfaces } from './netns.ts';

/** Prefix of the result line on stdout. */
export const RESULT_PREFIX = 'ARENA_ONLINE_RESULT ';
/** Longest wait for one step (page ready, match running), ms. */
const STEP_TIMEOUT_MS = 60_000;
/** Small pages by default: software rendering of several pages shares 2 cores with the simulations. */
const DEFAULT_VIEWPORT = { width: 640, height: 400 };

/** Per page figures at the end of play. */
export interface PageFigures {
  readonly slot: number;
  readonly frame: number;
  readonly confirmedFrame: number;
  readonly rollbacks: number;
  readonly resimulatedFrames: number;
  readonly skippedTicks: number;
  /** Round trip of the session's quality reports (includes up to a tick of processing at each end), per peer, ms. */
  readonly rttMs: readonly (number | undefined)[];
  /** The transport's own keep-alive round trip, per peer, ms. */
  readonly transportRttMs: readonly (number | undefined)[];
  /** Rendered frames per second (Babylon's estimate). */
  readonly renderFps: number;
  readonly connections: readonly string[];
  readonly desyncs: number;
  /** Distance the local player ball travelled from its spawn point, m. */
  readonly moved: number;
  readonly recordedChecksums: number;
}

/** What the scenario measured; printed as JSON after {@link RESULT_PREFIX}. */
export interface ArenaOnlineResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly pages: number;
  readonly interfaces: readonly string[];
  /** Page load until every session ran, ms (wall, the slowest page). */
  readonly runningAfterMs: number;
  /** Confirmed frames recorded by every page (the intersection). */
  readonly commonFrames: number;
  /** Of those, how many were recorded while the bad network was on (first page's frame >= switch frame). */
  readonly commonFramesBadNetwork: number;
  /** Frames of that intersection whose checksums differ between pages (must be empty). */
  readonly mismatches: readonly { frame: number; checksums: number[] }[];
  /**
   * Late-joined spectator pages (`--watchers`): how long from page load until they were watching,
   * ms, confirmed frames they share with the first player page, and how many of those differ.
   */
  readonly watchers: readonly { readonly watchingAfterMs: number; readonly commonFrames: number; readonly mismatches: number; readonly framesBehind: number }[];
  /** Slots the pages got (a permutation of 0..N-1). */
  readonly slots: readonly number[];
  /** Simulation frames per wall second during play (slowest page). */
  readonly framesPerSecond: number;
  readonly figures: readonly PageFigures[];
  /** After the last page closed: ms until the others marked it left. */
  readonly leaveAfterMs: number | undefined;
  /** Frames the remaining pages advanced after the leave (they go on). */
  readonly framesAfterLeave: number | undefined;
  readonly pageErrors: ReadonlyArray<readonly string[]>;
  readonly screenshots: readonly string[];
}

declare const window: { peercompute?: ArenaDebugHandle };

function log(message: string): void {
  process.stderr.write(`[arena-online] ${message}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function figures(page: Page): Promise<PageFigures & { checksums: [number, number][] }> {
  return page.evaluate(() => {
    const pc = window.peercompute!;
    const net = pc.net!;
    const st = net.session!.stats();
    const rb = net.rollback!.stats;
    const p = pc.playerPosition();
    const spawn = pc.spawnPoint;
    return {
      slot: net.match!.localSlot,
      frame: st.frame,
      confirmedFrame: st.confirmedFrame,
      rollbacks: rb.rollbacks,
      resimulatedFrames: rb.resimulatedFrames,
      skippedTicks: rb.skippedTicks,
      rttMs: st.peers.map((q) => (q.rttMs === undefined ? undefined : Math.round(q.rttMs * 10) / 10)),
      transportRttMs: net.room!.inner.stats().peers.map((q) => (q.rttMs === undefined ? undefined : Math.round(q.rttMs * 10) / 10)),
      renderFps: Math.round(pc.runtime.scene.getEngine().getFps()),
      connections: net.room!.stats().peers.map((q) => q.connection),
      desyncs: net.desyncs.length,
      moved: Math.round(Math.sqrt((p.x - spawn.x) ** 2 + (p.z - spawn.z) ** 2) * 100) / 100,
      recordedChecksums: net.confirmedChecksums.size,
      checksums: [...net.confirmedChecksums],
    };
  });
}

/** Runs the scenario; never throws (failures land in `ok`/`error`). */
export async function runScenario(options: {
  pages: number; playMs: number; watchers?: number; screenshots?: string; room?: string; quality?: 'low' | 'high';
  viewport?: { width: number; height: number };
}): Promise<ArenaOnlineResult> {
  const VIEWPORT = options.viewport ?? DEFAULT_VIEWPORT;
  const quality = options.quality ?? 'low';
  const result: { -readonly [K in keyof ArenaOnlineResult]: ArenaOnlineResult[K] } = {
    ok: false, pages: options.pages, interfaces: nonLoopbackInterfaces(), runningAfterMs: 0, commonFrames: 0, commonFramesBadNetwork: 0,
    mismatches: [], watchers: [], slots: [], framesPerSecond: 0, figures: [], leaveAfterMs: undefined, framesAfterLeave: undefined, pageErrors: [], screenshots: [],
  };
  let job: MainJob | undefined;
  let browser: Browser | undefined;
  let step = 'start the main job';
  try {
    job = await startMainJob({
      host: '127.0.0.1', port: 0, logLevel: 'warn', relay: { port: 0, keyFile: false }, archive: false,
      viteCacheDir: path.join(REPO_ROOT, 'node_modules', '.vite-arena-online'),
    });
    log(`main job at ${job.urls.landing}, relay ${job.relays.join(', ')}`);
    step = 'launch Chromium';
    browser = await launchChromium();
    const arenaUrl = (query: string): string => `${job!.urls.landing}arena/?${query}`;

    step = 'warm up (first page load, dependency optimisation)';
    const warm = await browser.newPage({ viewport: VIEWPORT });
    await warm.goto(arenaUrl('bot=1&quality=low'), { timeout: 120_000 });
    await warm.waitForFunction(() => window.peercompute?.ready === true, undefined, { timeout: 120_000, polling: 100 });
    await warm.close();

    step = 'open the pages';
    const n = options.pages;
    const room = options.room ?? `arena-${Date.now().toString(36)}`;
    const context = await browser.newContext({ viewport: VIEWPORT });
    const pages = await Promise.all(Array.from({ length: n }, () => context.newPage()));
    const errors = pages.map((page, i) => watchPageErrors(page, (text) => log(`page ${i} console.warn: ${text}`)));
    result.pageErrors = errors;
    const t0 = Date.now();
    await Promise.all(pages.map((page, i) => page.goto(arenaUrl(`room=${room}&players=${n}&bot=${i + 1}&quality=${quality}`))));

    step = 'agree on a match and synchronize';
    await Promise.all(pages.map((page) => page.waitForFunction(() => window.peercompute?.net?.status === 'running', undefined, { timeout: STEP_TIMEOUT_MS, polling: 50 })));
    result.runningAfterMs = Date.now() - t0;
    result.slots = await Promise.all(pages.map((page) => page.evaluate(() => window.peercompute!.net!.match!.localSlot)));
    log(`running after ${result.runningAfterMs} ms; slots ${result.slots.join(', ')}`);

    step = 'late-join spectators';
    const watcherPages: Page[] = [];
    const watchingAfter: number[] = [];
    for (let w = 0; w < (options.watchers ?? 0); w++) {
      const page = await context.newPage();
      (result.pageErrors as string[][]).push(watchPageErrors(page, (text) => log(`watcher ${w} console.warn: ${text}`)));
      const opened = Date.now();
      await page.goto(arenaUrl(`room=${room}&players=${n}&bot=${100 + w}&quality=${quality}`));
      await page.waitForFunction(() => window.peercompute?.net?.status === 'watching', undefined, { timeout: STEP_TIMEOUT_MS, polling: 50 });
      watchingAfter.push(Date.now() - opened);
      watcherPages.push(page);
    }
    if (watcherPages.length > 0) log(`watching after ${watchingAfter.join(' / ')} ms`);

    step = 'play';
    const frameAt = async (): Promise<number> => Math.min(...(await Promise.all(pages.map((page) => page.evaluate(() => window.peercompute!.net!.session!.currentFrame)))));
    const playStart = Date.now();
    const startFrame = await frameAt();
    await sleep(options.playMs / 2);
    const switchFrame = await pages[0]!.evaluate(() => {
      window.peercompute!.net!.setBadNetwork(true);
      return window.peercompute!.net!.session!.currentFrame;
    });
    log(`bad network on at frame ${switchFrame}`);
    await sleep(options.playMs / 2);
    const endFrame = await frameAt();
    result.framesPerSecond = Math.round(((endFrame - startFrame) * 1000) / (Date.now() - playStart));

    step = 'compare confirmed checksums';
    const all = await Promise.all(pages.map(figures));
    result.figures = all.map(({ checksums: _, ...f }) => f);
    const maps = all.map((f) => new Map(f.checksums));
    const common = [...maps[0]!.keys()].filter((frame) => maps.every((m) => m.has(frame))).sort((x, y) => x - y);
    result.commonFrames = common.length;
    result.commonFramesBadNetwork = common.filter((f) => f >= switchFrame).length;
    result.mismatches = common.filter((f) => new Set(maps.map((m) => m.get(f))).size > 1).map((frame) => ({ frame, checksums: maps.map((m) => m.get(frame)!) }));
    const firstPlayer = maps[0]!;
    result.watchers = await Promise.all(watcherPages.map(async (page, w) => {
      const status = await page.evaluate(() => `${window.peercompute?.net?.status}: ${document.getElementById('net-status')?.textContent}`);
      if (!status.startsWith('watching')) throw new Error(`watcher ${w} stopped watching (${status})`);
      const got = await page.evaluate(() => {
        const net = window.peercompute!.net!;
        const session = net.session! as unknown as { framesBehindHost(): number };
        return { checksums: [...net.confirmedChecksums], behind: session.framesBehindHost(), status: net.status };
      });
      if (got.status !== 'watching') throw new Error(`watcher ${w} is ${got.status}, not watching`);
      const shared = got.checksums.filter(([frame]) => firstPlayer.has(frame));
      return {
        watchingAfterMs: watchingAfter[w]!,
        commonFrames: shared.length,
        mismatches: shared.filter(([frame, sum]) => firstPlayer.get(frame) !== sum).length,
        framesBehind: got.behind,
      };
    }));
    if (watcherPages.length > 0) log(`watchers: ${JSON.stringify(result.watchers)}`);
    log(`${common.length} common confirmed frames (${result.commonFramesBadNetwork} with the bad network), ${result.mismatches.length} mismatches, ${result.framesPerSecond} frames/s`);
    log(`figures: ${JSON.stringify(result.figures)}`);

    if (options.screenshots !== undefined) {
      step = 'take screenshots';
      await mkdir(options.screenshots, { recursive: true });
      for (const [i, page] of pages.entries()) {
        const file = path.join(options.screenshots, `arena-online-${i + 1}.png`);
        await writeFile(file, await page.screenshot());
        (result.screenshots as string[]).push(file);
      }
    }

    for (const page of watcherPages) await page.close({ runBeforeUnload: true });

    step = 'close the last page; the others go on';
    await pages[0]!.evaluate(() => window.peercompute!.net!.setBadNetwork(false));
    const leavingSlot = result.slots.at(-1)!;
    const closedAt = Date.now();
    await pages.at(-1)!.close({ runBeforeUnload: true });
    const rest = pages.slice(0, -1);
    await Promise.all(rest.map((page) => page.waitForFunction((slot) => {
      const net = window.peercompute!.net!;
      return net.session!.stats().peers.some((p) => p.peerId === net.match!.peers[slot] && p.state === 'disconnected');
    }, leavingSlot, { timeout: STEP_TIMEOUT_MS, polling: 20 })));
    result.leaveAfterMs = Date.now() - closedAt;
    const before = Math.min(...(await Promise.all(rest.map((page) => page.evaluate(() => window.peercompute!.net!.session!.currentFrame)))));
    await sleep(1500);
    const after = Math.min(...(await Promise.all(rest.map((page) => page.evaluate(() => window.peercompute!.net!.session!.currentFrame)))));
    result.framesAfterLeave = after - before;
    log(`left after ${result.leaveAfterMs} ms; the others advanced ${result.framesAfterLeave} frames in 1.5 s`);

    result.ok = true;
  } catch (error) {
    result.error = `${step}: ${error instanceof Error ? error.message : String(error)}`;
    log(`FAILED: ${result.error}`);
  } finally {
    await browser?.close().catch(() => {});
    await job?.close().catch(() => {});
  }
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pages: { type: 'string', default: '2' },
      watchers: { type: 'string', default: '0' },
      'play-ms': { type: 'string', default: '10000' },
      screenshots: { type: 'string' },
      room: { type: 'string' },
      quality: { type: 'string', default: 'low' },
      viewport: { type: 'string', default: `${DEFAULT_VIEWPORT.width}x${DEFAULT_VIEWPORT.height}` },
    },
    strict: true,
  });
  const pages = Number(values.pages);
  if (!Number.isInteger(pages) || pages < 2 || pages > 4) throw new Error(`--pages must be 2..4, got ${values.pages}`);
  const result = await runScenario({
    pages,
    playMs: Math.max(2000, Number(values['play-ms']) || 10_000),
    watchers: Math.max(0, Math.min(2, Number(values.watchers) || 0)),
    ...(values.screenshots === undefined ? {} : { screenshots: path.resolve(values.screenshots) }),
    ...(values.room === undefined ? {} : { room: values.room }),
    quality: values.quality === 'high' ? 'high' : 'low',
    viewport: { width: Number(values.viewport.split('x')[0]) || DEFAULT_VIEWPORT.width, height: Number(values.viewport.split('x')[1]) || DEFAULT_VIEWPORT.height },
  });
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
  process.exitCode = result.ok ? 0 : 1;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  await main();
}
