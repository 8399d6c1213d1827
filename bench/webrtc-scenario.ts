/**
 * Browser-to-browser messaging benchmark, as a script: starts its own main job (dev server +
 * relay), opens 2 Chromium pages of `demos/lobby/` in a fresh room, waits for the direct WebRTC
 * connection, then measures from page A, on the room transport itself (`room.inner`, without the
 * lobby's conditioner and its timer hop):
 * - echo round trips of small frames, `send` (direct WebRTC) vs `broadcast` (gossipsub);
 * - one-way throughput of 1 KiB frames A -> B, `send` vs `broadcast`, until B has them all.
 * Prints progress on stderr and one line on stdout: `WEBRTC_BENCH {json}` ({@link WebrtcBenchResult}).
 *
 * Needs a non-loopback interface (Chromium gathers no ICE candidate otherwise): bench/webrtc.bench.ts
 * runs it inside a private network namespace (tests/browser/netns.ts).
 *
 * Options: `--pings N` (round trips per mode, default 300), `--frames N` (1 KiB frames per
 * throughput run, default 2000), `--bytes N` (echo frame size, default 16).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import type { LobbyDebugHandle } from '../demos/lobby/main.ts';
import { REPO_ROOT, startMainJob, type MainJob } from '../scripts/server.ts';
import { launchChromium } from '../tests/browser/chromium.ts';

/** Prefix of the result line on stdout. */
export const RESULT_PREFIX = 'WEBRTC_BENCH ';

const STEP_TIMEOUT_MS = 30_000;
/** Longest wait for the direct WebRTC connection, ms (a first dial sometimes stalls, see p2p-scenario.ts). */
const DIRECT_TIMEOUT_MS = 60_000;

/** Throughput run: frames sent by A and delivered to B, and the time until the last arrived. */
export interface ThroughputResult {
  readonly frames: number;
  readonly delivered: number;
  readonly bytesPerFrame: number;
  /** From the first `send`/`broadcast` on A to the last arrival on B (both read as performance.timeOrigin + now()), ms. */
  readonly totalMs: number;
}

/** What the script measured; printed as JSON after {@link RESULT_PREFIX}. */
export interface WebrtcBenchResult {
  readonly ok: boolean;
  readonly error?: string;
  /** Echo frame size, bytes. */
  readonly echoBytes: number;
  /** Round-trip samples, ms, in send order. */
  readonly sendRtt: readonly number[];
  readonly broadcastRtt: readonly number[];
  readonly sendThroughput?: ThroughputResult;
  readonly broadcastThroughput?: ThroughputResult;
  /** Per page, ms since navigation start: first message from the other browser, and direct WebRTC up. */
  readonly firstMessageMs: readonly number[];
  readonly directAfterMs: readonly number[];
}

type Handle = LobbyDebugHandle;
declare const window: { peercompute: Handle; __bench?: { count: number; last: number; mode: string } };

function log(message: string): void {
  process.stderr.write(`[webrtc-bench] ${message}\n`);
}

async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(() => window.peercompute?.ready === true || window.peercompute?.error !== undefined, undefined, { timeout: STEP_TIMEOUT_MS, polling: 50 });
  const error = await page.evaluate(() => window.peercompute.error);
  if (error !== undefined) throw new Error(`page failed to join: ${error}`);
}

/** Echo round trips from `a` to `b` (B answers in kind: `send` with `send`, `broadcast` with `broadcast`). */
async function echo(a: Page, b: Page, peerB: string, mode: 'send' | 'broadcast', n: number, bytes: number): Promise<number[]> {
  await b.evaluate((m) => {
    const room = window.peercompute.room!.inner;
    room.on('message', (e) => {
      if (e.channel !== `bench/echo-${m}`) return;
      if (m === 'send') room.send(e.from, 'bench/reply-send', e.data);
      else room.broadcast('bench/reply-broadcast', e.data);
    });
  }, mode);
  return a.evaluate(async ([m, peer, count, size]) => {
    const room = window.peercompute.room!.inner;
    const rtts: number[] = [];
    const frame = new Uint8Array(size);
    for (let i = 0; i < count + 10; i++) { // 10 warm-up round trips, not kept
      new DataView(frame.buffer).setUint32(0, i);
      const t0 = performance.now();
      const ok = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => { off(); resolve(false); }, 5000);
        const off = room.on('message', (e) => {
          if (e.channel !== `bench/reply-${m}` || e.from !== peer || new DataView(e.data.buffer, e.data.byteOffset).getUint32(0) !== i) return;
          clearTimeout(timer);
          off();
          resolve(true);
        });
        if (m === 'send') room.send(peer, `bench/echo-${m}`, frame);
        else room.broadcast(`bench/echo-${m}`, frame);
      });
      if (ok && i >= 10) rtts.push(performance.now() - t0);
    }
    return rtts;
  }, [mode, peerB, n, bytes] as const);
}

