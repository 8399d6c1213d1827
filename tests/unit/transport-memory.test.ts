import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NetcodeError, type DropReason } from '../../netcode/errors.ts';
import {
  conditionTransport, decodeMemoryFrame, encodeMemoryFrame, ManualClock, MemoryNetwork,
  type ConditionerOptions, type MemoryNetworkOptions, type PeerId, type RoomTransport,
} from '../../netcode/transport/index.ts';
import { describeTransportCompliance, type ComplianceRoom, type ComplianceRoomFactory } from './transport-compliance.ts';

// ---------------------------------------------------------------------------------------------
// Compliance: the memory transport under several configurations
// ---------------------------------------------------------------------------------------------

let roomCounter = 0;
let dupSeq = 0x7fff_0000;

/** Frames that the memory transport must drop for `reason`. */
function badFrames(target: RoomTransport, reason: DropReason): Uint8Array[] {
  switch (reason) {
    case 'Malformed':
      return [new Uint8Array([0xee, 0x01, 0x02, 0x03])];
    case 'Oversized':
      return [encodeMemoryFrame({ kind: 'send', channel: 'x', data: new Uint8Array(target.maxFrameBytes + 1) })];
    case 'NotInRoom':
      return [encodeMemoryFrame({ kind: 'send', channel: 'x', data: new Uint8Array([1, 2, 3]) })];
    case 'Duplicate': {
      const f = encodeMemoryFrame({ kind: 'broadcast', channel: 'dup', seq: dupSeq++, data: new Uint8Array([1, 2, 3]) });
      return [f, f];
    }
  }
}

interface MemoryFactoryOptions {
  readonly network: Omit<MemoryNetworkOptions, 'clock'>;
  readonly clock: 'manual' | 'real';
  /** Wrap every member in conditionTransport with these conditions. */
  readonly wrap?: ConditionerOptions;
}

function memoryFactory(o: MemoryFactoryOptions): ComplianceRoomFactory {
  return async ({ peers }) => {
    const net = new MemoryNetwork({ ...o.network, clock: o.clock });
    const roomId = `compliance-${++roomCounter}`;
    const wait = async (ms: number) => {
      if (o.clock === 'manual') net.advance(ms);
      else await new Promise((r) => setTimeout(r, ms));
    };
    let wrapSeed = 0;
    const make = async (): Promise<RoomTransport> => {
      const t = await net.join(roomId);
      return o.wrap === undefined ? t : conditionTransport(t, { conditioner: o.wrap, clock: net.clock, seed: ++wrapSeed });
    };
    const members: RoomTransport[] = [];
    for (let i = 0; i < peers; i++) members.push(await make());
    for (let waited = 0; !members.every((m) => m.peers().length === peers - 1); waited += 5) {
      if (waited > 5000) throw new Error('memory room did not settle');
      await wait(5);
    }
    const room: ComplianceRoom = {
      peers: members,
      join: make,
      async inject(target, reason, from) {
        const sender = reason === 'NotInRoom' ? 'outsider-1' : from!.localPeerId;
        for (const f of badFrames(target, reason)) net.injectRaw(roomId, target.localPeerId, sender, f);
        return sender;
      },
      async crash(peer) {
        net.disconnect(peer.localPeerId);
      },
      wait,
      cleanup: () => net.close(),
    };
    return room;
  };
}

const fastLiveness = { pingIntervalMs: 50, peerTimeoutMs: 300 };
const injectable: DropReason[] = ['Malformed', 'Oversized', 'NotInRoom', 'Duplicate'];

describeTransportCompliance('memory, manual clock, perfect network', memoryFactory({ clock: 'manual', network: fastLiveness }), { injectable });
describeTransportCompliance('memory, real clock, perfect network', memoryFactory({ clock: 'real', network: { pingIntervalMs: 50, peerTimeoutMs: 1000 } }), {
  injectable, stepMs: 5, quietMs: 30, crashTimeoutMs: 3000,
});
describeTransportCompliance('memory, manual clock, latency + jitter + duplication + reordering + bandwidth', memoryFactory({
  clock: 'manual',
  network: { ...fastLiveness, seed: 11, conditioner: { latencyMs: 20, jitterMs: 15, duplicate: 0.3, reorder: 0.3, reorderDelayMs: 25, bandwidthBytesPerSec: 2_000_000 } },
}), { injectable, quietMs: 200 });
describeTransportCompliance('conditionTransport around memory, manual clock', memoryFactory({
  clock: 'manual',
  network: { ...fastLiveness, seed: 5, conditioner: { latencyMs: 5 } },
  wrap: { latencyMs: 15, jitterMs: 10, duplicate: 0.3, reorder: 0.3 },
}), { injectable, quietMs: 200 });

