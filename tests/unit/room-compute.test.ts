/**
 * Room compute (netcode/compute) with Node peers on the in-memory transport in virtual time;
 * executors are the real shaders registry (`terrain.chunk` on the CPU twin), some slowed down in
 * virtual time, hung, or lying (see fixtures/room-compute-peers.ts).
 *
 * - Tasks spread across peers; results equal the local computation byte for byte, also for
 *   results several transport frames long sent through a small window.
 * - A peer killed mid-task (leaves the room, or goes silent) has its tasks reassigned; all finish.
 * - A peer returning wrong results is detected (replicate and spot-check), reported, excluded,
 *   and never given work again; honest peers are never blamed.
 * - Refusals and drops: unknown kernels, oversized inputs, invalid inputs, too many runs,
 *   garbage and truncated messages (fast-check), forged results, oversized declared results:
 *   counted, reported, no crash, and the peers keep working.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createRoomCompute, decodeComputeMessage, encodeComputeMessage, NetcodeError, spotCheckDraw,
  type ComputeMessage, type MemoryRoomTransport,
} from '../../netcode/index.ts';
import { encodeTerrainChunkInput, getKernel, runKernelCpu } from '../../shaders/index.ts';
import { createRig, drive, eventsOf, registryOptions, track, type Rig } from './fixtures/room-compute-peers.ts';

const chunkInput = (i: number, size = 32): Uint8Array => encodeTerrainChunkInput({ seed: 99, chunkX: i % 8, chunkZ: (i >> 3) - 2, size, octaves: 3 });

/** Submits `n` terrain chunks from `from` and drives the network until all settle. */
async function runChunks(rig: Rig, from: string, n: number, size = 32, submitOptions = {}) {
  const p = rig.peer(from);
  const inputs = Array.from({ length: n }, (_, i) => chunkInput(i, size));
  const states = inputs.map((input) => track(p.compute.submit('terrain.chunk', input, submitOptions)));
  await drive(rig.net, () => states.every((s) => s.settled), `${n} tasks of ${from}`);
  return { inputs, states };
}

function expectAllCorrect(inputs: Uint8Array[], states: { value?: Uint8Array; error?: unknown }[]): void {
  states.forEach((s, i) => {
    expect(s.error).toBeUndefined();
    expect(Buffer.from(s.value!).equals(Buffer.from(runKernelCpu('terrain.chunk', inputs[i]!)))).toBe(true);
  });
}

/** Peer ids that ran a task of `requester` (from its `assigned` events, checks excluded). */
function assignedTo(rig: Rig, requester: string): string[] {
  return eventsOf(rig.peer(requester), 'assigned').filter((e) => !e.check).map((e) => e.peerId);
}

function count(ids: string[], id: string): number {
  return ids.filter((x) => x === id).length;
}

/** A bare member of the rig's room without room compute, speaking the protocol by hand. */
async function intruder(rig: Rig, id = 'x'): Promise<{ room: MemoryRoomTransport; inbox: ComputeMessage[]; send: (to: string, m: ComputeMessage | Uint8Array) => void }> {
  const room = await rig.net.join('compute-room', id);
  const inbox: ComputeMessage[] = [];
  room.on('message', (m) => {
    const d = decodeComputeMessage(m.data);
    if (d.type !== 'malformed') inbox.push(d);
  });
  rig.net.advance(50);
  return { room, inbox, send: (to, m) => room.send(to, 'compute', m instanceof Uint8Array ? m : encodeComputeMessage(m)) };
}

