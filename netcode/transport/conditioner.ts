/**
 * Network conditioner: a pure, seeded model of a bad network (latency, jitter, Gilbert-Elliott
 * burst loss, duplication, reordering, bandwidth cap), used by the in-memory transport and by
 * {@link conditionTransport}, which wraps any {@link RoomTransport} (e.g. the libp2p one) so demos
 * can toggle "play under bad network".
 *
 * The model works per directed link (sender to receiver): {@link LinkConditioner.transmit} takes
 * the send time and size of one packet and returns when its copies arrive (none when lost). Given
 * the same seed, options and sequence of `transmit` calls it returns the same answers on every
 * platform (integer PRNG, no `Math.random`, no wall clock).
 *
 * What each knob does (all probabilities in 0..1, times in ms, sizes in bytes):
 *
 * | knob | reliable packet (`send`) | best-effort packet (`broadcast`, pings) |
 * |---|---|---|
 * | `bandwidthBytesPerSec` | serialization queue per link: waits until the link is free, then `bytes / bandwidth` | same |
 * | `latencyMs` + `jitterMs` | one-way delay `latency + jitter * U(-1, 1)`, clamped at 0 | same |
 * | `loss` | never lost: each loss costs one retransmission timeout (`rtoMs`, doubling per retry) and, as in TCP, everything behind it on the link waits (head-of-line blocking) | dropped |
 * | `duplicate` | none (a reliable layer discards duplicates) | a second copy with its own delay |
 * | `reorder` | none (delivered in order) | held back by `reorderDelayMs`, so later packets overtake it |
 *
 * Jitter alone also reorders best-effort packets. Reliable packets on one link arrive in send
 * order (each no earlier than the previous one).
 *
 * Loss follows the Gilbert-Elliott model: a two-state Markov chain per link, Good and Bad. A
 * packet is lost with probability `1 - k` in Good and `1 - h` in Bad; after each packet the chain
 * moves Good to Bad with probability `p` and Bad to Good with probability `r`. Long-run loss rate
 * `pi_G (1 - k) + pi_B (1 - h)` with `pi_B = p / (p + r)`, mean burst (Bad sojourn) `1 / r`
 * packets. Sources: E. N. Gilbert, "Capacity of a burst-noise channel", Bell System Technical
 * Journal 39(5), 1960; E. O. Elliott, "Estimates of error rates for codes on burst-noise
 * channels", BSTJ 42(5), 1963; G. Hasslinger and O. Hohlfeld, "The Gilbert-Elliott model for
 * packet loss in real time services on the Internet", MMB 2008 (the p, r, k, h naming, also used
 * by Linux netem's `loss gemodel p r 1-h 1-k`). A plain number `loss: x` is Bernoulli loss
 * (`p = 0`, `k = 1 - x`).
 *
 * Retransmission timing follows RFC 6298 loosely: the first RTO defaults to
 * `max(200, 2 * latencyMs + 4 * jitterMs)` ms (RTT + 4 x variation, floored at Linux's
 * TCP_RTO_MIN of 200 ms), doubles per retry (section 5.5) and is capped at 60 s (section 2.5).
 * After `maxRetransmits` (default 15, Linux `tcp_retries2`) lost attempts the packet arrives
 * with the last attempt anyway: the conditioner models delay, not connection failure (a
 * connection that loses everything also loses its pings and times out in the layer above).
 *
 * @example
 * ```ts
 * const link = new LinkConditioner({ latencyMs: 40, jitterMs: 10, loss: { p: 0.05, r: 0.5 } }, 1);
 * link.transmit(0, 1200, false); // { arrivals: [] } or { arrivals: [43.7] } ...
 *
 * // Bad network on the real transport, both directions, toggled at run time:
 * const room = conditionTransport(libp2pRoom, { conditioner: { latencyMs: 80, jitterMs: 20 } });
 * room.setConditioner(undefined); // back to a perfect network
 * ```
 */
