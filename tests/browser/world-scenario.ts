/**
 * The world demo shared by real browsers, as a script: starts its own main job (dev server,
 * relay on free ports with a throwaway identity, and the archival peer on a fresh temporary
 * LevelDB directory), then in a fresh room `world-<time>`:
 *
 * 1. opens pages A, B and C, each in its own browser context (own IndexedDB), `?quality=low`,
 *    C played by a seeded bot (`?bot=3`), A generating terrain on WebGPU (`?compute=gpu`), B and
 *    C on the CPU twin (the default on a software adapter); waits until every page sees the
 *    three avatars;
 * 2. walks A's avatar with the keyboard (D held 0.8 s) and measures how long after it stopped
 *    B and C show it within 5 cm of where A has it;
 * 3. checks the terrain: A's avatar is drawn at the terrain height and the drawn terrain mesh
 *    under it is there (a ray cast down); A, B and C derived the same seed from the room and
 *    hold bit-identical chunk (0, 0) (same hash from the GPU in A and the CPU in B and C);
 *    B streams every LOD ring;
 * 4. places a block from A (debug handle `placeBlock`) and measures until B and C have it;
 * 5. reloads A and measures until the block is back (and records how many blocks the page had
 *    right after its IndexedDB load, before any peer spoke);
 * 6. closes the three contexts, opens page D in a new context and measures until the block is
 *    back: nobody else is in the room, so it can only come from the relay's archive.
 *
 * Prints progress on stderr and one result line on stdout: `WORLD_RESULT {json}`
 * ({@link WorldResult}). Chromium needs a non-loopback interface for WebRTC:
 * tests/browser/world.test.ts runs this inside a private network namespace
 * (tests/browser/netns.ts). By hand, as root:
 * `unshare -n sh -c '<NETNS_SETUP>' sh node_modules/.bin/tsx tests/browser/world-scenario.ts --screenshots test-results/world`.
 *
 * Options: `--screenshots DIR`, `--room NAME`, `--viewport WxH` (default 560x360).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { WorldDebugHandle } from '../../demos/world/main.ts';
import { REPO_ROOT, startMainJob, type MainJob } from '../../scripts/server.ts';
import { launchChromium, watchPageErrors } from './chromium.ts';
import { nonLoopbackInterfaces } from './netns.ts';

/** Prefix of the result line on stdout. */
export const RESULT_PREFIX = 'WORLD_RESULT ';
/** Longest wait for one step, ms. */
const STEP_TIMEOUT_MS = 30_000;
/** Small pages: software rendering of several pages shares 2 cores. */
const DEFAULT_VIEWPORT = { width: 560, height: 360 };
/** How close B and C must show A's avatar to where A has it, m. */
export const POSITION_TOLERANCE_M = 0.05;
/** How close the drawn terrain mesh under A's avatar must be to the terrain height, m (triangles vs bilinear). */
export const GROUND_TOLERANCE_M = 0.1;

/** What the scenario saw of the terrain. */
export interface WorldTerrainResult {
  /** Terrain seed per page (A, B, C). */
  readonly seeds: readonly number[];
  /** Terrain backend per page. */
  readonly backends: readonly string[];
  /** Hash of chunk (0, 0) at LOD 0 per page. */
  readonly originChunkHashes: readonly number[];
  /** A's avatar after walking: where it is drawn, the terrain height, the drawn mesh under it, m. */
  readonly standing: { readonly x: number; readonly z: number; readonly drawnY: number | null; readonly terrainY: number; readonly meshY: number | null };
  /** B's resident chunks by LOD (all rings streamed). */
  readonly chunksByLod: readonly number[];
  /** From opening the pages until the terrain under A's avatar was drawn, ms. */
  readonly groundDrawnAfterMs: number;
  /** From opening the pages until B had every wanted chunk (all LOD rings), ms. */
  readonly allChunksAfterMs: number;
  /** Chunks each page got from a GPU peer through room compute so far (A has WebGPU: 0). */
  readonly offloaded: readonly number[];
}