describe('room compute: spreading and results', () => {
  it('spreads 12 tasks over 3 peers and returns the local computation byte for byte', async () => {
    const rig = await createRig({ ids: ['a', 'b', 'c'], behaviour: () => ({ workMs: 40 }), options: () => ({ verify: 'none' }) });
    const { inputs, states } = await runChunks(rig, 'a', 12);
    expectAllCorrect(inputs, states);
    const assigned = assignedTo(rig, 'a');
    expect(assigned).toHaveLength(12);
    for (const id of ['a', 'b', 'c']) expect(count(assigned, id)).toBeGreaterThanOrEqual(3);
    rig.net.advance(100); // the last acknowledgements reach the workers
    expect(rig.peer('b').compute.stats().served + rig.peer('c').compute.stats().served).toBe(count(assigned, 'b') + count(assigned, 'c'));
    const stats = rig.peer('a').compute.stats();
    expect(stats).toMatchObject({ submitted: 12, completed: 12, failed: 0, pending: 0 });
    expect(stats.localRuns + stats.remoteRuns).toBe(12);
    // Presence: everyone knows everyone's capability; nothing runs any more.
    for (const p of rig.peers) {
      expect(p.compute.peers().map((x) => [x.peerId, x.capability?.slots])).toEqual(rig.peers.filter((q) => q !== p).map((q) => [q.id, 1]));
    }
    for (const p of rig.peers) expect(p.compute.stats().drops).toEqual({ Malformed: 0, Oversized: 0, Unsolicited: 0 });
  });

  it("local: 'fallback' leaves the work to helpers, with more work to the peer with more slots", async () => {
    const rig = await createRig({
      ids: ['a', 'b', 'c'],
      behaviour: () => ({ workMs: 40 }),
      options: (id) => ({ verify: 'none', local: 'fallback', capability: { webgpu: id === 'c', adapter: id === 'c' ? 'test gpu' : '', slots: id === 'c' ? 3 : 1 } }),
    });
    const { inputs, states } = await runChunks(rig, 'a', 16);
    expectAllCorrect(inputs, states);
    const assigned = assignedTo(rig, 'a');
    expect(count(assigned, 'a')).toBe(0);
    expect(count(assigned, 'b')).toBeGreaterThan(0);
    expect(count(assigned, 'c')).toBeGreaterThan(count(assigned, 'b'));
    expect(rig.peer('a').compute.peers().find((p) => p.peerId === 'c')?.capability).toEqual({ webgpu: true, adapter: 'test gpu', slots: 3, running: expect.any(Number) });
  });

  it('prefetch: a 1-slot helper is given one queued run beyond its slot with prefetch 1, none without', async () => {
    const peak = async (prefetch: number): Promise<number> => {
      const rig = await createRig({
        ids: ['a', 'b'],
        behaviour: () => ({ workMs: 40 }),
        options: () => ({ verify: 'none', local: 'fallback', prefetch }),
      });
      const a = rig.peer('a');
      let most = 0;
      // Our runs on b right after each assignment (the new one included).
      a.compute.on('assigned', () => queueMicrotask(() => {
        most = Math.max(most, a.compute.peers().find((p) => p.peerId === 'b')?.outstanding ?? 0);
      }));
      const { inputs, states } = await runChunks(rig, 'a', 6);
      expectAllCorrect(inputs, states);
      expect(count(assignedTo(rig, 'a'), 'b')).toBe(6);
      return most;
    };
    expect(await peak(0)).toBe(1);
    expect(await peak(1)).toBe(2);
  });

  it('moves results of several transport frames through a small window (chunked, acknowledged)', async () => {
    const rig = await createRig({
      ids: ['a', 'b'],
      options: () => ({ verify: 'replicate', local: 'fallback', chunkBytes: 4096, windowBytes: 8192 }),
    });
    // 129^2 * 4 = 66 564 bytes per result: more than one 64 KiB frame, 17 pieces of 4 KiB.
    const { inputs, states } = await runChunks(rig, 'a', 3, 128);
    expectAllCorrect(inputs, states);
    // Replicate with one helper: b sends the bytes, a's own computation is the second opinion.
    expect(count(assignedTo(rig, 'a'), 'b')).toBe(3);
    expect(rig.peer('a').compute.stats()).toMatchObject({ completed: 3, verified: 3, mismatches: 0, checks: 3 });
    rig.net.advance(100); // the last acknowledgement reaches b
    expect(rig.peer('b').compute.stats().served).toBe(3);
  });

  it('replicate: two peers agree by hash, the second sends only the hash', async () => {
    const rig = await createRig({ ids: ['a', 'b', 'c'], behaviour: () => ({ workMs: 20 }), options: () => ({ verify: 'replicate', local: 'fallback' }) });
    const bytesBefore = rig.peer('a').room.stats().peers.map((p) => p.bytesIn).reduce((x, y) => x + y, 0);
    const { inputs, states } = await runChunks(rig, 'a', 4, 64);
    expectAllCorrect(inputs, states);
    const a = rig.peer('a');
    expect(a.compute.stats()).toMatchObject({ completed: 4, verified: 8, mismatches: 0, checks: 0, remoteRuns: 8 });
    const modes = eventsOf(a, 'assigned').map((e) => e.mode);
    expect(count(modes as string[], 'hash')).toBe(4);
    expect(eventsOf(a, 'verified').every((e) => e.method === 'replicate' && e.peers.length === 2)).toBe(true);
    // Four results of 65^2 * 4 = 16 900 bytes came once each, not twice.
    const bytesIn = a.room.stats().peers.map((p) => p.bytesIn).reduce((x, y) => x + y, 0) - bytesBefore;
    expect(bytesIn).toBeGreaterThan(4 * 16_900);
    expect(bytesIn).toBeLessThan(6 * 16_900);
  });
});

