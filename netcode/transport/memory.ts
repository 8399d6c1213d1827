/**
 * In-memory transport: every peer of a test or demo lives in one process and talks through a
 * {@link MemoryNetwork} hub, whose links pass through the seeded network conditioner
 * (`conditioner.ts`). It implements {@link RoomTransport} with the same guarantees as the libp2p
 * transport and passes the same compliance suite (tests/unit/transport-compliance.ts).
 *
 * @example
 * ```ts
 * const net = new MemoryNetwork({ seed: 1, clock: 'manual', conditioner: { latencyMs: 30, jitterMs: 5 } });
 * const a = await net.join('lobby', 'alice');
 * const b = await net.join('lobby', 'bob');
 * b.on('message', (m) => console.log(m.from, m.channel, m.data));
 * net.advance(30);                                  // handshake: a and b see peer:join
 * a.send('bob', 'chat', new TextEncoder().encode('hi'));
 * net.advance(40);                                  // delivered after 25..35 ms
 * net.disconnect('bob');                            // bob's cable is cut
 * net.advance(6000);                                // alice: peer:leave bob 'timeout'
 * net.reconnect('bob'); net.advance(100);           // both: peer:join again
 * ```
 *
 * Model (each point holds for both clocks):
 * - Timing: every delivery is a callback on the network's clock, never inside `send`. With
 *   `clock: 'real'` (default) callbacks run from timers; with `clock: 'manual'` only inside
 *   {@link MemoryNetwork.advance}, in (time, scheduling order), so runs are reproducible.
 * - Links: one conditioned link per ordered pair of peer ids (shared by every room the two are
 *   in), seeded from `(seed, from, to)`. What each knob does to `send` and `broadcast` is the
 *   table in `conditioner.ts`: sends are reliable (loss costs retransmission delay with TCP-like
 *   head-of-line blocking per link), broadcasts and pings best effort.
 * - Connections: when two members of a room can reach each other, a connection opens after a
 *   handshake of one base latency (`latencyMs`, no jitter or loss): both sides get `peer:join` in
 *   the same instant. `close()` sends a goodbye behind everything already sent on each link, so
 *   others first receive what was sent before it, then `peer:leave` `'left'`. A peer that
 *   rejoins under the same id before its goodbye arrived is a restarted peer: the others get
 *   `peer:leave` `'closed'` for the old membership, then `peer:join`. Frames of a connection
 *   only ever reach the two transports it was opened between.
 * - Liveness: each member pings every other every `pingIntervalMs` (best effort, through the
 *   conditioner; the pong gives `rttMs`, smoothed EWMA 0.2). A member that has heard nothing
 *   from a peer for `peerTimeoutMs` gives `peer:leave` `'timeout'` (checked at each ping, so
 *   within one ping interval after the timeout) and closes the connection. The other side, if it
 *   still lists the peer, gets `peer:leave` `'closed'` once the reset reaches it (a link delay
 *   later, or when the link comes back). Reliable messages still in flight on a closed
 *   connection are discarded.
 * - Failures: {@link MemoryNetwork.disconnect} cuts a peer off (a crash or a pulled cable: it
 *   says no goodbye and hears nothing); {@link MemoryNetwork.partition} cuts links between two
 *   groups. Best-effort packets arriving on a cut link are lost; reliable ones wait (as TCP
 *   retransmits) and arrive a link delay after the link comes back if the connection survived.
 *   When peers can reach each other again and their connection has closed, a new one opens
 *   and both sides get `peer:join` again. Sustained loss of every ping also times a connection
 *   out, and it reopens at once if the link is up (flapping, as a real one would).
 * - Stats: message and byte counters count application payloads (`data.length`) per peer, at
 *   `send`/`broadcast` time (a broadcast counts once per member) and at delivery; framing and
 *   pings are excluded. Counters reset when a peer leaves. `connection` is `'memory'`.
 * - Bad input (only possible through {@link MemoryNetwork.injectRaw} or peers with a larger
 *   `maxFrameBytes`): a frame from a non-member is dropped `NotInRoom`, a frame longer than
 *   `maxFrameBytes + MEMORY_FRAME_MAX_HEADER_BYTES` or with a payload longer than
 *   `maxFrameBytes` `Oversized`, undecodable bytes `Malformed`, a broadcast whose (sender,
 *   sequence number) was delivered among the last {@link BROADCAST_DEDUP_WINDOW} from that
 *   sender `Duplicate`. Each is counted in `stats().drops` and emitted as `drop`.
 */