import { Rng, fnv1a32 } from '../../engine/index.ts';
import { NetcodeError, type DropEvent, type DropReason } from '../errors.ts';
import { RealClock, type Clock } from './clock.ts';
import { Emitter } from './emitter.ts';
import type { Channel, MessageEvent, PeerId, PeerStats, RoomTransport, TransportEvents, TransportStats } from './types.ts';

/** Floor of the default first retransmission timeout, ms (Linux TCP_RTO_MIN). */
export const DEFAULT_MIN_RTO_MS = 200;
/** Cap of the backed-off retransmission timeout, ms (RFC 6298 section 2.5). */
export const MAX_RTO_MS = 60_000;
/** Default lost attempts after which a reliable packet arrives anyway (Linux `tcp_retries2`). */
export const DEFAULT_MAX_RETRANSMITS = 15;
/** Default extra delay of a reordered best-effort packet, ms. */
export const DEFAULT_REORDER_DELAY_MS = 20;

/**
 * Gilbert-Elliott loss parameters, probabilities in 0..1, per packet.
 * Defaults `k = 1`, `h = 0`: no loss in Good, every packet lost in Bad (the "simple Gilbert"
 * model, whose loss rate is `p / (p + r)`).
 */
export interface GilbertElliottOptions {
  /** Good to Bad transition probability per packet. */
  readonly p: number;
  /** Bad to Good transition probability per packet (mean burst length `1 / r` packets). */
  readonly r: number;
  /** Probability a packet survives in the Good state. Default 1. */
  readonly k?: number;
  /** Probability a packet survives in the Bad state. Default 0. */
  readonly h?: number;
}

/** Network conditions of one direction of a link. Every field is optional; the default is a perfect network. */
export interface ConditionerOptions {
  /** One-way base delay, ms, >= 0. Default 0. */
  readonly latencyMs?: number;
  /** Uniform jitter, ms, >= 0: each packet's delay is `latencyMs + jitterMs * U(-1, 1)`, clamped at 0. Default 0. */
  readonly jitterMs?: number;
  /** Loss: a probability (Bernoulli) or Gilbert-Elliott parameters. Default 0. */
  readonly loss?: number | GilbertElliottOptions;
  /** Probability a best-effort packet is delivered twice. Default 0. */
  readonly duplicate?: number;
  /** Probability a best-effort packet is held back by `reorderDelayMs`. Default 0. */
  readonly reorder?: number;
  /** Extra delay of a reordered packet, ms, >= 0. Default {@link DEFAULT_REORDER_DELAY_MS}. */
  readonly reorderDelayMs?: number;
  /** Link capacity, bytes/s, > 0; `Infinity` (default) for none. */
  readonly bandwidthBytesPerSec?: number;
  /** First retransmission timeout of reliable packets, ms, > 0. Default `max(200, 2 * latencyMs + 4 * jitterMs)`. */
  readonly rtoMs?: number;
  /** Lost attempts after which a reliable packet arrives anyway, integer >= 0. Default {@link DEFAULT_MAX_RETRANSMITS}. */
  readonly maxRetransmits?: number;
}

/** {@link ConditionerOptions} with every default filled in and `loss` as Gilbert-Elliott parameters. */
export interface ResolvedConditionerOptions {
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly loss: Required<GilbertElliottOptions>;
  readonly duplicate: number;
  readonly reorder: number;
  readonly reorderDelayMs: number;
  readonly bandwidthBytesPerSec: number;
  readonly rtoMs: number;
  readonly maxRetransmits: number;
}

function fail(field: string, value: unknown, want: string): never {
  throw new NetcodeError('InvalidConfig', `conditioner: ${field} must be ${want}, got ${String(value)}`, { field, value });
}

function nonNegative(field: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(field, v, 'a finite number >= 0');
  return v;
}

function probability(field: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(field, v, 'a probability in [0, 1]');
  return v;
}

/**
 * Validates options and fills in defaults.
 * @throws NetcodeError `InvalidConfig` naming the field (`latencyMs`, `loss.p`, ...).
 */
