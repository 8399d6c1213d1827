/**
 * The session builder (GGRS `src/sessions/builder.rs`): collects and validates settings, then
 * starts a P2P, sync-test or spectator session. Setters validate their value at once and the
 * `start*` methods check the settings together; both throw `NetcodeError('InvalidConfig')` with
 * the setting's name in the message and in `data.field`.
 *
 * @example
 * ```ts
 * const session = new SessionBuilder()
 *   .withNumPlayers(3)
 *   .withInputDelay(2)
 *   .addPlayer({ kind: 'local' }, 0)
 *   .addPlayer({ kind: 'remote', peerId: bob }, 1)
 *   .addPlayer({ kind: 'remote', peerId: carol }, 2)
 *   .addPlayer({ kind: 'spectator', peerId: dave }, 3)
 *   .startP2PSession(room);
 * ```
 */
import { INPUT_RECORD_BYTES } from '../../engine/index.ts';
import { NetcodeError } from '../errors.ts';
import type { PeerId, RoomTransport } from '../transport/types.ts';
import { MAX_INPUT_DELAY, P2PSession } from './p2p-session.ts';
import { MAX_INPUT_SIZE, MAX_PLAYERS, MAX_WIRE_FRAME } from './protocol.ts';
import { SpectatorSession, assertHostPeerId } from './spectator-session.ts';
import { SyncTestSession } from './sync-test-session.ts';
import type { Frame, PlayerType, SessionClock } from './types.ts';

/** Default number of player slots (GGRS `DEFAULT_PLAYERS`). */
export const DEFAULT_NUM_PLAYERS = 2;
/** Default input size, bytes: one engine `InputRecord` (u32 buttons + 4 i8 axes). */
export const DEFAULT_INPUT_SIZE = INPUT_RECORD_BYTES;
/** Default prediction window, frames (GGPO and GGRS `DEFAULT_MAX_PREDICTION_FRAMES`): at 60 Hz, 133 ms of latency hidden without stalling. */
export const DEFAULT_MAX_PREDICTION = 8;
/** Default input delay, frames (GGPO's samples use 2; GGRS defaults to 0): fewer rollbacks for 33 ms of added latency at 60 Hz. */
export const DEFAULT_INPUT_DELAY = 2;
/** Default tick rate, frames per second (GGRS `DEFAULT_FPS`). */
export const DEFAULT_FPS = 60;
/**
 * Default disconnect timeout, ms: GGRS `DEFAULT_DISCONNECT_TIMEOUT` (2000; GGPO uses 5000). The
 * others stall at most this long (plus one tick) when a peer vanishes, then go on without it.
 */
export const DEFAULT_DISCONNECT_TIMEOUT_MS = 2000;
/** Default silence before a `networkInterrupted` event, ms (GGRS `DEFAULT_DISCONNECT_NOTIFY_START`; GGPO uses 750). */
export const DEFAULT_DISCONNECT_NOTIFY_START_MS = 500;
/** Default interval between exchanged checksums, frames (1 s at 60 Hz; 0 turns desync detection off). GGRS has it off by default. */
export const DEFAULT_CHECKSUM_INTERVAL = 60;
/** Default saving mode: save every frame (GGRS `DEFAULT_SAVE_MODE`). */
export const DEFAULT_SPARSE_SAVING = false;
/** Default first frame. */
export const DEFAULT_START_FRAME = 0;
/** Default transport channel of the rollback messages. */
export const DEFAULT_CHANNEL = 'rollback';
/** Default frames a spectator may fall behind the host before catching up (GGRS `DEFAULT_MAX_FRAMES_BEHIND`). */
export const DEFAULT_MAX_FRAMES_BEHIND = 10;
/** Default frames a spectator advances per call while catching up (GGRS uses 1, which never catches up; 2 halves the lag). */
export const DEFAULT_CATCHUP_SPEED = 2;
/** Default rollback distance of a sync test, frames (GGRS `DEFAULT_CHECK_DISTANCE`). */
export const DEFAULT_CHECK_DISTANCE = 2;

