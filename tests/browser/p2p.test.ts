/**
 * The lobby demo between three Chromium pages: they find each other through the main job's
 * relay, connect directly over WebRTC, exchange `send` messages both ways and a broadcast,
 * measure round trips, and see a closed page leave.
 *
 * WebRTC needs a non-loopback interface, so the browser part runs in tests/browser/p2p-scenario.ts
 * as a child process, inside a private network namespace when possible (tests/browser/netns.ts):
 * it starts its own main job there, on that namespace's 127.0.0.1. Without a namespace or an
 * interface the test is skipped with the reason. Measured numbers are printed and attached to
 * the test as annotations; screenshots land in test-results/p2p/.
 */
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../scripts/server.ts';
import { runScenarioScript, webrtcNetworkPlan } from './netns.ts';
import { RESULT_PREFIX, type ScenarioResult } from './p2p-scenario.ts';

const SCENARIO = path.join(REPO_ROOT, 'tests', 'browser', 'p2p-scenario.ts');
const SCREENSHOTS = path.join(REPO_ROOT, 'test-results', 'p2p');
/** The whole scenario (main job, warm-up, three pages, 2 x 40 round trips), ms. */
const SCENARIO_TIMEOUT_MS = 150_000;

describe('lobby between browsers (WebRTC through the relay)', () => {
  test('three pages discover each other, connect directly, exchange messages, and see a page leave', async (ctx) => {
    const plan = webrtcNetworkPlan();
    if (plan.mode === 'skip') ctx.skip(plan.reason);

    const { result, code, log } = await runScenarioScript<ScenarioResult>(plan, SCENARIO, ['--pages', '3', '--screenshots', SCREENSHOTS], RESULT_PREFIX, SCENARIO_TIMEOUT_MS - 5000);
    expect(result, `scenario printed no result (exit ${code}):\n${log}`).toBeDefined();
    const r = result!;
    expect(r.error, log).toBeUndefined();
    expect(r.ok).toBe(true);

    // Found each other within a few seconds of page load (ms since each page's navigation start).
    for (const t of r.timings) {
      expect(t.firstPeer).toBeLessThan(10_000);
      expect(t.firstMessage).toBeLessThan(15_000);
    }
    // Direct WebRTC between every pair.
    expect(r.connections).toHaveLength(3);
    for (const kinds of r.connections) {
      expect(Object.values(kinds)).toEqual(['direct-webrtc', 'direct-webrtc']);
    }
    expect(r.sendBothWays).toBeDefined();
    expect(r.broadcastMs).toBeDefined();
    expect(r.echoRtt!.samples).toBe(40);
    expect(r.echoRtt!.p50).toBeLessThan(50);
    expect(r.pingRtt!.p50).toBeLessThan(100);
    expect(r.transportRttMs.every((rtt) => rtt > 0)).toBe(true);
    // The closed page said goodbye (or at worst timed out: 5 s).
    expect(r.leave!.afterMs).toBeLessThan(7000);
    expect(r.pageErrors).toEqual([[], [], []]);

    const firstMessageS = r.timings.map((t) => ((t.firstMessage ?? 0) / 1000).toFixed(2));
    const summary = [
      `network: ${plan.mode} (${r.interfaces.join(', ')})`,
      `page load -> first message from another browser: ${firstMessageS.join(' / ')} s`,
      `page load -> all peers on direct WebRTC: ${r.directAfterMs.map((ms) => (ms / 1000).toFixed(2)).join(' / ')} s`,
      `RTT over direct WebRTC, send echo: p50 ${r.echoRtt!.p50} ms, p90 ${r.echoRtt!.p90} ms (${r.echoRtt!.samples} samples)`,
      `lobby "ping all" (JSON, through the conditioner, off): p50 ${r.pingRtt!.p50} ms; transport keep-alive RTT ${r.transportRttMs.join(' / ')} ms`,
      `send A->B ${r.sendBothWays!.aToBMs} ms, B->A ${r.sendBothWays!.bToAMs} ms, broadcast ${r.broadcastMs} ms (as seen from the test, includes playwright calls)`,
      `closed page gone after ${r.leave!.afterMs} ms (${r.leave!.reason})`,
    ];
    console.log(`p2p lobby:\n  ${summary.join('\n  ')}`);
    for (const line of summary) await ctx.annotate(line);
  }, SCENARIO_TIMEOUT_MS);
});