/** What the scenario measured; printed as JSON after {@link RESULT_PREFIX}. */
export interface WorldResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly interfaces: readonly string[];
  readonly room: string;
  /** Page load until all three pages saw the three avatars, ms. */
  readonly allPresentAfterMs: number;
  /** Distance A's avatar walked, m. */
  readonly moved: number;
  /** After A stopped: until B and C showed A's avatar within tolerance, ms (per page). */
  readonly moveSeenAfterMs: readonly number[];
  /** A's final position and where B and C showed it, m. */
  readonly moveErrors: readonly number[];
  /** The block A placed. */
  readonly blockNetId: string;
  /** From `placeBlock` until B and C had the block, ms (per page). */
  readonly blockSeenAfterMs: readonly number[];
  /** From `page.reload()` until A had the block again, ms. */
  readonly reloadRestoreMs: number;
  /** Blocks A's document held right after its IndexedDB load (before the network). */
  readonly reloadBlocksFromIndexedDb: number;
  /** Rooms the archive held when the pages were closed. */
  readonly archiveRooms: readonly string[];
  /** From opening page D (new context, everyone else gone) until it had the block, ms. */
  readonly archiveRestoreMs: number;
  /** Blocks D had from its (empty) IndexedDB, and whether it saw the archive member. */
  readonly archiveBlocksFromIndexedDb: number;
  readonly archiveSeenByD: boolean;
  /** Blocks D got in total (A's and the bot's). */
  readonly blocksInD: number;
  readonly terrain?: WorldTerrainResult;
  readonly pageErrors: Readonly<Record<string, readonly string[]>>;
  readonly screenshots: readonly string[];
}

declare const window: { peercompute?: WorldDebugHandle };