describe('room compute: peers that leave or go silent', () => {
  it('reassigns the tasks of a peer that leaves mid-task; all complete', async () => {
    const rig = await createRig({
      ids: ['a', 'b', 'c'],
      behaviour: (id) => (id === 'c' ? { hang: true } : { workMs: 30 }),
      options: () => ({ verify: 'none', capability: { webgpu: false, adapter: '', slots: 2 } }),
    });
    const a = rig.peer('a');
    const inputs = Array.from({ length: 12 }, (_, i) => chunkInput(i));
    const states = inputs.map((input) => track(a.compute.submit('terrain.chunk', input)));
    await drive(rig.net, () => rig.peer('c').runs.length === 2, 'c to start two runs');
    expect(states.some((s) => s.settled)).toBe(false);
    await rig.peer('c').room.close(); // killed: its runs never finish
    await drive(rig.net, () => states.every((s) => s.settled), 'all tasks');
    expectAllCorrect(inputs, states);
    const reassigned = eventsOf(a, 'reassigned');
    expect(reassigned.map((e) => [e.peerId, e.reason])).toEqual([['c', 'left'], ['c', 'left']]);
    expect(a.compute.stats().reassigned.left).toBe(2);
    expect(count(assignedTo(rig, 'a'), 'c')).toBe(2);
    expect(a.compute.peers().map((p) => p.peerId)).toEqual(['b']);
  });

  it('reassigns the tasks of a peer that goes silent (crash, no goodbye) after timeoutMs', async () => {
    const rig = await createRig({
      ids: ['a', 'b', 'c'],
      behaviour: (id) => ({ workMs: id === 'c' ? 100 : 30 }),
      options: () => ({ verify: 'none', timeoutMs: 1000 }),
    });
    const a = rig.peer('a');
    const inputs = Array.from({ length: 9 }, (_, i) => chunkInput(i));
    const states = inputs.map((input) => track(a.compute.submit('terrain.chunk', input)));
    await drive(rig.net, () => rig.peer('c').runs.length === 1, 'c to start a run');
    rig.net.disconnect('c'); // its cable is cut: no goodbye, nothing more heard (the transport's timeout is 5 s)
    await drive(rig.net, () => states.every((s) => s.settled), 'all tasks');
    expectAllCorrect(inputs, states);
    const reassigned = eventsOf(a, 'reassigned');
    expect(reassigned).toHaveLength(1);
    expect(reassigned[0]).toMatchObject({ peerId: 'c', reason: 'timeout' });
    expect(count(assignedTo(rig, 'a'), 'c')).toBe(1);
  });

  it('a room compute recreated on the same transport is served again (run ids are not reused)', async () => {
    const rig = await createRig({ ids: ['a', 'b'], behaviour: () => ({ workMs: 20 }), options: () => ({ verify: 'none', local: 'fallback' }) });
    const first = await runChunks(rig, 'a', 3);
    expectAllCorrect(first.inputs, first.states);
    rig.peer('a').compute.close();
    const again = createRoomCompute(rig.peer('a').room, { ...registryOptions(rig.net, {}, []), verify: 'none', local: 'fallback' });
    rig.net.advance(50);
    const states = [0, 1, 2].map((i) => track(again.submit('terrain.chunk', chunkInput(i))));
    await drive(rig.net, () => states.every((s) => s.settled), 'tasks of the new room compute');
    expectAllCorrect(first.inputs, states);
    expect(again.stats()).toMatchObject({ remoteRuns: 3, localRuns: 0, reassigned: { timeout: 0, refused: 0 } });
    expect(rig.peer('b').compute.stats().drops).toEqual({ Malformed: 0, Oversized: 0, Unsolicited: 0 });
    again.close();
  });

  it("fails a task with ComputeFailed 'Attempts' when every allowed remote run fails and local is verify-only", async () => {
    const rig = await createRig({
      ids: ['a', 'b', 'c'],
      behaviour: (id) => (id === 'a' ? {} : { hang: true }),
      options: () => ({ verify: 'none', local: 'verify-only', timeoutMs: 500, maxAttempts: 2 }),
    });
    const s = track(rig.peer('a').compute.submit('terrain.chunk', chunkInput(0)));
    await drive(rig.net, () => s.settled, 'the task');
    expect(s.error).toBeInstanceOf(NetcodeError);
    expect((s.error as NetcodeError).code).toBe('ComputeFailed');
    expect((s.error as NetcodeError).data).toMatchObject({ reason: 'Attempts', attempts: 2, kernel: 'terrain.chunk' });
    expect(rig.peer('a').runs).toHaveLength(0);
  });

  it("fails with 'NoWorker' when nobody can run a verify-only task; cancels on abort; rejects on close", async () => {
    const rig = await createRig({ ids: ['a'], options: () => ({ local: 'verify-only', timeoutMs: 400 }) });
    const a = rig.peer('a');
    const lonely = track(a.compute.submit('terrain.chunk', chunkInput(0)));
    await drive(rig.net, () => lonely.settled, 'the lonely task');
    expect((lonely.error as NetcodeError).data.reason).toBe('NoWorker');
    const controller = new AbortController();
    const cancelled = track(a.compute.submit('terrain.chunk', chunkInput(1), { signal: controller.signal }));
    controller.abort();
    const open = track(a.compute.submit('terrain.chunk', chunkInput(2)));
    await drive(rig.net, () => cancelled.settled, 'the cancelled task');
    expect((cancelled.error as NetcodeError).data.reason).toBe('Cancelled');
    a.compute.close();
    await drive(rig.net, () => open.settled, 'the task pending at close');
    expect((open.error as NetcodeError).data.reason).toBe('Closed');
    expect(() => a.compute.submit('terrain.chunk', chunkInput(3))).toThrow(expect.objectContaining({ code: 'Closed' }));
    expect(a.compute.stats()).toMatchObject({ submitted: 3, failed: 3, pending: 0 });
  });
});