export function resolveConditionerOptions(options: ConditionerOptions = {}): ResolvedConditionerOptions {
  if (typeof options !== 'object' || options === null) fail('conditioner', options, 'an object');
  const latencyMs = nonNegative('latencyMs', options.latencyMs, 0);
  const jitterMs = nonNegative('jitterMs', options.jitterMs, 0);
  let loss: Required<GilbertElliottOptions>;
  const l = options.loss;
  if (l === undefined || typeof l === 'number') {
    const rate = probability('loss', l, 0);
    loss = { p: 0, r: 1, k: 1 - rate, h: 0 };
  } else if (typeof l === 'object' && l !== null) {
    if (l.p === undefined) fail('loss.p', l.p, 'a probability in [0, 1]');
    if (l.r === undefined) fail('loss.r', l.r, 'a probability in [0, 1]');
    loss = { p: probability('loss.p', l.p, 0), r: probability('loss.r', l.r, 0), k: probability('loss.k', l.k, 1), h: probability('loss.h', l.h, 0) };
  } else {
    fail('loss', l, 'a probability or { p, r, k?, h? }');
  }
  const duplicate = probability('duplicate', options.duplicate, 0);
  const reorder = probability('reorder', options.reorder, 0);
  const reorderDelayMs = nonNegative('reorderDelayMs', options.reorderDelayMs, DEFAULT_REORDER_DELAY_MS);
  const bw = options.bandwidthBytesPerSec;
  if (bw !== undefined && (typeof bw !== 'number' || !(bw > 0))) fail('bandwidthBytesPerSec', bw, 'a number > 0 (Infinity for no cap)');
  const rto = options.rtoMs;
  if (rto !== undefined && (typeof rto !== 'number' || !Number.isFinite(rto) || !(rto > 0))) fail('rtoMs', rto, 'a finite number > 0');
  const mr = options.maxRetransmits;
  if (mr !== undefined && (!Number.isInteger(mr) || mr < 0)) fail('maxRetransmits', mr, 'an integer >= 0');
  return {
    latencyMs,
    jitterMs,
    loss,
    duplicate,
    reorder,
    reorderDelayMs,
    bandwidthBytesPerSec: bw ?? Infinity,
    rtoMs: rto ?? Math.max(DEFAULT_MIN_RTO_MS, 2 * latencyMs + 4 * jitterMs),
    maxRetransmits: mr ?? DEFAULT_MAX_RETRANSMITS,
  };
}

/**
 * Long-run fraction of packets lost by a Gilbert-Elliott chain:
 * `pi_G (1 - k) + pi_B (1 - h)`, `pi_B = p / (p + r)`, `pi_G = r / (p + r)`. When `p + r = 0`
 * the chain never leaves its initial Good state and the rate is `1 - k`.
 */
export function gilbertElliottLossRate(ge: GilbertElliottOptions): number {
  const k = ge.k ?? 1, h = ge.h ?? 0;
  const sum = ge.p + ge.r;
  if (sum === 0) return 1 - k;
  const piB = ge.p / sum;
  return (1 - piB) * (1 - k) + piB * (1 - h);
}

/** What happened to one packet on a link. */
export interface Transmission {
  /**
   * Arrival time of each copy, ms, on the caller's timeline: `[]` lost, `[t]` delivered once,
   * `[t, t2]` duplicated (t2 may be earlier than t). A reliable packet always has exactly one.
   */
  readonly arrivals: readonly number[];
  /** When the last byte left the sender (after the bandwidth queue), ms. */
  readonly sentMs: number;
  /** Reliable: attempts lost before the one that arrived. Best effort: 1 if lost, else 0. */
  readonly lostAttempts: number;
  /** Best effort: whether this packet was held back by `reorderDelayMs`. */
  readonly reordered: boolean;
}

/** Stream ids for the per-link generators, so each knob's draws are independent of the others. */
const STREAM_LOSS = 1, STREAM_DELAY = 2, STREAM_EXTRA = 3;

