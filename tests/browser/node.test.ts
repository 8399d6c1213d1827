/**
 * `createNode` in Chromium, as a page uses it: two pages create nodes in one room (relay from the
 * main job's /peercompute/config.json), see each other, run a terrain chunk in a Web Worker and
 * through the room (computed by the other page), and report status. `stop()` then leaves
 * nothing: no dedicated worker (Playwright's `page.workers()`), the GPU device destroyed
 * (`device.lost` resolves with reason `destroyed`), and the other page sees the peer leave.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { baseUrl, launchChromium, repoModuleUrl, watchPageErrors } from './chromium.ts';

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

const ROOM = 'node-browser-test';

/** Opens a page and starts a node in it (kept as `window.__node`); returns its peer id. */
async function startNode(page: Page): Promise<string> {
  await page.goto(baseUrl());
  // A string, not a function: vitest would rewrite a dynamic import() inside a function body.
  return (await page.evaluate(`(async () => {
    const { createNode } = await import(${JSON.stringify(repoModuleUrl('node/index.ts'))});
    const node = createNode({ network: { room: ${JSON.stringify(ROOM)} }, workers: 1, roomCompute: { verify: 'none', slots: 1 } });
    window.__node = node;
    await node.start();
    return node.getStatus().peerId;
  })()`)) as string;
}

describe('createNode in Chromium', () => {
  test('two pages: peers, a worker task, a room task, status; stop() ends workers, the GPU device and the membership', async () => {
    const a = await browser.newPage();
    const b = await browser.newPage();
    const errorsA = watchPageErrors(a);
    const errorsB = watchPageErrors(b);
    const [idA, idB] = await Promise.all([startNode(a), startNode(b)]);
    expect(idA).not.toBe(idB);
    // B is a member, and its room-compute presence (capability, slots) has reached A.
    await a.waitForFunction(`window.__node.getStatus().compute.peers.some((p) => p.peerId === ${JSON.stringify(idB)} && p.capability?.slots > 0)`, undefined, { timeout: 60_000, polling: 200 });
    const report = (await a.evaluate(`(async () => {
      const shaders = await import(${JSON.stringify(repoModuleUrl('shaders/index.ts'))});
      const node = window.__node;
      const options = { seed: 11, chunkX: -2, chunkZ: 3, size: 64 };
      const input = shaders.encodeTerrainChunkInput(options);
      const reference = shaders.runKernelCpu('terrain.chunk', input);
      const same = (x) => x.length === reference.length && x.every((v, i) => v === reference[i]);
      const inWorker = await node.submitTask('terrain.chunk', input, { where: 'worker' });
      const inRoom = await node.submitTask('terrain.chunk', input, { where: 'room' });
      const status = node.getStatus();
      return {
        worker: same(inWorker), room: same(inRoom),
        backend: status.compute.backend, detail: status.compute.detail,
        workersCompleted: status.compute.workers.completed,
        roomRemoteRuns: status.compute.room.remoteRuns,
        peers: status.peers, state: status.state, tick: status.tick.tick,
      };
    })()`)) as {
      worker: boolean; room: boolean; backend: string; detail: string; workersCompleted: number; roomRemoteRuns: number;
      peers: { peerId: string; connection: string }[]; state: string; tick: number;
    };
    expect(report).toMatchObject({ worker: true, room: true, workersCompleted: 1, roomRemoteRuns: 1, state: 'running' });
    expect(report.peers.map((p) => p.peerId)).toContain(idB);
    expect(report.tick).toBeGreaterThan(0);
    expect(['webgpu', 'cpu']).toContain(report.backend);
    expect(a.workers().length).toBeGreaterThan(0);

    const stopped = (await a.evaluate(`(async () => {
      const node = window.__node;
      const device = node.backend.kind === 'webgpu' ? node.backend.device : undefined;
      await node.stop();
      const lost = device === undefined ? 'no device' : (await Promise.race([device.lost, new Promise((r) => setTimeout(() => r({ reason: 'still alive' }), 5000))])).reason;
      return { state: node.state, lost };
    })()`)) as { state: string; lost: string };
    expect(stopped.state).toBe('stopped');
    expect(stopped.lost).toBe(report.backend === 'webgpu' ? 'destroyed' : 'no device');
    await vi.waitFor(() => expect(a.workers()).toHaveLength(0), { timeout: 20_000, interval: 100 });
    await b.waitForFunction(`!window.__node.getStatus().peers.some((p) => p.peerId === ${JSON.stringify(idA)})`, undefined, { timeout: 30_000, polling: 200 });
    await b.evaluate('window.__node.stop()');
    expect([...errorsA, ...errorsB]).toEqual([]);
    await a.close();
    await b.close();
  }, 120_000);
});
