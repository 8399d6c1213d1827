/**
 * What a peer sends cannot hurt the document: garbage on every channel, updates that decode but
 * throw half-way through integrating, abusive chunking, and updates the application vetoes are
 * all dropped and counted, and the document stays exactly as it was.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { Rng } from '../../engine/index.ts';
import {
  CHUNK_KIND_SYNC, MemoryNetwork, encodeChunks, encodeSyncStep2, encodeSyncUpdate,
  type BeforeApply, type MemoryRoomTransport, type ReplicationDropEvent,
} from '../../netcode/index.ts';
import { addPeer, contentOf, type TestPeer } from './replication-harness.ts';

/** A victim peer with some content, a well-behaved peer, and `mallory`: a raw transport speaking bytes by hand. */
async function setup(provider: Parameters<typeof addPeer>[4] = {}): Promise<{
  net: MemoryNetwork; victim: TestPeer; honest: TestPeer; mallory: MemoryRoomTransport; drops: ReplicationDropEvent[];
}> {
  const net = new MemoryNetwork({ seed: 11, clock: 'manual' });
  const rng = new Rng(11);
  const victim = await addPeer(net, 'victim', 1, rng, provider);
  const honest = await addPeer(net, 'honest', 2, rng);
  const mallory = await net.join('world', 'mallory');
  const drops: ReplicationDropEvent[] = [];
  victim.provider.on('drop', (e) => drops.push(e));
  net.advance(10);
  victim.doc.transact(() => {
    for (let i = 0; i < 30; i++) {
      victim.doc.getMap('map').set(`k${i % 7}`, i);
      victim.doc.getArray('arr').insert(0, [`x${i}`]);
    }
  });
  net.advance(10);
  return { net, victim, honest, mallory, drops };
}

/** Everything that identifies a document's state: its full update and its content. */
function snapshot(doc: Y.Doc): string {
  return `${Buffer.from(Y.encodeStateAsUpdate(doc)).toString('base64')}|${contentOf(doc)}`;
}

