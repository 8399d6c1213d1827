/**
 * Lobby rules, DOM-free: what players of a room say to each other over any
 * {@link RoomTransport} (libp2p in the page, the in-memory transport in unit tests).
 *
 * Channels (payloads are UTF-8 JSON; anything else from a peer is counted in
 * {@link Lobby.malformed} and ignored):
 *
 * | channel | how | payload |
 * |---|---|---|
 * | `lobby/hello` | `send` to a peer when it joins | `{ "name": "amber fox" }` |
 * | `lobby/chat` | `broadcast` | `{ "text": "hi all" }` (at most {@link MAX_CHAT_LENGTH} characters) |
 * | `lobby/ping` | `send` to each peer; it answers with `send` | `{ "ping": 7 }` / `{ "pong": 7 }` |
 *
 * @example
 * ```ts
 * const lobby = new Lobby(room, { name: 'amber fox' });
 * lobby.on((event) => { if (event.kind === 'chat') console.log(event.name, event.text); });
 * lobby.chat('hello');
 * const results = await lobby.pingAll(); // [{ peerId, rttMs: 1.2 }, ...]
 * ```
 */
import { RealClock, type Clock, type ConnectionKind, type PeerId, type RoomTransport } from '../../netcode/index.ts';

/** Channel of the name each player sends to a newcomer. */
export const CHANNEL_HELLO = 'lobby/hello';
/** Channel of chat lines (broadcast). */
export const CHANNEL_CHAT = 'lobby/chat';
/** Channel of "ping all" probes and their answers (send). */
export const CHANNEL_PING = 'lobby/ping';
/** Longest chat line, characters (UTF-16 code units); longer ones are cut. */
export const MAX_CHAT_LENGTH = 500;
/** Longest player name, characters; longer ones are cut. */
export const MAX_NAME_LENGTH = 24;
/** How long {@link Lobby.pingAll} waits for answers, ms. */
export const DEFAULT_PING_TIMEOUT_MS = 3000;
/** Most received messages kept in {@link Lobby.messages} (oldest dropped first). */
export const MAX_MESSAGE_LOG = 2000;

/** A message received from a peer, as recorded in {@link Lobby.messages}. */
export interface LobbyMessage {
  /** Authenticated sender. */
  readonly from: PeerId;
  readonly channel: string;
  /** The payload decoded as UTF-8 (lossy for binary payloads). */
  readonly text: string;
  /** Payload size, bytes. */
  readonly bytes: number;
  /** `true` when it came through `broadcast`. */
  readonly broadcast: boolean;
  /** When it was delivered, ms on the lobby's clock (`performance.now()` in a page: ms since navigation start). */
  readonly at: number;
}

/** One member of the room as the lobby shows it. */
export interface LobbyPeer {
  readonly peerId: PeerId;
  /** Name from its hello; `undefined` until it arrives. */
  readonly name: string | undefined;
  /** Transport's keep-alive round trip, ms (smoothed); `undefined` before the first sample. */
  readonly rttMs: number | undefined;
  /** Last "ping all" round trip over `send`, ms; `undefined` before one answered. */
  readonly pingMs: number | undefined;
  readonly connection: ConnectionKind;
  /** Application payload bytes and messages, both ways (transport counters). */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
}

/** Answer of one peer to {@link Lobby.pingAll}. */
export interface PingResult {
  readonly peerId: PeerId;
  /** Round trip over `send` (ping, then pong), ms; `undefined` when no answer came in time. */
  readonly rttMs: number | undefined;
}

/** What a lobby reports to its listeners (the page's chat log). */
export type LobbyEvent =
  | { readonly kind: 'join'; readonly peerId: PeerId; readonly at: number }
  | { readonly kind: 'leave'; readonly peerId: PeerId; readonly name: string | undefined; readonly reason: string; readonly at: number }
  | { readonly kind: 'hello'; readonly peerId: PeerId; readonly name: string; readonly at: number }
  | { readonly kind: 'chat'; readonly from: PeerId; readonly name: string | undefined; readonly text: string; readonly own: boolean; readonly at: number }
  | { readonly kind: 'ping'; readonly results: readonly PingResult[]; readonly at: number };