describe('room compute: wrong results', () => {
  it('replicate: detects a lying peer, excludes it, never uses it again, blames nobody else', async () => {
    const rig = await createRig({
      ids: ['a', 'b', 'c', 'd'],
      behaviour: (id) => ({ workMs: 25, corrupt: id === 'c', corruptFrom: 1 }), // honest once, then lies
      options: () => ({ verify: 'replicate', local: 'fallback' }),
    });
    const { inputs, states } = await runChunks(rig, 'a', 12);
    expectAllCorrect(inputs, states);
    const a = rig.peer('a');
    const mismatches = eventsOf(a, 'mismatch');
    expect(mismatches.length).toBeGreaterThanOrEqual(1);
    expect(new Set(mismatches.map((m) => m.peerId))).toEqual(new Set(['c']));
    expect(mismatches[0]!.expected).not.toBe(mismatches[0]!.got);
    expect(eventsOf(a, 'excluded')).toEqual([{ peerId: 'c', strikes: 1 }]);
    // After the exclusion, no run of a goes to c.
    const excludedAt = a.events.findIndex((x) => x.type === 'excluded');
    expect(a.events.slice(excludedAt).filter((x) => x.type === 'assigned' && (x.e as { peerId: string }).peerId === 'c')).toEqual([]);
    const info = a.compute.peers();
    // Excluded at its first strike; a run of c already in flight then may add a second one.
    const c = info.find((p) => p.peerId === 'c')!;
    expect(c.excluded).toBe(true);
    expect(c.strikes).toBeGreaterThanOrEqual(1);
    expect(info.filter((p) => p.peerId !== 'c').every((p) => p.strikes === 0 && !p.excluded)).toBe(true);
    // Later tasks go to b and d only.
    const before = assignedTo(rig, 'a').length;
    const later = await runChunks(rig, 'a', 6);
    expectAllCorrect(later.inputs, later.states);
    expect(assignedTo(rig, 'a').slice(before).filter((id) => id === 'c')).toEqual([]);
  });

  it('spot-check: the first result of a lying peer is checked; it is excluded and its result replaced', async () => {
    const rig = await createRig({
      ids: ['a', 'b', 'c'],
      behaviour: (id) => ({ workMs: 25, corrupt: id === 'c' }),
      options: () => ({ verify: 'spot-check', spotCheckRate: 0, spotCheckFirst: true, local: 'fallback' }),
    });
    const { inputs, states } = await runChunks(rig, 'a', 10);
    expectAllCorrect(inputs, states);
    const a = rig.peer('a');
    expect(eventsOf(a, 'mismatch').map((m) => m.peerId)).toEqual(['c']);
    expect(eventsOf(a, 'excluded')).toEqual([{ peerId: 'c', strikes: 1 }]);
    expect(count(assignedTo(rig, 'a'), 'c')).toBe(1);
    // Exactly one check per peer (the first results), b passed.
    expect(a.compute.stats().checks).toBe(2);
    expect(eventsOf(a, 'verified').map((v) => [v.method, v.peers])).toEqual([['spot-check', ['b']]]);
  });

  it('spot-check draws a seeded share of tasks and catches a peer that lies after its first result', async () => {
    const seed = 5;
    const rate = 0.5;
    const rig = await createRig({
      ids: ['a', 'b', 'c'],
      behaviour: (id) => ({ workMs: 25, corrupt: id === 'c', corruptFrom: 1 }),
      options: () => ({ verify: 'spot-check', spotCheckRate: rate, seed, local: 'fallback' }),
    });
    const { states } = await runChunks(rig, 'a', 16);
    const a = rig.peer('a');
    expect(states.every((s) => s.error === undefined)).toBe(true);
    expect(eventsOf(a, 'excluded').map((e) => e.peerId)).toEqual(['c']);
    // The draw is a pure function of (seed, task number): about half of 1000 tasks are checked.
    const drawn = Array.from({ length: 1000 }, (_, i) => spotCheckDraw(seed, i + 1) < rate).filter(Boolean).length;
    expect(drawn).toBeGreaterThan(440);
    expect(drawn).toBeLessThan(560);
    expect(spotCheckDraw(seed, 3)).toBe(spotCheckDraw(seed, 3));
  });
});