// ---------------------------------------------------------------------------------------------
// Memory transport specifics
// ---------------------------------------------------------------------------------------------

type Log = string[];

/** Records every event of `t` as a line `time peer event ...` into `log`. */
function trace(net: MemoryNetwork, t: RoomTransport, log: Log): void {
  const me = t.localPeerId;
  const at = () => net.clock.now().toFixed(3);
  t.on('peer:join', (e) => void log.push(`${at()} ${me} join ${e.peerId}`));
  t.on('peer:leave', (e) => void log.push(`${at()} ${me} leave ${e.peerId} ${e.reason}`));
  t.on('message', (e) => void log.push(`${at()} ${me} msg ${e.from} ${e.channel} ${e.broadcast ? 'b' : 's'} ${[...e.data].join(',')}`));
  t.on('drop', (e) => void log.push(`${at()} ${me} drop ${e.reason} ${e.from}`));
}

async function pair(options: MemoryNetworkOptions = {}, ids: [PeerId, PeerId] = ['a', 'b']) {
  const net = new MemoryNetwork({ clock: 'manual', ...options });
  const a = await net.join('r', ids[0]);
  const b = await net.join('r', ids[1]);
  const log: Log = [];
  trace(net, a, log);
  trace(net, b, log);
  net.advance(0);
  for (let i = 0; i < 1000 && a.peers().length === 0; i++) net.advance(1);
  return { net, a, b, log };
}