/** Options of {@link Lobby}. */
export interface LobbyOptions {
  /** Our name, sent to every peer that joins; cut to {@link MAX_NAME_LENGTH}. */
  readonly name: string;
  /** Clock of timestamps and ping timeouts. Default a new `RealClock` (`performance.now()`). */
  readonly clock?: Clock;
  /** How long {@link Lobby.pingAll} waits, ms. Default {@link DEFAULT_PING_TIMEOUT_MS}. */
  readonly pingTimeoutMs?: number;
}

interface PendingPing {
  readonly peerId: PeerId;
  readonly sentAt: number;
  readonly done: (rttMs: number | undefined) => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The lobby of one room: names, chat, "ping all", and a log of every message received. */
export class Lobby {
  readonly name: string;
  /** Every message received (all channels), oldest first, at most {@link MAX_MESSAGE_LOG}. */
  readonly messages: LobbyMessage[] = [];
  /** Messages from peers on lobby channels that did not decode (ignored). */
  malformed = 0;

  private readonly clock: Clock;
  private readonly ownsClock: boolean;
  private readonly pingTimeoutMs: number;
  private readonly names = new Map<PeerId, string>();
  private readonly lastPing = new Map<PeerId, number>();
  private readonly pending = new Map<number, PendingPing>();
  private readonly listeners = new Set<(event: LobbyEvent) => void>();
  private readonly unsubscribe: Array<() => void>;
  private nextPing = 1;
  private closed = false;

  /** Starts listening on `room` and greets the members already in it. */
  constructor(readonly room: RoomTransport, options: LobbyOptions) {
    this.name = cleanName(options.name) || 'player';
    this.ownsClock = options.clock === undefined;
    this.clock = options.clock ?? new RealClock();
    this.pingTimeoutMs = options.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    this.unsubscribe = [
      room.on('peer:join', ({ peerId }) => {
        this.emit({ kind: 'join', peerId, at: this.clock.now() });
        this.sendJson(peerId, CHANNEL_HELLO, { name: this.name });
      }),
      room.on('peer:leave', ({ peerId, reason }) => {
        const name = this.names.get(peerId);
        this.names.delete(peerId);
        this.lastPing.delete(peerId);
        this.emit({ kind: 'leave', peerId, name, reason, at: this.clock.now() });
      }),
      room.on('message', ({ from, channel, data, broadcast }) => this.receive(from, channel, data, broadcast)),
    ];
    for (const peerId of room.peers()) this.sendJson(peerId, CHANNEL_HELLO, { name: this.name });
  }

