import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../../netcode/rollback/index.ts';
import { Mesh, describe as d, inputBytes } from './rollback-harness.ts';

/** Index of the first result of `peer` whose requests contain a load. */
function firstLoad(results: Mesh['peers'][number]['results']) {
  return results.find((r) => r.requests.some((q) => q.kind === 'load'));
}

describe('P2PSession request sequences (instant delivery, virtual time)', () => {
  it('saves then advances each frame; inputs sent 2 frames ahead arrive confirmed', async () => {
    const mesh = await Mesh.create({ peers: 2, seed: 1 });
    mesh.synchronize();
    for (let i = 0; i < 4; i++) mesh.step();
    const [a, b] = mesh.peers;
    const seq = (p: typeof a) => p!.results.filter((r) => r.status === 'advanced').map((r) => d(r.requests));
    // Frame 0: the other peer's input has not arrived yet (predicted); from then on the input
    // delay of 2 frames hides the one-tick transport delay.
    expect(seq(a)).toEqual([['save 0', 'advance 0 cp'], ['save 1', 'advance 1 cc'], ['save 2', 'advance 2 cc'], ['save 3', 'advance 3 cc'], ['save 4', 'advance 4 cc']]);
    expect(seq(b)).toEqual([['save 0', 'advance 0 pc'], ['save 1', 'advance 1 cc'], ['save 2', 'advance 2 cc'], ['save 3', 'advance 3 cc'], ['save 4', 'advance 4 cc']]);
    expect(a!.results[0]!.status).toBe('NotSynchronized');
    expect(mesh.eventsOf(a!, 'synchronized')).toEqual([{ kind: 'synchronized', peerId: 'p1' }]);
    expect(mesh.eventsOf(a!, 'running')).toHaveLength(1);
    await mesh.close();
  });

  it('a late input that differs from the prediction gives load(frame) + advance + save + advance', async () => {
    const mesh = await Mesh.create({ peers: 2, seed: 1, configure: (b) => b.withInputDelay(0) });
    mesh.inputFor = (slot, frame) => inputBytes(slot === 1 && frame >= 3 ? 5 : 0);
    mesh.synchronize();
    for (let i = 0; i < 6; i++) mesh.step();
    const a = mesh.peers[0]!;
    const seq = a.results.filter((r) => r.status === 'advanced').map((r) => d(r.requests));
    expect(seq.slice(0, 6)).toEqual([
      ['save 0', 'advance 0 cp'],
      ['save 1', 'advance 1 cp'],
      ['save 2', 'advance 2 cp'],
      ['save 3', 'advance 3 cp'], // predicts p1 still sends 0
      ['load 3', 'advance 3 cc', 'save 4', 'advance 4 cp'], // p1's input of frame 3 was 5: roll back
      ['save 5', 'advance 5 cp'], // the new prediction (5) was right: no rollback
    ]);
    expect(a.session.stats().rollbacks).toBe(1);
    mesh.assertConsistent();
    await mesh.close();
  });

  it('with 50 ms latency a correction re-simulates every frame since the wrong prediction', async () => {
    const mesh = await Mesh.create({ peers: 2, seed: 1, conditioner: { latencyMs: 50 }, configure: (b) => b.withInputDelay(0) });
    mesh.inputFor = (slot, frame) => inputBytes(slot === 1 && frame >= 10 ? 9 : 0);
    mesh.synchronize();
    mesh.runUntil(30);
    const a = mesh.peers[0]!;
    const hit = firstLoad(a.results)!;
    const reqs = d(hit.requests);
    const c = a.results.filter((r) => r.tick < hit.tick && r.status === 'advanced').length; // frame advanced by this call
    const expected = ['load 10', 'advance 10'];
    for (let f = 11; f <= c; f++) expected.push(`save ${f}`, `advance ${f}`);
    expect(c).toBeGreaterThanOrEqual(13); // 3+ frames of latency re-simulated
    // Statuses aside (frames whose input arrived are confirmed, the rest predicted):
    expect(reqs.map((r) => r.replace(/ [cp]+$/, ''))).toEqual(expected);
    expect(reqs[1]).toBe('advance 10 cc');
    expect(reqs.at(-1)).toBe(`advance ${c} cp`);
    expect(a.session.stats().rollbacks).toBe(1);
    mesh.assertConsistent();
    await mesh.close();
  });

  it('GGRS #75: a correction arriving while the prediction window is full is returned with PredictionThreshold, never dropped (3 players)', async () => {
    const mesh = await Mesh.create({ peers: 3, seed: 3, configure: (b) => b.withInputDelay(0) });
    mesh.inputFor = (slot, frame) => inputBytes(slot === 1 && frame >= 26 ? 7 : 2);
    mesh.synchronize();
    mesh.runUntil(20);
    const [a, b, c] = mesh.peers;
    expect(a!.session.currentFrame).toBe(20);
    // p0 stops hearing p2 (its input of frame 19 is lost); p1 keeps hearing both.
    mesh.net.partition(['p0'], ['p2']);
    for (let i = 0; i < 12; i++) mesh.step();
    // p0 predicted up to frame 26 (confirmed 18 + 8), then its window is full. The call for frame
    // 27 learns that p1 changed its input at frame 26: the correction comes back with the
    // threshold signal instead of being dropped (in GGRS it was lost: a desync).
    const hit = a!.results.find((r) => r.status === 'PredictionThreshold')!;
    expect(d(hit.requests)).toEqual(['load 26', 'advance 26 ccp']);
    expect(a!.session.currentFrame).toBe(27);
    expect(a!.results.filter((r) => r.tick > hit.tick).every((r) => r.status === 'PredictionThreshold' && r.requests.length === 0)).toBe(true);
    mesh.net.heal();
    mesh.runUntil(120);
    const upTo = mesh.assertConsistent();
    expect(upTo).toBeGreaterThan(100);
    // p2 did not hear p0 either and stalled the same way; p1 heard both and never did.
    expect(c!.session.stats().predictionThresholdHits).toBeGreaterThan(0);
    expect(b!.session.stats().predictionThresholdHits).toBe(0);
    await mesh.close();
  });

  it('changes the input delay at run time: raising repeats the last input, lowering drops inputs, peers agree', async () => {
    const mesh = await Mesh.create({ peers: 2, seed: 5, conditioner: { latencyMs: 20 } });
    const sampled = new Map<number, number>(); // call index of p0 -> value sent
    let call = 0;
    mesh.inputFor = (slot) => {
      if (slot !== 0) return inputBytes(0);
      sampled.set(call, call);
      return inputBytes(call++);
    };
    mesh.synchronize();
    const a = mesh.peers[0]!;
    mesh.runUntil(40);
    const at = a.session.currentFrame; // next call's input goes to at + 2
    a.session.setInputDelay(5);
    expect(a.session.inputDelay()).toBe(5);
    mesh.runUntil(80);
    const low = a.session.currentFrame;
    a.session.setInputDelay(1);
    mesh.runUntil(140);
    const buttons = (f: number) => new DataView(a.engine.inputsOf.get(f)![0]!.bytes.buffer).getUint32(0, true);
    const firstCall = buttons(2); // value of the first call after synchronizing
    const callOf = (f: number) => f - 2; // before the change: frame f <- call at frame f - 2
    expect(buttons(at + 1)).toBe(firstCall + callOf(at + 1));
    // raised at frame `at`: that call's input goes to at + 5; at + 2 .. at + 4 repeat the last input (at + 1)
    expect([buttons(at + 2), buttons(at + 3), buttons(at + 4)]).toEqual([buttons(at + 1), buttons(at + 1), buttons(at + 1)]);
    expect(buttons(at + 5)).toBe(buttons(at + 1) + 1);
    // lowered to 1 at frame `low`: frames up to low + 4 were already scheduled, so the inputs of
    // the calls at low .. low + 3 (targets low + 1 .. low + 4) are discarded; the call at low + 4
    // (5 calls after the one that filled low + 4) fills low + 5.
    expect(buttons(low + 5)).toBe(buttons(low + 4) + 5);
    expect(a.session.stats().localInputsDiscarded).toBeGreaterThanOrEqual(4);
    mesh.assertConsistent();
    await mesh.close();
  });

  it('lockstep (maxPrediction 0) never loads and only advances confirmed frames', async () => {
    const mesh = await Mesh.create({ peers: 2, seed: 2, conditioner: { latencyMs: 30, jitterMs: 10 }, configure: (b) => b.withMaxPrediction(0).withInputDelay(3) });
    mesh.synchronize();
    mesh.runUntil(100);
    for (const p of mesh.peers) {
      const all = p.results.flatMap((r) => r.requests);
      expect(all.some((r) => r.kind === 'load')).toBe(false);
      expect(all.every((r) => r.kind !== 'advance' || r.inputs.every((i) => i.status === 'confirmed'))).toBe(true);
      expect(all.filter((r) => r.kind === 'save').map((r) => r.frame)).toEqual([60]); // checksum frames only
    }
    mesh.assertConsistent();
    await mesh.close();
  });
});

