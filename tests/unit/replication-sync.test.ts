/**
 * YRoomProvider sync: late join (with chunking past the 64 KiB frame limit), whenSynced,
 * remote origins, standard y-protocols messages (a stock y-protocols peer syncs with us), the
 * chunk framing on its own, and lifecycle.
 */
import { describe, expect, it } from 'vitest';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import { Rng } from '../../engine/index.ts';
import {
  CHUNK_KIND_SYNC, DEFAULT_MAX_FRAME_BYTES, ManualClock, MemoryNetwork, NetcodeError, RemoteOrigin, YRoomProvider,
  decodeSyncMessage, encodeChunks, encodeSyncStep1, encodeSyncUpdate, persistInBrowser,
} from '../../netcode/index.ts';
import { Reassembler } from '../../netcode/replication/chunks.ts';
import { addPeer, contentOf, converged, createRoom, stateVector } from './replication-harness.ts';

/** 1000 transactions of two peers, ~150 bytes of text each: a document well over 64 KiB. */
function thousandEdits(docs: readonly Y.Doc[], rng: Rng, between: () => void): void {
  for (let i = 0; i < 1000; i++) {
    between();
    const doc = docs[i % docs.length]!;
    const map = doc.getMap<unknown>('map');
    const arr = doc.getArray<string>('arr');
    const text = `${doc.clientID}-${i}-${'x'.repeat(120 + rng.nextInt(60))}`;
    const r = rng.nextFloat();
    if (r < 0.5) arr.insert(rng.nextInt(arr.length + 1), [text]);
    else if (r < 0.6 && arr.length > 0) arr.delete(rng.nextInt(arr.length), 1);
    else if (r < 0.9) map.set(`k${rng.nextInt(200)}`, text);
    else map.delete(`k${rng.nextInt(200)}`);
  }
}

describe('late join', { timeout: 20_000 }, () => {
  it('a peer joining after 1000 edits receives everything, in chunks past the 64 KiB frame limit, over a lossy network', async () => {
    const { net, peers, rng } = await createRoom({ peers: 2, seed: 5, conditioner: { latencyMs: 20, jitterMs: 5, loss: 0.05 }, provider: { resyncIntervalMs: 1000 } });
    net.advance(50);
    thousandEdits(peers.map((p) => p.doc), rng, () => net.advance(10));
    for (let t = 0; t < 10_000 && !converged(peers.map((p) => p.doc)); t += 100) net.advance(100);
    expect(converged(peers.map((p) => p.doc))).toBe(true);
    const state = Y.encodeStateAsUpdate(peers[0]!.doc);
    expect(state.length).toBeGreaterThan(DEFAULT_MAX_FRAME_BYTES);

    const late = await addPeer(net, 'late', 99, rng);
    const joinedAt = net.clock.now();
    let syncedAt = -1;
    late.provider.on('synced', () => {
      if (syncedAt < 0) syncedAt = net.clock.now();
    });
    net.advance(3000);
    await Promise.resolve();
    expect(syncedAt).toBeGreaterThan(0);
    expect(contentOf(late.doc)).toBe(contentOf(peers[0]!.doc));
    expect(stateVector(late.doc)).toEqual(stateVector(peers[0]!.doc));
    const st = late.provider.stats();
    expect(st.chunkedReceived).toBeGreaterThanOrEqual(1);
    // The first sync asks one member; the other answers the fuller state vector with (almost) nothing.
    expect(st.bytesIn).toBeLessThan(state.length * 1.2);
    expect(st.syncedPeers).toEqual(['p0', 'p1']);
    expect(st.drops).toEqual({ Malformed: 0, InvalidUpdate: 0, Vetoed: 0, Oversized: 0, ChunkLimit: 0, ChunkExpired: 0, Duplicate: 0, Forbidden: 0 });
    expect(st.reassemblyBytes).toBe(0);
    console.log(`late join: document ${state.length} B (encodeStateAsUpdate); late joiner received ${st.bytesIn} B in ${st.messagesIn} messages `
      + `(${st.chunkedReceived} chunked), first synced ${(syncedAt - joinedAt).toFixed(0)} ms (virtual) after joining`);
    for (const p of [...peers, late]) p.provider.destroy();
    await net.close();
  });

  it('a transaction larger than the frame limit is sent in chunks to each member and applied', async () => {
    const { net, peers } = await createRoom({ peers: 3, seed: 6 });
    net.advance(10);
    peers[0]!.doc.getArray('big').push([new Uint8Array(200_000).fill(7)]);
    net.advance(10);
    for (const p of peers.slice(1)) expect((p.doc.getArray('big').get(0) as Uint8Array).length).toBe(200_000);
    expect(peers[0]!.provider.stats().chunkedSent).toBe(2);
    for (const p of peers) p.provider.destroy();
    await net.close();
  });
});

