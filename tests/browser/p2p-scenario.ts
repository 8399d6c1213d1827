/**
 * The lobby between real browsers, as a script: starts its own main job (dev server + relay,
 * free ports, throwaway relay identity), opens N Chromium pages of `demos/lobby/` in one fresh
 * room at the same moment, and checks that they find each other through the relay, end up on
 * direct WebRTC connections, exchange `send` messages both ways and a broadcast, measure round
 * trips, and see a closed page leave. Prints progress on stderr and one result line on stdout:
 * `P2P_RESULT {json}` ({@link ScenarioResult}).
 *
 * Chromium needs a non-loopback interface for WebRTC: tests/browser/p2p.test.ts runs this inside
 * a private network namespace (tests/browser/netns.ts). By hand, as root:
 * ```sh
 * unshare -n sh -c 'ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add 198.18.0.1/24 dev v0 && ip link set v0 up && ip link set v1 up && ip route add default dev v0 && exec "$@"' \
 *   sh node_modules/.bin/tsx tests/browser/p2p-scenario.ts --pages 3 --screenshots test-results/p2p
 * ```
 *
 * Options: `--pages N` (2..4, default 2), `--screenshots DIR` (PNG of each page after the chat
 * and a "Ping all"), `--pings N` (round trips sampled per RTT measure, default 40),
 * `--hold-ms N` (keep the pages open that long before the leave step, e.g. to look at them),
 * `--room NAME` (default a fresh `p2p-<time>`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import type { LobbyDebugHandle } from '../../demos/lobby/main.ts';
import { REPO_ROOT, startMainJob, type MainJob } from '../../scripts/server.ts';
import { launchChromium, watchPageErrors } from './chromium.ts';
import { nonLoopbackInterfaces } from './netns.ts';

/** Prefix of the result line on stdout. */
export const RESULT_PREFIX = 'P2P_RESULT ';

/** Longest wait for any one step, ms. */
const STEP_TIMEOUT_MS = 30_000;
/**
 * Longest wait for every pair to be on direct WebRTC, ms. Usually 3-4 s after load, but a first
 * WebRTC dial sometimes stalls on the dialing side until the dial timeout and the upgrade is
 * retried with backoff (seen: 9-20 s).
 */
const DIRECT_TIMEOUT_MS = 60_000;
/** Viewport of the pages (and screenshots), CSS pixels. */
const VIEWPORT = { width: 1180, height: 780 };

/** What the scenario measured; printed as JSON after {@link RESULT_PREFIX}. */
export interface ScenarioResult {
  /** `true` when every step passed. */
  readonly ok: boolean;
  /** The failing step and its error, when `ok` is false. */
  readonly error?: string;
  readonly pages: number;
  /** Non-loopback interfaces seen (inside a namespace: `["v0", "v1"]`). */
  readonly interfaces: readonly string[];
  /** Main job start (relay + dev server), ms. */
  readonly mainJobStartMs: number;
  /** First, warm-up page load until it joined its room, ms (includes Vite's dependency optimisation on a cold cache). */
  readonly warmupMs: number;
  /** Per page, ms since its navigation start: relay known, peer ready, room joined, first other member, first message from another browser. */
  readonly timings: ReadonlyArray<LobbyDebugHandle['timings']>;
  /** Per page, ms since its navigation start until every other member was on a direct WebRTC connection. */
  readonly directAfterMs: readonly number[];
  /** Per page: connection kind of each other member at the end. */
  readonly connections: ReadonlyArray<Readonly<Record<string, string>>>;
  /** `send` A->B and B->A each delivered, and how long after sending, ms. */
  readonly sendBothWays: { readonly aToBMs: number; readonly bToAMs: number } | undefined;
  /** Broadcast from the first page reached every other page, ms after sending (slowest). */
  readonly broadcastMs: number | undefined;
  /**
   * Round trips over the direct connection, first page to the second, ms: `send` of 1 byte,
   * echoed with `send` by the other page's script, on the libp2p room itself (no conditioner).
   */
  readonly echoRtt: RttSummary | undefined;
  /** "Ping all" round trips from the first page, ms: the lobby's JSON ping/pong over `send`, through its conditioner (switched off, one timer hop each way per page). */
  readonly pingRtt: RttSummary | undefined;
  /** The transport's own keep-alive RTT (smoothed) on the first page at the end, per peer, ms. */
  readonly transportRttMs: readonly number[];
  /** After the last page closed: how long until the first page no longer listed it, ms, and the reason it gave. */
  readonly leave: { readonly afterMs: number; readonly reason: string } | undefined;
  /** Uncaught page errors and console errors, per page. */
  readonly pageErrors: ReadonlyArray<readonly string[]>;
  /** Screenshots written. */
  readonly screenshots: readonly string[];
}