describe('P2PSession authority and bad bytes', () => {
  it('rejects and counts inputs for a slot the sender does not own; the owner\'s inputs win', async () => {
    const mesh = await Mesh.create({ peers: 3, seed: 8, conditioner: { latencyMs: 10 } });
    mesh.synchronize();
    mesh.runUntil(30);
    const [a, , c] = mesh.peers;
    const forged = (slot: number, start: number) => encodeMessage({
      type: 'input', startFrame: start, senderFrame: start, frameCount: 4, inputSize: 8, slots: [slot],
      status: [0, 1, 2].map(() => ({ lastFrame: start, disconnected: false })), inputs: new Uint8Array(32).fill(0xab),
    });
    // p2 claims to speak for p1 (slot 1), directly and by broadcast; p2's own slot is 2
    c!.transport.send('p0', 'rollback', forged(1, a!.session.currentFrame));
    c!.transport.broadcast('rollback', forged(1, a!.session.currentFrame + 1));
    mesh.runUntil(80);
    expect(a!.session.stats().drops.ForeignSlot).toBe(2);
    expect(mesh.peers[1]!.session.stats().drops.ForeignSlot).toBe(1);
    const ev = mesh.eventsOf(a!, 'drop');
    expect(ev[0]).toMatchObject({ reason: 'ForeignSlot', from: 'p2' });
    expect(ev[0]!.detail).toContain('slot 1');
    for (const inputs of a!.engine.inputsOf.values()) expect(inputs[1]!.bytes.every((b) => b === 0xab)).toBe(false);
    mesh.assertConsistent();
    await mesh.close();
  });

  it('counts malformed bytes and messages from peers without a role, and goes on', async () => {
    const mesh = await Mesh.create({ peers: 2, seed: 9 });
    const mallory = await mesh.net.join('match', 'mallory');
    mesh.synchronize();
    mesh.runUntil(20);
    const [a, b] = mesh.peers;
    b!.transport.send('p0', 'rollback', new Uint8Array([0xff, 1, 2]));
    b!.transport.send('p0', 'rollback', encodeMessage({ type: 'checksumReport', frame: 1, checksum: 2 }).subarray(0, 3));
    b!.transport.broadcast('rollback', new Uint8Array([3, 1]));
    mallory.broadcast('rollback', encodeMessage({ type: 'keepAlive' }));
    mallory.send('p0', 'rollback', encodeMessage({ type: 'syncRequest', version: 1, nonce: 5, role: 'player', numPlayers: 2, inputSize: 8, configHash: 1 }));
    mallory.broadcast('rollback', encodeMessage({ type: 'input', startFrame: 0, senderFrame: 0, frameCount: 0, inputSize: 8, slots: [0], status: [], inputs: new Uint8Array(0) }));
    mallory.broadcast('other-channel', new Uint8Array([0xff])); // other channels are not ours
    mesh.runUntil(60);
    const st = a!.session.stats();
    expect(st.drops.Malformed).toBe(3);
    expect(st.drops.UnknownPeer).toBe(2);
    expect(st.drops.ForeignSlot).toBe(1);
    expect(b!.session.stats().drops.UnknownPeer).toBe(1);
    expect(mesh.eventsOf(a!, 'drop').filter((e) => e.reason === 'Malformed').map((e) => e.from)).toEqual(['p1', 'p1', 'p1']);
    mesh.assertConsistent();
    await mesh.close();
  });

  it('refuses a handshake with different settings on both sides (ConfigMismatch)', async () => {
    const mesh = await Mesh.create({ peers: 2, seed: 10, configure: (b, i) => (i === 1 ? b.withStartFrame(5) : b) });
    for (let i = 0; i < 60; i++) mesh.step();
    for (const p of mesh.peers) {
      expect(p.session.state).toBe('synchronizing');
      expect(p.session.stats().drops.ConfigMismatch).toBeGreaterThan(0);
      expect(p.results.every((r) => r.status === 'NotSynchronized')).toBe(true);
    }
    expect(mesh.eventsOf(mesh.peers[0]!, 'drop')[0]!.detail).toMatch(/settings/);
    await mesh.close();
  });
});