  /** Subscribes to lobby events; returns the unsubscribe function. */
  on(listener: (event: LobbyEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Name a peer announced, if any. */
  nameOf(peerId: PeerId): string | undefined {
    return this.names.get(peerId);
  }

  /** Current members with their transport counters, sorted by peer id. */
  peers(): LobbyPeer[] {
    return this.room.stats().peers.map((p) => ({
      peerId: p.peerId,
      name: this.names.get(p.peerId),
      rttMs: p.rttMs,
      pingMs: this.lastPing.get(p.peerId),
      connection: p.connection,
      bytesIn: p.bytesIn,
      bytesOut: p.bytesOut,
      messagesIn: p.messagesIn,
      messagesOut: p.messagesOut,
    }));
  }

  /**
   * Broadcasts a chat line (trimmed, cut to {@link MAX_CHAT_LENGTH}); an empty line is not sent.
   * Emits it as an own `chat` event (a broadcast does not come back to its sender).
   * @returns The text sent, or `undefined` when empty.
   * @throws NetcodeError `Closed` after the room closed.
   */
  chat(text: string): string | undefined {
    const line = text.trim().slice(0, MAX_CHAT_LENGTH);
    if (line === '') return undefined;
    this.room.broadcast(CHANNEL_CHAT, encoder.encode(JSON.stringify({ text: line })));
    this.emit({ kind: 'chat', from: this.room.localPeerId, name: this.name, text: line, own: true, at: this.clock.now() });
    return line;
  }

  /**
   * Sends a ping to every member over `send` and waits for their pongs, at most `pingTimeoutMs`.
   * Emits a `ping` event with the results and keeps each as the peer's {@link LobbyPeer.pingMs}.
   * @returns One result per member at the time of the call, sorted by peer id (`[]` alone).
   */
  async pingAll(): Promise<PingResult[]> {
    const results = await Promise.all(this.room.peers().map((peerId) => this.ping(peerId)));
    if (!this.closed) this.emit({ kind: 'ping', results, at: this.clock.now() });
    return results;
  }

  /** Stops listening (the room stays open) and fails pending pings. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribe) off();
    for (const ping of [...this.pending.values()]) ping.done(undefined);
    this.pending.clear();
    this.listeners.clear();
    if (this.ownsClock) (this.clock as RealClock).clear();
  }

  private ping(peerId: PeerId): Promise<PingResult> {
    return new Promise((resolve) => {
      const id = this.nextPing++;
      let cancel = (): void => {};
      const done = (rttMs: number | undefined): void => {
        if (!this.pending.delete(id)) return;
        cancel();
        if (rttMs !== undefined) this.lastPing.set(peerId, rttMs);
        resolve({ peerId, rttMs });
      };
      this.pending.set(id, { peerId, sentAt: this.clock.now(), done });
      cancel = this.clock.schedule(this.clock.now() + this.pingTimeoutMs, () => done(undefined));
      if (!this.sendJson(peerId, CHANNEL_PING, { ping: id })) done(undefined);
    });
  }

  private receive(from: PeerId, channel: string, data: Uint8Array, broadcast: boolean): void {
    const at = this.clock.now();
    const text = decoder.decode(data);
    this.messages.push({ from, channel, text, bytes: data.length, broadcast, at });
    if (this.messages.length > MAX_MESSAGE_LOG) this.messages.splice(0, this.messages.length - MAX_MESSAGE_LOG);
    if (channel !== CHANNEL_HELLO && channel !== CHANNEL_CHAT && channel !== CHANNEL_PING) return;
    const body = parseObject(text);
    if (channel === CHANNEL_HELLO && typeof body?.name === 'string' && cleanName(body.name) !== '') {
      const name = cleanName(body.name);
      this.names.set(from, name);
      this.emit({ kind: 'hello', peerId: from, name, at });
    } else if (channel === CHANNEL_CHAT && broadcast && typeof body?.text === 'string' && body.text.trim() !== '') {
      this.emit({ kind: 'chat', from, name: this.names.get(from), text: body.text.trim().slice(0, MAX_CHAT_LENGTH), own: false, at });
    } else if (channel === CHANNEL_PING && !broadcast && isPingId(body?.ping)) {
      this.sendJson(from, CHANNEL_PING, { pong: body.ping });
    } else if (channel === CHANNEL_PING && !broadcast && isPingId(body?.pong)) {
      const pending = this.pending.get(body.pong);
      if (pending !== undefined && pending.peerId === from) pending.done(at - pending.sentAt);
    } else {
      this.malformed++;
    }
  }

  /** Sends JSON to a member; `false` when it is gone or the room closed (a race with its leave). */
  private sendJson(peerId: PeerId, channel: string, body: object): boolean {
    if (this.closed) return false;
    try {
      this.room.send(peerId, channel, encoder.encode(JSON.stringify(body)));
      return true;
    } catch {
      return false;
    }
  }

  private emit(event: LobbyEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}

/** Trims and shortens a name to {@link MAX_NAME_LENGTH} characters, control characters removed. */
export function cleanName(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, MAX_NAME_LENGTH);
}

const ADJECTIVES = ['amber', 'brisk', 'calm', 'dusky', 'eager', 'fuzzy', 'gentle', 'hasty', 'jolly', 'lucky', 'mellow', 'nimble', 'plucky', 'quiet', 'rusty', 'sunny', 'tidy', 'witty'];
const ANIMALS = ['badger', 'crane', 'dingo', 'ferret', 'gecko', 'heron', 'ibis', 'koala', 'lynx', 'marten', 'newt', 'otter', 'puffin', 'quail', 'raven', 'stoat', 'tapir', 'wombat'];

/** A random two-word name such as `"plucky otter"` (`random` returns numbers in [0, 1)). */
export function randomName(random: () => number = Math.random): string {
  const pick = (words: readonly string[]): string => words[Math.floor(random() * words.length) % words.length]!;
  return `${pick(ADJECTIVES)} ${pick(ANIMALS)}`;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isPingId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
