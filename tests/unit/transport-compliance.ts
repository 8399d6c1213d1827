/**
 * The compliance suite of {@link RoomTransport}: one set of tests every transport must pass (the
 * in-memory one, with and without its conditioner, and the libp2p one). A test file calls
 * {@link describeTransportCompliance} with a factory that builds rooms of its transport.
 *
 * @example
 * ```ts
 * // tests/unit/transport-xyz.test.ts
 * import { describeTransportCompliance } from './transport-compliance.ts';
 * describeTransportCompliance('xyz', async ({ peers }) => {
 *   // create `peers` members of one fresh room, wait until each lists all others ...
 *   return { peers: members, join, inject, crash, wait, cleanup };
 * }, { timeoutMs: 10_000 });
 * ```
 *
 * Time: the suite never sleeps itself. It polls its conditions every `stepMs` and lets time
 * pass with `room.wait(stepMs)`, so a factory with a virtual clock advances it there and the
 * whole suite runs in virtual time, while a real transport simply sleeps.
 */
import { describe, expect, it } from 'vitest';
import { NetcodeError, type DropEvent, type DropReason } from '../../netcode/errors.ts';
import type { MessageEvent, PeerId, RoomTransport, TransportEvents } from '../../netcode/transport/index.ts';

/** What the suite asks of a factory call. */
export interface ComplianceRoomOptions {
  /** Members to create in one fresh room (2 or 3). */
  readonly peers: number;
}

/**
 * A fresh room of the transport under test, built by the factory.
 *
 * The factory resolves only once every member lists every other in `peers()` (so no test has to
 * wait for the initial mesh), and each call gives a room no other call shares.
 */
export interface ComplianceRoom {
  /** The members, in any order, each already listing all others. */
  readonly peers: readonly RoomTransport[];
  /**
   * Adds a member to the same room (a late joiner) and resolves with its transport as soon as it
   * exists: the suite itself waits for the others to see it and for it to see them.
   */
  join(): Promise<RoomTransport>;
  /**
   * Makes `target` receive bad input it must drop, counting it under `reason` and emitting a
   * `drop` event, without delivering it and without throwing:
   * - `'Malformed'`: bytes that do not decode (e.g. garbage on a raw stream), from member `from`;
   * - `'Oversized'`: a frame whose payload is longer than `target.maxFrameBytes`, from `from`;
   * - `'NotInRoom'`: a well-formed message from a peer that is not a member of the room
   *   (`from` is not given: the factory supplies the outsider);
   * - `'Duplicate'` (only if listed in `injectable`): a broadcast of `from` that `target` has
   *   already delivered; the factory may deliver the original first (one `message` event).
   *
   * Resolves once the input is on its way; the suite waits for the drop. Resolves with the peer
   * id `target` should report as the drop's `from`, or `undefined` when the transport cannot
   * know it (the suite then does not check `from`).
   */
  inject(target: RoomTransport, reason: DropReason, from?: RoomTransport): Promise<PeerId | undefined>;
  /**
   * Optional: makes `peer` vanish without a goodbye (process killed, cable pulled). The others
   * must report `peer:leave` with reason `'timeout'` or `'closed'` within `crashTimeoutMs`.
   */
  crash?(peer: RoomTransport): Promise<void>;
  /** Lets `ms` of transport time pass: sleep, or advance a virtual clock. */
  wait(ms: number): Promise<void>;
  /** Closes every member and releases everything the room used (called even when a test fails). */
  cleanup(): Promise<void>;
}

/** Builds a fresh room for one test. */
export type ComplianceRoomFactory = (options: ComplianceRoomOptions) => Promise<ComplianceRoom>;

/** Tuning of the suite for one transport. */
export interface ComplianceOptions {
  /** Transport time allowed for any expected delivery or membership change, ms. Default 5000. */
  readonly timeoutMs?: number;
  /** Poll interval, ms of transport time. Default 10. */
  readonly stepMs?: number;
  /** Extra time waited to make sure nothing more arrives (no duplicates, no stray events), ms. Default 100. */
  readonly quietMs?: number;
  /** Transport time allowed to report a crashed peer, ms. Default 10000. */
  readonly crashTimeoutMs?: number;
  /** Bad inputs the factory's `inject` supports. Default `['Malformed', 'Oversized', 'NotInRoom']`. */
  readonly injectable?: readonly DropReason[];
  /** Vitest timeout per test, wall ms. Default 30000. */
  readonly testTimeoutMs?: number;
}