import { NetcodeError, type DropEvent, type DropReason } from '../errors.ts';
import { ManualClock, RealClock, type Clock } from './clock.ts';
import { NetworkConditioner, type ConditionerOptions } from './conditioner.ts';
import { Emitter } from './emitter.ts';
import {
  DEFAULT_MAX_FRAME_BYTES,
  type Channel, type PeerId, type PeerStats, type RoomTransport, type TransportEvents, type TransportStats,
} from './types.ts';

/** Default interval between pings to each member, ms. */
export const DEFAULT_PING_INTERVAL_MS = 1000;
/** Default silence after which a member is reported `'timeout'`, ms (GGPO's disconnect timeout). */
export const DEFAULT_PEER_TIMEOUT_MS = 5000;
/** Longest channel name, bytes of UTF-8. */
export const MAX_CHANNEL_BYTES = 255;
/** Largest header of a memory frame, bytes: kind (1) + channel length (1) + channel (255) + sequence (4). */
export const MEMORY_FRAME_MAX_HEADER_BYTES = 1 + 1 + MAX_CHANNEL_BYTES + 4;
/** Broadcast sequence numbers remembered per sender for duplicate detection. */
export const BROADCAST_DEDUP_WINDOW = 4096;

/** Weight of a new RTT sample in the smoothed `rttMs`. */
const RTT_EWMA_WEIGHT = 0.2;

// ---------------------------------------------------------------------------------------------
// Wire format
// ---------------------------------------------------------------------------------------------

/**
 * A frame on a memory link. Byte layout (little endian):
 *
 * | kind | bytes |
 * |---|---|
 * | send (1) | `[1][channel length u8][channel UTF-8][payload]` |
 * | broadcast (2) | `[2][channel length u8][channel UTF-8][sequence u32][payload]` |
 * | ping (3) | `[3][sent at, ms, f64]` |
 * | pong (4) | `[4][sent at of the ping, ms, f64]` |
 *
 * Exported for tests that inject raw frames with {@link MemoryNetwork.injectRaw}.
 */
export type MemoryFrame =
  | { readonly kind: 'send'; readonly channel: Channel; readonly data: Uint8Array }
  | { readonly kind: 'broadcast'; readonly channel: Channel; readonly seq: number; readonly data: Uint8Array }
  | { readonly kind: 'ping'; readonly sentAtMs: number }
  | { readonly kind: 'pong'; readonly sentAtMs: number };

const KIND_SEND = 1, KIND_BROADCAST = 2, KIND_PING = 3, KIND_PONG = 4;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

function channelBytes(channel: Channel): Uint8Array {
  if (typeof channel !== 'string') throw new NetcodeError('InvalidConfig', `channel must be a string, got ${typeof channel}`, { field: 'channel' });
  const b = textEncoder.encode(channel);
  if (b.length > MAX_CHANNEL_BYTES) {
    throw new NetcodeError('InvalidConfig', `channel '${channel.slice(0, 32)}...' is ${b.length} bytes of UTF-8, more than ${MAX_CHANNEL_BYTES}`, { field: 'channel', bytes: b.length });
  }
  return b;
}

/**
 * Encodes a frame (copies `data`).
 * @throws NetcodeError `InvalidConfig` when the channel is longer than {@link MAX_CHANNEL_BYTES}.
 */
export function encodeMemoryFrame(frame: MemoryFrame): Uint8Array {
  if (frame.kind === 'ping' || frame.kind === 'pong') {
    const out = new Uint8Array(9);
    out[0] = frame.kind === 'ping' ? KIND_PING : KIND_PONG;
    new DataView(out.buffer).setFloat64(1, frame.sentAtMs, true);
    return out;
  }
  const ch = channelBytes(frame.channel);
  const header = 2 + ch.length + (frame.kind === 'broadcast' ? 4 : 0);
  const out = new Uint8Array(header + frame.data.length);
  out[0] = frame.kind === 'send' ? KIND_SEND : KIND_BROADCAST;
  out[1] = ch.length;
  out.set(ch, 2);
  if (frame.kind === 'broadcast') new DataView(out.buffer).setUint32(2 + ch.length, frame.seq >>> 0, true);
  out.set(frame.data, header);
  return out;
}

/** Result of {@link decodeMemoryFrame} for bytes that are not a frame. */
export interface MalformedFrame {
  readonly kind: 'malformed';
  readonly detail: string;
}

