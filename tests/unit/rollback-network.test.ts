import { describe, expect, it } from 'vitest';
import type { ConditionerOptions } from '../../netcode/transport/index.ts';
import { Mesh, describe as d } from './rollback-harness.ts';

/** A bad network: 40 ± 15 ms one way, 15 % loss, 10 % of broadcasts held back 30 ms (reordered). */
const BAD: ConditionerOptions = { latencyMs: 40, jitterMs: 15, loss: 0.15, reorder: 0.1, reorderDelayMs: 30 };

describe('P2P sessions over the in-memory transport with a network conditioner', () => {
  for (const peers of [2, 4]) {
    it(`${peers} peers, 600 frames, seeded random inputs: every confirmed frame identical everywhere`, async () => {
      const mesh = await Mesh.create({ peers, seed: 100 + peers, conditioner: BAD });
      mesh.obeyWaits = true;
      mesh.synchronize();
      mesh.runUntil(600);
      const upTo = mesh.assertConsistent();
      expect(upTo).toBeGreaterThan(580);
      // the conditioner did make predictions fail (mostly on the peers that run ahead)
      expect(mesh.peers.reduce((n, p) => n + p.session.stats().rollbacks, 0)).toBeGreaterThan(20);
      for (const p of mesh.peers) {
        const st = p.session.stats();
        expect(st.clampedRollbacks).toBe(0);
        expect(st.drops).toEqual({ Malformed: 0, Oversized: 0, ForeignSlot: 0, UnknownPeer: 0, ConfigMismatch: 0, Gap: 0, Inconsistent: 0, Unsolicited: 0 });
        // Every frame's latest simulation used the sender's real input (checked across peers by
        // assertConsistent); and a load never named a frame the ring buffer had evicted (the toy
        // engine throws).
        expect(p.engine.counts.load).toBe(st.rollbacks);
        expect(mesh.eventsOf(p, 'desync')).toEqual([]);
      }
      await mesh.close();
    });
  }

  it('sparse saving: fewer saves, same results', async () => {
    const mesh = await Mesh.create({ peers: 3, seed: 9, conditioner: BAD, configure: (b) => b.withSparseSaving(true) });
    mesh.synchronize();
    mesh.runUntil(400);
    mesh.assertConsistent();
    for (const p of mesh.peers) expect(p.engine.counts.save).toBeLessThan(p.engine.counts.advance / 2);
    expect(mesh.peers.reduce((n, p) => n + p.session.stats().rollbacks, 0)).toBeGreaterThan(10);
    await mesh.close();
  });

  it('GGRS #75 under high latency with 4 players: corrections returned with PredictionThreshold, states agree', async () => {
    const mesh = await Mesh.create({ peers: 4, seed: 75, conditioner: { latencyMs: 110, jitterMs: 30, loss: 0.1 }, configure: (b) => b.withInputDelay(1), change: 0.4 });
    mesh.synchronize();
    mesh.runUntil(500);
    const withCorrection = mesh.peers.flatMap((p) => p.results).filter((r) => r.status === 'PredictionThreshold' && r.requests.some((q) => q.kind === 'load'));
    expect(withCorrection.length).toBeGreaterThan(0);
    for (const r of withCorrection) {
      // a correction only: load, then advances (and saves) up to the frame that was not advanced
      expect(r.requests[0]!.kind).toBe('load');
      expect(r.requests.at(-1)!.kind).toBe('advance');
    }
    mesh.assertConsistent();
    await mesh.close();
  });

  it('a peer whose cable is cut is disconnected after the timeout; the others go on and never stall longer', async () => {
    // Checksums of every frame: a checksum sent before the disconnect frame was agreed would be a false desync.
    const mesh = await Mesh.create({ peers: 3, seed: 31, conditioner: { latencyMs: 30, jitterMs: 10, loss: 0.05 }, configure: (b) => b.withChecksumInterval(1) });
    mesh.synchronize();
    mesh.runUntil(120);
    const [a, b, c] = mesh.peers;
    const cutTick = mesh.tick;
    mesh.net.disconnect('p2');
    c!.alive = false;
    mesh.runUntil(600);
    const timeoutTicks = Math.ceil(2000 / mesh.tickMs);
    for (const p of [a!, b!]) {
      const ev = mesh.eventsOf(p, 'disconnected');
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({ peerId: 'p2', slots: [2] });
      expect(mesh.eventsOf(p, 'networkInterrupted').map((e) => e.peerId)).toContain('p2');
      const disconnectedAt = p.results.findIndex((r) => r.requests.some((q) => q.kind === 'advance' && q.inputs[2]!.status === 'disconnected'));
      expect(p.results[disconnectedAt]!.tick - cutTick).toBeLessThanOrEqual(timeoutTicks + 2);
      expect(p.longestStall).toBeLessThanOrEqual(timeoutTicks + 2);
      // p2's input is 'disconnected' from the agreed frame on, on both remaining peers
      const frame = ev[0]!.frame;
      expect(frame).toBeGreaterThan(110);
      for (let f = frame; f < 590; f++) expect(p.engine.inputsOf.get(f)![2]!.status).toBe('disconnected');
      expect(p.engine.inputsOf.get(frame - 1)![2]!.status).not.toBe('disconnected');
    }
    expect(mesh.eventsOf(a!, 'disconnected')[0]!.frame).toBe(mesh.eventsOf(b!, 'disconnected')[0]!.frame);
    expect([...mesh.eventsOf(a!, 'desync'), ...mesh.eventsOf(b!, 'desync')]).toEqual([]);
    expect(mesh.assertConsistent()).toBeGreaterThan(580);
    await mesh.close();
  });

  it('a peer that closes its transport is disconnected at once', async () => {
    const mesh = await Mesh.create({ peers: 3, seed: 32, conditioner: { latencyMs: 20 } });
    mesh.synchronize();
    mesh.runUntil(60);
    const cutTick = mesh.tick;
    const c = mesh.peers[2]!;
    c.session.close();
    await c.transport.close();
    c.alive = false;
    mesh.runUntil(200);
    for (const p of mesh.peers.slice(0, 2)) {
      const ev = mesh.eventsOf(p, 'disconnected');
      expect(ev).toHaveLength(1);
      const at = p.results.find((r) => r.requests.some((q) => q.kind === 'advance' && q.inputs[2]!.status === 'disconnected'))!;
      expect(at.tick - cutTick).toBeLessThanOrEqual(10);
      expect(p.longestStall).toBeLessThanOrEqual(10);
    }
    mesh.assertConsistent();
    await mesh.close();
  });

  it('time sync: a peer that fell behind makes the one ahead get wait recommendations; obeying them evens the frames', async () => {
    const mesh = await Mesh.create({ peers: 2, seed: 12, conditioner: { latencyMs: 20, jitterMs: 4 } });
    mesh.synchronize();
    mesh.runUntil(100);
    const [a, b] = mesh.peers;
    b!.skip = 20; // a hitch: b does not advance for 20 ticks
    for (let i = 0; i < 60; i++) mesh.step();
    const gap = a!.session.currentFrame - b!.session.currentFrame;
    expect(gap).toBeGreaterThanOrEqual(6);
    expect(a!.session.framesAhead()).toBeGreaterThanOrEqual(3);
    expect(b!.session.framesAhead()).toBeLessThanOrEqual(-3);
    const rec = mesh.eventsOf(a!, 'waitRecommendation');
    expect(rec.length).toBeGreaterThan(0);
    expect(rec[0]!.skipFrames).toBeGreaterThanOrEqual(3);
    expect(mesh.eventsOf(b!, 'waitRecommendation')).toEqual([]);
    // obey: skip the recommended ticks
    a!.skip = rec.reduce((n, e) => n + e.skipFrames, 0);
    mesh.obeyWaits = true;
    for (let i = 0; i < 240; i++) mesh.step();
    expect(Math.abs(a!.session.currentFrame - b!.session.currentFrame)).toBeLessThanOrEqual(2);
    expect(Math.abs(a!.session.framesAhead())).toBeLessThanOrEqual(2);
    const ts = mesh.eventsOf(a!, 'timesync');
    expect(ts.length).toBeGreaterThan(3);
    expect(ts[0]!.peers[0]!.rttMs).toBeGreaterThan(30);
    mesh.assertConsistent();
    await mesh.close();
  });

  it('is deterministic: the same seed gives the same request lists', async () => {
    const run = async () => {
      const mesh = await Mesh.create({ peers: 3, seed: 4, conditioner: BAD });
      mesh.synchronize();
      mesh.runUntil(150);
      const out = mesh.peers.map((p) => p.results.map((r) => `${r.tick}:${r.status}:${d(r.requests).join(',')}`).join('\n'));
      await mesh.close();
      return out;
    };
    expect(await run()).toEqual(await run());
  });

  it('seeded fuzz: 3-8 players, loss, reordering, partitions, disconnects, delay changes, sparse saving', async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 6; seed++) {
      const peers = 3 + seed - 1; // 3..8
      const variant = (['partition', 'disconnect', 'delays'] as const)[seed % 3]!;
      const mesh = await Mesh.create({
        peers, seed: 500 + seed, change: 0.3,
        conditioner: { latencyMs: 25 + (seed % 4) * 35, jitterMs: 20, loss: 0.05 + (seed % 3) * 0.05, reorder: 0.15, reorderDelayMs: 30 },
        configure: (b) => b.withSparseSaving(seed % 2 === 1).withChecksumInterval(15),
      });
      mesh.obeyWaits = true;
      try {
        mesh.synchronize(3000);
        mesh.runUntil(60);
        if (variant === 'partition') {
          mesh.net.partition(['p0', 'p1'], ['p2']);
          for (let i = 0; i < 40; i++) mesh.step();
          mesh.net.heal();
        } else if (variant === 'disconnect') {
          mesh.net.disconnect(`p${peers - 1}`);
          mesh.peers[peers - 1]!.alive = false;
        } else {
          mesh.peers.forEach((p, i) => p.session.setInputDelay((i * 3 + seed) % 6));
          for (let i = 0; i < 50; i++) mesh.step();
          mesh.peers.forEach((p, i) => p.session.setInputDelay((i + seed) % 3));
        }
        mesh.runUntil(300, 4000);
        mesh.assertConsistent();
        for (const p of mesh.peers.filter((x) => x.alive)) {
          const st = p.session.stats();
          if (mesh.eventsOf(p, 'desync').length > 0 || st.clampedRollbacks > 0) failures.push(`seed ${seed} ${variant} ${p.id}: desync or clamped rollback`);
        }
      } catch (e) {
        failures.push(`seed ${seed} ${variant}: ${(e as Error).message}`);
      }
      await mesh.close();
    }
    expect(failures).toEqual([]);
  }, 60_000);
});