describe('sync protocol', () => {
  it('whenSynced resolves per peer, remote transactions carry the authenticated sender as RemoteOrigin', async () => {
    const { net, peers } = await createRoom({ peers: 3, seed: 7 });
    const [a, b, c] = peers;
    const synced: string[] = [];
    void a!.provider.whenSynced('p2').then((id) => synced.push(id));
    void a!.provider.whenSynced().then((id) => synced.push(`any:${id}`));
    net.advance(10);
    await Promise.resolve();
    expect(synced.sort()).toEqual(['any:p1', 'p2']);
    expect(a!.provider.isSynced('p1')).toBe(true);

    const seen: Array<[string, string]> = [];
    a!.doc.getMap('m').observe((e, tr) => {
      if (tr.origin instanceof RemoteOrigin) seen.push([tr.origin.from, [...e.keysChanged].join()]);
    });
    const events: string[] = [];
    a!.provider.on('remoteUpdate', (e) => events.push(`${e.from}:${e.kind}:${e.origin.from}`));
    b!.doc.getMap('m').set('from-b', 1);
    c!.doc.getMap('m').set('from-c', 2);
    net.advance(10);
    expect(seen).toEqual([['p1', 'from-b'], ['p2', 'from-c']]);
    expect(events).toEqual(['p1:update:p1', 'p2:update:p2']);
    expect(a!.provider.isOwnOrigin(seen.length > 0 ? new RemoteOrigin(b!.provider, 'p1') : null)).toBe(false);

    const pending = a!.provider.whenSynced('nobody');
    a!.provider.destroy();
    await expect(pending).rejects.toMatchObject({ code: 'Closed' });
    await expect(a!.provider.whenSynced()).rejects.toBeInstanceOf(NetcodeError);
    for (const p of peers) p.provider.destroy();
    await net.close();
  });

  it('speaks standard y-protocols: a stock y-protocols peer on the same channel syncs both ways', async () => {
    const net = new MemoryNetwork({ seed: 8, clock: 'manual' });
    const ours = await addPeer(net, 'ours', 1, new Rng(8));
    ours.doc.getMap('m').set('before', 'ours');
    const stockRoom = await net.join('world', 'stock');
    const stockDoc = new Y.Doc();
    stockDoc.getArray('a').push(['stock was here']);
    // The stock peer: y-protocols' own readSyncMessage / writeSyncStep1 / writeUpdate, nothing of ours.
    stockRoom.on('message', ({ from, channel, data }) => {
      if (channel !== 'yjs/sync') return;
      const encoder = encoding.createEncoder();
      syncProtocol.readSyncMessage(decoding.createDecoder(data), encoder, stockDoc, 'stock');
      if (encoding.length(encoder) > 0) stockRoom.send(from, 'yjs/sync', encoding.toUint8Array(encoder));
    });
    stockRoom.on('peer:join', ({ peerId }) => {
      const encoder = encoding.createEncoder();
      syncProtocol.writeSyncStep1(encoder, stockDoc);
      stockRoom.send(peerId, 'yjs/sync', encoding.toUint8Array(encoder));
    });
    stockDoc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === 'stock') return;
      const encoder = encoding.createEncoder();
      syncProtocol.writeUpdate(encoder, update);
      stockRoom.broadcast('yjs/sync', encoding.toUint8Array(encoder));
    });
    net.advance(10);
    expect(stockDoc.getMap('m').get('before')).toBe('ours');
    expect(ours.doc.getArray('a').toArray()).toEqual(['stock was here']);
    ours.doc.getMap('m').set('after', 1);
    stockDoc.getMap('m').set('stock-after', 2);
    net.advance(10);
    expect(contentOf(stockDoc)).toBe(contentOf(ours.doc));
    expect(ours.provider.isSynced('stock')).toBe(true);
    // Our encoders produce exactly y-protocols' bytes.
    const e1 = encoding.createEncoder();
    syncProtocol.writeSyncStep1(e1, stockDoc);
    expect(encodeSyncStep1(Y.encodeStateVector(stockDoc))).toEqual(encoding.toUint8Array(e1));
    const e2 = encoding.createEncoder();
    syncProtocol.writeUpdate(e2, new Uint8Array([0, 0]));
    expect(encodeSyncUpdate(new Uint8Array([0, 0]))).toEqual(encoding.toUint8Array(e2));
    expect(decodeSyncMessage(encoding.toUint8Array(e2))).toEqual({ type: 'update', payload: new Uint8Array([0, 0]) });
    ours.provider.destroy();
    await net.close();
  });

  it('refuses misuse: a second provider on the same channels, a destroyed document; destroy is idempotent and frees the channels', async () => {
    const { net, peers } = await createRoom({ peers: 1, seed: 9 });
    const p = peers[0]!;
    expect(() => new YRoomProvider(new Y.Doc(), p.room)).toThrow(/already used by another provider/);
    expect(() => new YRoomProvider(new Y.Doc(), p.room, { syncChannel: 'a', awarenessChannel: 'a' })).toThrow(NetcodeError);
    expect(() => new YRoomProvider(new Y.Doc(), p.room, { syncChannel: 's2', awarenessChannel: 'a2', chunkChannel: 'c2', resyncIntervalMs: -1 })).toThrow(/resyncIntervalMs/);
    const dead = new Y.Doc();
    dead.destroy();
    expect(() => new YRoomProvider(dead, p.room, { syncChannel: 's3', awarenessChannel: 'a3', chunkChannel: 'c3' })).toThrow(/destroyed/);
    p.provider.destroy();
    p.provider.destroy();
    const again = new YRoomProvider(p.doc, p.room, { clock: net.clock });
    p.doc.destroy(); // destroys the provider with it
    expect(() => again.resync()).not.toThrow();
    await expect(again.whenSynced()).rejects.toMatchObject({ code: 'Closed' });
    await net.close();
  });

  it('the periodic re-sync sends step 1 to one member every interval', async () => {
    const { net, peers } = await createRoom({ peers: 3, seed: 10, provider: { resyncIntervalMs: 500 } });
    net.advance(10);
    const before = peers[0]!.provider.stats().step1Sent;
    net.advance(5000);
    expect(peers[0]!.provider.stats().step1Sent - before).toBe(10);
    for (const p of peers) p.provider.destroy();
    await net.close();
  });
});

