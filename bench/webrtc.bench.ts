/**
 * Group "webrtc": two Chromium pages of the lobby demo, direct WebRTC `send` vs gossipsub
 * `broadcast` in the same run (echo round trips of small frames, throughput of 1 KiB frames,
 * page load to first message). The browser part is bench/webrtc-scenario.ts, run as a child
 * process inside a private network namespace when possible (tests/browser/netns.ts); without a
 * namespace or a non-loopback interface the group yields one "skipped" row instead of failing.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../scripts/server.ts';
import { commandFor, webrtcNetworkPlan } from '../tests/browser/netns.ts';
import type { BenchRow } from './harness.ts';
import { RESULT_PREFIX, type ThroughputResult, type WebrtcBenchResult } from './webrtc-scenario.ts';

const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const SCENARIO = path.join(REPO_ROOT, 'bench', 'webrtc-scenario.ts');
/** Whole child run (main job, warm-up, 2 x 300 round trips, 2 x 2000 frames), ms. */
const TIMEOUT_MS = 240_000;
const PINGS = 300;
const FRAMES = 2000;
const ECHO_BYTES = 16;

/** Runs the scenario in a child process; resolves with its result, or an error text. */
function runChild(): Promise<{ result?: WebrtcBenchResult; problem?: string; mode: string }> {
  const plan = webrtcNetworkPlan();
  if (plan.mode === 'skip') return Promise.resolve({ problem: plan.reason, mode: plan.mode });
  const [command, args] = commandFor(plan, [TSX, SCENARIO, '--pings', String(PINGS), '--frames', String(FRAMES), '--bytes', String(ECHO_BYTES)]);
  const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let log = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { log += chunk.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
  return new Promise((resolve) => {
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ problem: error.message, mode: plan.mode });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      const result = line === undefined ? undefined : (JSON.parse(line.slice(RESULT_PREFIX.length)) as WebrtcBenchResult);
      if (result?.ok) resolve({ result, mode: plan.mode });
      else resolve({ problem: result?.error ?? `no result (exit ${code}): ${log.trim().split('\n').slice(-5).join(' | ')}`, mode: plan.mode });
    });
  });
}

function quantile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

function rttRow(name: string, samples: readonly number[], baseline?: string, extra: Record<string, number | string> = {}): BenchRow {
  const sorted = [...samples].sort((x, y) => x - y);
  const mean = sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length);
  return { group: 'webrtc', name, meanMs: mean, p99Ms: quantile(sorted, 0.99), samples: sorted.length, baseline, extra: { p50: quantile(sorted, 0.5), ...extra } };
}

/** meanMs = ms per frame (first send to last arrival / frames delivered); p99 is not measured per frame (NaN). */
function throughputRow(name: string, t: ThroughputResult, baseline?: string): BenchRow {
  const perFrame = t.totalMs / Math.max(1, t.delivered);
  const mbPerS = (t.delivered * t.bytesPerFrame) / 1e6 / (t.totalMs / 1000);
  return { group: 'webrtc', name, meanMs: perFrame, p99Ms: NaN, samples: t.delivered, baseline, extra: { 'MB/s': mbPerS, delivered: `${t.delivered}/${t.frames}`, totalMs: t.totalMs } };
}

/** Runs the browser scenario and turns it into rows; one "skipped" row when it cannot run. */
export async function benchWebrtc(): Promise<BenchRow[]> {
  const { result, problem, mode } = await runChild();
  if (result === undefined) {
    const reason = (problem ?? 'unknown').split('\n')[0]!;
    process.stderr.write(`webrtc: ${mode === 'skip' ? 'skipped' : 'failed'}: ${problem}\n`);
    return [{ group: 'webrtc', name: mode === 'skip' ? 'skipped' : 'failed', meanMs: NaN, p99Ms: NaN, samples: 0, extra: { reason } }];
  }
  const send = 'send RTT (direct WebRTC)';
  const broadcast = 'broadcast RTT (gossipsub)';
  const sendTp = 'send 1 KiB throughput (direct WebRTC)';
  const broadcastTp = 'broadcast 1 KiB throughput (gossipsub)';
  const rows: BenchRow[] = [
    rttRow(broadcast, result.broadcastRtt, undefined, { bytes: result.echoBytes }),
    rttRow(send, result.sendRtt, broadcast, { bytes: result.echoBytes }),
    throughputRow(broadcastTp, result.broadcastThroughput!),
    throughputRow(sendTp, result.sendThroughput!, broadcastTp),
    {
      // One sample per page; meanMs = mean over both pages, ms since navigation start.
      group: 'webrtc', name: 'page load -> first message from other peer', meanMs: result.firstMessageMs.reduce((s, x) => s + x, 0) / result.firstMessageMs.length,
      p99Ms: Math.max(...result.firstMessageMs), samples: result.firstMessageMs.length,
      extra: { pages: result.firstMessageMs.join('/'), directWebrtcMs: result.directAfterMs.join('/'), network: mode },
    },
  ];
  for (const row of rows) {
    const base = rows.find((r) => r.name === row.baseline);
    if (base) row.ratio = row.meanMs / base.meanMs;
  }
  return rows;
}
