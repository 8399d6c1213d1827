/**
 * The world demo shared by three Chromium pages over libp2p, with persistence: an avatar moved
 * in page A is seen in B and C (interpolated, within 5 cm), a block A places reaches B and C,
 * survives A's reload, and comes back from the relay's archive in a new browser context once
 * every page is closed; every page walks on the same procedural terrain (seed from the room, same
 * chunk hashes) and A's avatar stands on the drawn terrain. Hermetic: the scenario starts its own main job (free ports, throwaway
 * relay identity, archive in a fresh temporary directory).
 *
 * The browser part runs in tests/browser/world-scenario.ts as a child process, inside a private
 * network namespace when possible (tests/browser/netns.ts; WebRTC needs a non-loopback
 * interface). Screenshots land in test-results/world/.
 */
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../scripts/server.ts';
import { GROUND_TOLERANCE_M, POSITION_TOLERANCE_M, RESULT_PREFIX, type WorldResult } from './world-scenario.ts';
import { runScenarioScript, webrtcNetworkPlan } from './netns.ts';

const SCENARIO = path.join(REPO_ROOT, 'tests', 'browser', 'world-scenario.ts');
const SCREENSHOTS = path.join(REPO_ROOT, 'test-results', 'world');
/** Main job, warm-up, three pages, reload, archive restore: ms. */
const SCENARIO_TIMEOUT_MS = 180_000;

describe('world demo between browsers (Yjs replication over libp2p, IndexedDB, archive)', () => {
  test('A walks and places a block: B and C see both; the block survives A\'s reload and, with every page closed, comes back from the archive', async (ctx) => {
    const plan = webrtcNetworkPlan();
    if (plan.mode === 'skip') ctx.skip(plan.reason);

    const { result, code, log } = await runScenarioScript<WorldResult>(
      plan, SCENARIO, ['--screenshots', SCREENSHOTS], RESULT_PREFIX, SCENARIO_TIMEOUT_MS - 5000,
    );
    expect(result, `scenario printed no result (exit ${code}):\n${log}`).toBeDefined();
    const r = result!;
    expect(r.error, log).toBeUndefined();
    expect(r.ok).toBe(true);

    // A walked, and B and C show it where A has it.
    expect(r.moved).toBeGreaterThan(1);
    expect(r.moveSeenAfterMs).toHaveLength(2);
    for (const e of r.moveErrors) expect(e).toBeLessThanOrEqual(POSITION_TOLERANCE_M);
    // The terrain: every page derived the same seed from the room and generated the same chunk
    // (0, 0); A's avatar is drawn at the terrain height, on the drawn terrain mesh.
    const t = r.terrain!;
    expect(new Set(t.seeds).size).toBe(1);
    expect(t.originChunkHashes).toHaveLength(3);
    expect(new Set(t.originChunkHashes).size).toBe(1);
    expect(t.standing.drawnY).not.toBeNull();
    expect(Math.abs(t.standing.drawnY! - t.standing.terrainY)).toBeLessThan(1e-3);
    expect(t.standing.meshY).not.toBeNull();
    expect(Math.abs(t.standing.meshY! - t.standing.terrainY)).toBeLessThanOrEqual(GROUND_TOLERANCE_M);
    expect(t.backends[0]).toMatch(/^webgpu|^cpu \(no WebGPU/); // A asked for the kernel (CPU only without an adapter)
    expect(t.chunksByLod[0]).toBeGreaterThanOrEqual(4);
    expect(t.chunksByLod.length).toBe(3); // every ring streamed: LODs 0, 1 and 2
    expect(t.chunksByLod[1]).toBeGreaterThan(t.chunksByLod[0]!);
    // The block reached both.
    expect(r.blockNetId).not.toBe('');
    expect(r.blockSeenAfterMs).toHaveLength(2);
    // Reload: the block was in this browser's IndexedDB before any peer spoke.
    expect(r.reloadBlocksFromIndexedDb).toBeGreaterThanOrEqual(1);
    // Everyone gone: the archive held the room, and a new context (empty IndexedDB) got it back.
    expect(r.archiveRooms).toContain(r.room);
    expect(r.archiveBlocksFromIndexedDb).toBe(0);
    expect(r.archiveSeenByD).toBe(true);
    expect(r.blocksInD).toBeGreaterThanOrEqual(1);
    for (const list of Object.values(r.pageErrors)) expect(list).toEqual([]);

    const summary = [
      `network: ${plan.mode} (${r.interfaces.join(', ')})`,
      `three pages present after ${(r.allPresentAfterMs / 1000).toFixed(1)} s`,
      `A walked ${r.moved} m; B/C showed it within ${POSITION_TOLERANCE_M} m ${r.moveSeenAfterMs.join(' / ')} ms after A stopped`,
      `terrain seed ${t.seeds[0]}: chunk (0, 0) hash ${t.originChunkHashes[0]!.toString(16)} on all three pages (${t.backends.join(' / ')}); `
        + `A drawn at y ${t.standing.drawnY!.toFixed(3)} m, terrain ${t.standing.terrainY.toFixed(3)} m, mesh ${t.standing.meshY!.toFixed(3)} m; `
        + `chunks by LOD ${t.chunksByLod.join('/')}; ground under A drawn ${t.groundDrawnAfterMs} ms, all rings ${t.allChunksAfterMs} ms after the pages opened`,
      `block seen in B/C ${r.blockSeenAfterMs.join(' / ')} ms after placeBlock`,
      `reload: block back ${r.reloadRestoreMs} ms after page.reload() (${r.reloadBlocksFromIndexedDb} blocks from IndexedDB)`,
      `archive: new context had the block ${r.archiveRestoreMs} ms after opening (${r.blocksInD} blocks)`,
    ];
    console.log(`world:\n  ${summary.join('\n  ')}`);
    for (const line of summary) await ctx.annotate(line);
  }, SCENARIO_TIMEOUT_MS);
});