describe('chunk framing', () => {
  it('splits at the frame limit and reassembles in any order', () => {
    const clock = new ManualClock();
    const message = new Uint8Array(150_000).map((_, i) => i * 31);
    const chunks = encodeChunks(CHUNK_KIND_SYNC, 41, message, 65_536);
    expect(chunks.length).toBe(3);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(65_536);
    const r = new Reassembler({ maxMessageBytes: 1 << 20, maxMessagesPerPeer: 2, maxTotalBytes: 1 << 20, timeoutMs: 1000 }, clock, () => {});
    expect(r.accept('x', chunks[2]!)).toEqual({ kind: 'pending' });
    expect(r.reservedBytes).toBe(150_000);
    expect(r.accept('x', chunks[0]!)).toEqual({ kind: 'pending' });
    expect(r.accept('x', chunks[0]!)).toMatchObject({ kind: 'drop', reason: 'Duplicate' });
    const done = r.accept('x', chunks[1]!);
    expect(done.kind).toBe('complete');
    expect(done.kind === 'complete' && done.message).toEqual(message);
    expect(r.reservedBytes).toBe(0);
    expect(r.pending).toBe(0);
  });
});

describe('browser persistence', () => {
  it('persistInBrowser fails clearly where there is no IndexedDB (Node)', () => {
    expect('indexedDB' in globalThis).toBe(false);
    expect(() => persistInBrowser(new Y.Doc(), 'peercompute/world-1')).toThrow(expect.objectContaining({ code: 'Persistence', message: expect.stringMatching(/IndexedDB is not available/) }));
    expect(() => persistInBrowser(new Y.Doc(), '')).toThrow(expect.objectContaining({ code: 'InvalidConfig' }));
  });
});