/** Decodes a frame; `data` is a fresh copy. Never throws: bad bytes give a {@link MalformedFrame}. */
export function decodeMemoryFrame(bytes: Uint8Array): MemoryFrame | MalformedFrame {
  if (bytes.length === 0) return { kind: 'malformed', detail: 'empty frame' };
  const kind = bytes[0]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (kind === KIND_PING || kind === KIND_PONG) {
    if (bytes.length !== 9) return { kind: 'malformed', detail: `${kind === KIND_PING ? 'ping' : 'pong'} of ${bytes.length} bytes, expected 9` };
    const sentAtMs = view.getFloat64(1, true);
    if (!Number.isFinite(sentAtMs)) return { kind: 'malformed', detail: 'ping time is not finite' };
    return { kind: kind === KIND_PING ? 'ping' : 'pong', sentAtMs };
  }
  if (kind !== KIND_SEND && kind !== KIND_BROADCAST) return { kind: 'malformed', detail: `unknown frame kind ${kind}` };
  if (bytes.length < 2) return { kind: 'malformed', detail: 'truncated header' };
  const chLen = bytes[1]!;
  const header = 2 + chLen + (kind === KIND_BROADCAST ? 4 : 0);
  if (bytes.length < header) return { kind: 'malformed', detail: `truncated header: ${bytes.length} bytes, header needs ${header}` };
  let channel: string;
  try {
    channel = textDecoder.decode(bytes.subarray(2, 2 + chLen));
  } catch {
    return { kind: 'malformed', detail: 'channel is not valid UTF-8' };
  }
  const data = bytes.slice(header);
  if (kind === KIND_SEND) return { kind: 'send', channel, data };
  return { kind: 'broadcast', channel, seq: view.getUint32(2 + chLen, true), data };
}

// ---------------------------------------------------------------------------------------------
// Network
// ---------------------------------------------------------------------------------------------

/** Options of {@link MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** Seed of the conditioner, any integer (low 32 bits used). Default 0. */
  readonly seed?: number;
  /** Conditions of every link (see `conditioner.ts`). Default: a perfect network (0 ms, no loss). */
  readonly conditioner?: ConditionerOptions;
  /**
   * `'real'` (default): wall time and timers. `'manual'`: virtual time moved by
   * {@link MemoryNetwork.advance}. Or any {@link Clock} (e.g. a `ManualClock` shared with a
   * `conditionTransport`).
   */
  readonly clock?: 'real' | 'manual' | Clock;
  /** Interval between pings to each member, ms, > 0. Default {@link DEFAULT_PING_INTERVAL_MS}. */
  readonly pingIntervalMs?: number;
  /** Silence after which a member is reported `'timeout'`, ms, > 0. Default {@link DEFAULT_PEER_TIMEOUT_MS}. */
  readonly peerTimeoutMs?: number;
}

/** Options of {@link MemoryNetwork.join}. */
export interface MemoryJoinOptions {
  /** Largest payload accepted, bytes, integer >= 1. Default {@link DEFAULT_MAX_FRAME_BYTES}. */
  readonly maxFrameBytes?: number;
}

interface LaneItem {
  at: number;
  /** A frame, or `null` for the goodbye of `close()`. */
  readonly frame: Uint8Array | null;
}

/** Reliable, ordered queue of one direction of a connection. Arrival times never decrease. */
interface Lane {
  readonly items: LaneItem[];
  tail: number;
}

class Connection {
  opened = false;
  closed = false;
  private readonly lanes = new Map<PeerId, Lane>();

  /**
   * @param ta the transport of `a` (the smaller id) and `tb` of `b`: frames of this connection
   *   reach these instances only, never a later transport that rejoined under the same id.
   */
  constructor(
    readonly roomId: string, readonly a: PeerId, readonly b: PeerId, readonly epoch: number,
    readonly ta: MemoryRoomTransport, readonly tb: MemoryRoomTransport,
  ) {}

  end(p: PeerId): MemoryRoomTransport {
    return p === this.a ? this.ta : this.tb;
  }

  other(p: PeerId): PeerId {
    return p === this.a ? this.b : this.a;
  }

  lane(from: PeerId): Lane {
    let l = this.lanes.get(from);
    if (l === undefined) this.lanes.set(from, (l = { items: [], tail: -Infinity }));
    return l;
  }

  clear(): void {
    this.lanes.clear();
  }
}

interface PendingReset {
  readonly to: MemoryRoomTransport;
  readonly from: PeerId;
  readonly epoch: number;
}

function pairKey(a: PeerId, b: PeerId): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

function connKey(roomId: string, a: PeerId, b: PeerId): string {
  return `${roomId}\u0000${pairKey(a, b)}`;
}