/** Fewest player slots of a session. */
export const MIN_PLAYERS = 2;
/** Largest prediction window, frames. */
export const MAX_PREDICTION_LIMIT = 64;

function invalid(field: string, value: unknown, want: string): never {
  throw new NetcodeError('InvalidConfig', `SessionBuilder: ${field} must be ${want}, got ${String(value)}`, { field, value });
}

function intIn(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) invalid(field, v, `an integer in [${min}, ${max}]`);
  return v;
}

function positiveMs(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) invalid(field, v, 'a finite number of ms > 0');
  return v;
}

/** Builds rollback sessions. Every `with*`/`add*` method returns the builder. */
export class SessionBuilder {
  private numPlayers = DEFAULT_NUM_PLAYERS;
  private inputSize = DEFAULT_INPUT_SIZE;
  private maxPrediction = DEFAULT_MAX_PREDICTION;
  private inputDelay = DEFAULT_INPUT_DELAY;
  private fps = DEFAULT_FPS;
  private disconnectTimeoutMs = DEFAULT_DISCONNECT_TIMEOUT_MS;
  private disconnectNotifyStartMs = DEFAULT_DISCONNECT_NOTIFY_START_MS;
  private checksumInterval = DEFAULT_CHECKSUM_INTERVAL;
  private sparseSaving = DEFAULT_SPARSE_SAVING;
  private startFrame = DEFAULT_START_FRAME;
  private channel = DEFAULT_CHANNEL;
  private maxFramesBehind = DEFAULT_MAX_FRAMES_BEHIND;
  private catchupSpeed = DEFAULT_CATCHUP_SPEED;
  private readonly players = new Map<number, PlayerType>();

  /** Number of player slots, integer in [2, 8]. Default 2. */
  withNumPlayers(n: number): this {
    this.numPlayers = intIn('numPlayers', n, MIN_PLAYERS, MAX_PLAYERS);
    return this;
  }

  /** Bytes of one slot's input per frame, integer in [1, 128]. Default 8 (an `InputRecord`). */
  withInputSize(bytes: number): this {
    this.inputSize = intIn('inputSize', bytes, 1, MAX_INPUT_SIZE);
    return this;
  }

  /**
   * Most frames simulated ahead of the newest confirmed frame, integer in [0, 64]. Default 8.
   * 0 is lockstep: a frame advances only once every input of it arrived; nothing is loaded.
   */
  withMaxPrediction(frames: number): this {
    this.maxPrediction = intIn('maxPrediction', frames, 0, MAX_PREDICTION_LIMIT);
    return this;
  }

  /** Frames between sampling a local input and using it, integer in [0, 60]. Default 2. Changeable later with `setInputDelay`. */
  withInputDelay(frames: number): this {
    this.inputDelay = intIn('inputDelay', frames, 0, MAX_INPUT_DELAY);
    return this;
  }

  /** Frames per second the session is advanced at, integer in [1, 1000]. Default 60. Converts round trips into frames. */
  withTickRate(fps: number): this {
    this.fps = intIn('tickRate', fps, 1, 1000);
    return this;
  }

  /** Silence after which a peer is disconnected, ms > 0. Default 2000. */
  withDisconnectTimeout(ms: number): this {
    this.disconnectTimeoutMs = positiveMs('disconnectTimeoutMs', ms);
    return this;
  }

  /** Silence after which `networkInterrupted` is emitted, ms > 0, less than the timeout. Default 500. */
  withDisconnectNotifyStart(ms: number): this {
    this.disconnectNotifyStartMs = positiveMs('disconnectNotifyStartMs', ms);
    return this;
  }

  /** Frames between checksums exchanged for desync detection, integer in [0, 3600]; 0 turns it off. Default 60. */
  withChecksumInterval(frames: number): this {
    this.checksumInterval = intIn('checksumInterval', frames, 0, 3600);
    return this;
  }