describe('malformed input', { timeout: 20_000 }, () => {
  it('garbage on every channel is dropped with its reason and leaves the document unchanged', async () => {
    const { net, victim, honest, mallory, drops } = await setup();
    const before = snapshot(victim.doc);
    const send = (channel: string, bytes: number[] | Uint8Array): void => mallory.send('victim', channel, Uint8Array.from(bytes));
    send('yjs/sync', []); // empty
    send('yjs/sync', [7, 0]); // unknown message type
    send('yjs/sync', [2, 50, 1, 2]); // payload length past the end
    send('yjs/sync', [...encodeSyncUpdate(new Uint8Array([0, 0])), 9]); // trailing byte
    send('yjs/sync', [0, 3, 255, 255, 255]); // step 1 whose state vector does not decode
    send('yjs/sync', encodeSyncUpdate(Uint8Array.from([5, 200, 1, 2, 3, 4, 99]))); // update that does not decode
    send('yjs/sync', encodeSyncStep2(Uint8Array.from([1, 1, 9, 9]))); // step 2 that does not decode
    send('yjs/awareness', [1, 5, 1, 3, 123, 120, 125]); // state '{x}' is not JSON
    send('yjs/awareness', [200, 1]); // truncated
    send('yjs/chunk', [9, 1, 0, 2, 10, 1]); // unknown chunk kind
    send('yjs/chunk', [0, 1, 5, 2, 10, 1]); // chunk index beyond its count
    net.advance(10);
    expect(drops.map((d) => d.reason)).toEqual([
      'Malformed', 'Malformed', 'Malformed', 'Malformed', 'Malformed', 'InvalidUpdate', 'InvalidUpdate',
      'Malformed', 'Malformed', 'Malformed', 'Malformed',
    ]);
    expect(drops.every((d) => d.from === 'mallory' && d.detail.length > 0)).toBe(true);
    expect(victim.provider.stats().drops).toMatchObject({ Malformed: 9, InvalidUpdate: 2 });
    expect(victim.provider.isSynced('mallory')).toBe(false);
    expect(snapshot(victim.doc)).toBe(before);

    // Random bytes on every channel, 600 messages: nothing throws, nothing changes the document.
    const rng = new Rng(12);
    let sent = 0;
    for (let i = 0; i < 200; i++) {
      for (const channel of ['yjs/sync', 'yjs/awareness', 'yjs/chunk']) {
        const bytes = Uint8Array.from({ length: 1 + rng.nextInt(64) }, () => rng.nextInt(256));
        send(channel, bytes);
        sent++;
      }
    }
    net.advance(10);
    const st = victim.provider.stats();
    const dropped = Object.values(st.drops).reduce((a, b) => a + b, 0) - 11;
    expect(dropped).toBeGreaterThan(sent * 0.9);
    expect(snapshot(victim.doc)).toBe(before);

    // Still healthy: an honest edit arrives.
    honest.doc.getMap('map').set('after', 'garbage');
    net.advance(10);
    expect(victim.doc.getMap('map').get('after')).toBe('garbage');
    victim.provider.destroy();
    honest.provider.destroy();
    await net.close();
  });

  it('an update that decodes but throws while integrating is rejected by the dry run; the document is untouched', async () => {
    const { net, victim, honest, mallory, drops } = await setup();
    const baseState = Y.encodeStateAsUpdate(victim.doc);
    // Search (seeded, deterministic) for a mutated update that passes Y.decodeUpdate but throws
    // inside Y.applyUpdate after changing the document it is applied to.
    const rng = new Rng(42);
    let poison: Uint8Array | undefined;
    for (let tries = 0; tries < 100_000 && poison === undefined; tries++) {
      const other = new Y.Doc();
      other.clientID = 3;
      Y.applyUpdate(other, baseState);
      const sv = Y.encodeStateVector(other);
      other.getMap('map').set('z', tries);
      other.getArray('arr').insert(1, ['q']);
      other.getArray('arr').delete(3, 1);
      const bad = Y.encodeStateAsUpdate(other, sv);
      for (let k = 0, n = 1 + rng.nextInt(3); k < n; k++) bad[rng.nextInt(bad.length)] = rng.nextInt(256);
      try {
        Y.decodeUpdate(bad);
      } catch {
        continue;
      }
      const copy = new Y.Doc();
      Y.applyUpdate(copy, baseState);
      const copyBefore = snapshot(copy);
      try {
        Y.applyUpdate(copy, bad);
      } catch {
        if (snapshot(copy) !== copyBefore) poison = bad;
      }
    }
    expect(poison).toBeDefined();

    const before = snapshot(victim.doc);
    mallory.send('victim', 'yjs/sync', encodeSyncUpdate(poison!));
    net.advance(10);
    expect(drops.map((d) => [d.reason, d.from])).toEqual([['InvalidUpdate', 'mallory']]);
    expect(drops[0]!.detail).toMatch(/throws while integrating/);
    expect(snapshot(victim.doc)).toBe(before);
    // The shadow was rebuilt: later honest updates still validate and apply.
    honest.doc.getArray('arr').insert(0, ['honest']);
    net.advance(10);
    expect(victim.doc.getArray('arr').get(0)).toBe('honest');
    expect(contentOf(victim.doc)).toBe(contentOf(honest.doc));
    victim.provider.destroy();
    honest.provider.destroy();
    await net.close();
  });

  it('chunk abuse is bounded: oversized totals, too many or too large unfinished messages, duplicates, disagreeing chunks, expiry, a sender leaving', async () => {
    const { net, victim, honest, mallory, drops } = await setup({
      maxMessageBytes: 1 << 20, maxChunkedPerPeer: 2, maxReassemblyBytes: 300_000, reassemblyTimeoutMs: 2000,
    });
    const before = snapshot(victim.doc);
    const big = (id: number, total: number): Uint8Array[] => encodeChunks(CHUNK_KIND_SYNC, id, new Uint8Array(total), 65_536);
    const send = (c: Uint8Array): void => mallory.send('victim', 'yjs/chunk', c);
    send(big(1, 2 << 20)[0]!); // announces 2 MiB > maxMessageBytes
    send(big(2, 130_000)[0]!); // pending, reserves 130 000
    send(big(2, 130_000)[0]!); // same chunk again
    send(big(3, 130_000)[0]!); // pending, reserves 260 000 in all
    send(big(4, 10_000)[0]!); // single chunk message: completes at once, but is not a sync message
    send(big(5, 100_000)[0]!); // a third unfinished message from mallory
    const disagreeing = big(2, 200_000)[1]!; // same id, other total
    send(disagreeing);
    net.advance(10);
    expect(drops.map((d) => d.reason)).toEqual(['Oversized', 'Duplicate', 'Malformed', 'ChunkLimit', 'Malformed']);
    expect(victim.provider.stats().reassemblyBytes).toBe(130_000); // message 3 (message 2 discarded as malformed)

    // The global budget: honest may not start a message that does not fit in what is left.
    const honestRoom = honest.room;
    honestRoom.send('victim', 'yjs/chunk', big(9, 200_000)[0]!);
    net.advance(10);
    expect(drops.at(-1)).toMatchObject({ reason: 'ChunkLimit', from: 'honest' });

    net.advance(2000);
    expect(drops.at(-1)).toMatchObject({ reason: 'ChunkExpired', from: 'mallory' });
    expect(victim.provider.stats().reassemblyBytes).toBe(0);

    send(big(6, 100_000)[0]!);
    net.advance(10);
    expect(victim.provider.stats().reassemblyBytes).toBe(100_000);
    await mallory.close();
    net.advance(50);
    expect(victim.provider.stats().reassemblyBytes).toBe(0);
    expect(snapshot(victim.doc)).toBe(before);
    victim.provider.destroy();
    honest.provider.destroy();
    await net.close();
  });
});