describe('room compute: refusals and bad bytes', () => {
  it('refuses unknown kernels, oversized and invalid inputs, too many runs; counts and reports them', async () => {
    const rig = await createRig({ ids: ['b'], options: () => ({ maxInputBytes: 1000, maxTasksPerPeer: 3 }) });
    const b = rig.peer('b');
    const x = await intruder(rig);
    x.send('b', { type: 'task', runId: 1, kernel: 'nope.kernel', mode: 'bytes', inputBytes: 4 });
    x.send('b', { type: 'task', runId: 2, kernel: 'terrain.chunk', mode: 'bytes', inputBytes: 1001 });
    x.send('b', { type: 'data', runId: 2, part: 'input', offset: 0, bytes: new Uint8Array(1000) }); // late: ignored
    x.send('b', { type: 'task', runId: 3, kernel: 'terrain.chunk', mode: 'bytes', inputBytes: 5 });
    x.send('b', { type: 'data', runId: 3, part: 'input', offset: 0, bytes: new Uint8Array([9, 9, 9, 9, 9]) });
    for (let id = 10; id < 14; id++) x.send('b', { type: 'task', runId: id, kernel: 'terrain.chunk', mode: 'bytes', inputBytes: 20 });
    rig.net.advance(100);
    const refusals = x.inbox.filter((m) => m.type === 'refuse').map((m) => [m.runId, (m as { reason: string }).reason]);
    expect(refusals).toEqual([[1, 'UnknownKernel'], [2, 'Oversized'], [3, 'Invalid'], [13, 'Busy']]);
    expect(b.compute.stats().refused).toMatchObject({ UnknownKernel: 1, Oversized: 1, Invalid: 1, Busy: 1 });
    expect(eventsOf(b, 'refused').map((e) => e.reason)).toEqual(['UnknownKernel', 'Oversized', 'Invalid', 'Busy']);
    expect(b.compute.stats().late).toBe(1);
    // The three runs it holds (10, 11, 12) are abandoned when x goes silent.
    rig.net.advance(20_000);
    expect(b.compute.stats().abandoned).toBe(3);
    expect(b.runs).toHaveLength(0);
  });

  it('a peer that lacks a kernel refuses it once and is not asked for it again', async () => {
    const rig = await createRig({
      ids: ['a', 'b', 'c'],
      behaviour: (id) => ({ workMs: 20, lacks: id === 'b' ? ['terrain.chunk'] : [] }),
      options: () => ({ verify: 'none', local: 'fallback' }),
    });
    const { inputs, states } = await runChunks(rig, 'a', 6);
    expectAllCorrect(inputs, states);
    expect(count(assignedTo(rig, 'a'), 'b')).toBe(1);
    expect(eventsOf(rig.peer('a'), 'reassigned')).toEqual([expect.objectContaining({ peerId: 'b', reason: 'refused', refusal: 'UnknownKernel' })]);
  });

  it('submit refuses what the local validator refuses, synchronously', async () => {
    const rig = await createRig({ ids: ['a'], options: () => ({ maxInputBytes: 64 }) });
    const c = rig.peer('a').compute;
    expect(() => c.submit('nope.kernel', new Uint8Array(4))).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(() => c.submit('terrain.chunk', new Uint8Array([1, 2, 3]))).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(() => c.submit('terrain.chunk', new Uint8Array(65))).toThrow(/maxInputBytes/);
    expect(c.stats().submitted).toBe(0);
  });

  it('drops forged results, oversized declared results and broken pieces from a malicious worker; tasks still complete', async () => {
    const rig = await createRig({ ids: ['a', 'b'], behaviour: () => ({ workMs: 20 }), options: () => ({ verify: 'none', local: 'fallback' }) });
    const a = rig.peer('a');
    // x advertises 8 free slots, so a sends it work, and answers every task with something wrong.
    const x = await intruder(rig);
    let tasksSeen = 0;
    const inputBytes = new Map<number, number>();
    x.room.on('message', (m) => {
      const msg = decodeComputeMessage(m.data);
      if (msg.type === 'task') inputBytes.set(msg.runId, msg.inputBytes);
      if (msg.type !== 'data' || msg.part !== 'input') return;
      // Acknowledge the input like an honest worker, then answer wrongly.
      x.send('a', { type: 'ack', runId: msg.runId, part: 'input', received: msg.offset + msg.bytes.length });
      if (msg.offset + msg.bytes.length !== inputBytes.get(msg.runId)) return;
      const variant = tasksSeen++ % 3;
      if (variant === 0) x.send('a', { type: 'result', runId: msg.runId, mode: 'bytes', outputBytes: getKernel('terrain.chunk')!.maxOutputBytes + 1 });
      if (variant === 1) {
        x.send('a', { type: 'result', runId: msg.runId, mode: 'bytes', outputBytes: 10 });
        x.send('a', { type: 'data', runId: msg.runId, part: 'result', offset: 0, bytes: new Uint8Array(11) });
      }
      if (variant === 2) x.send('a', { type: 'result', runId: msg.runId, mode: 'hash', hash: new Uint8Array(32) });
    });
    x.send('a', { type: 'presence', version: 1, webgpu: true, adapter: 'fake', slots: 8, running: 0, reply: false });
    // Forged: results for runs never assigned to x.
    for (let runId = 1; runId <= 3; runId++) x.send('a', { type: 'result', runId, mode: 'bytes', outputBytes: 4 });
    rig.net.advance(50);
    const { inputs, states } = await runChunks(rig, 'a', 6);
    expectAllCorrect(inputs, states);
    const drops = a.compute.stats().drops;
    expect(drops.Unsolicited).toBe(3);
    expect(drops.Oversized).toBeGreaterThanOrEqual(1);
    expect(drops.Malformed).toBeGreaterThanOrEqual(2); // a piece past the end; a hash where bytes were asked
    expect(eventsOf(a, 'reassigned').every((e) => e.peerId === 'x' && e.reason === 'malformed')).toBe(true);
    expect(eventsOf(a, 'drop').every((d) => d.from === 'x')).toBe(true);
  });

  it('survives arbitrary and truncated messages (fast-check) and keeps serving', async () => {
    const rig = await createRig({ ids: ['a', 'b'], options: () => ({ verify: 'none', local: 'fallback' }) });
    const b = rig.peer('b');
    const x = await intruder(rig);
    const valid: ComputeMessage[] = [
      { type: 'presence', version: 1, webgpu: false, adapter: 'z', slots: 2, running: 1, reply: true },
      { type: 'task', runId: 77, kernel: 'terrain.chunk', mode: 'hash', inputBytes: 10 },
      { type: 'data', runId: 77, part: 'input', offset: 0, bytes: new Uint8Array([1, 2, 3]) },
      { type: 'ack', runId: 5, part: 'result', received: 9 },
      { type: 'result', runId: 4, mode: 'hash', hash: new Uint8Array(32).fill(7) },
      { type: 'refuse', runId: 4, reason: 'Busy', detail: 'full' },
      { type: 'cancel', runId: 77 },
    ];
    fc.assert(fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.tuple(fc.constantFrom(...valid), fc.nat()).map(([m, cut]) => { const e = encodeComputeMessage(m); return e.subarray(0, cut % (e.length + 1)); }),
        fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 1, max: 255 })).map(([m, at, xor]) => { const e = encodeComputeMessage(m).slice(); e[at % e.length]! ^= xor; return e; }),
      ),
      (bytes) => {
        expect(() => decodeComputeMessage(bytes)).not.toThrow();
        x.send('b', bytes);
        rig.net.advance(1);
      },
    ), { numRuns: 300, seed: 42 });
    rig.net.advance(100);
    const drops = b.compute.stats().drops;
    expect(drops.Malformed + drops.Unsolicited).toBeGreaterThan(0);
    expect(eventsOf(b, 'drop').length).toBe(drops.Malformed + drops.Oversized + drops.Unsolicited);
    // b still serves honest work.
    const { inputs, states } = await runChunks(rig, 'a', 3);
    expectAllCorrect(inputs, states);
    expect(count(assignedTo(rig, 'a'), 'b')).toBeGreaterThan(0);
  });
});

