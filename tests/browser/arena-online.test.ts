/**
 * The arena played online by two Chromium pages (each played by a seeded bot) through the main
 * job's relay and direct WebRTC, with rollback: they agree on a match, synchronize, play for
 * 10 s (the second half with the first page's "bad network" on), and every confirmed frame both
 * recorded has the same checksum. A third page opened while they play late-joins as a spectator
 * (world state sent by a player, then confirmed inputs) and must agree with them too. Then one
 * player page closes and the other goes on without it.
 *
 * The browser part runs in tests/browser/arena-online-scenario.ts as a child process, inside a
 * private network namespace when possible (tests/browser/netns.ts; WebRTC needs a non-loopback
 * interface). Screenshots land in test-results/arena-online/.
 */
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../scripts/server.ts';
import { RESULT_PREFIX, type ArenaOnlineResult } from './arena-online-scenario.ts';
import { runScenarioScript, webrtcNetworkPlan } from './netns.ts';

const SCENARIO = path.join(REPO_ROOT, 'tests', 'browser', 'arena-online-scenario.ts');
const SCREENSHOTS = path.join(REPO_ROOT, 'test-results', 'arena-online');
/** Main job, warm-up, match, 10 s of play, leave: ms. */
const SCENARIO_TIMEOUT_MS = 180_000;

describe('arena online between browsers (rollback over libp2p)', () => {
  test('two pages play a match with bots, a third watches after joining late; confirmed checksums agree; a page leaves and the other goes on', async (ctx) => {
    const plan = webrtcNetworkPlan();
    if (plan.mode === 'skip') ctx.skip(plan.reason);

    const { result, code, log } = await runScenarioScript<ArenaOnlineResult>(
      plan, SCENARIO, ['--pages', '2', '--watchers', '1', '--play-ms', '10000', '--screenshots', SCREENSHOTS], RESULT_PREFIX, SCENARIO_TIMEOUT_MS - 5000,
    );
    expect(result, `scenario printed no result (exit ${code}):\n${log}`).toBeDefined();
    const r = result!;
    expect(r.error, log).toBeUndefined();
    expect(r.ok).toBe(true);

    // One match, both slots taken.
    expect([...r.slots].sort()).toEqual([0, 1]);
    // They played: frames advanced, and both bots moved their balls.
    for (const f of r.figures) {
      expect(f.frame).toBeGreaterThan(60);
      expect(f.moved).toBeGreaterThan(0.5);
      expect(f.desyncs).toBe(0);
    }
    // The same confirmed state on both pages, at many frames, also under the bad network.
    expect(r.commonFrames).toBeGreaterThan(30);
    expect(r.commonFramesBadNetwork).toBeGreaterThan(5);
    expect(r.mismatches).toEqual([]);
    // The late joiner watched the same game: the frames it simulated match the players'.
    expect(r.watchers).toHaveLength(1);
    expect(r.watchers[0]!.commonFrames).toBeGreaterThan(20);
    expect(r.watchers[0]!.mismatches).toBe(0);
    // The bad network (60 ms one way + loss on one page) made predictions fail somewhere.
    expect(r.figures.reduce((n, f) => n + f.rollbacks, 0)).toBeGreaterThan(0);
    // The closed page was seen leaving, and the remaining page kept simulating.
    expect(r.leaveAfterMs).toBeLessThan(10_000);
    expect(r.framesAfterLeave).toBeGreaterThan(10);
    expect(r.pageErrors).toEqual([[], [], []]);

    const summary = [
      `network: ${plan.mode} (${r.interfaces.join(', ')}); links ${r.figures.map((f) => f.connections.join('/')).join(' | ')}`,
      `page load -> both sessions running: ${(r.runningAfterMs / 1000).toFixed(1)} s`,
      `${r.commonFrames} confirmed frames compared (${r.commonFramesBadNetwork} with the bad network), ${r.mismatches.length} mismatches`,
      `late joiner watching after ${(r.watchers[0]!.watchingAfterMs / 1000).toFixed(1)} s, ${r.watchers[0]!.commonFrames} frames compared with a player, ${r.watchers[0]!.framesBehind} frames behind its host`,
      `simulation ${r.framesPerSecond} frames/s; render ${r.figures.map((f) => f.renderFps).join(' / ')} fps (software rendering)`,
      `rollbacks ${r.figures.map((f) => f.rollbacks).join(' / ')}, re-simulated ${r.figures.map((f) => f.resimulatedFrames).join(' / ')} frames`,
      `session RTT ${r.figures.map((f) => f.rttMs.join(',')).join(' / ')} ms; transport RTT ${r.figures.map((f) => f.transportRttMs.join(',')).join(' / ')} ms`,
      `closed page marked left after ${r.leaveAfterMs} ms; the other advanced ${r.framesAfterLeave} frames in 1.5 s`,
    ];
    console.log(`arena online:\n  ${summary.join('\n  ')}`);
    for (const line of summary) await ctx.annotate(line);
  }, SCENARIO_TIMEOUT_MS);
});