function positive(field: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) throw new NetcodeError('InvalidConfig', `MemoryNetwork: ${field} must be a finite number > 0, got ${String(v)}`, { field, value: v });
  return v;
}

/**
 * The hub of in-memory rooms: peers join rooms and exchange frames over conditioned links. One
 * network can hold many rooms; a peer id is unique within a room. See the module doc for the
 * model.
 */
export class MemoryNetwork {
  /** The clock timing every delivery (share it with `conditionTransport` wrappers). */
  readonly clock: Clock;
  /** The conditioner model of every link. */
  private readonly model: NetworkConditioner;
  readonly pingIntervalMs: number;
  readonly peerTimeoutMs: number;
  private readonly ownsRealClock: RealClock | undefined;
  private readonly rooms = new Map<string, Map<PeerId, MemoryRoomTransport>>();
  private readonly conns = new Map<string, Connection>();
  private readonly offline = new Set<PeerId>();
  private readonly cuts = new Set<string>();
  private resets: PendingReset[] = [];
  private readonly timers = new Set<() => void>();
  private epochs = 0;
  private ids = 0;

  /** @throws NetcodeError `InvalidConfig` naming the field. */
  constructor(options: MemoryNetworkOptions = {}) {
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed)) throw new NetcodeError('InvalidConfig', `MemoryNetwork: seed must be an integer, got ${String(seed)}`, { field: 'seed' });
    this.model = new NetworkConditioner(options.conditioner, seed);
    this.pingIntervalMs = positive('pingIntervalMs', options.pingIntervalMs, DEFAULT_PING_INTERVAL_MS);
    this.peerTimeoutMs = positive('peerTimeoutMs', options.peerTimeoutMs, DEFAULT_PEER_TIMEOUT_MS);
    const c = options.clock ?? 'real';
    if (c === 'real') this.clock = this.ownsRealClock = new RealClock();
    else if (c === 'manual') this.clock = new ManualClock();
    else if (typeof c === 'object' && c !== null && typeof c.now === 'function' && typeof c.schedule === 'function') this.clock = c;
    else throw new NetcodeError('InvalidConfig', `MemoryNetwork: clock must be 'real', 'manual' or a Clock, got ${String(c)}`, { field: 'clock' });
  }

  /**
   * Joins `roomId` as `peerId` (default: a fresh id `peer-001`, `peer-002`, ... unique in the
   * room). Resolves with the transport at once; `peer:join` for the members already there fires
   * after the handshake, on the clock (so handlers attached right after `await` see them).
   * Rejects with NetcodeError `InvalidConfig` for an empty room id or peer id, a peer id already
   * in the room, or a bad `maxFrameBytes`.
   */
  async join(roomId: string, peerId?: PeerId, options: MemoryJoinOptions = {}): Promise<MemoryRoomTransport> {
    if (typeof roomId !== 'string' || roomId === '') throw new NetcodeError('InvalidConfig', `join: roomId must be a non-empty string, got ${String(roomId)}`, { field: 'roomId' });
    let room = this.rooms.get(roomId);
    if (room === undefined) this.rooms.set(roomId, (room = new Map()));
    let id = peerId;
    if (id === undefined) {
      do id = `peer-${String(++this.ids).padStart(3, '0')}`;
      while (room.has(id));
    }
    if (typeof id !== 'string' || id === '') throw new NetcodeError('InvalidConfig', `join: peerId must be a non-empty string, got ${String(id)}`, { field: 'peerId' });
    if (room.has(id)) throw new NetcodeError('InvalidConfig', `join: peer ${id} is already a member of room '${roomId}'`, { field: 'peerId', peerId: id, roomId });
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(max) || max < 1) throw new NetcodeError('InvalidConfig', `join: maxFrameBytes must be an integer >= 1, got ${String(max)}`, { field: 'maxFrameBytes' });
    const t = new MemoryRoomTransport(this, roomId, id, max);
    const existing = [...room.keys()].sort();
    room.set(id, t);
    for (const other of existing) if (this.linkUp(id, other)) this.connect(roomId, id, other);
    t.startPings();
    return t;
  }

  /**
   * Moves a `'manual'` clock forward by `ms`, running every delivery, ping and timeout due.
   * @throws NetcodeError `InvalidConfig` when the clock is not a `ManualClock` or `ms` is bad.
   */
  advance(ms: number): void {
    if (!(this.clock instanceof ManualClock)) throw new NetcodeError('InvalidConfig', "MemoryNetwork.advance needs clock: 'manual'", { field: 'clock' });
    this.clock.advance(ms);
  }

  /** Replaces the conditions of every link without its own (the "bad network" toggle). @throws NetcodeError `InvalidConfig`. */
  setConditioner(options: ConditionerOptions | undefined): void {
    this.model.setOptions(options);
  }

  /** Gives the directed link `from -> to` its own conditions (`undefined`: back to the network's). @throws NetcodeError `InvalidConfig`. */
  setLinkConditioner(from: PeerId, to: PeerId, options: ConditionerOptions | undefined): void {
    this.model.setLinkOptions(from, to, options);
  }

  /**
   * Cuts `peerId` off the network (a crash or a pulled cable), in every room: it sends no
   * goodbye, and nothing reaches it or leaves it until {@link MemoryNetwork.reconnect}. Others
   * report it `'timeout'` after `peerTimeoutMs` (and it reports them).
   */
  disconnect(peerId: PeerId): void {
    this.offline.add(peerId);
  }

  /** Puts `peerId` back on the network: held reliable messages flow, closed connections reopen. */
  reconnect(peerId: PeerId): void {
    this.offline.delete(peerId);
    this.reconcile();
  }

  /** Cuts every link between a peer of `sideA` and a peer of `sideB` (both directions), until {@link MemoryNetwork.heal}. */
  partition(sideA: readonly PeerId[], sideB: readonly PeerId[]): void {
    for (const a of sideA) for (const b of sideB) if (a !== b) this.cuts.add(pairKey(a, b));
  }

  /** Restores every link cut by {@link MemoryNetwork.partition}. */
  heal(): void {
    this.cuts.clear();
    this.reconcile();
  }

  /** Whether frames can pass between `a` and `b` right now. */
  linkUp(a: PeerId, b: PeerId): boolean {
    return !this.offline.has(a) && !this.offline.has(b) && !this.cuts.has(pairKey(a, b));
  }

  /**
   * Delivers raw `bytes` to member `to` of `roomId` as if they came from `from` on a link (on the
   * clock's next turn, bypassing the conditioner), for tests of bad input. The receiver handles
   * them exactly like frames from the wire: a non-member sender, an oversized or undecodable
   * frame or a repeated broadcast sequence number is dropped and counted.
   * @throws NetcodeError `UnknownPeer` when `to` is not a member of `roomId`.
   */
  injectRaw(roomId: string, to: PeerId, from: PeerId, bytes: Uint8Array): void {
    const t = this.rooms.get(roomId)?.get(to);
    if (t === undefined) throw new NetcodeError('UnknownPeer', `injectRaw: peer ${to} is not a member of room '${roomId}'`, { peerId: to, roomId });
    const copy = bytes.slice();
    this.later(this.clock.now(), () => t.receive(from, copy));
  }

  /** Closes every transport of every room and cancels the network's timers. */
  async close(): Promise<void> {
    const all = [...this.rooms.values()].flatMap((r) => [...r.values()]);
    await Promise.all(all.map((t) => t.close()));
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    this.conns.clear();
    this.resets = [];
    this.ownsRealClock?.clear();
  }

  // ----- internals used by MemoryRoomTransport ---------------------------------------------

  /** @internal Schedules `fn` on the clock, cancelled by `close()`. */
  later(at: number, fn: () => void): () => void {
    const cancel = this.clock.schedule(at, () => {
      this.timers.delete(cancel);
      fn();
    });
    this.timers.add(cancel);
    return () => {
      this.timers.delete(cancel);
      cancel();
    };
  }

  private latency(from: PeerId, to: PeerId): number {
    return this.model.link(from, to).options.latencyMs;
  }

  private connect(roomId: string, a: PeerId, b: PeerId): void {
    const room = this.rooms.get(roomId)!;
    const [lo, hi] = a < b ? [a, b] : [b, a];
    const conn = new Connection(roomId, lo, hi, ++this.epochs, room.get(lo)!, room.get(hi)!);
    this.conns.set(connKey(roomId, a, b), conn);
    const handshake = Math.max(this.latency(a, b), this.latency(b, a));
    this.later(this.clock.now() + handshake, () => {
      if (conn.closed) return;
      if (!this.isMember(conn.ta) || !this.isMember(conn.tb) || !this.linkUp(conn.a, conn.b)) {
        this.closeConnection(conn);
        return;
      }
      conn.opened = true;
      conn.ta.addMember(conn.b, conn);
      conn.tb.addMember(conn.a, conn);
    });
  }

  /** Whether `t` is (still) the member of its room under its id. */
  private isMember(t: MemoryRoomTransport): boolean {
    return this.rooms.get(t.roomId)?.get(t.localPeerId) === t;
  }

  /**
   * @internal Sends one frame (`null`: goodbye) from `t` to member `to` on the connection of
   * that membership (reliable: on the connection's lane).
   */
  transmit(t: MemoryRoomTransport, to: PeerId, frame: Uint8Array | null, reliable: boolean): void {
    const from = t.localPeerId;
    const conn = t.connectionTo(to);
    if (conn === undefined || conn.closed) return;
    const now = this.clock.now();
    const plan = this.model.link(from, to).transmit(now, frame === null ? 1 : frame.length, reliable);
    if (reliable) {
      const lane = conn.lane(from);
      const at = Math.max(plan.arrivals[0]!, lane.tail);
      lane.tail = at;
      lane.items.push({ at, frame });
      this.later(at, () => this.pump(conn, from));
      return;
    }
    for (const at of plan.arrivals) {
      this.later(at, () => {
        if (conn.closed || !this.linkUp(from, to)) return;
        conn.end(to).receive(from, frame!);
      });
    }
  }

  /** Delivers the due head of the lane `from -> other`, unless the link is cut (then it waits). */
  private pump(conn: Connection, from: PeerId): void {
    const to = conn.other(from);
    const lane = conn.lane(from);
    while (!conn.closed && lane.items.length > 0 && lane.items[0]!.at <= this.clock.now() && this.linkUp(from, to)) {
      const item = lane.items.shift()!;
      const target = conn.end(to);
      if (item.frame !== null) {
        target.receive(from, item.frame);
      } else {
        target.removeMember(from, conn.epoch, 'left');
        this.closeConnection(conn);
      }
    }
  }

  /** @internal A member stopped hearing from the other end of `conn` and reported `'timeout'`. */
  timedOut(conn: Connection): void {
    this.closeConnection(conn);
  }

  /** @internal `t` is closing: leave the room, say goodbye on each open connection. */
  leave(t: MemoryRoomTransport): void {
    const room = this.rooms.get(t.roomId);
    if (room?.get(t.localPeerId) === t) room.delete(t.localPeerId);
    if (room?.size === 0) this.rooms.delete(t.roomId);
    for (const conn of [...this.conns.values()]) {
      if (conn.ta !== t && conn.tb !== t) continue;
      if (!conn.opened) this.closeConnection(conn);
      else this.transmit(t, conn.other(t.localPeerId), null, true);
    }
  }

  private closeConnection(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.clear();
    const key = connKey(conn.roomId, conn.a, conn.b);
    if (this.conns.get(key) === conn) this.conns.delete(key);
    const room = this.rooms.get(conn.roomId);
    for (const side of [conn.a, conn.b]) {
      const other = conn.other(side);
      const t = conn.end(side);
      if (t.hasMember(other, conn.epoch)) this.resets.push({ to: t, from: other, epoch: conn.epoch });
    }
    this.flushResets();
    const ta = room?.get(conn.a), tb = room?.get(conn.b);
    if (ta !== undefined && tb !== undefined && !this.conns.has(key) && this.linkUp(conn.a, conn.b)) this.connect(conn.roomId, conn.a, conn.b);
  }

  /** Sends each pending connection reset whose link is up; it arrives a link delay later. */
  private flushResets(): void {
    const keep: PendingReset[] = [];
    for (const r of this.resets) {
      const to = r.to.localPeerId;
      if (!this.linkUp(r.from, to)) {
        keep.push(r);
        continue;
      }
      this.later(this.clock.now() + this.latency(r.from, to), () => r.to.removeMember(r.from, r.epoch, 'closed'));
    }
    this.resets = keep;
  }

  /** After links come back: resume held lanes, deliver resets, open missing connections. */
  private reconcile(): void {
    const now = this.clock.now();
    for (const conn of this.conns.values()) {
      for (const from of [conn.a, conn.b]) {
        const to = conn.other(from);
        const lane = conn.lane(from);
        if (!this.linkUp(from, to) || lane.items.length === 0) continue;
        let floor = now + this.latency(from, to);
        for (const item of lane.items) {
          if (item.at < floor) item.at = floor;
          floor = item.at;
          this.later(item.at, () => this.pump(conn, from));
        }
        lane.tail = Math.max(lane.tail, floor);
      }
    }
    this.flushResets();
    for (const [roomId, room] of this.rooms) {
      const ids = [...room.keys()].sort();
      for (let i = 0; i < ids.length; i++) {
        for (let j = i + 1; j < ids.length; j++) {
          const a = ids[i]!, b = ids[j]!;
          if (!this.conns.has(connKey(roomId, a, b)) && this.linkUp(a, b)) this.connect(roomId, a, b);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------------------------

interface Member {
  /** The connection this membership runs on. */
  readonly conn: Connection;
  lastHeardMs: number;
  rttMs: number | undefined;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  /** Broadcast sequence numbers delivered from this member, oldest first. */
  readonly seen: Set<number>;
}

/** A member's view of an in-memory room. Created by {@link MemoryNetwork.join}. */
export class MemoryRoomTransport implements RoomTransport {
  readonly localPeerId: PeerId;
  readonly roomId: string;
  readonly maxFrameBytes: number;
  private readonly network: MemoryNetwork;
  private readonly events = new Emitter<TransportEvents>();
  private readonly members = new Map<PeerId, Member>();
  private readonly drops: Record<DropReason, number> = { Oversized: 0, Malformed: 0, NotInRoom: 0, Duplicate: 0 };
  private seq = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private stopPings: (() => void) | undefined;

  /** @internal Use {@link MemoryNetwork.join}. */
  constructor(network: MemoryNetwork, roomId: string, peerId: PeerId, maxFrameBytes: number) {
    this.network = network;
    this.roomId = roomId;
    this.localPeerId = peerId;
    this.maxFrameBytes = maxFrameBytes;
  }

  peers(): readonly PeerId[] {
    return [...this.members.keys()].sort();
  }

  on<K extends keyof TransportEvents>(event: K, handler: (e: TransportEvents[K]) => void): () => void {
    return this.events.on(event, handler);
  }

  private assertOpen(): void {
    if (this.closed) throw new NetcodeError('Closed', `room '${this.roomId}' of ${this.localPeerId} is closed`, { roomId: this.roomId, peerId: this.localPeerId });
  }

  private assertSize(channel: Channel, data: Uint8Array): void {
    if (data.length > this.maxFrameBytes) {
      throw new NetcodeError('FrameTooLarge', `frame of ${data.length} bytes on channel '${channel}' exceeds maxFrameBytes ${this.maxFrameBytes}`, { channel, bytes: data.length, maxFrameBytes: this.maxFrameBytes });
    }
  }

  send(peerId: PeerId, channel: Channel, data: Uint8Array): void {
    this.assertOpen();
    const m = this.members.get(peerId);
    if (m === undefined) throw new NetcodeError('UnknownPeer', `peer ${peerId} is not a member of room '${this.roomId}' (seen by ${this.localPeerId})`, { peerId, roomId: this.roomId });
    this.assertSize(channel, data);
    const frame = encodeMemoryFrame({ kind: 'send', channel, data });
    m.bytesOut += data.length;
    m.messagesOut++;
    this.network.transmit(this, peerId, frame, true);
  }

  broadcast(channel: Channel, data: Uint8Array): void {
    this.assertOpen();
    this.assertSize(channel, data);
    const frame = encodeMemoryFrame({ kind: 'broadcast', channel, seq: this.seq, data });
    this.seq = (this.seq + 1) >>> 0;
    for (const id of this.peers()) {
      const m = this.members.get(id)!;
      m.bytesOut += data.length;
      m.messagesOut++;
      this.network.transmit(this, id, frame, false);
    }
  }

  stats(): TransportStats {
    const peers: PeerStats[] = this.peers().map((id) => {
      const m = this.members.get(id)!;
      return {
        peerId: id, rttMs: m.rttMs, bytesIn: m.bytesIn, bytesOut: m.bytesOut,
        messagesIn: m.messagesIn, messagesOut: m.messagesOut, connection: 'memory',
      };
    });
    return { peers, drops: { ...this.drops }, topology: 'mesh' };
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closed = true;
    this.stopPings?.();
    this.network.leave(this);
    this.members.clear();
    this.events.clear();
    this.closing = Promise.resolve();
    return this.closing;
  }

  // ----- internals used by MemoryNetwork ----------------------------------------------------

  /** @internal */
  hasMember(peer: PeerId, epoch: number): boolean {
    return this.members.get(peer)?.conn.epoch === epoch;
  }

  /** @internal The connection of the current membership of `peer`. */
  connectionTo(peer: PeerId): Connection | undefined {
    return this.members.get(peer)?.conn;
  }

  /**
   * @internal A connection opened: `peer` becomes a member. If it still is one through an older
   * connection (it closed and rejoined before its goodbye arrived), that membership ends first
   * with `'closed'`, as for a restarted peer.
   */
  addMember(peer: PeerId, conn: Connection): void {
    if (this.closed) return;
    const old = this.members.get(peer);
    if (old !== undefined) this.removeMember(peer, old.conn.epoch, 'closed');
    if (this.closed) return;
    this.members.set(peer, {
      conn, lastHeardMs: this.network.clock.now(), rttMs: undefined,
      bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0, seen: new Set(),
    });
    this.events.emit('peer:join', { peerId: peer });
    if (this.members.get(peer)?.conn === conn) this.ping(peer);
  }

  /** @internal The connection of `epoch` to `peer` ended for `reason`. */
  removeMember(peer: PeerId, epoch: number, reason: 'left' | 'timeout' | 'closed'): void {
    if (this.closed || this.members.get(peer)?.conn.epoch !== epoch) return;
    this.members.delete(peer);
    this.events.emit('peer:leave', { peerId: peer, reason });
  }

  /** @internal Starts the ping / liveness loop. */
  startPings(): void {
    const tick = (): void => {
      if (this.closed) return;
      const now = this.network.clock.now();
      for (const id of this.peers()) {
        const m = this.members.get(id);
        if (m === undefined) continue;
        if (now - m.lastHeardMs >= this.network.peerTimeoutMs) {
          this.removeMember(id, m.conn.epoch, 'timeout');
          this.network.timedOut(m.conn);
        } else {
          this.ping(id);
        }
      }
      this.stopPings = this.network.later(now + this.network.pingIntervalMs, tick);
    };
    this.stopPings = this.network.later(this.network.clock.now() + this.network.pingIntervalMs, tick);
  }

  private ping(peer: PeerId): void {
    this.network.transmit(this, peer, encodeMemoryFrame({ kind: 'ping', sentAtMs: this.network.clock.now() }), false);
  }

  private drop(reason: DropReason, from: PeerId, bytes: number, detail: string): void {
    this.drops[reason]++;
    const e: DropEvent = { reason, from, bytes, detail };
    this.events.emit('drop', e);
  }

  /** @internal Handles one frame that arrived from `from` (from the wire or `injectRaw`). */
  receive(from: PeerId, frame: Uint8Array): void {
    if (this.closed) return;
    const m = this.members.get(from);
    if (m === undefined) return this.drop('NotInRoom', from, frame.length, `${from} is not a member of room '${this.roomId}' (seen by ${this.localPeerId})`);
    m.lastHeardMs = this.network.clock.now();
    if (frame.length > this.maxFrameBytes + MEMORY_FRAME_MAX_HEADER_BYTES) {
      return this.drop('Oversized', from, frame.length, `frame of ${frame.length} bytes exceeds maxFrameBytes ${this.maxFrameBytes} + header`);
    }
    const f = decodeMemoryFrame(frame);
    switch (f.kind) {
      case 'malformed':
        return this.drop('Malformed', from, frame.length, f.detail);
      case 'ping':
        this.network.transmit(this, from, encodeMemoryFrame({ kind: 'pong', sentAtMs: f.sentAtMs }), false);
        return;
      case 'pong': {
        const sample = this.network.clock.now() - f.sentAtMs;
        if (sample < 0) return this.drop('Malformed', from, frame.length, `pong from the future (${f.sentAtMs} ms)`);
        m.rttMs = m.rttMs === undefined ? sample : m.rttMs + RTT_EWMA_WEIGHT * (sample - m.rttMs);
        return;
      }
      case 'send':
      case 'broadcast': {
        if (f.data.length > this.maxFrameBytes) {
          return this.drop('Oversized', from, f.data.length, `payload of ${f.data.length} bytes on channel '${f.channel}' exceeds maxFrameBytes ${this.maxFrameBytes}`);
        }
        if (f.kind === 'broadcast') {
          if (m.seen.has(f.seq)) return this.drop('Duplicate', from, f.data.length, `broadcast #${f.seq} from ${from} on channel '${f.channel}' already delivered`);
          m.seen.add(f.seq);
          if (m.seen.size > BROADCAST_DEDUP_WINDOW) m.seen.delete(m.seen.values().next().value!);
        }
        m.bytesIn += f.data.length;
        m.messagesIn++;
        this.events.emit('message', { from, channel: f.channel, data: f.data, broadcast: f.kind === 'broadcast' });
        return;
      }
    }
  }
}
