/**
 * Arena match-making, DOM-free: how the peers of one room agree on who plays which slot of a
 * rollback session, over any {@link RoomTransport} (libp2p in the page, the in-memory transport
 * in unit tests).
 *
 * Everyone in a room announces itself with a `hello` naming its {@link MatchSettings} and
 * whether it is waiting or already playing. The **host** is the waiting peer with the lowest
 * peer id among the compatible waiting peers it knows (string order, the same on every peer).
 * Once the host knows `players` waiting peers (itself included), it takes the `players` lowest
 * ids, orders them (slot = index, so the host has slot 0) and `send`s each a `start`. A waiting
 * peer accepts a `start` whose sender is the listed slot 0, that lists it, and whose settings
 * are its own. Accepting peers say `hello` again as `playing`, so late-comers see the room busy.
 *
 * The host repeats its `start` to the listed peers with every hello until the page reports the
 * match's session running ({@link Matchmaker.confirm}), so a `start` lost in a connection upgrade
 * does not strand the match. Agreement is then checked by the rollback session's own handshake:
 * every listed peer must sync with every other one. If two hosts raced (possible only when members do not yet see each
 * other), one of the two sessions never synchronizes: the page gives up after a timeout and
 * calls {@link Matchmaker.abandon}, which goes back to waiting.
 *
 * Channel `arena/match`, UTF-8 JSON (at most {@link MAX_MATCH_MESSAGE_BYTES}; anything else is
 * counted in {@link Matchmaker.malformed} and ignored):
 *
 * | message | how | payload |
 * |---|---|---|
 * | hello | `send` to every member on join, on each state change and every {@link HELLO_INTERVAL_MS} | `{ "v": 1, "t": "hello", "state": "waiting", "players": 2, "seed": 7, "props": 44, "inputDelay": 2 }` |
 * | start | `send` from the host to each chosen peer | `{ "v": 1, "t": "start", "match": "<host id>/3", "peers": ["<slot 0>", "<slot 1>"], ...settings }` |
 *
 * @example
 * ```ts
 * const mm = new Matchmaker(room, { players: 2, seed: 7, props: 44, inputDelay: 2 });
 * mm.on((e) => { if (e.kind === 'matched') startGame(e.match); });
 * ```
 */
import { RealClock, type Clock, type PeerId, type RoomTransport } from '../../netcode/index.ts';

/** Channel of match-making messages. */
export const MATCH_CHANNEL = 'arena/match';
/** Version of the match messages; other versions are ignored as malformed. */
export const MATCH_PROTOCOL_VERSION = 1;
/** How often a peer repeats its hello to every member, ms. */
export const HELLO_INTERVAL_MS = 2000;
/** Largest match message accepted, bytes. */
export const MAX_MATCH_MESSAGE_BYTES = 4096;

/** What every peer of a match must agree on (the arena's world and the session's settings). */
export interface MatchSettings {
  /** Players of the match, integer in [2, 8]. */
  readonly players: number;
  /** Arena seed (`createArenaGame({ seed })`), an unsigned 32-bit integer. */
  readonly seed: number;
  /** Loose props of the arena (`createArenaGame({ props })`), integer >= 0. */
  readonly props: number;
  /** Input delay every peer starts with, frames (integer in [0, 60]). */
  readonly inputDelay: number;
}

/** An agreed match: slot `i` is played by `peers[i]`. */
export interface Match {
  /** `<host peer id>/<host's match counter>`: tells two attempts of one host apart. */
  readonly id: string;
  /** Player peer ids in slot order (ascending); `peers[0]` is the host. */
  readonly peers: readonly PeerId[];
  /** This peer's slot. */
  readonly localSlot: number;
  readonly settings: MatchSettings;
}

/** What {@link Matchmaker} reports. */
export type MatchmakerEvent =
  /** The set of compatible waiting peers changed: `waiting` of `needed` (both include this peer). */
  | { readonly kind: 'waiting'; readonly waiting: number; readonly needed: number }
  /** A match was agreed (this peer hosted it or accepted it). */
  | { readonly kind: 'matched'; readonly match: Match }
  /** A peer announced other settings: it can never be matched with this one. */
  | { readonly kind: 'incompatible'; readonly peerId: PeerId; readonly settings: MatchSettings }
  /** A peer announced that it is playing in a match without this peer. */
  | { readonly kind: 'busy'; readonly peerId: PeerId };

type PeerState = 'waiting' | 'playing';

interface Hello {
  readonly t: 'hello';
  readonly state: PeerState;
  readonly settings: MatchSettings;
}

interface Start {
  readonly t: 'start';
  readonly match: string;
  readonly peers: readonly PeerId[];
  readonly settings: MatchSettings;
}

