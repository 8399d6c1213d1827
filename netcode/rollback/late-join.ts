/**
 * Late join as a spectator (GGRS and NetplayJS have none): a peer that arrives while a match
 * runs asks a player, its host, to watch; the host adds it as a spectator of its P2P session
 * (`P2PSession.addSpectator`, which picks the start frame F), sends it the world state of F,
 * the settings its spectator session needs and an application blob (how to build the world:
 * the arena's seed and prop count, say); the newcomer restores the state and follows the game
 * with a {@link SpectatorSession} started at F. Messages travel on their own channel (default
 * {@link DEFAULT_JOIN_CHANNEL}) in the format of `late-join-protocol.ts`.
 *
 * Host side, {@link serveLateJoins}: answers watch requests from peers that have no role in the
 * session, refusing (with a reason and a message) while the session is not running, when
 * `maxSpectators` already watch, when the peer plays, or when the state of F is unavailable.
 * The state goes out in chunks of at most {@link JOIN_CHUNK_BYTES} (transport frames are limited
 * to `maxFrameBytes`, 64 KiB by default; an arena state is 120 KB with 44 props, 800 KB with
 * 400) over the reliable `send`, at most `windowBytes` unacknowledged at a time, so a large
 * state never floods the host's connection and delays the inputs its fellow players wait for.
 * A spectator that stops acknowledging, or has not finished its session handshake
 * `joinTimeoutMs` after its state arrived, is removed from the session again (`removeSpectator`).
 *
 * Spectator side, {@link requestLateJoin}: sends the request once the host is a member of the
 * room, reassembles and checks the state (size and FNV-1a checksum), and resolves with
 * everything needed to start the spectator session ({@link lateJoinSessionBuilder}). It rejects
 * with `NetcodeError` `JoinRefused` (the host's reason in `data.reason`) or `JoinFailed`
 * (`data.reason`: `Timeout`, `HostLeft`, `Malformed`, `Cancelled`, `Closed`).
 *
 * Ordering: the host's session keeps every input from F on for the new spectator (its link
 * exists from `addSpectator` on) and sends them once the spectator's handshake completes, 128
 * frames per packet; the spectator, behind by the time the join took, catches up at
 * `catchupSpeed` frames per tick. No input of a frame >= F is lost, whatever the join took.
 *
 * Bad bytes from peers never throw: they are counted in `stats().drops` (host) or
 * `LateJoin.drops` (spectator) and reported to `onDrop`.
 *
 * @example
 * ```ts
 * // Host (a player), once its rollback system is attached:
 * const server = serveLateJoins(session, room, {
 *   snapshotAt: rollbackStateAt(game.world, rollback),
 *   app: new TextEncoder().encode(JSON.stringify({ seed, props })),
 * });
 *
 * // Newcomer:
 * const join = await requestLateJoin(room, hostPeerId, { timeoutMs: 5000 });
 * const { seed, props } = JSON.parse(new TextDecoder().decode(join.app));
 * const game = createArenaGame({ seed, props, players: join.settings.numPlayers });
 * restore(game.world, decodeSnapshot(join.state));
 * const spectator = lateJoinSessionBuilder(join).startSpectatorSession(join.hostPeerId, room);
 * attachRollback(game.world, game.scheduler, spectator, { players: game.players });
 * ```
 */
import { encodeSnapshot, fnv1a32, Rng, snapshot, type GameWorld } from '../../engine/index.ts';
import { NetcodeError } from '../errors.ts';
import { RealClock, type Clock } from '../transport/clock.ts';
import type { MessageEvent, PeerId, RoomTransport } from '../transport/types.ts';
import { SessionBuilder } from './builder.ts';
import type { RollbackSystem } from './engine-system.ts';
import {
  JOIN_REFUSALS, LATE_JOIN_VERSION, MAX_JOIN_APP_BYTES, MAX_JOIN_CHANNEL_BYTES, MAX_JOIN_DETAIL_BYTES, MAX_JOIN_STATE_BYTES,
  decodeJoinMessage, encodeJoinMessage,
  type JoinMessage, type JoinRefusal,
} from './late-join-protocol.ts';
import { SNAPSHOT_CHUNK_BYTES } from './linked-session.ts';
import type { P2PSession } from './p2p-session.ts';
import type { Frame } from './types.ts';