describe('MemoryNetwork', () => {
  it('validates its options and join arguments with InvalidConfig naming the field', async () => {
    const bad: Array<[MemoryNetworkOptions, string]> = [
      [{ seed: 1.5 }, 'seed'],
      [{ pingIntervalMs: 0 }, 'pingIntervalMs'],
      [{ peerTimeoutMs: -1 }, 'peerTimeoutMs'],
      [{ clock: 'fake' as 'real' }, 'clock'],
      [{ conditioner: { latencyMs: -1 } }, 'latencyMs'],
    ];
    for (const [o, field] of bad) {
      let err: unknown;
      try {
        new MemoryNetwork(o);
      } catch (e) {
        err = e;
      }
      expect(err, field).toBeInstanceOf(NetcodeError);
      expect((err as NetcodeError).code).toBe('InvalidConfig');
      expect((err as NetcodeError).data.field).toBe(field);
      expect((err as NetcodeError).message).toContain(field);
    }
    const net = new MemoryNetwork({ clock: 'manual' });
    await net.join('r', 'x');
    await expect(net.join('r', 'x')).rejects.toMatchObject({ code: 'InvalidConfig', data: { field: 'peerId' } });
    await expect(net.join('')).rejects.toMatchObject({ code: 'InvalidConfig', data: { field: 'roomId' } });
    await expect(net.join('r', undefined, { maxFrameBytes: 0 })).rejects.toMatchObject({ code: 'InvalidConfig', data: { field: 'maxFrameBytes' } });
    expect(() => new MemoryNetwork().advance(1)).toThrow(/manual/);
    const t = await net.join('r', 'y');
    expect(() => t.send('x', 'c'.repeat(256), new Uint8Array(1))).toThrow(NetcodeError);
    await net.close();
  });

  it('gives default peer ids peer-001, peer-002, ... and keeps rooms apart', async () => {
    const net = new MemoryNetwork({ clock: 'manual' });
    const a = await net.join('one');
    const b = await net.join('one');
    const c = await net.join('two');
    net.advance(1);
    expect([a.localPeerId, b.localPeerId, c.localPeerId]).toEqual(['peer-001', 'peer-002', 'peer-003']);
    expect(a.peers()).toEqual(['peer-002']);
    expect(c.peers()).toEqual([]);
    // A peer id may be in several rooms; each room is its own membership.
    const a2 = await net.join('two', 'peer-001');
    net.advance(1);
    expect(a2.peers()).toEqual(['peer-003']);
    expect(a.peers()).toEqual(['peer-002']);
    await net.close();
  });

  it('delivers on the clock, never inside send, and timing follows the conditioner exactly', async () => {
    const { net, a, b, log } = await pair({ conditioner: { latencyMs: 30 } });
    expect(log).toEqual(['30.000 a join b', '30.000 b join a']); // handshake: one latency
    a.send('b', 'c', new Uint8Array([1]));
    expect(log.length).toBe(2);
    net.advance(29);
    expect(log.length).toBe(2);
    net.advance(1);
    expect(log.at(-1)).toBe('60.000 b msg a c s 1');
    await net.close();
  });

  it('measures RTT with pings through the conditioner: 2 x latency', async () => {
    const { net, a, b } = await pair({ conditioner: { latencyMs: 25 } });
    expect(a.stats().peers[0]!.rttMs).toBeUndefined();
    net.advance(50);
    expect(a.stats().peers[0]!.rttMs).toBe(50);
    expect(b.stats().peers[0]!.rttMs).toBe(50);
    expect(a.stats().peers[0]!.connection).toBe('memory');
    // Jitter: RTT stays inside [2 (L - J), 2 (L + J)].
    net.setConditioner({ latencyMs: 25, jitterMs: 5 });
    net.advance(10_000);
    const rtt = a.stats().peers[0]!.rttMs!;
    expect(rtt).toBeGreaterThanOrEqual(40);
    expect(rtt).toBeLessThanOrEqual(60);
    await net.close();
  });

  it("close(): messages sent before it arrive before peer:leave 'left'", async () => {
    const { net, a, log } = await pair({ peerTimeoutMs: 1e9, conditioner: { latencyMs: 10, jitterMs: 8, loss: 0.3 } });
    for (let i = 0; i < 20; i++) a.send('b', 'c', new Uint8Array([i]));
    await a.close();
    net.advance(60_000);
    const atB = log.filter((l) => l.includes(' b msg ') || l.includes(' b leave '));
    expect(atB.map((l) => l.split(' ').slice(2).join(' '))).toEqual([
      ...Array.from({ length: 20 }, (_, i) => `msg a c s ${i}`),
      'leave a left',
    ]);
    await net.close();
  });

  it('a peer that closes and rejoins under the same id leaves once and joins once', async () => {
    const { net, a, b, log } = await pair({ conditioner: { latencyMs: 10 } });
    log.length = 0;
    await a.close();
    const a2 = await net.join('r', 'a');
    trace(net, a2, log);
    net.advance(10);
    expect(log.map((l) => l.split(' ').slice(1).join(' '))).toEqual(['b leave a left', 'a join b', 'b join a']);
    // The goodbye is lost once on a -> b and arrives after the new handshake: the new connection
    // ends the old membership as 'closed' (a restarted peer); the late goodbye changes nothing.
    net.setLinkConditioner('a', 'b', { latencyMs: 10, loss: 1, rtoMs: 100, maxRetransmits: 1 });
    log.length = 0;
    await a2.close();
    const a3 = await net.join('r', 'a');
    trace(net, a3, log);
    net.advance(200);
    expect(log.map((l) => l.split(' ').slice(1).join(' '))).toEqual(['a join b', 'b leave a closed', 'b join a']);
    expect(b.peers()).toEqual(['a']);
    await net.close();
  });

  it("a crash (disconnect) is reported 'timeout' on both sides after peerTimeoutMs; reconnect joins again", async () => {
    const { net, a, b, log } = await pair({ pingIntervalMs: 100, peerTimeoutMs: 500 });
    log.length = 0;
    const t0 = net.clock.now();
    net.disconnect('b');
    a.broadcast('lost', new Uint8Array([1])); // lost on the cut link
    a.send('b', 'held', new Uint8Array([2])); // lost with the connection when it times out
    net.advance(2000);
    const leaves = log.filter((l) => l.includes('leave'));
    expect(leaves.map((l) => l.split(' ').slice(1).join(' ')).sort()).toEqual(['a leave b timeout', 'b leave a timeout']);
    for (const l of leaves) {
      const t = Number(l.split(' ')[0]) - t0;
      expect(t).toBeGreaterThanOrEqual(500);
      expect(t).toBeLessThanOrEqual(600 + 1e-9);
    }
    expect(a.peers()).toEqual([]);
    expect(b.peers()).toEqual([]);
    expect(() => a.send('b', 'x', new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'UnknownPeer' }));
    log.length = 0;
    net.reconnect('b');
    net.advance(10);
    expect(log.map((l) => l.split(' ').slice(1).join(' '))).toEqual(['a join b', 'b join a']);
    expect(log.some((l) => l.includes('msg'))).toBe(false);
    a.send('b', 'again', new Uint8Array([3]));
    net.advance(10);
    expect(log.at(-1)).toContain('b msg a again s 3');
    await net.close();
  });

  it('a partition shorter than the timeout holds reliable messages and delivers them in order after heal', async () => {
    const { net, a, b, log } = await pair({ pingIntervalMs: 100, peerTimeoutMs: 1000, conditioner: { latencyMs: 10 } });
    log.length = 0;
    net.partition(['a'], ['b']);
    for (let i = 0; i < 5; i++) {
      a.send('b', 's', new Uint8Array([i]));
      a.broadcast('bc', new Uint8Array([100 + i]));
    }
    net.advance(400);
    expect(log).toEqual([]);
    net.heal();
    net.advance(9);
    expect(log).toEqual([]);
    net.advance(1); // one link delay after the heal
    expect(log.map((l) => l.split(' ').slice(1).join(' '))).toEqual(Array.from({ length: 5 }, (_, i) => `b msg a s s ${i}`));
    net.advance(2000);
    expect(log.some((l) => l.includes('leave') || l.includes('join') || l.includes(' bc '))).toBe(false);
    expect(a.peers()).toEqual(['b']);
    expect(b.peers()).toEqual(['a']);
    await net.close();
  });

  it("one-way loss of everything: a times b out, b gets 'closed' and both rejoin; restoring the link stops the flapping", async () => {
    const { net, log } = await pair({ pingIntervalMs: 100, peerTimeoutMs: 500, conditioner: { latencyMs: 5 } });
    log.length = 0;
    net.setLinkConditioner('b', 'a', { latencyMs: 5, loss: 1 });
    net.advance(620);
    expect(log.map((l) => l.split(' ').slice(1).join(' '))).toEqual(['a leave b timeout', 'b leave a closed', 'a join b', 'b join a']);
    net.setLinkConditioner('b', 'a', undefined);
    log.length = 0;
    net.advance(5000);
    expect(log).toEqual([]);
    await net.close();
  });

  it('drops an oversized frame on receive (a sender with a larger limit) and counts it', async () => {
    const net = new MemoryNetwork({ clock: 'manual' });
    const a = await net.join('r', 'a', { maxFrameBytes: 1000 });
    const b = await net.join('r', 'b', { maxFrameBytes: 100 });
    const drops: string[] = [];
    b.on('drop', (e) => void drops.push(`${e.reason} ${e.from} ${e.bytes}`));
    net.advance(1);
    a.send('b', 'c', new Uint8Array(500));
    a.broadcast('c', new Uint8Array(100));
    net.advance(1);
    expect(drops).toEqual(['Oversized a 503']); // the whole frame: 500 + kind, channel length, 'c'
    expect(b.stats().drops).toEqual({ Oversized: 1, Malformed: 0, NotInRoom: 0, Duplicate: 0 });
    expect(b.stats().peers[0]!.messagesIn).toBe(1);
    await net.close();
  });

  it('never throws on arbitrary injected bytes and keeps working (fuzz)', async () => {
    const net = new MemoryNetwork({ clock: 'manual' });
    const a = await net.join('r', 'a');
    const b = await net.join('r', 'b');
    net.advance(1);
    let events = 0;
    b.on('message', () => void events++);
    b.on('drop', () => void events++);
    await fc.assert(fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }), async (frames) => {
      const before = events;
      let expected = 0;
      for (const f of frames) {
        net.injectRaw('r', 'b', 'a', f);
        const d = decodeMemoryFrame(f);
        if (d.kind !== 'ping' && d.kind !== 'pong') expected++;
      }
      net.advance(1);
      const got = events - before;
      expect(got).toBeGreaterThanOrEqual(expected);
      expect(got).toBeLessThanOrEqual(frames.length);
    }), { seed: 42, numRuns: 200 });
    const got: number[] = [];
    b.on('message', (m) => void got.push(m.data[0]!));
    a.send('b', 'ok', new Uint8Array([7]));
    net.advance(1);
    expect(got).toEqual([7]);
    expect(() => net.injectRaw('r', 'nobody', 'a', new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'UnknownPeer' }));
    await net.close();
  });

  it('is reproducible: the same seed and script give the same event log, another seed another', async () => {
    const run = async (seed: number) => {
      const net = new MemoryNetwork({
        seed, clock: 'manual', pingIntervalMs: 100, peerTimeoutMs: 1e9,
        conditioner: { latencyMs: 20, jitterMs: 15, loss: { p: 0.1, r: 0.4, k: 0.98, h: 0.3 }, duplicate: 0.1, reorder: 0.1, bandwidthBytesPerSec: 50_000 },
      });
      const log: Log = [];
      const ts = [await net.join('r', 'a'), await net.join('r', 'b'), await net.join('r', 'c')];
      for (const t of ts) trace(net, t, log);
      net.advance(30);
      for (let i = 0; i < 100; i++) {
        const t = ts[i % 3]!;
        if (i % 2 === 0) t.broadcast('b', new Uint8Array([i]));
        else t.send(t.peers()[i % 2]!, 's', new Uint8Array([i, i]));
        net.advance(3);
      }
      net.advance(20_000);
      await net.close();
      return log;
    };
    const [x, y, z] = [await run(3), await run(3), await run(4)];
    expect(x.length).toBeGreaterThan(100);
    expect(y).toEqual(x);
    expect(z).not.toEqual(x);
  });

  it('seeded network fuzz: any conditions keep sends exactly-once and ordered, broadcasts at most once', async () => {
    const conditions = fc.record({
      latencyMs: fc.integer({ min: 0, max: 80 }),
      jitterMs: fc.integer({ min: 0, max: 60 }),
      loss: fc.oneof(fc.double({ min: 0, max: 0.5, noNaN: true }), fc.record({ p: fc.double({ min: 0, max: 0.3, noNaN: true }), r: fc.double({ min: 0.1, max: 1, noNaN: true }) })),
      duplicate: fc.double({ min: 0, max: 0.5, noNaN: true }),
      reorder: fc.double({ min: 0, max: 0.5, noNaN: true }),
      bandwidthBytesPerSec: fc.constantFrom(Infinity, 2000, 100_000),
    });
    const op = fc.record({ from: fc.integer({ min: 0, max: 2 }), to: fc.integer({ min: 0, max: 1 }), ch: fc.integer({ min: 0, max: 1 }), bcast: fc.boolean(), gap: fc.integer({ min: 0, max: 20 }) });
    await fc.assert(fc.asyncProperty(conditions, fc.array(op, { minLength: 1, maxLength: 80 }), fc.integer(), async (cond, ops, seed) => {
      const net = new MemoryNetwork({ seed, clock: 'manual', pingIntervalMs: 10_000, peerTimeoutMs: 1e9, conditioner: cond });
      const ts = [await net.join('r', 'a'), await net.join('r', 'b'), await net.join('r', 'c')];
      const got = new Map<string, number[]>();
      const bseen = new Set<string>();
      for (const t of ts) {
        t.on('message', (m) => {
          const n = new DataView(m.data.buffer, m.data.byteOffset).getUint32(0, true);
          if (m.broadcast) {
            const k = `${m.from}>${t.localPeerId}#${n}`;
            expect(bseen.has(k)).toBe(false);
            bseen.add(k);
          } else {
            const k = `${m.from}>${t.localPeerId}/${m.channel}`;
            if (!got.has(k)) got.set(k, []);
            got.get(k)!.push(n);
          }
        });
      }
      net.advance(100);
      const sent = new Map<string, number[]>();
      ops.forEach((o, i) => {
        const t = ts[o.from]!;
        const data = new Uint8Array(8);
        new DataView(data.buffer).setUint32(0, i, true);
        if (o.bcast) t.broadcast('b', data);
        else {
          const to = t.peers()[o.to]!;
          const k = `${t.localPeerId}>${to}/c${o.ch}`;
          t.send(to, `c${o.ch}`, data);
          if (!sent.has(k)) sent.set(k, []);
          sent.get(k)!.push(i);
        }
        net.advance(o.gap);
      });
      net.advance(30 * 60_000);
      expect(got).toEqual(sent);
      await net.close();
    }), { seed: 20251123, numRuns: 60 });
  });
});