function log(message: string): void {
  process.stderr.write(`[world] ${message}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the scenario; never throws (failures land in `ok`/`error`). */
export async function runScenario(options: { screenshots?: string; room?: string; viewport?: { width: number; height: number } } = {}): Promise<WorldResult> {
  const viewport = options.viewport ?? DEFAULT_VIEWPORT;
  const room = options.room ?? `world-${Date.now().toString(36)}`;
  const result: { -readonly [K in keyof WorldResult]: WorldResult[K] } = {
    ok: false, interfaces: nonLoopbackInterfaces(), room, allPresentAfterMs: 0, moved: 0, moveSeenAfterMs: [], moveErrors: [], blockNetId: '',
    blockSeenAfterMs: [], reloadRestoreMs: 0, reloadBlocksFromIndexedDb: -1, archiveRooms: [], archiveRestoreMs: 0, archiveBlocksFromIndexedDb: -1,
    archiveSeenByD: false, blocksInD: 0, pageErrors: {}, screenshots: [],
  };
  const archiveDir = await mkdtemp(path.join(tmpdir(), 'world-archive-'));
  let job: MainJob | undefined;
  let browser: Browser | undefined;
  let step = 'start the main job';
  try {
    job = await startMainJob({
      host: '127.0.0.1', port: 0, logLevel: 'warn', relay: { port: 0, keyFile: false }, archive: { dir: archiveDir },
      viteCacheDir: path.join(REPO_ROOT, 'node_modules', '.vite-world'),
    });
    if (job.archive === undefined) throw new Error(`the archive did not start: ${job.archiveError ?? 'unknown'}`);
    log(`main job at ${job.urls.landing}, relay ${job.relays.join(', ')}, archive ${archiveDir}`);
    step = 'launch Chromium';
    browser = await launchChromium();
    const url = (query: string): string => `${job!.urls.landing}world/?room=${room}&quality=low&${query}`;

    const errors: Record<string, string[]> = {};
    result.pageErrors = errors;
    const shots: string[] = [];
    const shoot = async (page: Page, label: string): Promise<void> => {
      if (options.screenshots === undefined) return;
      await mkdir(options.screenshots, { recursive: true });
      const file = path.join(options.screenshots, `world-${label}.png`);
      await writeFile(file, await page.screenshot());
      shots.push(file);
    };
    result.screenshots = shots;

    const open = async (context: BrowserContext, label: string, query: string): Promise<Page> => {
      const page = await context.newPage();
      errors[label] = watchPageErrors(page, (text) => log(`${label} console.warn: ${text}`));
      await page.goto(url(query));
      return page;
    };
    const online = (page: Page): Promise<unknown> =>
      page.waitForFunction(() => window.peercompute?.ready === true && window.peercompute.net !== undefined, undefined, { timeout: 120_000, polling: 50 });

    step = 'warm up (first page load, dependency optimisation)';
    const warmContext = await browser.newContext({ viewport });
    const warm = await warmContext.newPage();
    await warm.goto(`${job.urls.landing}world/?room=warm-up&quality=low`, { timeout: 120_000 });
    await online(warm);
    await warmContext.close();

    step = 'open pages A, B, C';
    const contexts = await Promise.all([0, 1, 2].map(() => browser!.newContext({ viewport })));
    const t0 = Date.now();
    const [a, b, c] = await Promise.all([
      open(contexts[0]!, 'A', 'name=Ada&fresh=1&compute=gpu'),
      open(contexts[1]!, 'B', 'name=Brook&fresh=1'),
      open(contexts[2]!, 'C', 'bot=3&fresh=1'),
    ]);
    const pages = [a!, b!, c!];
    await Promise.all(pages.map(online));
    await Promise.all(pages.map((page) => page.waitForFunction(
      () => window.peercompute!.net!.avatars().length === 3 && window.peercompute!.net!.present().length === 3,
      undefined, { timeout: STEP_TIMEOUT_MS, polling: 50 })));
    result.allPresentAfterMs = Date.now() - t0;
    log(`three pages see three avatars after ${result.allPresentAfterMs} ms`);

    step = 'walk A and see it in B and C';
    const start = await a!.evaluate(() => window.peercompute!.net!.myAvatar());
    await a!.keyboard.down('KeyD');
    await sleep(800);
    await a!.keyboard.up('KeyD');
    await sleep(100); // the last tick of walking
    const end = await a!.evaluate(() => window.peercompute!.net!.myAvatar());
    result.moved = Math.round(Math.hypot(end.x - start.x, end.z - start.z) * 1000) / 1000;
    if (result.moved < 1) throw new Error(`A's avatar moved only ${result.moved} m`);
    const stopped = Date.now();
    result.moveSeenAfterMs = await Promise.all([b!, c!].map(async (page) => {
      await page.waitForFunction(([id, x, z, tol]) => window.peercompute!.net!.avatars().some((v) => v.netId === id && Math.hypot(v.x - x, v.z - z) <= tol),
        [end.netId!, end.x, end.z, POSITION_TOLERANCE_M] as const, { timeout: STEP_TIMEOUT_MS, polling: 10 });
      return Date.now() - stopped;
    }));
    result.moveErrors = await Promise.all([b!, c!].map((page) => page.evaluate(([id, x, z]) => {
      const v = window.peercompute!.net!.avatars().find((w) => w.netId === id)!;
      return Math.round(Math.hypot(v.x - x, v.z - z) * 10000) / 10000;
    }, [end.netId!, end.x, end.z] as const)));
    log(`A walked ${result.moved} m; seen in B, C after ${result.moveSeenAfterMs.join(' / ')} ms (error ${result.moveErrors.join(' / ')} m)`);

    step = 'terrain: A stands on it, every page has the same chunks';
    await a!.waitForFunction(() => window.peercompute!.terrain.standing().meshY !== undefined, undefined, { timeout: STEP_TIMEOUT_MS, polling: 50 });
    const groundDrawnAfterMs = Date.now() - t0;
    await sleep(100);
    const standing = await a!.evaluate(() => {
      const s = window.peercompute!.terrain.standing();
      return { ...s, drawnY: s.drawnY ?? null, meshY: s.meshY ?? null };
    });
    await Promise.all(pages.map((page) => page.waitForFunction(() => window.peercompute!.terrain.chunkHash(0, 0)?.lod === 0, undefined, { timeout: STEP_TIMEOUT_MS, polling: 50 })));
    step = 'terrain: B streams every LOD ring';
    await b!.waitForFunction(() => window.peercompute!.terrain.chunks().idle, undefined, { timeout: STEP_TIMEOUT_MS, polling: 100 }).catch(async (error: unknown) => {
      const chunks = await b!.evaluate(() => ({ ...window.peercompute!.terrain.chunks(), backend: window.peercompute!.terrain.backend() }));
      throw new Error(`${(error as Error).message}; B's terrain: ${JSON.stringify(chunks)}`);
    });
    const allChunksAfterMs = Date.now() - t0;
    const info = await Promise.all(pages.map((page) => page.evaluate(() => ({
      seed: window.peercompute!.terrain.seed,
      backend: window.peercompute!.terrain.backend(),
      hash: window.peercompute!.terrain.chunkHash(0, 0)!.hash,
      byLod: window.peercompute!.terrain.chunks().byLod,
      meshes: window.peercompute!.terrain.chunks().meshes,
      offloaded: window.peercompute!.terrain.chunks().offloaded,
    }))));
    result.terrain = {
      seeds: info.map((i) => i.seed), backends: info.map((i) => i.backend), originChunkHashes: info.map((i) => i.hash),
      standing, chunksByLod: info[1]!.byLod, groundDrawnAfterMs, allChunksAfterMs, offloaded: info.map((i) => i.offloaded),
    };
    log(`terrain: seeds ${result.terrain.seeds.join(' / ')}, chunk (0, 0) hashes ${result.terrain.originChunkHashes.map((h) => h.toString(16)).join(' / ')}, `
      + `backends ${result.terrain.backends.join(' / ')}; A stands at y ${standing.drawnY} (terrain ${standing.terrainY}, mesh ${standing.meshY}); B's chunks by LOD ${info[1]!.byLod.join('/')}; chunks from GPU peers ${info.map((i) => i.offloaded).join(' / ')}`);

    step = 'place a block from A';
    const placedAt = Date.now();
    const cell = { x: Math.floor(end.x) - 1.5, z: Math.floor(end.z) - 2.5 };
    const placed = await a!.evaluate(({ x, z }) => window.peercompute!.net!.placeBlock(x, z), cell);
    if (placed === undefined) throw new Error('placeBlock refused the cell');
    await a!.waitForFunction((eid) => window.peercompute!.net!.replicator.netIdOf(eid) !== undefined, placed, { timeout: STEP_TIMEOUT_MS, polling: 10 });
    const netId = await a!.evaluate((eid) => window.peercompute!.net!.replicator.netIdOf(eid)!, placed);
    result.blockNetId = netId;
    result.blockSeenAfterMs = await Promise.all([b!, c!].map(async (page) => {
      await page.waitForFunction((id) => window.peercompute!.net!.blocks().some((k) => k.netId === id), netId, { timeout: STEP_TIMEOUT_MS, polling: 10 });
      return Date.now() - placedAt;
    }));
    log(`block ${netId} seen in B, C after ${result.blockSeenAfterMs.join(' / ')} ms`);
    await sleep(300);
    await Promise.all(pages.map((page, i) => shoot(page, ['A', 'B', 'C'][i]!)));

    step = 'reload A';
    const reloadAt = Date.now();
    await a!.reload();
    await a!.waitForFunction((id) => window.peercompute?.net?.blocks().some((k) => k.netId === id) === true, netId, { timeout: STEP_TIMEOUT_MS, polling: 10 });
    result.reloadRestoreMs = Date.now() - reloadAt;
    result.reloadBlocksFromIndexedDb = await a!.evaluate(() => window.peercompute!.net!.persistence.blocksAtLoad);
    log(`A reloaded: block back after ${result.reloadRestoreMs} ms (${result.reloadBlocksFromIndexedDb} blocks from IndexedDB)`);
    await online(a!);
    await sleep(500);
    await shoot(a!, 'A-reloaded');

    step = 'close every page; a new browser gets the world from the archive';
    await sleep(500); // the last broadcasts reach the archive
    for (const context of contexts) await context.close();
    result.archiveRooms = job.archive.rooms();
    log(`archive rooms: ${result.archiveRooms.join(', ')}`);
    await sleep(1000);
    const contextD = await browser.newContext({ viewport });
    const openedD = Date.now();
    const d = await open(contextD, 'D', 'name=Dara&fresh=1');
    await d.waitForFunction((id) => window.peercompute?.net?.blocks().some((k) => k.netId === id) === true, netId, { timeout: STEP_TIMEOUT_MS, polling: 10 });
    result.archiveRestoreMs = Date.now() - openedD;
    await d.waitForFunction(() => window.peercompute!.net!.persistence.archiveSeen, undefined, { timeout: STEP_TIMEOUT_MS, polling: 100 });
    const dInfo = await d.evaluate(() => ({
      atLoad: window.peercompute!.net!.persistence.blocksAtLoad,
      archive: window.peercompute!.net!.persistence.archiveSeen,
      blocks: window.peercompute!.net!.blocks().length,
      avatars: window.peercompute!.net!.avatars().length,
    }));
    result.archiveBlocksFromIndexedDb = dInfo.atLoad;
    result.archiveSeenByD = dInfo.archive;
    result.blocksInD = dInfo.blocks;
    if (dInfo.avatars !== 1) throw new Error(`D shows ${dInfo.avatars} avatars; the ones of closed pages must be hidden`);
    log(`D got the block from the archive after ${result.archiveRestoreMs} ms; ${dInfo.blocks} blocks`);
    await sleep(300);
    await shoot(d, 'D-from-archive');
    await contextD.close();

    result.ok = true;
  } catch (error) {
    result.error = `${step}: ${error instanceof Error ? error.message : String(error)}`;
    log(`FAILED: ${result.error}`);
  } finally {
    await browser?.close().catch(() => {});
    await job?.close().catch(() => {});
    await rm(archiveDir, { recursive: true, force: true }).catch(() => {});
  }
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      screenshots: { type: 'string' },
      room: { type: 'string' },
      viewport: { type: 'string', default: `${DEFAULT_VIEWPORT.width}x${DEFAULT_VIEWPORT.height}` },
    },
    strict: true,
  });
  const [w, h] = values.viewport.split('x').map(Number);
  const result = await runScenario({
    ...(values.screenshots === undefined ? {} : { screenshots: path.resolve(values.screenshots) }),
    ...(values.room === undefined ? {} : { room: values.room }),
    viewport: { width: w || DEFAULT_VIEWPORT.width, height: h || DEFAULT_VIEWPORT.height },
  });
  // Exit once the line is out: a handle of the closed main job (libp2p, LevelDB) may otherwise
  // keep the process alive, and the test waits for the exit.
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`, () => process.exit(result.ok ? 0 : 1));
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  await main();
}
