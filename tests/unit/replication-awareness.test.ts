/**
 * Awareness (presence) over the provider: states propagate, are bound to the peer that
 * announced them, are removed when that peer leaves (goodbye, timeout, provider destroyed) and
 * come back when it returns; states for someone else's client id are refused.
 */
import { describe, expect, it } from 'vitest';
import * as encoding from 'lib0/encoding';
import { RemoteOrigin } from '../../netcode/index.ts';
import { createRoom, type TestPeer } from './replication-harness.ts';

/** Every state an awareness holds, by client id. */
function states(p: TestPeer): Record<number, unknown> {
  return Object.fromEntries(p.provider.awareness.getStates());
}

/** An awareness update written by hand: `[count][clientID clock JSON]...` (y-protocols layout). */
function awarenessBytes(entries: Array<[number, number, string]>): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, entries.length);
  for (const [client, clock, json] of entries) {
    encoding.writeVarUint(e, client);
    encoding.writeVarUint(e, clock);
    encoding.writeVarString(e, json);
  }
  return encoding.toUint8Array(e);
}

describe('awareness', () => {
  it('states propagate with their sender, and are removed when the peer leaves, times out or destroys its provider', async () => {
    const { net, peers } = await createRoom({ peers: 4, seed: 21 });
    const [a, b, c, d] = peers as [TestPeer, TestPeer, TestPeer, TestPeer];
    const colours = ['#e91e63', '#3f51b5', '#4caf50', '#ff9800'];
    peers.forEach((p, i) => p.provider.awareness.setLocalState({ name: p.id, colour: colours[i], doing: { tool: 'build' } }));
    const changes: Array<{ added: number[]; removed: number[]; from: string | undefined }> = [];
    a.provider.awareness.on('change', ({ added, removed }: { added: number[]; removed: number[] }, origin: unknown) => {
      changes.push({ added, removed, from: origin instanceof RemoteOrigin ? origin.from : undefined });
    });
    net.advance(20);
    expect(states(a)).toEqual({
      1: { name: 'p0', colour: '#e91e63', doing: { tool: 'build' } },
      2: { name: 'p1', colour: '#3f51b5', doing: { tool: 'build' } },
      3: { name: 'p2', colour: '#4caf50', doing: { tool: 'build' } },
      4: { name: 'p3', colour: '#ff9800', doing: { tool: 'build' } },
    });
    expect([2, 3, 4].map((id) => a.provider.peerOfAwarenessClient(id))).toEqual(['p1', 'p2', 'p3']);

    b.provider.awareness.setLocalStateField('doing', { tool: 'walk' });
    net.advance(20);
    expect((states(c)[2] as { doing: unknown }).doing).toEqual({ tool: 'walk' });

    // Goodbye: c closes its room.
    await c.room.close();
    net.advance(20);
    expect(Object.keys(states(a))).toEqual(['1', '2', '4']);
    expect(changes.at(-1)).toEqual({ added: [], removed: [3], from: 'p2' });
    expect(a.provider.peerOfAwarenessClient(3)).toBeUndefined();

    // Cable cut: b is timed out (5 s), then comes back with the same state.
    net.disconnect('p1');
    net.advance(7000);
    expect(Object.keys(states(a))).toEqual(['1', '4']);
    net.reconnect('p1');
    net.advance(100);
    expect((states(a)[2] as { doing: unknown }).doing).toEqual({ tool: 'walk' });
    expect(a.provider.peerOfAwarenessClient(2)).toBe('p1');

    // d destroys its provider (stays in the room): its state is withdrawn at once.
    d.provider.destroy();
    net.advance(20);
    expect(Object.keys(states(a))).toEqual(['1', '2']);
    expect(Object.keys(states(b))).toEqual(['1', '2']);
    for (const p of peers) p.provider.destroy();
    await net.close();
  });

  it('refuses states for client ids of other peers or our own, more clients than allowed, and bad JSON', async () => {
    const { net, peers } = await createRoom({ peers: 2, seed: 22, provider: { maxAwarenessClientsPerPeer: 2 } });
    const [a, b] = peers as [TestPeer, TestPeer];
    const mallory = await net.join('world', 'mallory');
    b.provider.awareness.setLocalState({ name: 'bob' });
    net.advance(20);
    const before = JSON.stringify(states(a));
    const send = (bytes: Uint8Array): void => mallory.send('p0', 'yjs/awareness', bytes);
    send(awarenessBytes([[2, 99, '{"name":"not bob"}']])); // b's client id
    send(awarenessBytes([[1, 99, 'null']])); // a's own client id (would remove a's state)
    send(awarenessBytes([[50, 1, '{}'], [51, 1, '{}'], [52, 1, '{}']])); // 3 clients > 2
    send(awarenessBytes([[60, 1, '{"name":']])); // not JSON
    net.advance(20);
    expect(a.provider.stats().drops).toMatchObject({ Forbidden: 3, Malformed: 1 });
    expect(JSON.stringify(states(a))).toBe(before);

    // Two clients are allowed, bound to mallory, and removed when it leaves.
    send(awarenessBytes([[70, 1, '{"name":"m1"}'], [71, 1, '{"name":"m2"}']]));
    net.advance(20);
    expect(a.provider.peerOfAwarenessClient(70)).toBe('mallory');
    expect(Object.keys(states(a))).toEqual(['1', '2', '70', '71']);
    await mallory.close();
    net.advance(20);
    expect(Object.keys(states(a))).toEqual(['1', '2']);
    for (const p of peers) p.provider.destroy();
    await net.close();
  });
});