// ---------------------------------------------------------------------------------------------
// Conditioner effects observed through the memory transport
// ---------------------------------------------------------------------------------------------

describe('conditioner on the memory transport', () => {
  it('bandwidth cap: 10 KB at 5 KB/s takes about 2 s of virtual time', async () => {
    const { net, a, b } = await pair({ pingIntervalMs: 60_000, peerTimeoutMs: 1e9, conditioner: { bandwidthBytesPerSec: 5000 } });
    const times: number[] = [];
    b.on('message', () => void times.push(net.clock.now()));
    net.advance(10); // let the handshake pings through: the link is idle from here
    const t0 = net.clock.now();
    for (let i = 0; i < 10; i++) a.send('b', 'c', new Uint8Array(1000));
    net.advance(5000);
    expect(times.length).toBe(10);
    // Each frame carries 3 header bytes (kind, channel length, 'c'): 1003 bytes per message.
    expect(times[0]! - t0).toBeCloseTo(1003 / 5, 6);
    expect(times.at(-1)! - t0).toBeGreaterThanOrEqual(2000);
    expect(times.at(-1)! - t0).toBeLessThanOrEqual(2010);
    await net.close();
  });

  it('duplication and reordering show on broadcast: all delivered once, order changed, duplicates counted', async () => {
    const { net, a, b } = await pair({ seed: 9, conditioner: { latencyMs: 10, duplicate: 0.2, reorder: 0.2, reorderDelayMs: 20 } });
    const order: number[] = [];
    b.on('message', (m) => void order.push(new DataView(m.data.buffer).getUint16(0, true)));
    for (let i = 0; i < 500; i++) {
      const d = new Uint8Array(2);
      new DataView(d.buffer).setUint16(0, i, true);
      a.broadcast('b', d);
      net.advance(1);
    }
    net.advance(100);
    expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    let inversions = 0;
    for (let i = 1; i < order.length; i++) if (order[i]! < order[i - 1]!) inversions++;
    expect(inversions).toBeGreaterThan(50);
    const dups = b.stats().drops.Duplicate;
    expect(dups).toBeGreaterThan(60);
    expect(dups).toBeLessThan(140);
    await net.close();
  });

  it('reliable channels stay exactly-once and in order under 30 % loss; broadcasts lose about 30 %', async () => {
    const { net, a, b } = await pair({ seed: 2, peerTimeoutMs: 1e9, conditioner: { latencyMs: 15, jitterMs: 10, loss: 0.3 } });
    const got = { c0: [] as number[], c1: [] as number[], bc: 0 };
    const delays: number[] = [];
    const sentAt: number[] = [];
    b.on('message', (m) => {
      if (m.broadcast) return void got.bc++;
      const n = new DataView(m.data.buffer).getUint16(0, true);
      got[m.channel as 'c0' | 'c1'].push(n);
      delays.push(net.clock.now() - sentAt[n]!);
    });
    for (let i = 0; i < 300; i++) {
      const d = new Uint8Array(2);
      new DataView(d.buffer).setUint16(0, i, true);
      sentAt[i] = net.clock.now();
      a.send('b', i % 2 === 0 ? 'c0' : 'c1', d);
      a.broadcast('bc', d);
      net.advance(5);
    }
    net.advance(120_000);
    expect(got.c0).toEqual(Array.from({ length: 150 }, (_, i) => 2 * i));
    expect(got.c1).toEqual(Array.from({ length: 150 }, (_, i) => 2 * i + 1));
    expect(got.bc / 300).toBeGreaterThan(0.6);
    expect(got.bc / 300).toBeLessThan(0.8);
    // Some messages paid a retransmission timeout (>= 200 ms); none arrived before the latency floor.
    expect(Math.max(...delays)).toBeGreaterThanOrEqual(200);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(5);
    await net.close();
  });
});