/** A sends `frames` 1 KiB frames to B as fast as the API takes them; B counts them. */
async function throughput(a: Page, b: Page, peerB: string, mode: 'send' | 'broadcast', frames: number): Promise<ThroughputResult> {
  const bytes = 1024;
  await b.evaluate((m) => {
    window.__bench = { count: 0, last: 0, mode: m };
    window.peercompute.room!.inner.on('message', (e) => {
      if (e.channel !== `bench/bulk-${m}`) return;
      window.__bench!.count++;
      window.__bench!.last = performance.timeOrigin + performance.now();
    });
  }, mode);
  const startedAt = await a.evaluate(([m, peer, count, size]) => {
    const room = window.peercompute.room!.inner;
    const frame = new Uint8Array(size);
    const t0 = performance.timeOrigin + performance.now();
    for (let i = 0; i < count; i++) {
      new DataView(frame.buffer).setUint32(0, i); // distinct payloads, so no dedup by content
      if (m === 'send') room.send(peer, `bench/bulk-${m}`, frame);
      else room.broadcast(`bench/bulk-${m}`, frame);
    }
    return t0;
  }, [mode, peerB, frames, bytes] as const);
  // Wait until all arrived, or until nothing new arrived for 3 s (best-effort broadcast may drop).
  let seen = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + STEP_TIMEOUT_MS * 2;
  for (;;) {
    const count = await b.evaluate(() => window.__bench!.count);
    if (count >= frames) break;
    if (count !== seen) { seen = count; stableSince = Date.now(); }
    if (Date.now() - stableSince > 3000 || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const { count, last } = await b.evaluate(() => ({ count: window.__bench!.count, last: window.__bench!.last }));
  // Both pages share one machine clock: timeOrigin + now() is comparable across them.
  return { frames, delivered: count, bytesPerFrame: bytes, totalMs: Math.max(0, last - startedAt) };
}

/** Runs the measurements; never throws (failures land in `ok`/`error`). */
export async function runWebrtcBench(options: { pings: number; frames: number; echoBytes: number }): Promise<WebrtcBenchResult> {
  const result: { -readonly [K in keyof WebrtcBenchResult]: WebrtcBenchResult[K] } = {
    ok: false, echoBytes: options.echoBytes, sendRtt: [], broadcastRtt: [], firstMessageMs: [], directAfterMs: [],
  };
  let job: MainJob | undefined;
  let browser: Browser | undefined;
  let step = 'start the main job';
  try {
    job = await startMainJob({
      host: '127.0.0.1', port: 0, logLevel: 'warn', relay: { port: 0, keyFile: false }, archive: false,
      viteCacheDir: path.join(REPO_ROOT, 'node_modules', '.vite-bench-webrtc'),
    });
    step = 'launch Chromium';
    browser = await launchChromium();
    const lobbyUrl = (room: string, name: string): string => `${job!.urls.landing}lobby/?room=${room}&name=${name}`;

    step = 'warm up (first page load, dependency optimisation)';
    const warm = await browser.newPage();
    await warm.goto(lobbyUrl('warmup', 'warmup'), { timeout: 120_000 });
    await waitReady(warm);
    await warm.close();

    step = 'open two pages and connect directly over WebRTC';
    const context = await browser.newContext();
    const [a, b] = await Promise.all([context.newPage(), context.newPage()]);
    const room = `bench-${Date.now().toString(36)}`;
    await Promise.all([a.goto(lobbyUrl(room, 'A')), b.goto(lobbyUrl(room, 'B'))]);
    await Promise.all([waitReady(a), waitReady(b)]);
    // `?.`: Vite may still reload a page once after optimising a late-found dependency.
    result.directAfterMs = await Promise.all([a, b].map(async (page) => {
      await page.waitForFunction(() => {
        const peers = window.peercompute?.ready === true ? window.peercompute.peers() : [];
        return peers.length === 1 && peers[0]!.connection === 'direct-webrtc';
      }, undefined, { timeout: DIRECT_TIMEOUT_MS, polling: 20 });
      return Math.round(await page.evaluate(() => performance.now()));
    }));
    await Promise.all([a, b].map((page) => page.waitForFunction(() => window.peercompute.timings.firstMessage !== undefined, undefined, { timeout: STEP_TIMEOUT_MS })));
    result.firstMessageMs = await Promise.all([a, b].map((page) => page.evaluate(() => Math.round(window.peercompute.timings.firstMessage!))));
    const peerB = await b.evaluate(() => window.peercompute.peerId);
    log(`direct after ${result.directAfterMs.join(' / ')} ms, first message after ${result.firstMessageMs.join(' / ')} ms`);

    step = 'echo round trips';
    result.sendRtt = await echo(a, b, peerB, 'send', options.pings, options.echoBytes);
    result.broadcastRtt = await echo(a, b, peerB, 'broadcast', options.pings, options.echoBytes);
    log(`echo samples: send ${result.sendRtt.length}, broadcast ${result.broadcastRtt.length}`);

    step = 'throughput';
    result.sendThroughput = await throughput(a, b, peerB, 'send', options.frames);
    result.broadcastThroughput = await throughput(a, b, peerB, 'broadcast', options.frames);
    log(`throughput: send ${JSON.stringify(result.sendThroughput)}, broadcast ${JSON.stringify(result.broadcastThroughput)}`);
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
    options: { pings: { type: 'string', default: '300' }, frames: { type: 'string', default: '2000' }, bytes: { type: 'string', default: '16' } },
    strict: true,
  });
  const result = await runWebrtcBench({
    pings: Math.max(1, Number(values.pings) || 300),
    frames: Math.max(1, Number(values.frames) || 2000),
    echoBytes: Math.max(4, Number(values.bytes) || 16),
  });
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
  process.exitCode = result.ok ? 0 : 1;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  await main();
}