  /** Save only confirmed states (and checksum frames) instead of every frame: fewer saves, longer rollbacks. Default `false`. */
  withSparseSaving(on: boolean): this {
    if (typeof on !== 'boolean') invalid('sparseSaving', on, 'a boolean');
    this.sparseSaving = on;
    return this;
  }

  /**
   * First frame of the session, integer >= 0. Default 0. A peer that joins a running game
   * (e.g. a spectator added with `P2PSession.addSpectator`) starts at the frame it is handed,
   * with the snapshot of that frame.
   */
  withStartFrame(frame: Frame): this {
    this.startFrame = intIn('startFrame', frame, 0, MAX_WIRE_FRAME - 1);
    return this;
  }

  /** Transport channel of the session's messages, a non-empty string. Default `'rollback'`. */
  withChannel(channel: string): this {
    if (typeof channel !== 'string' || channel === '') invalid('channel', channel, 'a non-empty string');
    this.channel = channel;
    return this;
  }

  /** Spectators: frames behind the host before catching up, integer in [1, 600]. Default 10. */
  withMaxFramesBehind(frames: number): this {
    this.maxFramesBehind = intIn('maxFramesBehind', frames, 1, 600);
    return this;
  }

  /** Spectators: frames advanced per call while catching up, integer in [1, 16]. Default 2. */
  withCatchupSpeed(frames: number): this {
    this.catchupSpeed = intIn('catchupSpeed', frames, 1, 16);
    return this;
  }

  /**
   * Registers who plays `slot` (`'local'`, or `'remote'` with the peer's transport id; slots
   * `0 .. numPlayers-1`, each exactly once) or a spectator (`slot >= numPlayers`, any unused
   * number, like GGRS handles). One remote peer may own several slots. As in GGRS, the P2P
   * session runs once every player and every spectator registered here has finished its
   * handshake; spectators that come later are added with `P2PSession.addSpectator`.
   */
  addPlayer(player: PlayerType, slot: number): this {
    intIn('slot', slot, 0, 255);
    if (this.players.has(slot)) invalid(`slot ${slot}`, 'taken', 'registered once');
    if (typeof player !== 'object' || player === null || !['local', 'remote', 'spectator'].includes(player.kind)) {
      invalid(`player of slot ${slot}`, JSON.stringify(player), "{ kind: 'local' } | { kind: 'remote', peerId } | { kind: 'spectator', peerId }");
    }
    if (player.kind !== 'local' && (typeof player.peerId !== 'string' || player.peerId === '')) invalid(`peerId of slot ${slot}`, player.peerId, 'a non-empty string');
    if (player.kind === 'spectator' && slot < this.numPlayers) invalid(`spectator slot ${slot}`, slot, `>= numPlayers (${this.numPlayers})`);
    if (player.kind !== 'spectator' && slot >= MAX_PLAYERS) invalid(`player slot ${slot}`, slot, `< ${MAX_PLAYERS}`);
    this.players.set(slot, player);
    return this;
  }

