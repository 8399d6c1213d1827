import { describe, expect, it } from 'vitest';
import {
  SessionBuilder, decodeMessage, encodeMessage,
  type SessionEvent, type SpectatorSession,
} from '../../netcode/rollback/index.ts';
import type { MemoryRoomTransport } from '../../netcode/transport/index.ts';
import { Mesh, ToyEngine } from './rollback-harness.ts';

interface Watcher {
  readonly session: SpectatorSession;
  readonly engine: ToyEngine;
  readonly sentTypes: string[];
  readonly events: SessionEvent[];
  /** Per tick: spectator frame, host frame and host confirmed frame. */
  readonly trace: { spec: number; host: number; hostConfirmed: number }[];
}

/** Records what the transport is asked to send (decoded message types). */
function spy(t: MemoryRoomTransport, sink: string[]): void {
  const send = t.send.bind(t);
  const broadcast = t.broadcast.bind(t);
  t.send = (peer, channel, data) => {
    const m = decodeMessage(data);
    sink.push(m.type);
    send(peer, channel, data);
  };
  t.broadcast = (channel, data) => {
    sink.push(`broadcast:${decodeMessage(data).type}`);
    broadcast(channel, data);
  };
}

async function watch(mesh: Mesh, id: string, startFrame = 0): Promise<Watcher> {
  const transport = await mesh.net.join('match', id);
  const sentTypes: string[] = [];
  spy(transport, sentTypes);
  const session = new SessionBuilder().withNumPlayers(mesh.peers.length).withStartFrame(startFrame).startSpectatorSession('p0', transport, mesh.net.clock);
  const w: Watcher = { session, engine: new ToyEngine(mesh.peers.length, 1, startFrame), sentTypes, events: [], trace: [] };
  mesh.onStep.push(() => {
    const r = session.advanceFrame();
    for (const q of r.requests) expect(q.kind).toBe('advance');
    w.engine.execute(r.requests, session);
    w.events.push(...session.drainEvents());
    const host = mesh.peers[0]!.session;
    w.trace.push({ spec: session.currentFrame, host: host.currentFrame, hostConfirmed: host.confirmedFrame });
  });
  return w;
}