/** Seed of one stream of one link: FNV-1a 32 of "seed|from|to|stream". */
export function linkSeed(seed: number, from: string, to: string, stream = 0): number {
  return fnv1a32(new TextEncoder().encode(`${seed >>> 0}|${from}|${to}|${stream}`));
}

/**
 * The seeded model of one directed link. Holds the Gilbert-Elliott state, the time the link is
 * busy until (bandwidth queue) and the last reliable arrival (ordering). Separate PRNG streams
 * for loss, delay and duplication/reordering: the drop pattern of a seed depends only on the
 * number of packets and the loss parameters, not on the other knobs.
 */
export class LinkConditioner {
  private opts: ResolvedConditionerOptions;
  private readonly lossRng: Rng;
  private readonly delayRng: Rng;
  private readonly extraRng: Rng;
  private bad = false;
  private busyUntil = -Infinity;
  private reliableTail = -Infinity;

  /**
   * @param options conditions (validated; see {@link resolveConditionerOptions}).
   * @param seed 32-bit seed of this link (e.g. from {@link linkSeed}).
   */
  constructor(options: ConditionerOptions | ResolvedConditionerOptions = {}, seed = 0) {
    this.opts = resolve(options);
    this.lossRng = new Rng(fnv1a32(u32Bytes(seed, STREAM_LOSS)));
    this.delayRng = new Rng(fnv1a32(u32Bytes(seed, STREAM_DELAY)));
    this.extraRng = new Rng(fnv1a32(u32Bytes(seed, STREAM_EXTRA)));
  }

  /** Current resolved conditions. */
  get options(): ResolvedConditionerOptions {
    return this.opts;
  }

  /** Gilbert-Elliott state the next packet sees. Starts `'good'`. */
  get state(): 'good' | 'bad' {
    return this.bad ? 'bad' : 'good';
  }

  /**
   * Replaces the conditions. The chain state, bandwidth queue and reliable ordering carry over,
   * so packets already planned keep their times and later reliable ones still arrive after them.
   * @throws NetcodeError `InvalidConfig` naming the field.
   */
  setOptions(options: ConditionerOptions | ResolvedConditionerOptions): void {
    this.opts = resolve(options);
  }

  /** A one-way delay draw, ms: `latencyMs + jitterMs * U(-1, 1)` clamped at 0. */
  private delay(): number {
    const { latencyMs, jitterMs } = this.opts;
    const u = this.delayRng.nextFloat();
    return Math.max(0, latencyMs + jitterMs * (2 * u - 1));
  }

  /** One Gilbert-Elliott step: is this packet lost? Then move the chain. Two draws per packet. */
  private lossDraw(): boolean {
    const { p, r, k, h } = this.opts.loss;
    const lost = this.lossRng.nextFloat() >= (this.bad ? h : k);
    const u = this.lossRng.nextFloat();
    this.bad = this.bad ? !(u < r) : u < p;
    return lost;
  }

  /**
   * Plans one packet of `bytes` bytes handed to the link at `nowMs`.
   * @param reliable `true` for a `send` (retransmitted, in order), `false` for best effort.
   */
  transmit(nowMs: number, bytes: number, reliable: boolean): Transmission {
    const o = this.opts;
    const start = Math.max(nowMs, this.busyUntil);
    const sentMs = o.bandwidthBytesPerSec === Infinity ? start : start + (bytes * 1000) / o.bandwidthBytesPerSec;
    this.busyUntil = sentMs;
    if (reliable) {
      let t = sentMs;
      let lostAttempts = 0;
      while (this.lossDraw() && lostAttempts < o.maxRetransmits) {
        t += Math.min(o.rtoMs * 2 ** lostAttempts, MAX_RTO_MS);
        lostAttempts++;
      }
      const arrival = Math.max(t + this.delay(), this.reliableTail);
      this.reliableTail = arrival;
      return { arrivals: [arrival], sentMs, lostAttempts, reordered: false };
    }
    if (this.lossDraw()) return { arrivals: [], sentMs, lostAttempts: 1, reordered: false };
    let first = sentMs + this.delay();
    const reordered = o.reorder > 0 && this.extraRng.nextFloat() < o.reorder;
    if (reordered) first += o.reorderDelayMs;
    const duplicated = o.duplicate > 0 && this.extraRng.nextFloat() < o.duplicate;
    return { arrivals: duplicated ? [first, sentMs + this.delay()] : [first], sentMs, lostAttempts: 0, reordered };
  }
}