  /**
   * Starts a P2P session on `transport` (the room's transport; the session adds a listener and
   * sends on `channel`). `clock` defaults to `performance.now()`; pass the transport's
   * `ManualClock` for virtual-time tests.
   * @throws NetcodeError `InvalidConfig` when a slot is missing or doubled, no slot is local, a
   *   remote id is this peer or plays and spectates, or the notify time is not below the timeout.
   */
  startP2PSession(transport: RoomTransport, clock?: SessionClock): P2PSession {
    this.checkTransport(transport);
    this.checkTimes();
    const players: PlayerType[] = [];
    const spectators: PeerId[] = [];
    for (const [slot, p] of [...this.players].sort((a, b) => a[0] - b[0])) {
      if (p.kind === 'spectator') {
        if (slot < this.numPlayers) invalid(`spectator slot ${slot}`, slot, `>= numPlayers (${this.numPlayers})`);
        spectators.push(p.peerId);
      } else if (slot >= this.numPlayers) {
        invalid(`player slot ${slot}`, slot, `< numPlayers (${this.numPlayers}); register spectators as { kind: 'spectator' }`);
      }
    }
    for (let s = 0; s < this.numPlayers; s++) {
      const p = this.players.get(s);
      if (p === undefined) invalid(`slot ${s}`, 'missing', `registered with addPlayer (every slot 0..${this.numPlayers - 1} needs a player)`);
      players.push(p);
      if (p.kind === 'remote' && p.peerId === transport.localPeerId) invalid(`peerId of slot ${s}`, p.peerId, "another peer's id (this is the local peer: use { kind: 'local' })");
    }
    if (!players.some((p) => p.kind === 'local')) invalid('players', 'no local slot', 'at least one local slot');
    const playerPeers = new Set(players.flatMap((p) => (p.kind === 'remote' ? [p.peerId] : [])));
    const seen = new Set<PeerId>();
    for (const id of spectators) {
      if (id === transport.localPeerId || playerPeers.has(id) || seen.has(id)) invalid(`spectator ${id}`, id, 'a peer that is neither this peer, a player nor another spectator');
      seen.add(id);
    }
    return new P2PSession({
      numPlayers: this.numPlayers, inputSize: this.inputSize, maxPrediction: this.maxPrediction, inputDelay: this.inputDelay,
      fps: this.fps, disconnectTimeoutMs: this.disconnectTimeoutMs, disconnectNotifyStartMs: this.disconnectNotifyStartMs,
      checksumInterval: this.checksumInterval, sparseSaving: this.sparseSaving, startFrame: this.startFrame, channel: this.channel,
      players, spectators,
    }, transport, clock ?? defaultClock());
  }

  /**
   * Starts a local sync-test session: every slot is local and every call rolls back
   * `checkDistance` frames (integer in [1, maxPrediction]; default 2). Registered players are
   * not needed and ignored.
   * @throws NetcodeError `InvalidConfig` for a bad `checkDistance`.
   */
  startSyncTestSession(checkDistance: number = DEFAULT_CHECK_DISTANCE): SyncTestSession {
    intIn('checkDistance', checkDistance, 1, Math.max(1, this.maxPrediction));
    return new SyncTestSession({
      numPlayers: this.numPlayers, inputSize: this.inputSize, inputDelay: this.inputDelay, startFrame: this.startFrame, checkDistance,
    });
  }

  /**
   * Starts a spectator session watching the game through `hostPeerId` (a player whose session
   * lists this peer as a spectator, or added it with `addSpectator`). Uses `numPlayers`,
   * `inputSize`, `startFrame`, the timeouts, `maxFramesBehind` and `catchupSpeed`.
   * @throws NetcodeError `InvalidConfig` for a bad host id or timeouts.
   */
  startSpectatorSession(hostPeerId: PeerId, transport: RoomTransport, clock?: SessionClock): SpectatorSession {
    this.checkTransport(transport);
    this.checkTimes();
    assertHostPeerId(hostPeerId, transport.localPeerId);
    return new SpectatorSession({
      numPlayers: this.numPlayers, inputSize: this.inputSize, fps: this.fps, disconnectTimeoutMs: this.disconnectTimeoutMs,
      disconnectNotifyStartMs: this.disconnectNotifyStartMs, startFrame: this.startFrame, channel: this.channel,
      maxFramesBehind: this.maxFramesBehind, catchupSpeed: this.catchupSpeed,
    }, hostPeerId, transport, clock ?? defaultClock());
  }

  private checkTimes(): void {
    if (this.disconnectNotifyStartMs >= this.disconnectTimeoutMs) {
      invalid('disconnectNotifyStartMs', this.disconnectNotifyStartMs, `less than disconnectTimeoutMs (${this.disconnectTimeoutMs})`);
    }
  }

  private checkTransport(t: RoomTransport): void {
    const ok = typeof t === 'object' && t !== null && typeof t.send === 'function' && typeof t.broadcast === 'function'
      && typeof t.on === 'function' && typeof t.peers === 'function' && typeof t.localPeerId === 'string';
    if (!ok) invalid('transport', t, 'a RoomTransport');
  }
}

function defaultClock(): SessionClock {
  return { now: () => performance.now() };
}