/** Default channel of late-join messages. */
export const DEFAULT_JOIN_CHANNEL = 'rollback/join';
/** Default most spectators a host serves (configured and late-joined, not disconnected). */
export const DEFAULT_MAX_SPECTATORS = 4;
/** Largest `maxSpectators`. */
export const MAX_MAX_SPECTATORS = 64;
/** Default bytes of state sent and not yet acknowledged (4 chunks). */
export const DEFAULT_JOIN_WINDOW_BYTES = 64 * 1024;
/** Default silence a host tolerates from a joining spectator, ms (see `joinTimeoutMs`). */
export const DEFAULT_JOIN_TIMEOUT_MS = 10_000;
/** Default silence a newcomer tolerates from the host, ms (see `timeoutMs`). */
export const DEFAULT_LATE_JOIN_TIMEOUT_MS = 5000;
/** Largest state chunk, bytes (RFC 8831's advice for WebRTC data channel messages, as snapshot chunks). */
export const JOIN_CHUNK_BYTES = SNAPSHOT_CHUNK_BYTES;
/** Room left in a transport frame for a chunk's header, bytes. */
const CHUNK_HEADER_BYTES = 32;
/** Room left in a transport frame for an accept's fields besides the app blob and channel, bytes. */
const ACCEPT_HEADER_BYTES = 64;

/**
 * Why a late-join message from a peer was dropped (counted and reported, never thrown).
 * - `Malformed`: bytes that do not decode, or fields out of range (an acknowledgement of bytes
 *   never sent, a chunk at the wrong offset or past the announced size).
 * - `Oversized`: a state announced larger than the receiver accepts.
 * - `UnknownPeer`: a message for the newcomer from someone other than the host it asked.
 * - `Unsolicited`: a message that answers no request (another request id, a kind the receiver
 *   never expects).
 */
export type LateJoinDropReason = 'Malformed' | 'Oversized' | 'UnknownPeer' | 'Unsolicited';

/** Every {@link LateJoinDropReason}, in a stable order. */
export const LATE_JOIN_DROP_REASONS: readonly LateJoinDropReason[] = ['Malformed', 'Oversized', 'UnknownPeer', 'Unsolicited'];

/** A dropped late-join message. */
export interface LateJoinDrop {
  readonly reason: LateJoinDropReason;
  /** Authenticated sender. */
  readonly from: PeerId;
  /** Size of the message, bytes. */
  readonly bytes: number;
  readonly detail: string;
}

function zeroDrops(): Record<LateJoinDropReason, number> {
  return Object.fromEntries(LATE_JOIN_DROP_REASONS.map((r) => [r, 0])) as Record<LateJoinDropReason, number>;
}

function isChannel(v: unknown): v is string {
  return typeof v === 'string' && v !== '' && new TextEncoder().encode(v).length <= MAX_JOIN_CHANNEL_BYTES;
}