/** Percentiles of round-trip samples, ms. */
export interface RttSummary {
  readonly samples: number;
  readonly p50: number;
  readonly p90: number;
  readonly min: number;
  readonly max: number;
}

type Handle = LobbyDebugHandle;
declare const window: { peercompute: Handle; __leaves?: Array<{ peerId: string; reason: string; at: number }> };

function log(message: string): void {
  process.stderr.write(`[p2p] ${message}\n`);
}

function summarise(samples: readonly number[]): RttSummary {
  const sorted = [...samples].sort((x, y) => x - y);
  const at = (p: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 100) / 100;
  return { samples: sorted.length, p50: at(0.5), p90: at(0.9), min: at(0), max: at(1) };
}

async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(() => window.peercompute?.ready === true || window.peercompute?.error !== undefined, undefined, {
    timeout: STEP_TIMEOUT_MS,
    polling: 50,
  });
  const error = await page.evaluate(() => window.peercompute.error);
  if (error !== undefined) throw new Error(`page failed to join: ${error}`);
}

/** Runs the scenario; never throws (failures land in `ok`/`error`). */
export async function runScenario(options: { pages: number; screenshots?: string; pings: number; holdMs: number; room?: string }): Promise<ScenarioResult> {
  const result: { -readonly [K in keyof ScenarioResult]: ScenarioResult[K] } = {
    ok: false, pages: options.pages, interfaces: nonLoopbackInterfaces(), mainJobStartMs: 0, warmupMs: 0, timings: [], directAfterMs: [],
    connections: [], sendBothWays: undefined, broadcastMs: undefined, echoRtt: undefined, pingRtt: undefined, transportRttMs: [], leave: undefined,
    pageErrors: [], screenshots: [],
  };
  let job: MainJob | undefined;
  let browser: Browser | undefined;
  let step = 'start the main job';
  try {
    const t0 = performance.now();
    job = await startMainJob({
      host: '127.0.0.1', port: 0, logLevel: 'warn', relay: { port: 0, keyFile: false }, archive: false,
      // Its own dependency cache: the browser project's main job may be optimising into the default one right now.
      viteCacheDir: path.join(REPO_ROOT, 'node_modules', '.vite-p2p'),
    });
    result.mainJobStartMs = Math.round(performance.now() - t0);
    log(`main job at ${job.urls.landing}, relay ${job.relays.join(', ')}`);
    step = 'launch Chromium';
    browser = await launchChromium();
    const lobbyUrl = (room: string, name: string): string => `${job!.urls.landing}lobby/?room=${room}&name=${encodeURIComponent(name)}`;

    step = 'warm up (first page load, dependency optimisation)';
    const t1 = performance.now();
    const warm = await browser.newPage();
    await warm.goto(lobbyUrl('warmup', 'warmup'), { timeout: 120_000 });
    await waitReady(warm);
    await warm.close();
    result.warmupMs = Math.round(performance.now() - t1);
    log(`warm-up done in ${result.warmupMs} ms`);

    step = 'open the pages';
    const room = options.room ?? `p2p-${Date.now().toString(36)}`;
    const names = ['Ada', 'Brook', 'Cyd', 'Dale'].slice(0, options.pages);
    const context = await browser.newContext({ viewport: VIEWPORT });
    const pages = await Promise.all(names.map(() => context.newPage()));
    const errors = pages.map((page) => watchPageErrors(page));
    result.pageErrors = errors;
    await Promise.all(pages.map((page, i) => page.goto(lobbyUrl(room, names[i]!))));
    await Promise.all(pages.map(waitReady));
    const ids = await Promise.all(pages.map((page) => page.evaluate(() => window.peercompute.peerId)));
    log(`joined room ${room}: ${ids.map((id, i) => `${names[i]}=${id.slice(-6)}`).join(' ')}`);

    step = 'discover each other and connect directly over WebRTC';
    const others = pages.length - 1;
    result.directAfterMs = await Promise.all(pages.map(async (page) => {
      await page.waitForFunction((n) => {
        const peers = window.peercompute.peers();
        return peers.length === n && peers.every((p) => p.connection === 'direct-webrtc');
      }, others, { timeout: DIRECT_TIMEOUT_MS, polling: 20 });
      return Math.round(await page.evaluate(() => performance.now()));
    }));
    await Promise.all(pages.map((page) => page.waitForFunction(() => window.peercompute.timings.firstMessage !== undefined, undefined, { timeout: STEP_TIMEOUT_MS })));
    result.timings = await Promise.all(pages.map((page) => page.evaluate(() => {
      const t = window.peercompute.timings;
      return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(v as number)]));
    })));
    log(`direct after ${result.directAfterMs.join(' / ')} ms; first message after ${result.timings.map((t) => t.firstMessage).join(' / ')} ms`);

    step = 'send both ways';
    const [a, b] = [pages[0]!, pages[1]!] as const;
    const sendTo = async (from: Page, to: string, text: string): Promise<number> => from.evaluate(([peer, body]) => {
      window.peercompute.room!.send(peer!, 'test/direct', new TextEncoder().encode(body));
      return performance.now();
    }, [to, text] as const);
    const arrival = async (on: Page, from: string, channel: string, text: string): Promise<void> => {
      await on.waitForFunction(([f, c, t]) => window.peercompute.messages.some((m) => m.from === f && m.channel === c && m.text === t), [from, channel, text] as const, {
        timeout: STEP_TIMEOUT_MS, polling: 5,
      });
    };
    const sentAB = Date.now();
    await sendTo(a, ids[1]!, 'hello B, from A');
    await arrival(b, ids[0]!, 'test/direct', 'hello B, from A');
    const aToBMs = Date.now() - sentAB;
    const sentBA = Date.now();
    await sendTo(b, ids[0]!, 'hello A, from B');
    await arrival(a, ids[1]!, 'test/direct', 'hello A, from B');
    result.sendBothWays = { aToBMs, bToAMs: Date.now() - sentBA };

    step = 'broadcast a chat line';
    const sentChat = Date.now();
    await a.fill('#chat-input', 'Hi everyone! Direct over WebRTC here.');
    await a.press('#chat-input', 'Enter');
    await Promise.all(pages.slice(1).map((page) => page.waitForFunction(() => window.peercompute.messages.some((m) => m.channel === 'lobby/chat' && m.broadcast), undefined, {
      timeout: STEP_TIMEOUT_MS, polling: 5,
    })));
    result.broadcastMs = Date.now() - sentChat;
    await b.fill('#chat-input', 'Hello Ada, loud and clear.');
    await b.press('#chat-input', 'Enter');
    if (pages[2] !== undefined) {
      await pages[2].fill('#chat-input', 'Cyd here: all green on my side.');
      await pages[2].press('#chat-input', 'Enter');
    }

    step = 'measure round trips over the direct connection (echo)';
    await b.evaluate(() => {
      const inner = window.peercompute.room!.inner;
      inner.on('message', (m) => {
        if (m.channel === 'test/echo') inner.send(m.from, 'test/echo-reply', m.data);
      });
    });
    const echoes = await a.evaluate(async ([n, peer]) => {
      const inner = window.peercompute.room!.inner;
      const rtts: number[] = [];
      for (let i = 0; i < n; i++) {
        const sentAt = performance.now();
        await new Promise<void>((resolve) => {
          const off = inner.on('message', (m) => {
            if (m.channel !== 'test/echo-reply' || m.from !== peer) return;
            off();
            resolve();
          });
          inner.send(peer, 'test/echo', new Uint8Array([i & 0xff]));
        });
        rtts.push(performance.now() - sentAt);
      }
      return rtts;
    }, [options.pings, ids[1]!] as const);
    result.echoRtt = summarise(echoes);

    step = 'measure round trips (ping all)';
    const samples = await a.evaluate(async (n) => {
      const rtts: number[] = [];
      for (let i = 0; i < n; i++) {
        for (const r of await window.peercompute.pingAll()) if (r.rttMs !== undefined) rtts.push(r.rttMs);
      }
      return rtts;
    }, options.pings);
    if (samples.length === 0) throw new Error('no ping was answered');
    result.pingRtt = summarise(samples);
    await new Promise((resolve) => setTimeout(resolve, 1200)); // a keep-alive period, so every RTT cell is filled
    result.transportRttMs = await a.evaluate(() => window.peercompute.peers().map((p) => Math.round((p.rttMs ?? -1) * 100) / 100));
    result.connections = await Promise.all(pages.map((page) => page.evaluate(() => Object.fromEntries(window.peercompute.peers().map((p) => [p.peerId, p.connection])))));
    log(`echo p50 ${result.echoRtt.p50} ms, ping-all p50 ${result.pingRtt.p50} ms (${samples.length} samples); transport RTT ${result.transportRttMs.join(' / ')} ms`);

    if (options.screenshots !== undefined) {
      step = 'take screenshots';
      await mkdir(options.screenshots, { recursive: true });
      // A script click: playwright's synthesized mouse input delays the page's next network
      // events by ~55 ms in headless Chromium, which would show up in the logged round trip.
      await a.evaluate(() => document.querySelector<HTMLButtonElement>('#ping-all')!.click());
      await a.waitForFunction(() => [...document.querySelectorAll('#chat-log li')].some((li) => li.textContent?.includes('Ping all:')), undefined, { timeout: STEP_TIMEOUT_MS });
      await new Promise((resolve) => setTimeout(resolve, 600)); // one table refresh
      for (const [i, page] of pages.entries()) {
        await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
        const file = path.join(options.screenshots, `lobby-${names[i]!.toLowerCase()}.png`);
        await writeFile(file, await page.screenshot({ fullPage: true }));
        (result.screenshots as string[]).push(file);
      }
    }
    if (options.holdMs > 0) await new Promise((resolve) => setTimeout(resolve, options.holdMs));

    step = 'close the last page and see it leave';
    await a.evaluate(() => {
      window.__leaves = [];
      window.peercompute.lobby!.on((e) => {
        if (e.kind === 'leave') window.__leaves!.push({ peerId: e.peerId, reason: e.reason, at: e.at });
      });
    });
    const leaving = ids.at(-1)!;
    const closedAt = Date.now();
    await pages.at(-1)!.close({ runBeforeUnload: true });
    await a.waitForFunction((id) => !window.peercompute.peers().some((p) => p.peerId === id), leaving, { timeout: STEP_TIMEOUT_MS, polling: 20 });
    const afterMs = Date.now() - closedAt;
    const reason = await a.evaluate((id) => window.__leaves!.find((l) => l.peerId === id)?.reason ?? '?', leaving);
    result.leave = { afterMs, reason };
    log(`closed page left after ${afterMs} ms (${reason})`);

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
      screenshots: { type: 'string' },
      pings: { type: 'string', default: '40' },
      'hold-ms': { type: 'string', default: '0' },
      room: { type: 'string' },
    },
    strict: true,
  });
  const pages = Number(values.pages);
  if (!Number.isInteger(pages) || pages < 2 || pages > 4) throw new Error(`--pages must be 2..4, got ${values.pages}`);
  const result = await runScenario({
    pages,
    ...(values.screenshots === undefined ? {} : { screenshots: path.resolve(values.screenshots) }),
    pings: Math.max(1, Number(values.pings) || 40),
    holdMs: Math.max(0, Number(values['hold-ms']) || 0),
    ...(values.room === undefined ? {} : { room: values.room }),
  });
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
  process.exitCode = result.ok ? 0 : 1;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  await main();
}