describe('room compute: wire format and options', () => {
  it('round-trips every message and refuses bad encodings', () => {
    const messages: ComputeMessage[] = [
      { type: 'presence', version: 1, webgpu: true, adapter: 'Ünïcode GPU', slots: 1024, running: 3, reply: true },
      { type: 'task', runId: 0xffff_ffff, kernel: 'broadphase.pairs', mode: 'bytes', inputBytes: 123_456 },
      { type: 'data', runId: 1, part: 'result', offset: 16_384, bytes: new Uint8Array([1, 2, 3]) },
      { type: 'ack', runId: 2, part: 'input', received: 1 << 20 },
      { type: 'result', runId: 3, mode: 'bytes', outputBytes: 66_564 },
      { type: 'result', runId: 3, mode: 'hash', hash: new Uint8Array(32).map((_, i) => i) },
      { type: 'refuse', runId: 4, reason: 'UnknownKernel', detail: 'no such kernel' },
      { type: 'cancel', runId: 5 },
    ];
    for (const m of messages) expect(decodeComputeMessage(encodeComputeMessage(m))).toEqual(m);
    const bytes = encodeComputeMessage(messages[1]!);
    expect(decodeComputeMessage(bytes.subarray(0, bytes.length - 1)).type).toBe('malformed');
    expect(decodeComputeMessage(new Uint8Array([...bytes, 0])).type).toBe('malformed');
    expect(decodeComputeMessage(new Uint8Array([99])).type).toBe('malformed');
    expect(() => encodeComputeMessage({ type: 'task', runId: 1, kernel: '', mode: 'bytes', inputBytes: 1 })).toThrow(NetcodeError);
    expect(() => encodeComputeMessage({ type: 'presence', version: 1, webgpu: false, adapter: '', slots: 2000, running: 0, reply: false })).toThrow(/slots/);
  });

  it('validates options, naming the field', async () => {
    const rig = await createRig({ ids: ['a'] });
    const base = registryOptions(rig.net, {}, []);
    const room = rig.peer('a').room;
    const bad = (o: object) => () => createRoomCompute(room, { ...base, ...o });
    expect(bad({ capability: { webgpu: false, adapter: '', slots: -1 } })).toThrow(/capability.slots/);
    expect(bad({ verify: 'maybe' })).toThrow(/verify/);
    expect(bad({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(bad({ chunkBytes: 64 * 1024 })).toThrow(/chunkBytes/);
    expect(bad({ windowBytes: 10, chunkBytes: 100 })).toThrow(/windowBytes/);
    expect(bad({ execute: undefined })).toThrow(/execute/);
    expect(bad({ capability: { webgpu: false, adapter: '', slots: -1 } })).toThrow(expect.objectContaining({ code: 'InvalidConfig' }));
  });
});