// ---------------------------------------------------------------------------------------------
// conditionTransport specifics
// ---------------------------------------------------------------------------------------------

describe('conditionTransport', () => {
  async function wrapped(cond: ConditionerOptions, direction: 'incoming' | 'outgoing' | 'both' = 'both') {
    const clock = new ManualClock();
    const net = new MemoryNetwork({ clock, pingIntervalMs: 50, peerTimeoutMs: 1e9 });
    const a = conditionTransport(await net.join('r', 'a'), { conditioner: cond, direction, clock, seed: 1 });
    const b = await net.join('r', 'b');
    clock.advance(1);
    return { clock, net, a, b };
  }

  it('outgoing latency delays sends and broadcasts; the RTT includes the delay it added', async () => {
    const { clock, net, a, b } = await wrapped({ latencyMs: 40 }, 'outgoing');
    const at: number[] = [];
    b.on('message', () => void at.push(clock.now()));
    const t0 = clock.now();
    a.send('b', 'c', new Uint8Array([1]));
    a.broadcast('c', new Uint8Array([2]));
    clock.advance(39);
    expect(at).toEqual([]);
    clock.advance(1);
    expect(at).toEqual([t0 + 40, t0 + 40]);
    clock.advance(200);
    expect(a.inner.stats().peers[0]!.rttMs).toBe(0);
    expect(a.stats().peers[0]!.rttMs).toBe(40);
    expect(a.stats().peers[0]!.messagesOut).toBe(2);
    await a.close();
    await net.close();
  });

  it('incoming: duplicates are counted as drops, reliable order survives loss, peer:leave waits for held messages', async () => {
    const { clock, net, a, b } = await wrapped({ latencyMs: 30, jitterMs: 20, loss: 0.3, duplicate: 0.3 }, 'incoming');
    const got: string[] = [];
    a.on('message', (m) => void got.push(`${m.broadcast ? 'b' : 's'}${m.data[0]}`));
    a.on('peer:leave', (e) => void got.push(`leave ${e.peerId} ${e.reason}`));
    for (let i = 0; i < 100; i++) {
      b.send('a', 's', new Uint8Array([i]));
      b.broadcast('b', new Uint8Array([i]));
      clock.advance(2);
    }
    await b.close();
    clock.advance(120_000);
    const sends = got.filter((g) => g.startsWith('s')).map((g) => Number(g.slice(1)));
    expect(sends).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(got.at(-1)).toBe('leave b left');
    const bcasts = got.filter((g) => g.startsWith('b')).map((g) => Number(g.slice(1)));
    expect(new Set(bcasts).size).toBe(bcasts.length);
    expect(bcasts.length).toBeGreaterThan(50);
    expect(bcasts.length).toBeLessThan(90);
    expect(a.stats().drops.Duplicate).toBeGreaterThan(5);
    await a.close();
    await net.close();
  });

  it('setConditioner toggles at run time; validation names the field', async () => {
    const { clock, net, a, b } = await wrapped({ latencyMs: 100 });
    const at: number[] = [];
    b.on('message', () => void at.push(clock.now()));
    const t0 = clock.now();
    a.send('b', 'c', new Uint8Array([1]));
    a.setConditioner(undefined);
    a.send('b', 'c', new Uint8Array([2]));
    clock.advance(200);
    // Order is kept: the second (unconditioned) send waits behind the first.
    expect(at).toEqual([t0 + 100, t0 + 100]);
    expect(a.conditioner.latencyMs).toBe(0);
    expect(() => a.setConditioner({ loss: { p: 2, r: 0.5 } })).toThrow(expect.objectContaining({ code: 'InvalidConfig', data: expect.objectContaining({ field: 'loss.p' }) }));
    expect(() => conditionTransport(b, { direction: 'sideways' as 'both' })).toThrow(expect.objectContaining({ code: 'InvalidConfig' }));
    await a.close();
    expect(() => a.send('b', 'c', new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'Closed' }));
    await net.close();
  });
});

describe('a 100 ms link', () => {
  it('delivers sends and broadcasts no sooner than 100 ms after they were made', async () => {
    const net = new MemoryNetwork({ seed: 3, clock: 'manual', conditioner: { latencyMs: 100 } });
    const a = await net.join('r', 'a');
    const b = await net.join('r', 'b');
    net.advance(500); // membership settles
    const got: Array<{ data: string; at: number }> = [];
    b.on('message', (e) => void got.push({ data: new TextDecoder().decode(e.data), at: net.clock.now() }));
    const sentAt = net.clock.now();
    a.send('b', 'x', new TextEncoder().encode('send'));
    a.broadcast('x', new TextEncoder().encode('broadcast'));
    for (let t = 0; t < 99; t++) net.advance(1);
    expect(got).toEqual([]);
    net.advance(1);
    expect(got.map((g) => g.data).sort()).toEqual(['broadcast', 'send']);
    for (const g of got) expect(g.at - sentAt).toBe(100);
    await net.close();
  });
});