function resolve(o: ConditionerOptions | ResolvedConditionerOptions): ResolvedConditionerOptions {
  return resolveConditionerOptions(o as ConditionerOptions);
}

function u32Bytes(a: number, b: number): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint32(0, a >>> 0, true);
  v.setUint32(4, b >>> 0, true);
  return out;
}

/**
 * Links of a whole network, created on first use, each seeded from `(seed, from, to)` so a link's
 * behaviour does not depend on traffic elsewhere. Conditions apply to every link unless a link
 * has its own.
 */
export class NetworkConditioner {
  private readonly links = new Map<string, LinkConditioner>();
  private readonly overrides = new Map<string, ResolvedConditionerOptions>();
  private defaults: ResolvedConditionerOptions;
  readonly seed: number;

  /** @throws NetcodeError `InvalidConfig` naming the field. */
  constructor(options: ConditionerOptions = {}, seed = 0) {
    this.defaults = resolveConditionerOptions(options);
    this.seed = seed >>> 0;
  }

  /** Conditions of links without their own. */
  get options(): ResolvedConditionerOptions {
    return this.defaults;
  }

  /** The link `from -> to` (created on first use). */
  link(from: string, to: string): LinkConditioner {
    const key = `${from}\u0000${to}`;
    let l = this.links.get(key);
    if (l === undefined) {
      l = new LinkConditioner(this.overrides.get(key) ?? this.defaults, linkSeed(this.seed, from, to));
      this.links.set(key, l);
    }
    return l;
  }

  /** Sets the conditions of every link without its own. @throws NetcodeError `InvalidConfig`. */
  setOptions(options: ConditionerOptions | undefined): void {
    this.defaults = resolveConditionerOptions(options);
    for (const [key, l] of this.links) if (!this.overrides.has(key)) l.setOptions(this.defaults);
  }

  /**
   * Gives the link `from -> to` its own conditions, or back to the defaults with `undefined`.
   * @throws NetcodeError `InvalidConfig`.
   */
  setLinkOptions(from: string, to: string, options: ConditionerOptions | undefined): void {
    const key = `${from}\u0000${to}`;
    if (options === undefined) this.overrides.delete(key);
    else this.overrides.set(key, resolveConditionerOptions(options));
    this.links.get(key)?.setOptions(this.overrides.get(key) ?? this.defaults);
  }
}

// ---------------------------------------------------------------------------------------------
// conditionTransport: the conditioner around any RoomTransport
// ---------------------------------------------------------------------------------------------

/** Options of {@link conditionTransport}. */
export interface ConditionTransportOptions {
  /** Conditions applied in each conditioned direction. Default: a perfect network. */
  readonly conditioner?: ConditionerOptions;
  /**
   * Which traffic is conditioned: `'incoming'` (messages and membership events from peers),
   * `'outgoing'` (this peer's sends and broadcasts) or `'both'` (default; a peer's RTT then grows
   * by about `2 * latencyMs`).
   */
  readonly direction?: 'incoming' | 'outgoing' | 'both';
  /** Seed of the model, any integer (low 32 bits). Default 0. */
  readonly seed?: number;
  /** Clock timing the held messages. Default a new {@link RealClock}. */
  readonly clock?: Clock;
}