/**
 * The map keys an update writes or deletes, resolved the way an authority check has to: a new
 * map entry carries its key (`parentSub`), an overwrite only points at the entry it replaces
 * (`origin`), found in the update itself or in the document's store; a delete names structs by
 * id. Returns `undefined` when some target cannot be resolved.
 */
function keysTouched(doc: Y.Doc, update: Uint8Array): string[] | undefined {
  const { structs, ds } = Y.decodeUpdate(update);
  const keys: string[] = [];
  const local = new Map<string, string | null>();
  const keyOf = (id: Y.ID): string | null | undefined => {
    const inUpdate = local.get(`${id.client}:${id.clock}`);
    if (inUpdate !== undefined) return inUpdate;
    if (id.clock >= Y.getState(doc.store, id.client)) return undefined;
    const item = Y.getItem(doc.store, id);
    return item instanceof Y.Item ? item.parentSub : undefined;
  };
  for (const s of structs) {
    if (!(s instanceof Y.Item)) continue;
    const key = s.parentSub ?? (s.origin === null ? null : keyOf(s.origin));
    if (key === undefined) return undefined;
    for (let i = 0; i < s.length; i++) local.set(`${s.id.client}:${s.id.clock + i}`, key);
    if (key !== null) keys.push(key);
  }
  for (const [client, ranges] of ds.clients) {
    for (const r of ranges) {
      const key = keyOf(Y.createID(client, r.clock));
      if (key === undefined) return undefined;
      if (key !== null) keys.push(key);
    }
  }
  return keys;
}

describe('veto hook', () => {
  it('updates writing or deleting another peer\'s entries are rejected and counted; allowed ones apply; a throwing hook rejects', async () => {
    const net = new MemoryNetwork({ seed: 13, clock: 'manual' });
    const rng = new Rng(13);
    const vetoed: ReplicationDropEvent[] = [];
    // Authority: a peer may only write keys of 'entities' starting with its own peer id.
    const authority = (doc: () => Y.Doc): BeforeApply => (update, from) => {
      const keys = keysTouched(doc(), update);
      return keys !== undefined && keys.every((k) => k.startsWith(`${from}/`));
    };
    const peers: TestPeer[] = [];
    for (const [i, id] of ['alice', 'bob', 'carol'].entries()) {
      peers.push(await addPeer(net, id, i + 1, rng, { beforeApply: authority(() => peers[i]!.doc) }));
    }
    const [alice, bob, carol] = peers as [TestPeer, TestPeer, TestPeer];
    for (const p of peers) p.provider.on('drop', (e) => vetoed.push(e));
    net.advance(10);
    const entities = (p: TestPeer) => p.doc.getMap<number>('entities');
    entities(alice).set('alice/1', 1);
    entities(bob).set('bob/1', 1);
    net.advance(10);
    expect(entities(carol).toJSON()).toEqual({ 'alice/1': 1, 'bob/1': 1 });

    const before = snapshot(carol.doc);
    entities(bob).set('alice/1', 666); // overwrite of alice's entry: only an origin, resolved through the store
    net.advance(10);
    entities(bob).set('alice/2', 7); // new entry under alice's id
    net.advance(10);
    entities(bob).delete('alice/1'); // delete of alice's entry (bob's own copy holds his 666)
    net.advance(10);
    expect(vetoed.map((d) => `${d.reason}:${d.from}`)).toEqual(Array(6).fill('Vetoed:bob'));
    expect(entities(alice).get('alice/1')).toBe(1);
    expect(snapshot(carol.doc)).toBe(before);
    expect(carol.provider.stats().drops.Vetoed).toBe(3);
    expect(alice.provider.stats().drops.Vetoed).toBe(3);

    // A later, allowed write of bob passes the hook but cannot integrate: Yjs needs each client's
    // structs without clock gaps, and bob's vetoed structs sit before it. It waits in the
    // document's pending updates, and so does everything bob writes from now on. A vetoed peer
    // is cut off for good (until it comes back with a fresh client id).
    entities(bob).set('bob/2', 2);
    net.advance(10);
    expect(entities(carol).get('bob/2')).toBeUndefined();
    expect(carol.doc.store.pendingStructs).not.toBeNull();
    expect(entities(carol).get('alice/1')).toBe(1);

    const throwing = await addPeer(net, 'dave', 4, rng, { beforeApply: () => { throw new Error('bug in hook'); } });
    net.advance(10);
    expect(throwing.provider.stats().drops.Vetoed).toBeGreaterThan(0);
    expect(throwing.doc.getMap('entities').size).toBe(0);
    for (const p of [...peers, throwing]) p.provider.destroy();
    await net.close();
  });
});