function positiveMs(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) {
    throw new NetcodeError('InvalidConfig', `late join: ${field} must be a finite number of ms > 0, got ${String(v)}`, { field, value: v });
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Host side

/** Options of {@link serveLateJoins}. */
export interface LateJoinHostOptions {
  /**
   * The encoded world state of `frame` (`encodeSnapshot`), or `undefined` when it is not
   * available (the request is then refused `StateUnavailable`). Called while handling a request,
   * between two ticks: `frame` is the session's current frame (the live world) or a recent
   * saved one. {@link rollbackStateAt} builds it from an attached rollback system. An exception
   * is turned into a `StateUnavailable` refusal carrying its message.
   */
  readonly snapshotAt: (frame: Frame) => Uint8Array | undefined;
  /** Application blob sent with every accept (how to build the world), at most {@link MAX_JOIN_APP_BYTES}. Default empty. */
  readonly app?: Uint8Array;
  /** Most spectators of the session (configured or late-joined, not disconnected), integer in [0, 64]. Default {@link DEFAULT_MAX_SPECTATORS}. */
  readonly maxSpectators?: number;
  /** Channel of the join messages. Default {@link DEFAULT_JOIN_CHANNEL}. */
  readonly channel?: string;
  /** Clock for `joinTimeoutMs` (the transport's, in tests). Default a `RealClock`. */
  readonly clock?: Clock;
  /**
   * Longest wait for a joining spectator, ms: for its next acknowledgement while its state is
   * sent, then for its session handshake with us once the state arrived. When it runs out the
   * spectator is removed from the session (`removeSpectator`) and counted in `timeouts`.
   * Default {@link DEFAULT_JOIN_TIMEOUT_MS}.
   */
  readonly joinTimeoutMs?: number;
  /** State bytes sent and not yet acknowledged, at least one chunk. Default {@link DEFAULT_JOIN_WINDOW_BYTES}. */
  readonly windowBytes?: number;
  /** A spectator was added at `frame` and its state (`stateBytes` bytes) is on its way. */
  readonly onJoin?: (e: { readonly peerId: PeerId; readonly frame: Frame; readonly stateBytes: number }) => void;
  /** A request was refused. */
  readonly onRefuse?: (e: { readonly peerId: PeerId; readonly reason: JoinRefusal; readonly detail: string }) => void;
  /** A message was dropped. */
  readonly onDrop?: (e: LateJoinDrop) => void;
}

/** Counters of a {@link LateJoinHost}. */
export interface LateJoinHostStats {
  /** Watch requests received (valid ones). */
  readonly requests: number;
  /** Requests accepted: spectator added, state sent. */
  readonly accepted: number;
  /** Spectators whose whole state was acknowledged. */
  readonly delivered: number;
  /** Spectators whose session handshake completed within `joinTimeoutMs` of their state arriving. */
  readonly running: number;
  /** Refusals by reason. */
  readonly refused: Readonly<Record<JoinRefusal, number>>;
  /** Spectators removed for silence (`joinTimeoutMs`). */
  readonly timeouts: number;
  /** Joins abandoned by the newcomer (cancel) or because it left the room. */
  readonly abandoned: number;
  /** State bytes sent. */
  readonly bytesSent: number;
  /** Joins in progress (state being sent, or handshake awaited). */
  readonly pending: number;
  /** Dropped messages by reason. */
  readonly drops: Readonly<Record<LateJoinDropReason, number>>;
}

/** A running late-join server: its counters, and how to stop it. */
export interface LateJoinHost {
  stats(): LateJoinHostStats;
  /**
   * Stops answering (joins in progress are abandoned; spectators that have not finished their
   * handshake are removed from the session). Idempotent. The transport and session stay open.
   */
  dispose(): void;
}

/** A join in progress on the host. */
interface Transfer {
  readonly peerId: PeerId;
  readonly requestId: number;
  readonly state: Uint8Array;
  sent: number;
  acked: number;
  phase: 'sending' | 'handshake';
  cancelTimer: () => void;
}

/**
 * Serves late joins of `session` over `transport` (see the module doc). Watch requests are
 * answered as they arrive, between ticks.
 * @throws NetcodeError `InvalidConfig` for bad options: `snapshotAt` not a function, an app blob
 *   larger than {@link MAX_JOIN_APP_BYTES} or too large for one transport frame, `maxSpectators`
 *   out of [0, 64], non-positive timeouts, a window smaller than one chunk.
 */
export function serveLateJoins(session: P2PSession, transport: RoomTransport, options: LateJoinHostOptions): LateJoinHost {
  const {
    snapshotAt, app = new Uint8Array(0), maxSpectators = DEFAULT_MAX_SPECTATORS, channel = DEFAULT_JOIN_CHANNEL,
    clock = new RealClock(), onJoin, onRefuse, onDrop,
  } = options;
  const config = (field: string, value: unknown, want: string): never => {
    throw new NetcodeError('InvalidConfig', `serveLateJoins: ${field} must be ${want}, got ${String(value)}`, { field, value });
  };
  if (typeof snapshotAt !== 'function') config('snapshotAt', snapshotAt, 'a function');
  if (!isChannel(channel)) config('channel', channel, `a non-empty string of at most ${MAX_JOIN_CHANNEL_BYTES} bytes`);
  if (!(app instanceof Uint8Array) || app.length > Math.min(MAX_JOIN_APP_BYTES, transport.maxFrameBytes - ACCEPT_HEADER_BYTES - MAX_JOIN_CHANNEL_BYTES)) {
    config('app', app instanceof Uint8Array ? `${app.length} bytes` : app, `a Uint8Array of at most ${Math.min(MAX_JOIN_APP_BYTES, transport.maxFrameBytes - ACCEPT_HEADER_BYTES - MAX_JOIN_CHANNEL_BYTES)} bytes`);
  }
  if (!Number.isInteger(maxSpectators) || maxSpectators < 0 || maxSpectators > MAX_MAX_SPECTATORS) config('maxSpectators', maxSpectators, `an integer in [0, ${MAX_MAX_SPECTATORS}]`);
  const joinTimeoutMs = positiveMs('joinTimeoutMs', options.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS);
  const chunkBytes = Math.min(JOIN_CHUNK_BYTES, transport.maxFrameBytes - CHUNK_HEADER_BYTES);
  if (chunkBytes < 256) config('transport.maxFrameBytes', transport.maxFrameBytes, `at least ${256 + CHUNK_HEADER_BYTES}`);
  const windowBytes = options.windowBytes ?? DEFAULT_JOIN_WINDOW_BYTES;
  if (!Number.isInteger(windowBytes) || windowBytes < chunkBytes) config('windowBytes', windowBytes, `an integer >= one chunk (${chunkBytes} bytes)`);

  const transfers = new Map<PeerId, Transfer>();
  const drops = zeroDrops();
  const refused = Object.fromEntries([...JOIN_REFUSALS, 'Unknown'].map((r) => [r, 0])) as Record<JoinRefusal, number>;
  const counts = { requests: 0, accepted: 0, delivered: 0, running: 0, timeouts: 0, abandoned: 0, bytesSent: 0 };
  let disposed = false;

  const drop = (reason: LateJoinDropReason, from: PeerId, bytes: number, detail: string): void => {
    drops[reason]++;
    onDrop?.({ reason, from, bytes, detail });
  };

  /** Sends a join message; `false` when the peer is gone (never throws). */
  const send = (peerId: PeerId, msg: JoinMessage): boolean => {
    if (!transport.peers().includes(peerId)) return false;
    try {
      transport.send(peerId, channel, encodeJoinMessage(msg));
      return true;
    } catch {
      return false;
    }
  };

  /** The spectator's link state in the session, or `undefined` when it has no role; `'player'` for players. */
  const roleOf = (peerId: PeerId): 'player' | 'synchronizing' | 'running' | 'disconnected' | undefined => {
    const p = session.stats().peers.find((x) => x.peerId === peerId);
    if (p === undefined) return undefined;
    return p.role === 'spectator' ? p.state : 'player';
  };

  /** Ends a join in progress; removes the spectator from the session unless its handshake completed. */
  const finish = (t: Transfer, removeIfNotRunning: boolean): void => {
    t.cancelTimer();
    if (transfers.get(t.peerId) === t) transfers.delete(t.peerId);
    if (removeIfNotRunning && roleOf(t.peerId) !== 'running') session.removeSpectator(t.peerId);
  };

  const arm = (t: Transfer): void => {
    t.cancelTimer();
    t.cancelTimer = clock.schedule(clock.now() + joinTimeoutMs, () => {
      if (transfers.get(t.peerId) !== t) return;
      if (t.phase === 'handshake' && roleOf(t.peerId) === 'running') {
        counts.running++;
        finish(t, false);
        return;
      }
      counts.timeouts++;
      finish(t, true);
    });
  };

  const refuse = (peerId: PeerId, requestId: number, reason: JoinRefusal, detail: string): void => {
    refused[reason]++;
    // A UTF-16 code unit takes at most 3 UTF-8 bytes: 168 of them and '...' fit MAX_JOIN_DETAIL_BYTES.
    const wire = new TextEncoder().encode(detail).length > MAX_JOIN_DETAIL_BYTES ? `${detail.slice(0, 168)}...` : detail;
    send(peerId, { type: 'refuse', requestId, reason, detail: wire });
    onRefuse?.({ peerId, reason, detail });
  };

  /** Sends chunks while the window allows. */
  const pump = (t: Transfer): void => {
    while (t.sent < t.state.length && t.sent - t.acked < windowBytes) {
      const bytes = t.state.subarray(t.sent, Math.min(t.state.length, t.sent + chunkBytes));
      if (!send(t.peerId, { type: 'chunk', requestId: t.requestId, offset: t.sent, bytes })) {
        counts.abandoned++;
        return finish(t, true);
      }
      t.sent += bytes.length;
      counts.bytesSent += bytes.length;
    }
  };

  const onWatch = (peerId: PeerId, requestId: number, version: number): void => {
    counts.requests++;
    if (version !== LATE_JOIN_VERSION) return refuse(peerId, requestId, 'Version', `late-join protocol version ${version}, this host speaks ${LATE_JOIN_VERSION}`);
    if (session.state !== 'running') return refuse(peerId, requestId, 'NotRunning', `the match is ${session.state}, not running`);
    const role = roleOf(peerId);
    if (role === 'player') return refuse(peerId, requestId, 'AlreadyInSession', `${peerId} plays in this match`);
    // A spectator asking again restarted (or gave up on an earlier request): start it afresh.
    const previous = transfers.get(peerId);
    if (previous !== undefined) finish(previous, false);
    if (role !== undefined) session.removeSpectator(peerId);
    const watching = session.stats().peers.filter((p) => p.role === 'spectator' && p.state !== 'disconnected').length;
    if (watching >= maxSpectators) return refuse(peerId, requestId, 'TooManySpectators', `${watching} spectators already watch (at most ${maxSpectators})`);

    let frame: Frame;
    try {
      frame = session.addSpectator(peerId);
    } catch (err) {
      return refuse(peerId, requestId, 'StateUnavailable', err instanceof Error ? err.message : String(err));
    }
    let state: Uint8Array | undefined;
    let why = `the state of frame ${frame} is no longer held`;
    try {
      state = snapshotAt(frame);
    } catch (err) {
      why = `the state of frame ${frame} could not be taken: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (!(state instanceof Uint8Array) || state.length > MAX_JOIN_STATE_BYTES) {
      session.removeSpectator(peerId);
      if (state instanceof Uint8Array) why = `the state of frame ${frame} is ${state.length} bytes, more than ${MAX_JOIN_STATE_BYTES}`;
      return refuse(peerId, requestId, 'StateUnavailable', why);
    }
    const t: Transfer = { peerId, requestId, state, sent: 0, acked: 0, phase: 'sending', cancelTimer: () => {} };
    const accepted = send(peerId, {
      type: 'accept', requestId, frame, numPlayers: session.numPlayers, inputSize: session.inputSize, fps: session.fps,
      channel: session.channel, stateBytes: state.length, stateChecksum: fnv1a32(state), app,
    });
    if (!accepted) {
      session.removeSpectator(peerId);
      counts.abandoned++;
      return;
    }
    counts.accepted++;
    transfers.set(peerId, t);
    arm(t);
    onJoin?.({ peerId, frame, stateBytes: state.length });
    pump(t);
    if (transfers.get(peerId) === t && state.length === 0) {
      t.phase = 'handshake';
      counts.delivered++;
    }
  };

  const onMessage = (e: MessageEvent): void => {
    if (disposed) return;
    if (e.channel !== channel) {
      // The newcomer's session handshake travels on the session's channel: notice its end.
      const t = transfers.get(e.from);
      if (t?.phase === 'handshake' && roleOf(e.from) === 'running') {
        counts.running++;
        finish(t, false);
      }
      return;
    }
    const msg = decodeJoinMessage(e.data);
    if (msg.type === 'malformed') return drop('Malformed', e.from, e.data.length, msg.detail);
    if (msg.type === 'watch') return onWatch(e.from, msg.requestId, msg.version);
    const t = transfers.get(e.from);
    if ((msg.type !== 'chunkAck' && msg.type !== 'cancel') || t === undefined || t.requestId !== msg.requestId) {
      return drop('Unsolicited', e.from, e.data.length, `${msg.type} from ${e.from} answers no join in progress`);
    }
    if (msg.type === 'cancel') {
      counts.abandoned++;
      return finish(t, true);
    }
    if (msg.received > t.sent || msg.received < t.acked) {
      return drop('Malformed', e.from, e.data.length, `${e.from} acknowledged ${msg.received} bytes; ${t.acked} were acknowledged and ${t.sent} sent`);
    }
    if (msg.received === t.acked) return;
    t.acked = msg.received;
    arm(t);
    pump(t);
    if (t.phase === 'sending' && t.acked === t.state.length && transfers.get(e.from) === t) {
      t.phase = 'handshake';
      counts.delivered++;
    }
  };

  const unsubscribe = [
    transport.on('message', onMessage),
    transport.on('peer:leave', ({ peerId }) => {
      const t = transfers.get(peerId);
      if (t === undefined || disposed) return;
      counts.abandoned++;
      finish(t, true);
    }),
  ];

  return {
    stats(): LateJoinHostStats {
      return { ...counts, refused: { ...refused }, pending: transfers.size, drops: { ...drops } };
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      for (const u of unsubscribe) u();
      for (const t of [...transfers.values()]) finish(t, true);
    },
  };
}

/**
 * The `snapshotAt` of {@link serveLateJoins} for a world driven by `attachRollback`: the live
 * world (encoded afresh) when `frame` is its tick, else the rollback ring's snapshot of `frame`
 * (encoded), or `undefined` when the ring no longer holds it. Call it between ticks only (the
 * transport delivers messages then).
 */
export function rollbackStateAt(world: GameWorld, rollback: RollbackSystem): (frame: Frame) => Uint8Array | undefined {
  return (frame) => {
    if (frame === world.time.tick) return encodeSnapshot(snapshot(world));
    const saved = rollback.snapshotOf(frame);
    return saved === undefined ? undefined : encodeSnapshot(saved);
  };
}

// ---------------------------------------------------------------------------------------------
// Spectator side

/** Settings of the host's session that the spectator session must share. */
export interface LateJoinSettings {
  /** Player slots, 2-8. */
  readonly numPlayers: number;
  /** Bytes of one slot's input per frame. */
  readonly inputSize: number;
  /** The host session's frames per second. */
  readonly fps: number;
  /** The host session's rollback channel. */
  readonly channel: string;
}

/** What {@link requestLateJoin} resolves with. */
export interface LateJoin {
  /** The host that accepted (the spectator session's `hostPeerId`). */
  readonly hostPeerId: PeerId;
  /** Frame of `state`: the spectator session starts there (`withStartFrame`). */
  readonly frame: Frame;
  /** The world state of `frame`, as the host's `snapshotAt` encoded it (`decodeSnapshot` it). */
  readonly state: Uint8Array;
  readonly settings: LateJoinSettings;
  /** The host's application blob (match settings to build the world with). */
  readonly app: Uint8Array;
  /** Time from the request to the last byte of state, ms (the clock's). */
  readonly elapsedMs: number;
  /** Messages dropped while joining, by reason. */
  readonly drops: Readonly<Record<LateJoinDropReason, number>>;
}

/** Options of {@link requestLateJoin}. */
export interface LateJoinRequestOptions {
  /**
   * Longest wait, ms: for the host to be a member of the room, for its answer, and for each
   * next chunk of state. Default {@link DEFAULT_LATE_JOIN_TIMEOUT_MS}.
   */
  readonly timeoutMs?: number;
  /** Channel of the join messages (the host's). Default {@link DEFAULT_JOIN_CHANNEL}. */
  readonly channel?: string;
  /** Clock for the timeout (the transport's, in tests). Default a `RealClock`. */
  readonly clock?: Clock;
  /** Largest state accepted, bytes, at most {@link MAX_JOIN_STATE_BYTES} (the default). */
  readonly maxStateBytes?: number;
  /** Aborts the request (rejects `JoinFailed` `Cancelled`, and tells the host). */
  readonly signal?: AbortSignal;
  /** A message was dropped. */
  readonly onDrop?: (e: LateJoinDrop) => void;
}

/** Late-join requests made through each transport (seeds request ids). */
const requestsMade = new WeakMap<RoomTransport, number>();

/**
 * Asks `hostPeerId` to let this peer watch its match, and receives the state to start from
 * (see the module doc). Resolves once the whole state arrived and matched its checksum; the
 * caller then builds its world, `restore`s `decodeSnapshot(join.state)` and starts a spectator
 * session with {@link lateJoinSessionBuilder}. Start it soon: the host removes a spectator whose
 * handshake has not finished `joinTimeoutMs` (10 s by default) after its state arrived.
 *
 * Rejects with `NetcodeError`:
 * - `InvalidConfig` for a bad host id (empty, this peer) or options;
 * - `JoinRefused`, `data.reason` a {@link JoinRefusal}, when the host refuses (its message is
 *   in the error's);
 * - `JoinFailed`, `data.reason` one of `Timeout` (no host, answer or chunk within `timeoutMs`),
 *   `HostLeft`, `Malformed` (the host's accept or chunks do not fit together, the state is too
 *   large or its checksum differs), `Cancelled` (`signal`), `Closed` (the transport refused to send).
 */
export function requestLateJoin(transport: RoomTransport, hostPeerId: PeerId, options: LateJoinRequestOptions = {}): Promise<LateJoin> {
  return new Promise<LateJoin>((resolve, reject) => {
    const { channel = DEFAULT_JOIN_CHANNEL, clock = new RealClock(), signal, onDrop } = options;
    if (typeof hostPeerId !== 'string' || hostPeerId === '' || hostPeerId === transport.localPeerId) {
      throw new NetcodeError('InvalidConfig', `requestLateJoin: hostPeerId must be another peer's id, got ${String(hostPeerId)}`, { field: 'hostPeerId', value: hostPeerId });
    }
    if (!isChannel(channel)) throw new NetcodeError('InvalidConfig', `requestLateJoin: channel must be a non-empty string, got ${String(channel)}`, { field: 'channel', value: channel });
    const timeoutMs = positiveMs('timeoutMs', options.timeoutMs ?? DEFAULT_LATE_JOIN_TIMEOUT_MS);
    const maxStateBytes = options.maxStateBytes ?? MAX_JOIN_STATE_BYTES;
    if (!Number.isInteger(maxStateBytes) || maxStateBytes < 0 || maxStateBytes > MAX_JOIN_STATE_BYTES) {
      throw new NetcodeError('InvalidConfig', `requestLateJoin: maxStateBytes must be an integer in [0, ${MAX_JOIN_STATE_BYTES}], got ${String(maxStateBytes)}`, { field: 'maxStateBytes', value: maxStateBytes });
    }
    if (signal?.aborted) throw new NetcodeError('JoinFailed', 'requestLateJoin: aborted before it started', { reason: 'Cancelled', hostPeerId });

    // The request id is not simulation state: seeded from this peer's id, the clock and a count of
    // this transport's requests (as the sessions' nonces), so answers to an earlier request never match.
    const seq = (requestsMade.get(transport) ?? 0) + 1;
    requestsMade.set(transport, seq);
    const requestId = new Rng(fnv1a32(new TextEncoder().encode(`${transport.localPeerId}|join|${seq}|${clock.now()}`))).nextU32();
    const startedAt = clock.now();
    const drops = zeroDrops();
    let sent = false;
    let settled = false;
    let accept: Extract<JoinMessage, { type: 'accept' }> | undefined;
    let state: Uint8Array | undefined;
    let received = 0;
    let cancelTimer = (): void => {};

    const drop = (reason: LateJoinDropReason, from: PeerId, bytes: number, detail: string): void => {
      drops[reason]++;
      onDrop?.({ reason, from, bytes, detail });
    };
    const cleanup = (): void => {
      settled = true;
      cancelTimer();
      for (const u of unsubscribe) u();
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (reason: 'Timeout' | 'HostLeft' | 'Malformed' | 'Cancelled' | 'Closed', message: string, tellHost: boolean): void => {
      if (settled) return;
      cleanup();
      if (tellHost && sent && transport.peers().includes(hostPeerId)) {
        try {
          transport.send(hostPeerId, channel, encodeJoinMessage({ type: 'cancel', requestId }));
        } catch {
          // best effort: the host times the join out anyway
        }
      }
      reject(new NetcodeError('JoinFailed', `late join with ${hostPeerId}: ${message}`, { reason, hostPeerId, drops: { ...drops } }));
    };
    const arm = (what: string): void => {
      cancelTimer();
      cancelTimer = clock.schedule(clock.now() + timeoutMs, () => fail('Timeout', `no ${what} within ${timeoutMs} ms`, true));
    };
    const sendTo = (msg: JoinMessage): boolean => {
      try {
        transport.send(hostPeerId, channel, encodeJoinMessage(msg));
        return true;
      } catch (err) {
        fail('Closed', `could not send: ${err instanceof Error ? err.message : String(err)}`, false);
        return false;
      }
    };
    const sendWatch = (): void => {
      if (sent || settled) return;
      sent = true;
      if (sendTo({ type: 'watch', version: LATE_JOIN_VERSION, requestId })) arm('answer');
    };
    function onAbort(): void {
      fail('Cancelled', 'cancelled', true);
    }

    const onAccept = (msg: Extract<JoinMessage, { type: 'accept' }>, size: number): void => {
      if (accept !== undefined) return drop('Unsolicited', hostPeerId, size, 'a second accept for one request');
      if (msg.stateBytes > maxStateBytes) {
        drop('Oversized', hostPeerId, size, `state of ${msg.stateBytes} bytes, at most ${maxStateBytes} accepted`);
        return fail('Malformed', `the host announced a state of ${msg.stateBytes} bytes, more than the ${maxStateBytes} accepted`, true);
      }
      if (msg.numPlayers < 2) {
        drop('Malformed', hostPeerId, size, `accept with ${msg.numPlayers} players`);
        return fail('Malformed', `the host announced ${msg.numPlayers} players`, true);
      }
      accept = msg;
      state = new Uint8Array(msg.stateBytes);
      arm('state chunk');
      if (msg.stateBytes === 0) complete();
    };
    const onChunk = (msg: Extract<JoinMessage, { type: 'chunk' }>, size: number): void => {
      if (accept === undefined || state === undefined) return drop('Unsolicited', hostPeerId, size, 'a state chunk before the accept');
      if (msg.offset !== received || msg.offset + msg.bytes.length > state.length || msg.bytes.length === 0) {
        drop('Malformed', hostPeerId, size, `chunk of ${msg.bytes.length} bytes at ${msg.offset}; expected one at ${received} of ${state.length}`);
        return fail('Malformed', 'the state chunks do not fit together', true);
      }
      state.set(msg.bytes, received);
      received += msg.bytes.length;
      if (!sendTo({ type: 'chunkAck', requestId, received })) return;
      arm('state chunk');
      if (received === state.length) complete();
    };
    const complete = (): void => {
      const a = accept!;
      const s = state!;
      if (fnv1a32(s) !== a.stateChecksum) {
        drop('Malformed', hostPeerId, s.length, 'state checksum mismatch');
        return fail('Malformed', `the state's checksum 0x${fnv1a32(s).toString(16)} differs from the announced 0x${a.stateChecksum.toString(16)}`, true);
      }
      cleanup();
      resolve({
        hostPeerId, frame: a.frame, state: s, app: a.app, elapsedMs: clock.now() - startedAt, drops: { ...drops },
        settings: { numPlayers: a.numPlayers, inputSize: a.inputSize, fps: a.fps, channel: a.channel },
      });
    };

    const onMessage = (e: MessageEvent): void => {
      if (settled || e.channel !== channel) return;
      if (e.from !== hostPeerId) return drop('UnknownPeer', e.from, e.data.length, `${e.from} is not the host asked (${hostPeerId})`);
      const msg = decodeJoinMessage(e.data);
      if (msg.type === 'malformed') return drop('Malformed', e.from, e.data.length, msg.detail);
      if (!sent || (msg.type !== 'refuse' && msg.type !== 'accept' && msg.type !== 'chunk') || msg.requestId !== requestId) {
        return drop('Unsolicited', e.from, e.data.length, `${msg.type} answers no request of ours`);
      }
      if (msg.type === 'refuse') {
        cleanup();
        reject(new NetcodeError('JoinRefused', `${hostPeerId} refused the late join (${msg.reason}): ${msg.detail}`, { reason: msg.reason, hostPeerId, detail: msg.detail }));
        return;
      }
      if (msg.type === 'accept') return onAccept(msg, e.data.length);
      onChunk(msg, e.data.length);
    };

    const unsubscribe = [
      transport.on('message', onMessage),
      transport.on('peer:join', ({ peerId }) => {
        if (peerId === hostPeerId) sendWatch();
      }),
      transport.on('peer:leave', ({ peerId }) => {
        if (peerId === hostPeerId && sent) fail('HostLeft', 'the host left the room', false);
      }),
    ];
    signal?.addEventListener('abort', onAbort);
    if (transport.peers().includes(hostPeerId)) sendWatch();
    else arm(`host (${hostPeerId} is not in the room)`);
  });
}

/**
 * A session builder set up from a late join: player count, input size, tick rate, channel and
 * start frame of the host's session. Add spectator settings (`withMaxFramesBehind`,
 * `withCatchupSpeed`, timeouts) and call `startSpectatorSession(join.hostPeerId, transport)`.
 */
export function lateJoinSessionBuilder(join: LateJoin): SessionBuilder {
  return new SessionBuilder()
    .withNumPlayers(join.settings.numPlayers)
    .withInputSize(join.settings.inputSize)
    .withTickRate(join.settings.fps)
    .withChannel(join.settings.channel)
    .withStartFrame(join.frame);
}