interface Recorder {
  readonly joins: PeerId[];
  readonly leaves: Array<TransportEvents['peer:leave']>;
  readonly messages: MessageEvent[];
  readonly drops: DropEvent[];
  stop(): void;
}

function record(t: RoomTransport): Recorder {
  const r = { joins: [] as PeerId[], leaves: [] as Array<TransportEvents['peer:leave']>, messages: [] as MessageEvent[], drops: [] as DropEvent[] };
  const offs = [
    t.on('peer:join', (e) => void r.joins.push(e.peerId)),
    t.on('peer:leave', (e) => void r.leaves.push(e)),
    t.on('message', (e) => void r.messages.push(e)),
    t.on('drop', (e) => void r.drops.push(e)),
  ];
  return { ...r, stop: () => offs.forEach((f) => f()) };
}

/** 8-byte payload: u32 index, u32 tag (little endian). */
function payload(index: number, tag: number, size = 8): Uint8Array {
  const b = new Uint8Array(Math.max(8, size));
  const v = new DataView(b.buffer);
  v.setUint32(0, index, true);
  v.setUint32(4, tag, true);
  return b;
}

function indexOf(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true);
}

function tagOf(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(4, true);
}

function expectNetcodeError(fn: () => unknown, code: NetcodeError['code'], mentions?: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected NetcodeError '${code}'`).toBeInstanceOf(NetcodeError);
  expect((thrown as NetcodeError).code).toBe(code);
  if (mentions !== undefined) expect((thrown as NetcodeError).message).toContain(mentions);
}

/**
 * Registers the compliance tests of one transport under `describe(name)`.
 * @param makeRoom builds a fresh room per test (see {@link ComplianceRoom}).
 */
export function describeTransportCompliance(name: string, makeRoom: ComplianceRoomFactory, options: ComplianceOptions = {}): void {
  const timeoutMs = options.timeoutMs ?? 5000;
  const stepMs = options.stepMs ?? 10;
  const quietMs = options.quietMs ?? 100;
  const crashTimeoutMs = options.crashTimeoutMs ?? 10_000;
  const injectable = options.injectable ?? ['Malformed', 'Oversized', 'NotInRoom'];
  const testTimeout = options.testTimeoutMs ?? 30_000;

  async function until(room: ComplianceRoom, cond: () => boolean, what: string, limitMs = timeoutMs): Promise<void> {
    for (let waited = 0; !cond(); waited += stepMs) {
      if (waited >= limitMs) throw new Error(`timed out after ${limitMs} ms of transport time waiting for ${what}`);
      await room.wait(stepMs);
    }
  }

  async function quiet(room: ComplianceRoom): Promise<void> {
    for (let waited = 0; waited < quietMs; waited += stepMs) await room.wait(stepMs);
  }

  async function withRoom(peers: number, body: (room: ComplianceRoom, p: readonly RoomTransport[]) => Promise<void>): Promise<void> {
    const room = await makeRoom({ peers });
    try {
      expect(room.peers.length).toBe(peers);
      await body(room, room.peers);
    } finally {
      await room.cleanup();
    }
  }

  function others(p: readonly RoomTransport[], self: RoomTransport): PeerId[] {
    return p.filter((x) => x !== self).map((x) => x.localPeerId).sort();
  }

  describe(`RoomTransport compliance: ${name}`, () => {
    it('members of a room list each other: sorted, without themselves, one room id', async () => {
      await withRoom(3, async (_room, p) => {
        const ids = p.map((t) => t.localPeerId);
        expect(new Set(ids).size).toBe(3);
        for (const t of p) {
          expect(t.roomId).toBe(p[0]!.roomId);
          expect(t.maxFrameBytes).toBeGreaterThanOrEqual(1);
          const listed = [...t.peers()];
          expect(listed).toEqual(others(p, t));
          expect(listed).toEqual([...listed].sort());
          expect(t.stats().peers.map((s) => s.peerId)).toEqual(listed);
        }
      });
    }, testTimeout);

    it('send delivers exactly once, in order per (sender, channel), with the true sender, without re-entrancy', async () => {
      await withRoom(3, async (room, [a, b, c]) => {
        const rb = record(b!), ra = record(a!), rc = record(c!);
        let inSend = false;
        const reentered: string[] = [];
        for (const t of [a!, b!, c!]) t.on('message', () => void (inSend && reentered.push(t.localPeerId)));
        // One buffer reused for every send: the transport must not keep a reference to it.
        const buf = new Uint8Array(8);
        const view = new DataView(buf.buffer);
        for (let i = 0; i < 200; i++) {
          view.setUint32(0, i >> 1, true);
          view.setUint32(4, 0xa, true);
          inSend = true;
          a!.send(b!.localPeerId, i % 2 === 0 ? 'ch-even' : 'ch-odd', buf);
          inSend = false;
          if (i % 4 === 0) {
            inSend = true;
            c!.send(b!.localPeerId, 'ch-even', payload(i / 4, 0xc));
            inSend = false;
          }
        }
        view.setUint32(0, 0xffffffff, true); // scribble after the last send
        await until(room, () => rb.messages.length >= 250, '250 messages at b');
        await quiet(room);
        expect(reentered).toEqual([]);
        expect(rb.messages.length).toBe(250);
        expect(ra.messages.length + rc.messages.length).toBe(0);
        const seqs = new Map<string, number[]>();
        for (const m of rb.messages) {
          expect(m.broadcast).toBe(false);
          expect(m.data.length).toBe(8);
          const tag = tagOf(m.data);
          // `from` is the connection's peer, and matches what the sender wrote in the payload.
          expect(m.from).toBe(tag === 0xa ? a!.localPeerId : c!.localPeerId);
          const key = `${m.from}/${m.channel}`;
          if (!seqs.has(key)) seqs.set(key, []);
          seqs.get(key)!.push(indexOf(m.data));
        }
        const range = (n: number) => Array.from({ length: n }, (_, i) => i);
        expect(seqs.get(`${a!.localPeerId}/ch-even`)).toEqual(range(100));
        expect(seqs.get(`${a!.localPeerId}/ch-odd`)).toEqual(range(100));
        expect(seqs.get(`${c!.localPeerId}/ch-even`)).toEqual(range(50));
        expect(seqs.size).toBe(3);
      });
    }, testTimeout);

    it('broadcast reaches every other member exactly once and never the sender; receivers own their data', async () => {
      await withRoom(3, async (room, [a, b, c]) => {
        const rec = new Map([a!, b!, c!].map((t) => [t, record(t)]));
        let inSend = false;
        let reentered = 0;
        for (const t of [a!, b!, c!]) t.on('message', () => void (inSend && reentered++));
        for (let i = 0; i < 20; i++) {
          inSend = true;
          a!.broadcast('bcast', payload(i, 0xa));
          if (i < 5) b!.broadcast('bcast', payload(i, 0xb));
          inSend = false;
        }
        const want = new Map([[a!, 5], [b!, 20], [c!, 25]]);
        await until(room, () => [...want].every(([t, n]) => rec.get(t)!.messages.length >= n), 'all broadcasts');
        // b scribbles over its copy of a's broadcast #0; c's copy of it must not change.
        const scribbled = rec.get(b!)!.messages.find((m) => m.from === a!.localPeerId && indexOf(m.data) === 0)!;
        scribbled.data.fill(0xee);
        await quiet(room);
        const cCopy = rec.get(c!)!.messages.find((m) => m.from === a!.localPeerId && indexOf(m.data) === 0)!;
        expect([...cCopy.data]).toEqual([...payload(0, 0xa)]);
        expect(reentered).toBe(0);
        for (const [t, n] of want) {
          const ms = rec.get(t)!.messages;
          expect(ms.length, `messages at ${t.localPeerId}`).toBe(n);
          for (const m of ms) {
            expect(m.broadcast).toBe(true);
            expect(m.channel).toBe('bcast');
            expect(m.from).not.toBe(t.localPeerId);
          }
          for (const sender of [a!, b!]) {
            if (sender === t) continue;
            const got = ms.filter((m) => m.from === sender.localPeerId).map((m) => (m === scribbled ? 0 : indexOf(m.data))).sort((x, y) => x - y);
            expect(got).toEqual(Array.from({ length: sender === a ? 20 : 5 }, (_, i) => i));
          }
        }
        const cFromA = rec.get(c!)!.messages.filter((m) => m.from === a!.localPeerId);
        expect(cFromA.every((m) => tagOf(m.data) === 0xa)).toBe(true);
      });
    }, testTimeout);

    it('a frame of maxFrameBytes is delivered intact; one byte more throws FrameTooLarge', async () => {
      await withRoom(2, async (room, [a, b]) => {
        const rb = record(b!);
        const max = a!.maxFrameBytes;
        const big = new Uint8Array(max);
        for (let i = 0; i < max; i++) big[i] = (i * 31 + 7) & 0xff;
        a!.send(b!.localPeerId, 'big', big);
        expectNetcodeError(() => a!.send(b!.localPeerId, 'big', new Uint8Array(max + 1)), 'FrameTooLarge');
        expectNetcodeError(() => a!.broadcast('big', new Uint8Array(max + 1)), 'FrameTooLarge');
        await until(room, () => rb.messages.length >= 1, 'the large frame');
        await quiet(room);
        expect(rb.messages.length).toBe(1);
        expect(rb.messages[0]!.data).toEqual(big);
      });
    }, testTimeout);

    it('send to a peer that is not a member throws UnknownPeer naming it (itself included)', async () => {
      await withRoom(2, async (_room, [a]) => {
        expectNetcodeError(() => a!.send('no-such-peer-xyz', 'x', new Uint8Array(1)), 'UnknownPeer', 'no-such-peer-xyz');
        expectNetcodeError(() => a!.send(a!.localPeerId, 'x', new Uint8Array(1)), 'UnknownPeer', a!.localPeerId);
      });
    }, testTimeout);

    it("close(): the others get peer:leave 'left' once; sends after close throw Closed; close is idempotent", async () => {
      await withRoom(3, async (room, [a, b, c]) => {
        const ra = record(a!), rb = record(b!);
        await c!.close();
        await until(room, () => ra.leaves.length >= 1 && rb.leaves.length >= 1, "peer:leave at a and b");
        await quiet(room);
        for (const r of [ra, rb]) expect(r.leaves).toEqual([{ peerId: c!.localPeerId, reason: 'left' }]);
        expect(a!.peers()).toEqual([b!.localPeerId]);
        expect(b!.peers()).toEqual([a!.localPeerId]);
        expectNetcodeError(() => c!.send(a!.localPeerId, 'x', new Uint8Array(1)), 'Closed');
        expectNetcodeError(() => c!.broadcast('x', new Uint8Array(1)), 'Closed');
        await c!.close();
        expectNetcodeError(() => a!.send(c!.localPeerId, 'x', new Uint8Array(1)), 'UnknownPeer', c!.localPeerId);
        // The remaining two still talk.
        a!.send(b!.localPeerId, 'after', payload(1, 1));
        await until(room, () => rb.messages.length >= 1, 'a message after the leave');
        expect(rb.messages[0]!.from).toBe(a!.localPeerId);
      });
    }, testTimeout);

    it('a late joiner sees the members and they see it (one peer:join each); messages flow both ways', async () => {
      await withRoom(2, async (room, [a, b]) => {
        const ra = record(a!), rb = record(b!);
        const d = await room.join();
        const rd = record(d);
        const all = [a!, b!, d];
        await until(room, () => all.every((t) => t.peers().length === 2), 'everyone to list 2 peers');
        for (const t of all) expect([...t.peers()]).toEqual(others(all, t));
        await quiet(room);
        expect(ra.joins).toEqual([d.localPeerId]);
        expect(rb.joins).toEqual([d.localPeerId]);
        expect(new Set(rd.joins).size).toBe(rd.joins.length); // the joiner may have seen some before recording
        d.send(a!.localPeerId, 'hi', payload(1, 0xd));
        a!.send(d.localPeerId, 'hi', payload(2, 0xa));
        d.broadcast('all', payload(3, 0xd));
        await until(room, () => ra.messages.length >= 2 && rd.messages.length >= 1 && rb.messages.length >= 1, 'messages with the joiner');
        expect(ra.messages.map((m) => [m.from, indexOf(m.data)])).toEqual(expect.arrayContaining([[d.localPeerId, 1], [d.localPeerId, 3]]));
        expect(rd.messages[0]!.from).toBe(a!.localPeerId);
        expect(rb.messages[0]!.from).toBe(d.localPeerId);
      });
    }, testTimeout);

    it('stats count application messages and payload bytes per peer; RTT gets measured', async () => {
      await withRoom(2, async (room, [a, b]) => {
        const rb = record(b!), ra = record(a!);
        const peerStat = (t: RoomTransport, id: PeerId) => t.stats().peers.find((s) => s.peerId === id)!;
        const a0 = peerStat(a!, b!.localPeerId), b0 = peerStat(b!, a!.localPeerId);
        for (let i = 0; i < 10; i++) a!.send(b!.localPeerId, 's', payload(i, 0, 100));
        for (let i = 0; i < 3; i++) b!.broadcast('b', payload(i, 0, 10));
        await until(room, () => rb.messages.length >= 10 && ra.messages.length >= 3, 'the messages');
        const a1 = peerStat(a!, b!.localPeerId), b1 = peerStat(b!, a!.localPeerId);
        expect(a1.messagesOut - a0.messagesOut).toBe(10);
        expect(a1.bytesOut - a0.bytesOut).toBe(1000);
        expect(b1.messagesIn - b0.messagesIn).toBe(10);
        expect(b1.bytesIn - b0.bytesIn).toBe(1000);
        expect(b1.messagesOut - b0.messagesOut).toBe(3);
        expect(b1.bytesOut - b0.bytesOut).toBe(30);
        expect(a1.messagesIn - a0.messagesIn).toBe(3);
        expect(a1.bytesIn - a0.bytesIn).toBe(30);
        expect(a1.connection).not.toBe('none');
        const s = a!.stats();
        expect(['mesh', 'relay-star', 'gossip']).toContain(s.topology);
        expect(Object.keys(s.drops).sort()).toEqual(['Duplicate', 'Malformed', 'NotInRoom', 'Oversized']);
        for (const n of Object.values(s.drops)) expect(Number.isInteger(n) && n >= 0).toBe(true);
        await until(room, () => peerStat(a!, b!.localPeerId).rttMs !== undefined && peerStat(b!, a!.localPeerId).rttMs !== undefined, 'an RTT sample');
        for (const rtt of [peerStat(a!, b!.localPeerId).rttMs!, peerStat(b!, a!.localPeerId).rttMs!]) {
          expect(Number.isFinite(rtt) && rtt >= 0).toBe(true);
        }
      });
    }, testTimeout);

    it('on() returns an unsubscribe that stops that handler only', async () => {
      await withRoom(2, async (room, [a, b]) => {
        const got: number[] = [];
        const kept: number[] = [];
        const off = b!.on('message', (m) => void got.push(indexOf(m.data)));
        b!.on('message', (m) => void kept.push(indexOf(m.data)));
        a!.send(b!.localPeerId, 'u', payload(1, 0));
        await until(room, () => kept.length >= 1, 'first message');
        off();
        off();
        a!.send(b!.localPeerId, 'u', payload(2, 0));
        await until(room, () => kept.length >= 2, 'second message');
        expect(got).toEqual([1]);
        expect(kept).toEqual([1, 2]);
      });
    }, testTimeout);

    for (const reason of injectable) {
      it(`bad input (${reason}) is dropped, counted and reported, never delivered or thrown`, async () => {
        await withRoom(2, async (room, [a, b]) => {
          const rb = record(b!);
          const before = b!.stats().drops[reason];
          const from = await room.inject(b!, reason, reason === 'NotInRoom' ? undefined : a!);
          await until(room, () => b!.stats().drops[reason] > before, `drops.${reason} to grow`);
          await quiet(room);
          const drops = rb.drops.filter((d) => d.reason === reason);
          expect(drops.length).toBeGreaterThanOrEqual(1);
          expect(drops.length).toBe(b!.stats().drops[reason] - before);
          for (const d of drops) {
            expect(d.bytes).toBeGreaterThan(0);
            expect(typeof d.detail).toBe('string');
            if (from !== undefined) expect(d.from).toBe(from);
          }
          expect(rb.messages.length).toBeLessThanOrEqual(reason === 'Duplicate' ? 1 : 0);
          expect([...b!.peers()]).toEqual([a!.localPeerId]);
          // Still works.
          const n = rb.messages.length;
          a!.send(b!.localPeerId, 'after-bad-input', payload(9, 9));
          await until(room, () => rb.messages.length > n, 'a message after the bad input');
          expect(rb.messages.at(-1)!.from).toBe(a!.localPeerId);
          expect(rb.messages.at(-1)!.channel).toBe('after-bad-input');
        });
      }, testTimeout);
    }

    it('a crashed peer is reported gone (timeout or closed) by the others', async (ctx) => {
      const room = await makeRoom({ peers: 3 });
      try {
        if (room.crash === undefined) {
          ctx.skip();
          return;
        }
        const [a, b, c] = room.peers;
        const ra = record(a!), rb = record(b!);
        await room.crash(c!);
        await until(room, () => ra.leaves.length >= 1 && rb.leaves.length >= 1, 'peer:leave of the crashed peer', crashTimeoutMs);
        for (const r of [ra, rb]) {
          expect(r.leaves.length).toBe(1);
          expect(r.leaves[0]!.peerId).toBe(c!.localPeerId);
          expect(['timeout', 'closed']).toContain(r.leaves[0]!.reason);
        }
        expect(a!.peers()).toEqual([b!.localPeerId]);
        expect(b!.peers()).toEqual([a!.localPeerId]);
      } finally {
        await room.cleanup();
      }
    }, testTimeout);
  });
}