/** A {@link RoomTransport} behind a network conditioner. */
export interface ConditionedTransport extends RoomTransport {
  /** The wrapped transport. */
  readonly inner: RoomTransport;
  /** Current conditions. */
  readonly conditioner: ResolvedConditionerOptions;
  /**
   * Replaces the conditions (`undefined`: perfect network). Messages already held keep their
   * times; reliable order is preserved across the change.
   * @throws NetcodeError `InvalidConfig` naming the field.
   */
  setConditioner(options: ConditionerOptions | undefined): void;
}

/** Weight of a new sample in the smoothed added delay (same EWMA weight as `rttMs`). */
const EWMA_WEIGHT = 0.2;

interface RemoteState {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  /** Smoothed delay this wrapper added to messages to / from this peer, ms. */
  addedOutMs: number | undefined;
  addedInMs: number | undefined;
}

/**
 * Wraps `inner` so its traffic crosses a conditioned network: messages are held (latency,
 * jitter, bandwidth, retransmission delays for lost reliable messages), best-effort broadcasts
 * are dropped, reordered or duplicated. Works with any clock, so tests can use a `ManualClock`.
 *
 * Exact effects:
 * - Outgoing (`direction` `'outgoing'`/`'both'`): one link models this peer's uplink. `send` is
 *   handed to `inner.send` after the planned delay, in order; a loss adds retransmission delay.
 *   `broadcast` is handed to `inner.broadcast` after its delay, or dropped when lost (for all
 *   members at once). `duplicate` does not act on outgoing traffic: a second `inner.broadcast`
 *   would reach receivers as a new message, which the broadcast contract forbids.
 * - Incoming (`'incoming'`/`'both'`): one link per remote peer. Reliable messages are delivered
 *   after their delay in order; broadcasts may be lost (silently, as on a real network),
 *   reordered or duplicated. A duplicate is what a receiving transport would see and discard: it
 *   is counted in `stats().drops.Duplicate` and emitted as a `drop` event, never delivered.
 *   `peer:join` and `peer:leave` travel in order with the reliable messages of that peer, so no
 *   message is delivered after its sender's `peer:leave`; a held broadcast that would arrive
 *   after it is dropped as `NotInRoom`.
 * - `send` validates against this wrapper's view (`peers()`), so it throws `UnknownPeer` for a
 *   peer whose `peer:join` is still held. A held message whose peer has left by the time it
 *   is released is discarded (reliable only while both stay connected).
 * - `stats()`: message and byte counters count what crossed this wrapper's API; drops are the
 *   inner transport's plus this wrapper's own; `rttMs` is the inner transport's measured RTT plus
 *   the smoothed delays (EWMA 0.2) this wrapper actually applied to that peer's messages in each
 *   direction. The inner transport's pings do not cross the wrapper, so a conditioner wrapped
 *   around the remote peer's transport does not show in this peer's `rttMs`.
 * - `close()` discards held messages and closes `inner`.
 *
 * @throws NetcodeError `InvalidConfig` naming the field for bad options.
 */
export function conditionTransport(inner: RoomTransport, options: ConditionTransportOptions = {}): ConditionedTransport {
  return new ConditionedRoomTransport(inner, options);
}