describe('SpectatorSession', () => {
  it('receives confirmed inputs only from its host, never sends inputs, runs behind, and matches the players', async () => {
    const mesh = await Mesh.create({
      peers: 2, seed: 21, conditioner: { latencyMs: 35, jitterMs: 10, loss: 0.1, reorder: 0.1 },
      configure: (b, i) => (i === 0 ? b.addPlayer({ kind: 'spectator', peerId: 'watcher' }, 2) : b),
    });
    const w = await watch(mesh, 'watcher');
    mesh.synchronize();
    mesh.runUntil(400);
    for (let i = 0; i < 60; i++) mesh.step();
    // confirmed (never predicted) inputs
    const statuses = new Set([...w.engine.inputsOf.values()].flatMap((inputs) => inputs.map((x) => x.status)));
    expect([...statuses]).toEqual(['confirmed']);
    // never sends inputs: only handshake, acknowledgements, quality, keep-alive
    expect(w.sentTypes.filter((t) => t.includes('input') && t !== 'inputAck')).toEqual([]);
    expect(w.sentTypes).toContain('inputAck');
    expect(w.sentTypes.some((t) => t.startsWith('broadcast:'))).toBe(false);
    // runs behind: never past what the host had confirmed
    for (const t of w.trace) expect(t.spec).toBeLessThanOrEqual(t.hostConfirmed + 1);
    expect(w.trace.filter((t) => t.spec < t.host).length).toBeGreaterThan(w.trace.length / 2);
    expect(w.session.currentFrame).toBeGreaterThan(400);
    // same states as the players for every frame it simulated
    const upTo = mesh.assertConsistent();
    for (let f = 1; f <= Math.min(upTo, w.session.currentFrame); f++) expect(w.engine.stateOf.get(f)).toBe(mesh.peers[0]!.engine.stateOf.get(f));
    expect(mesh.eventsOf(mesh.peers[0]!, 'synchronized').map((e) => e.peerId).sort()).toEqual(['p1', 'watcher']);
    expect(w.events.some((e) => e.kind === 'running')).toBe(true);
    await mesh.close();
  });

  it('drops inputs sent to it by anyone but the host, and ignores the players\' broadcasts', async () => {
    const mesh = await Mesh.create({
      peers: 2, seed: 22,
      configure: (b, i) => (i === 0 ? b.addPlayer({ kind: 'spectator', peerId: 'watcher' }, 2) : b),
    });
    const w = await watch(mesh, 'watcher');
    mesh.synchronize();
    mesh.runUntil(30);
    expect(w.session.stats().drops.ForeignSlot).toBe(0); // the players' input broadcasts reach it and are ignored
    // p1 (a player, not the host) sends well-formed inputs of every slot straight to the spectator
    const forged = encodeMessage({
      type: 'input', startFrame: w.session.lastReceivedFrame + 1, senderFrame: 40, frameCount: 1, inputSize: 8, slots: [0, 1],
      status: [{ lastFrame: 40, disconnected: false }, { lastFrame: 40, disconnected: false }], inputs: new Uint8Array(16).fill(9),
    });
    const drops: SessionEvent[] = [];
    mesh.peers[1]!.transport.send('watcher', 'rollback', forged);
    mesh.onStep.push(() => drops.push(...w.events.filter((e) => e.kind === 'drop')));
    mesh.step();
    expect(w.session.stats().drops.ForeignSlot).toBe(1);
    expect(w.session.stats().drops.UnknownPeer).toBe(0);
    expect(drops[0]).toMatchObject({ kind: 'drop', reason: 'ForeignSlot', from: 'p1' });
    mesh.runUntil(60);
    for (const inputs of w.engine.inputsOf.values()) for (const x of inputs) expect(x.bytes.every((b) => b === 9)).toBe(false);
    await mesh.close();
  });

  it('late join: addSpectator hands out a frame; a spectator started there with that state follows the game', async () => {
    const mesh = await Mesh.create({ peers: 2, seed: 23, conditioner: { latencyMs: 25, jitterMs: 5 } });
    mesh.synchronize();
    mesh.runUntil(200);
    const host = mesh.peers[0]!;
    const from = host.session.addSpectator('late');
    expect(from).toBeLessThanOrEqual(host.session.currentFrame);
    expect(from).toBeGreaterThan(180);
    // the state of `from`: the saved snapshot, or the live world when it is the current frame
    const state = from === host.engine.game.frame ? host.engine.game.snapshot() : host.engine.ring[from % host.engine.ring.length]!;
    expect(state.frame).toBe(from);
    const w = await watch(mesh, 'late', from);
    w.engine.game.restore(state);
    mesh.runUntil(400);
    for (let i = 0; i < 30; i++) mesh.step();
    expect(w.session.currentFrame).toBeGreaterThan(380);
    for (let f = from + 1; f <= w.session.currentFrame; f++) expect(w.engine.stateOf.get(f)).toBe(host.engine.stateOf.get(f));
    await mesh.close();
  });

  it('late join with sparse saving: addSpectator hands out a frame whose saved state is still held and correct', async () => {
    const mesh = await Mesh.create({
      peers: 2, seed: 25, conditioner: { latencyMs: 60, jitterMs: 20, loss: 0.05 },
      configure: (b) => b.withSparseSaving(true),
    });
    mesh.synchronize();
    const host = mesh.peers[0]!;
    // Find a moment where the first unconfirmed state was not saved (sparse saving skips most frames).
    let fallback = false;
    let from = -1;
    for (let i = 0; i < 400 && !fallback; i++) {
      mesh.step();
      const s = host.session;
      const first = Math.min(s.confirmedFrame + 1, s.currentFrame);
      fallback = first < s.currentFrame && host.engine.ring[first % host.engine.ring.length]?.frame !== first && s.currentFrame > 60;
      if (fallback) from = s.addSpectator('late');
    }
    expect(fallback).toBe(true);
    expect(from).toBeLessThan(host.session.confirmedFrame + 1);
    const state = from === host.engine.game.frame ? host.engine.game.snapshot() : host.engine.ring[from % host.engine.ring.length]!;
    expect(state.frame).toBe(from);
    const w = await watch(mesh, 'late', from);
    w.engine.game.restore(state);
    const target = host.session.currentFrame + 200;
    mesh.runUntil(target);
    for (let i = 0; i < 30; i++) mesh.step();
    const upTo = Math.min(mesh.assertConsistent(), w.session.currentFrame);
    expect(upTo).toBeGreaterThan(target - 30);
    for (let f = from + 1; f <= upTo; f++) expect(w.engine.stateOf.get(f)).toBe(host.engine.stateOf.get(f));
    await mesh.close();
  });

  it('removeSpectator forgets a spectator, which can be added again', async () => {
    const mesh = await Mesh.create({ peers: 2, seed: 26 });
    mesh.synchronize();
    mesh.runUntil(30);
    const host = mesh.peers[0]!.session;
    expect(host.removeSpectator('nobody')).toBe(false);
    expect(host.removeSpectator('p1')).toBe(false); // a player
    host.addSpectator('late');
    expect(() => host.addSpectator('late')).toThrowError(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(host.stats().peers.map((p) => p.peerId)).toContain('late');
    expect(host.removeSpectator('late')).toBe(true);
    expect(host.stats().peers.map((p) => p.peerId)).not.toContain('late');
    const again = host.addSpectator('late');
    const w = await watch(mesh, 'late', again);
    w.engine.game.restore(again === mesh.peers[0]!.engine.game.frame ? mesh.peers[0]!.engine.game.snapshot() : mesh.peers[0]!.engine.ring[again % mesh.peers[0]!.engine.ring.length]!);
    mesh.runUntil(120);
    for (let i = 0; i < 30; i++) mesh.step();
    expect(w.session.currentFrame).toBeGreaterThan(100);
    for (let f = again + 1; f <= w.session.currentFrame; f++) expect(w.engine.stateOf.get(f)).toBe(mesh.peers[0]!.engine.stateOf.get(f));
    await mesh.close();
  });

  it('a spectator that fell behind catches up at catchupSpeed frames per call', async () => {
    const mesh = await Mesh.create({
      peers: 2, seed: 24,
      configure: (b, i) => (i === 0 ? b.addPlayer({ kind: 'spectator', peerId: 'watcher' }, 2) : b),
    });
    const transport = await mesh.net.join('match', 'watcher');
    const session = new SessionBuilder().withMaxFramesBehind(10).withCatchupSpeed(3).startSpectatorSession('p0', transport, mesh.net.clock);
    let paused = true;
    const sizes: number[] = [];
    mesh.onStep.push(() => {
      if (paused) return session.poll();
      sizes.push(session.advanceFrame().requests.length);
    });
    mesh.synchronize();
    mesh.runUntil(100);
    expect(session.currentFrame).toBe(0);
    expect(session.framesBehindHost()).toBeGreaterThan(90);
    paused = false;
    for (let i = 0; i < 100; i++) mesh.step();
    expect(sizes[0]).toBe(3);
    expect(session.framesBehindHost()).toBeLessThanOrEqual(12);
    await mesh.close();
  });
});