/** Options of {@link Matchmaker}. */
export interface MatchmakerOptions {
  /** Interval of the repeated hello, ms. Default {@link HELLO_INTERVAL_MS}. */
  readonly helloIntervalMs?: number;
  /** Clock of the repeated hello (tests pass the memory network's `ManualClock`). Default a `RealClock`. */
  readonly clock?: Clock;
}

/**
 * Checks match settings.
 * @throws RangeError naming the field when a setting is out of range or not an integer.
 */
export function validateMatchSettings(s: MatchSettings): MatchSettings {
  const intIn = (name: keyof MatchSettings, min: number, max: number): void => {
    const v = s[name];
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`match: ${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  };
  intIn('players', 2, 8);
  intIn('seed', 0, 0xffffffff);
  intIn('props', 0, 100_000);
  intIn('inputDelay', 0, 60);
  return { players: s.players, seed: s.seed, props: s.props, inputDelay: s.inputDelay };
}

function sameSettings(a: MatchSettings, b: MatchSettings): boolean {
  return a.players === b.players && a.seed === b.seed && a.props === b.props && a.inputDelay === b.inputDelay;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes a match message (exported for tests that play a misbehaving peer). */
export function encodeMatchMessage(m: Hello | Start): Uint8Array {
  const { settings, ...rest } = m;
  return encoder.encode(JSON.stringify({ v: MATCH_PROTOCOL_VERSION, ...rest, ...settings }));
}

/** Decodes a match message; `undefined` for anything malformed (never throws). */
export function decodeMatchMessage(data: Uint8Array): Hello | Start | undefined {
  if (data.length > MAX_MATCH_MESSAGE_BYTES) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const o = raw as Record<string, unknown>;
  if (o['v'] !== MATCH_PROTOCOL_VERSION) return undefined;
  let settings: MatchSettings;
  try {
    settings = validateMatchSettings(o as unknown as MatchSettings);
  } catch {
    return undefined;
  }
  if (o['t'] === 'hello' && (o['state'] === 'waiting' || o['state'] === 'playing')) return { t: 'hello', state: o['state'], settings };
  if (o['t'] === 'start' && typeof o['match'] === 'string' && o['match'].length <= 200 && Array.isArray(o['peers'])) {
    const peers = o['peers'] as unknown[];
    if (peers.length !== settings.players || !peers.every((p) => typeof p === 'string' && p.length > 0 && p.length <= 200)) return undefined;
    if (new Set(peers).size !== peers.length) return undefined;
    return { t: 'start', match: o['match'], peers: peers as string[], settings };
  }
  return undefined;
}

/**
 * Finds the players of one arena match among the members of a room (see the module docs).
 * Starts announcing itself at construction; {@link close} stops it (the room stays open).
 */
export class Matchmaker {
  /** Messages on {@link MATCH_CHANNEL} that were not valid match messages, or a `start` not addressed right. */
  malformed = 0;
  readonly settings: MatchSettings;
  #state: 'waiting' | 'matched' | 'closed' = 'waiting';
  #match: Match | undefined;
  #attempts = 0;
  readonly #room: RoomTransport;
  /** Last hello of each member (members without a hello yet are absent). */
  readonly #known = new Map<PeerId, Hello>();
  readonly #listeners = new Set<(e: MatchmakerEvent) => void>();
  readonly #unsubscribe: (() => void)[] = [];
  #cancelTimer: () => void = () => {};
  #lastWaiting = -1;
  /** The host's `start` and its recipients, repeated until {@link confirm}. */
  #pendingStart: { readonly bytes: Uint8Array; readonly to: readonly PeerId[] } | undefined;

  /** @throws RangeError for bad settings (see {@link validateMatchSettings}). */
  constructor(room: RoomTransport, settings: MatchSettings, options: MatchmakerOptions = {}) {
    this.settings = validateMatchSettings(settings);
    this.#room = room;
    this.#unsubscribe.push(
      room.on('peer:join', ({ peerId }) => this.#sendHello(peerId)),
      room.on('peer:leave', ({ peerId }) => {
        this.#known.delete(peerId);
        this.#update();
      }),
      room.on('message', (m) => {
        if (m.channel === MATCH_CHANNEL) this.#onMessage(m.from, m.data);
      }),
    );
    const clock = options.clock ?? new RealClock();
    const interval = options.helloIntervalMs ?? HELLO_INTERVAL_MS;
    const tick = (): void => {
      this.#helloAll();
      this.#cancelTimer = clock.schedule(clock.now() + interval, tick);
    };
    tick();
    this.#update();
  }

  /** `'waiting'` for players, `'matched'` (see {@link match}), or `'closed'`. */
  get state(): 'waiting' | 'matched' | 'closed' {
    return this.#state;
  }

  /** The agreed match, once {@link state} is `'matched'`. */
  get match(): Match | undefined {
    return this.#match;
  }

  /** Compatible waiting peers known, this peer included when it waits, in ascending id order. */
  waitingPeers(): PeerId[] {
    const ids = [...this.#known].filter(([, h]) => h.state === 'waiting' && sameSettings(h.settings, this.settings)).map(([id]) => id);
    if (this.#state === 'waiting') ids.push(this.#room.localPeerId);
    return ids.sort(compareIds);
  }

  /** Members that said they are playing in another match. */
  busyPeers(): PeerId[] {
    return [...this.#known].filter(([, h]) => h.state === 'playing').map(([id]) => id).sort(compareIds);
  }

  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: (e: MatchmakerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells the matchmaker that the match's session runs: the host stops repeating its `start`. */
  confirm(): void {
    this.#pendingStart = undefined;
  }

  /**
   * Gives up the current match (its session never synchronized, or it ended) and waits for a
   * new one. No effect unless matched.
   */
  abandon(): void {
    if (this.#state !== 'matched') return;
    this.#state = 'waiting';
    this.#match = undefined;
    this.#pendingStart = undefined;
    this.#lastWaiting = -1;
    this.#helloAll();
    this.#update();
  }

  /** Stops announcing and listening (idempotent). The room is left open. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#cancelTimer();
    for (const off of this.#unsubscribe) off();
    this.#listeners.clear();
  }

  #emit(e: MatchmakerEvent): void {
    for (const l of [...this.#listeners]) l(e);
  }

  #hello(): Hello {
    return { t: 'hello', state: this.#state === 'matched' ? 'playing' : 'waiting', settings: this.settings };
  }

  #sendHello(peerId: PeerId): void {
    if (this.#state === 'closed') return;
    try {
      this.#room.send(peerId, MATCH_CHANNEL, encodeMatchMessage(this.#hello()));
    } catch {
      // The peer left between peers() and send: its leave event cleans up.
    }
  }

  #helloAll(): void {
    for (const id of this.#room.peers()) this.#sendHello(id);
    if (this.#pendingStart !== undefined) this.#sendStart(this.#pendingStart.bytes, this.#pendingStart.to);
  }

  #sendStart(bytes: Uint8Array, to: readonly PeerId[]): void {
    for (const id of to) {
      try {
        this.#room.send(id, MATCH_CHANNEL, bytes);
      } catch {
        // It left just now: the session handshake will not complete and the page abandons.
      }
    }
  }

  #onMessage(from: PeerId, data: Uint8Array): void {
    if (this.#state === 'closed') return;
    const m = decodeMatchMessage(data);
    if (m === undefined) {
      this.malformed++;
      return;
    }
    if (m.t === 'hello') {
      const before = this.#known.get(from);
      this.#known.set(from, m);
      if (!sameSettings(m.settings, this.settings) && (before === undefined || sameSettings(before.settings, this.settings))) {
        this.#emit({ kind: 'incompatible', peerId: from, settings: m.settings });
      }
      if (m.state === 'playing' && before?.state !== 'playing' && !this.#match?.peers.includes(from)) this.#emit({ kind: 'busy', peerId: from });
      this.#update();
      return;
    }
    // start
    const me = this.#room.localPeerId;
    const slot = m.peers.indexOf(me);
    if (m.peers[0] !== from || slot < 0 || !sameSettings(m.settings, this.settings) || !isAscending(m.peers)) {
      this.malformed++;
      return;
    }
    if (this.#state !== 'waiting') return; // a repeat of our match's start, or another match: its host's session times out
    this.#matched({ id: m.match, peers: m.peers, localSlot: slot, settings: this.settings });
  }

  #matched(match: Match): void {
    this.#state = 'matched';
    this.#match = match;
    this.#helloAll();
    this.#emit({ kind: 'matched', match });
  }

  /** Reports the waiting count and, when this peer is the host and enough peers wait, starts a match. */
  #update(): void {
    if (this.#state !== 'waiting') return;
    const waiting = this.waitingPeers();
    if (waiting.length !== this.#lastWaiting) {
      this.#lastWaiting = waiting.length;
      this.#emit({ kind: 'waiting', waiting: waiting.length, needed: this.settings.players });
    }
    const me = this.#room.localPeerId;
    if (waiting[0] !== me || waiting.length < this.settings.players) return;
    const peers = waiting.slice(0, this.settings.players);
    this.#attempts++;
    const start: Start = { t: 'start', match: `${me}/${this.#attempts}`, peers, settings: this.settings };
    const bytes = encodeMatchMessage(start);
    const to = peers.filter((id) => id !== me);
    this.#sendStart(bytes, to);
    this.#matched({ id: start.match, peers, localSlot: 0, settings: this.settings });
    this.#pendingStart = { bytes, to };
  }
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isAscending(ids: readonly string[]): boolean {
  for (let i = 1; i < ids.length; i++) if (compareIds(ids[i - 1]!, ids[i]!) >= 0) return false;
  return true;
}