class ConditionedRoomTransport implements ConditionedTransport {
  readonly inner: RoomTransport;
  private readonly clock: Clock;
  private readonly ownsClock: boolean;
  private readonly model: NetworkConditioner;
  private readonly conditionIn: boolean;
  private readonly conditionOut: boolean;
  private readonly events = new Emitter<TransportEvents>();
  private readonly view = new Map<PeerId, RemoteState>();
  /** Last scheduled release time per remote peer's incoming lane (events and reliable messages). */
  private readonly inTail = new Map<PeerId, number>();
  private outTail = -Infinity;
  private readonly pending = new Set<() => void>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly ownDrops: Record<DropReason, number> = { Oversized: 0, Malformed: 0, NotInRoom: 0, Duplicate: 0 };
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(inner: RoomTransport, options: ConditionTransportOptions) {
    const direction = options.direction ?? 'both';
    if (direction !== 'incoming' && direction !== 'outgoing' && direction !== 'both') fail('direction', direction, "'incoming', 'outgoing' or 'both'");
    if (options.seed !== undefined && !Number.isInteger(options.seed)) fail('seed', options.seed, 'an integer');
    this.inner = inner;
    this.model = new NetworkConditioner(options.conditioner, options.seed ?? 0);
    this.conditionIn = direction !== 'outgoing';
    this.conditionOut = direction !== 'incoming';
    this.ownsClock = options.clock === undefined;
    this.clock = options.clock ?? new RealClock();
    for (const p of inner.peers()) this.view.set(p, newRemote());
    this.unsubscribe.push(
      inner.on('peer:join', (e) => this.inboundEvent(e.peerId, () => {
        if (!this.view.has(e.peerId)) this.view.set(e.peerId, newRemote());
        this.events.emit('peer:join', e);
      })),
      inner.on('peer:leave', (e) => this.inboundEvent(e.peerId, () => {
        if (this.view.delete(e.peerId)) this.events.emit('peer:leave', e);
        this.inTail.delete(e.peerId);
      })),
      inner.on('message', (e) => this.inboundMessage(e)),
      inner.on('drop', (e) => this.events.emit('drop', e)),
    );
  }

  get localPeerId(): PeerId {
    return this.inner.localPeerId;
  }

  get roomId(): string {
    return this.inner.roomId;
  }

  get maxFrameBytes(): number {
    return this.inner.maxFrameBytes;
  }

  get conditioner(): ResolvedConditionerOptions {
    return this.model.options;
  }

  setConditioner(options: ConditionerOptions | undefined): void {
    this.model.setOptions(options);
  }

  peers(): readonly PeerId[] {
    return [...this.view.keys()].sort();
  }

  on<K extends keyof TransportEvents>(event: K, handler: (e: TransportEvents[K]) => void): () => void {
    return this.events.on(event, handler);
  }

  private later(at: number, fn: () => void): void {
    const cancel = this.clock.schedule(at, () => {
      this.pending.delete(cancel);
      if (!this.closed) fn();
    });
    this.pending.add(cancel);
  }

  private inboundEvent(peer: PeerId, fn: () => void): void {
    if (this.closed) return;
    const at = Math.max(this.clock.now(), this.inTail.get(peer) ?? -Infinity);
    this.inTail.set(peer, at);
    this.later(at, fn);
  }

  private inboundMessage(e: MessageEvent): void {
    if (this.closed) return;
    const now = this.clock.now();
    if (!this.conditionIn) {
      this.later(Math.max(now, this.inTail.get(e.from) ?? -Infinity), () => this.deliver(e, now));
      return;
    }
    const link = this.model.link(e.from, this.localPeerId);
    const plan = link.transmit(now, e.data.length, !e.broadcast);
    if (!e.broadcast) {
      const at = Math.max(plan.arrivals[0]!, this.inTail.get(e.from) ?? -Infinity);
      this.inTail.set(e.from, at);
      this.later(at, () => this.deliver(e, now));
      return;
    }
    plan.arrivals.forEach((at, i) => {
      this.later(at, () => {
        if (i === 0) return this.deliver(e, now);
        this.drop({ reason: 'Duplicate', from: e.from, bytes: e.data.length, detail: `conditioner: duplicate of a broadcast on channel '${e.channel}'` });
      });
    });
  }

  private deliver(e: MessageEvent, receivedAt: number): void {
    const st = this.view.get(e.from);
    if (st === undefined) {
      this.drop({ reason: 'NotInRoom', from: e.from, bytes: e.data.length, detail: `conditioner: message held past the leave of ${e.from}` });
      return;
    }
    st.addedInMs = ewma(st.addedInMs, this.clock.now() - receivedAt);
    st.bytesIn += e.data.length;
    st.messagesIn++;
    this.events.emit('message', e);
  }

  private drop(e: DropEvent): void {
    this.ownDrops[e.reason]++;
    this.events.emit('drop', e);
  }

  private checkSend(channel: Channel, data: Uint8Array): void {
    if (this.closed) throw new NetcodeError('Closed', `room '${this.roomId}' of ${this.localPeerId} is closed`, { roomId: this.roomId, peerId: this.localPeerId });
    if (data.length > this.maxFrameBytes) {
      throw new NetcodeError('FrameTooLarge', `frame of ${data.length} bytes on channel '${channel}' exceeds maxFrameBytes ${this.maxFrameBytes}`, { channel, bytes: data.length, maxFrameBytes: this.maxFrameBytes });
    }
  }

  send(peerId: PeerId, channel: Channel, data: Uint8Array): void {
    this.checkSend(channel, data);
    const st = this.view.get(peerId);
    if (st === undefined) throw new NetcodeError('UnknownPeer', `peer ${peerId} is not a member of room '${this.roomId}'`, { peerId, roomId: this.roomId });
    const copy = data.slice();
    const now = this.clock.now();
    st.bytesOut += copy.length;
    st.messagesOut++;
    let at = now;
    if (this.conditionOut) at = this.model.link(this.localPeerId, '*').transmit(now, copy.length, true).arrivals[0]!;
    at = Math.max(at, this.outTail);
    this.outTail = at;
    st.addedOutMs = ewma(st.addedOutMs, at - now);
    this.later(at, () => {
      if (!this.inner.peers().includes(peerId)) return;
      try {
        this.inner.send(peerId, channel, copy);
      } catch (err) {
        if (!(err instanceof NetcodeError) || (err.code !== 'UnknownPeer' && err.code !== 'Closed')) throw err;
      }
    });
  }

  broadcast(channel: Channel, data: Uint8Array): void {
    this.checkSend(channel, data);
    const copy = data.slice();
    const now = this.clock.now();
    const arrivals = this.conditionOut ? this.model.link(this.localPeerId, '*').transmit(now, copy.length, false).arrivals : [now];
    for (const st of this.view.values()) {
      st.bytesOut += copy.length;
      st.messagesOut++;
    }
    if (arrivals.length === 0) return;
    const at = arrivals[0]!;
    for (const st of this.view.values()) st.addedOutMs = ewma(st.addedOutMs, at - now);
    this.later(at, () => {
      try {
        this.inner.broadcast(channel, copy);
      } catch (err) {
        if (!(err instanceof NetcodeError) || err.code !== 'Closed') throw err;
      }
    });
  }

  stats(): TransportStats {
    const inner = this.inner.stats();
    const innerPeers = new Map(inner.peers.map((p) => [p.peerId, p]));
    const peers: PeerStats[] = [];
    for (const id of this.peers()) {
      const st = this.view.get(id)!;
      const ip = innerPeers.get(id);
      const rtt = ip?.rttMs;
      peers.push({
        peerId: id,
        rttMs: rtt === undefined ? undefined : rtt + (st.addedOutMs ?? 0) + (st.addedInMs ?? 0),
        bytesIn: st.bytesIn,
        bytesOut: st.bytesOut,
        messagesIn: st.messagesIn,
        messagesOut: st.messagesOut,
        connection: ip?.connection ?? 'none',
      });
    }
    const drops = { ...inner.drops };
    for (const r of Object.keys(this.ownDrops) as DropReason[]) drops[r] = (drops[r] ?? 0) + this.ownDrops[r];
    return { peers, drops, topology: inner.topology };
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closed = true;
    for (const cancel of this.pending) cancel();
    this.pending.clear();
    for (const u of this.unsubscribe) u();
    this.view.clear();
    if (this.ownsClock) (this.clock as RealClock).clear();
    this.closing = this.inner.close().finally(() => this.events.clear());
    return this.closing;
  }
}

function newRemote(): RemoteState {
  return { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0, addedOutMs: undefined, addedInMs: undefined };
}

function ewma(prev: number | undefined, sample: number): number {
  return prev === undefined ? sample : prev + EWMA_WEIGHT * (sample - prev);
}
