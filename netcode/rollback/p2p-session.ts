/**
 * The peer-to-peer rollback session (GGPO `backends/p2p.cpp`, GGRS `sessions/p2p_session.rs`):
 * every player simulates every frame, predicting inputs that have not arrived and rolling back
 * when a prediction was wrong. It holds no engine state: it hands the engine `save`, `load` and
 * `advance` requests (see `types.ts`) and learns checksums back through `reportChecksum`.
 *
 * Per `advanceFrame()` call, in order:
 * 1. Network work: handshake retries, quality reports, keep-alives, timeouts.
 * 2. Checksums of checksum frames that are settled (every input before them confirmed here and
 *    held by every running player, so no later disconnect can change them) are sent to the
 *    other players and compared.
 * 3. Disconnects are agreed: a slot is `'disconnected'` from the earliest frame any running peer
 *    still lacked its input (GGRS `update_player_disconnects`); every remaining peer adopts the
 *    earliest frame announced, so they converge.
 * 4. Corrections first: if a received input differs from what was predicted (or a slot turned
 *    out disconnected earlier), `load` of the newest saved frame at or before the first incorrect
 *    one, then `advance` (+ `save`) up to the current frame. Corrections are returned even when
 *    step 6 cannot advance: unlike GGRS (issue #75, a `PredictionThreshold` error that dropped
 *    them and desynced 3+ players), a correction is never lost, and every received input is kept
 *    until no rollback can need it.
 * 5. The local inputs are scheduled `inputDelay` frames ahead and sent to every player. A packet
 *    carries every input some player has not acknowledged (redundancy against loss).
 * 6. If advancing keeps at most `maxPrediction` frames unconfirmed: `save(current)` (every
 *    frame, or sparsely) and `advance(current)`. Otherwise status `'PredictionThreshold'`.
 * 7. Confirmed inputs go to spectators; frame advantages are averaged; a `waitRecommendation`
 *    event is queued when this peer runs ahead (GGPO/GGRS time sync).
 *
 * Authority: inputs of a slot are accepted only from the transport-authenticated peer that owns
 * it (`message.from`), never from a field of the payload; other inputs are dropped and counted
 * (`ForeignSlot`).
 *
 * @example
 * ```ts
 * const session = new SessionBuilder()
 *   .addPlayer({ kind: 'local' }, 0)
 *   .addPlayer({ kind: 'remote', peerId: otherPeerId }, 1)
 *   .startP2PSession(room);
 * // each tick, in the Network phase:
 * session.addLocalInput(0, encodeInputRecord(record));
 * const { requests } = session.advanceFrame();
 * for (const r of requests) {
 *   const slot = ring[r.frame % session.snapshotWindow]!;   // ring: session.snapshotWindow × createSnapshot()
 *   if (r.kind === 'save') session.reportChecksum(r.frame, snapshot(world, slot).checksum);
 *   else if (r.kind === 'load') restore(world, slot);
 *   else { r.inputs.forEach((x, s) => writeInputRecord(world, players[s], decodeInputRecord(x.bytes))); scheduler.simulateTick(); }
 * }
 * for (const e of session.drainEvents()) if (e.kind === 'desync') console.warn(e);
 * ```
 */
import { NetcodeError } from '../errors.ts';
import type { MessageEvent, PeerId, RoomTransport } from '../transport/types.ts';
import { InputLog } from './input-log.ts';
import {
  KEEP_ALIVE_INTERVAL_MS, LinkedSession, PeerLink, RUNNING_RETRY_INTERVAL_MS, playerConfigHash,
} from './linked-session.ts';
import {
  MAX_FRAMES_PER_PACKET, encodeMessage, inputAt,
  type InputMessage, type RollbackMessage, type SlotStatus,
} from './protocol.ts';
import { MAX_FRAME_ADVANTAGE, MIN_FRAME_ADVANTAGE } from './time-sync.ts';
import {
  NULL_FRAME, RECOMMENDATION_INTERVAL_FRAMES,
  type AdvanceResult, type AdvanceStatus, type Frame, type PlayerInput, type PlayerType, type SessionClock,
  type SessionRequest, type SessionStats,
} from './types.ts';

/** Checksums remembered per peer, and of our own (GGRS `MAX_CHECKSUM_HISTORY_SIZE`). */
export const MAX_CHECKSUM_HISTORY = 32;
/** Remote inputs further than this many frames ahead of our current frame are not stored yet (they are re-sent until acknowledged). */
export const MAX_INPUT_FRAMES_AHEAD = 512;
/** Largest input delay, frames (~1 s at 60 Hz). */
export const MAX_INPUT_DELAY = 60;

/** Resolved settings of a P2P session (the builder validates them). */
export interface P2PSessionConfig {
  readonly numPlayers: number;
  readonly inputSize: number;
  readonly maxPrediction: number;
  readonly inputDelay: number;
  readonly fps: number;
  readonly disconnectTimeoutMs: number;
  readonly disconnectNotifyStartMs: number;
  readonly checksumInterval: number;
  readonly sparseSaving: boolean;
  readonly startFrame: Frame;
  readonly channel: string;
  /** `players[slot]`: who plays it (`'local'` or `'remote'`). */
  readonly players: readonly PlayerType[];
  /** Peers that watch this session through us. */
  readonly spectators: readonly PeerId[];
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A peer-to-peer rollback session. Create it with `SessionBuilder.startP2PSession`. */
export class P2PSession extends LinkedSession {
  readonly maxPrediction: number;
  readonly checksumInterval: number;
  readonly sparseSaving: boolean;
  readonly startFrame: Frame;
  /**
   * How many snapshots the engine keeps: a ring buffer of `snapshotWindow` snapshots indexed by
   * `frame % snapshotWindow` (each save overwrites its slot) holds every frame a `load` names;
   * the session tracks the same ring and only loads frames still in it. `2 × maxPrediction + 2`
   * (18 by default): a misprediction rolls back at most `maxPrediction + 1` frames; the rest is
   * margin for a disconnect frame agreed with peers that received fewer of the disconnected
   * player's inputs than we did (their view can lag ours by about a one-way latency). A rollback
   * that would need an older frame starts at the oldest one kept and is counted in
   * `stats().clampedRollbacks` (a desync is then likely and the checksum exchange will say so).
   */
  readonly snapshotWindow: number;

  private frame: Frame;
  /** Newest frame whose inputs are all known, as of the end of the last `advanceFrame`. */
  private confirmed: Frame;
  private readonly logs: InputLog[];
  /** Owner of each slot: a remote peer id, or `undefined` for a local slot. */
  private readonly owners: (PeerId | undefined)[];
  private readonly localSlotList: number[];
  private readonly delays: number[];
  /** Frame from which a slot's input is `'disconnected'` (Infinity while connected). */
  private readonly disconnectedFrom: number[];
  private readonly pending: (Uint8Array | undefined)[];
  /** Inputs an unconfirmed frame was last simulated with. */
  private readonly used = new Map<Frame, PlayerInput[]>();
  private firstIncorrect = Infinity;
  /** The engine's ring as we asked it to fill it: frame saved in each slot (-1: none, or stale). */
  private readonly ring: Frame[];
  /** Whether the state saved in each ring slot was correct (every earlier input confirmed). */
  private readonly ringCorrect: boolean[];
  private highestAdvanced = NULL_FRAME;
  private running = false;
  private nextRecommendation: Frame;
  private nextTimesync: Frame;
  private framesAheadValue = 0;
  private nextChecksumFrame: Frame;
  private readonly reported = new Map<Frame, number>();
  private readonly localChecksums = new Map<Frame, number>();
  private readonly remoteChecksums = new Map<PeerId, Map<Frame, number>>();
  private lastInputSendAt = -Infinity;
  private readonly newlyDisconnected = new Set<PeerLink>();
  private readonly zero: Uint8Array;
  private readonly more = { rollbacks: 0, resimulatedFrames: 0, predictionThresholdHits: 0, localInputsDiscarded: 0, clampedRollbacks: 0 };

  /** @internal Use `SessionBuilder.startP2PSession`. */
  constructor(config: P2PSessionConfig, transport: RoomTransport, clock: SessionClock) {
    const owners = config.players.map((p) => (p.kind === 'remote' ? p.peerId : undefined));
    super({
      transport, clock, channel: config.channel, numPlayers: config.numPlayers, inputSize: config.inputSize, fps: config.fps,
      disconnectTimeoutMs: config.disconnectTimeoutMs, disconnectNotifyStartMs: config.disconnectNotifyStartMs, role: 'player',
      configHash: playerConfigHash(config.numPlayers, config.inputSize, config.startFrame, owners.map((o) => o ?? transport.localPeerId)),
    });
    this.maxPrediction = config.maxPrediction;
    this.checksumInterval = config.checksumInterval;
    this.sparseSaving = config.sparseSaving;
    this.startFrame = config.startFrame;
    this.snapshotWindow = 2 * config.maxPrediction + 2;
    this.ring = Array.from({ length: this.snapshotWindow }, () => NULL_FRAME);
    this.ringCorrect = Array.from({ length: this.snapshotWindow }, () => false);
    this.frame = config.startFrame;
    this.confirmed = config.startFrame - 1;
    this.owners = owners;
    this.logs = owners.map(() => new InputLog(config.startFrame));
    this.localSlotList = owners.flatMap((o, s) => (o === undefined ? [s] : []));
    this.delays = owners.map((o) => (o === undefined ? config.inputDelay : 0));
    this.disconnectedFrom = owners.map(() => Infinity);
    this.pending = owners.map(() => undefined);
    this.zero = new Uint8Array(config.inputSize);
    this.nextRecommendation = config.startFrame;
    this.nextTimesync = config.startFrame + RECOMMENDATION_INTERVAL_FRAMES;
    this.nextChecksumFrame = config.checksumInterval > 0 ? (Math.floor(config.startFrame / config.checksumInterval) + 1) * config.checksumInterval : Infinity;
    const now = clock.now();
    const slotsOf = new Map<PeerId, number[]>();
    owners.forEach((o, s) => {
      if (o !== undefined) slotsOf.set(o, [...(slotsOf.get(o) ?? []), s]);
    });
    for (const [peer, slots] of slotsOf) this.links.set(peer, new PeerLink(peer, 'player', slots, config.numPlayers, config.startFrame, now));
    for (const peer of config.spectators) this.links.set(peer, new PeerLink(peer, 'spectator', [], config.numPlayers, config.startFrame, now));
    this.pollLinks(now);
  }

  // ----- queries -----------------------------------------------------------------------------

  /** The next frame `advanceFrame` will advance. */
  get currentFrame(): Frame {
    return this.frame;
  }

  /** Newest frame whose inputs from every connected player are known (as of the last `advanceFrame`); `startFrame - 1` before any. */
  get confirmedFrame(): Frame {
    return this.confirmed;
  }

  /** `'synchronizing'` until every peer finished its handshake, then `'running'`; `'closed'` after `close()`. */
  get state(): 'synchronizing' | 'running' | 'closed' {
    return this.closed ? 'closed' : this.running ? 'running' : 'synchronizing';
  }

  /** The local player slots, ascending. */
  get localSlots(): readonly number[] {
    return this.localSlotList;
  }

  /**
   * Frames this peer runs ahead of the slowest connected player, averaged over the time-sync
   * window (GGRS `frames_ahead`); negative when behind. Slow the tick down (or skip
   * `advanceFrame` calls) while it is positive to let the others catch up.
   */
  framesAhead(): number {
    return this.framesAheadValue;
  }

  /** The current input delay of a local slot, frames. @throws NetcodeError `InvalidRequest` for a slot that is not local. */
  inputDelay(slot: number = this.localSlotList[0]!): number {
    this.assertLocalSlot('inputDelay', slot);
    return this.delays[slot]!;
  }

  /** Counters and per-peer figures. */
  stats(): SessionStats {
    return {
      frame: this.frame,
      confirmedFrame: this.confirmed,
      ...this.more,
      drops: { ...this.drops },
      ...this.counters,
      peers: [...this.links.values()].map((l) => this.linkStats(l)),
    };
  }

  // ----- inputs and settings -------------------------------------------------------------------

  /**
   * Sets the input of local `slot` for the next `advanceFrame` (it is used `inputDelay` frames
   * later). Call it for every local slot before every `advanceFrame`; a second call for the same
   * slot replaces the first. The bytes are copied.
   * @throws NetcodeError `InvalidRequest` when `slot` is not a local slot or `bytes` is not a
   *   `Uint8Array` of `inputSize` bytes.
   */
  addLocalInput(slot: number, bytes: Uint8Array): void {
    this.assertOpen();
    this.assertLocalSlot('addLocalInput', slot);
    if (!(bytes instanceof Uint8Array) || bytes.length !== this.inputSize) {
      throw new NetcodeError('InvalidRequest', `addLocalInput: slot ${slot} input must be a Uint8Array of ${this.inputSize} bytes, got ${bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes}`, { slot });
    }
    this.pending[slot] = bytes.slice();
  }

  /**
   * Changes the input delay of one local slot (or of every local slot), frames, at any time.
   * Raising it repeats the newest input over the new gap; lowering it discards the next local
   * inputs until the delay has shrunk (frames already sent never change). Both match GGRS
   * `set_input_delay`.
   * @throws NetcodeError `InvalidRequest` for a slot that is not local or a delay that is not an
   *   integer in [0, {@link MAX_INPUT_DELAY}].
   */
  setInputDelay(frames: number, slot?: number): void {
    this.assertOpen();
    if (!Number.isInteger(frames) || frames < 0 || frames > MAX_INPUT_DELAY) {
      throw new NetcodeError('InvalidRequest', `setInputDelay: frames must be an integer in [0, ${MAX_INPUT_DELAY}], got ${frames}`, { frames });
    }
    if (slot !== undefined) this.assertLocalSlot('setInputDelay', slot);
    for (const s of slot === undefined ? this.localSlotList : [slot]) this.delays[s] = frames;
  }

  /**
   * Disconnects the remote player owning `slot` (and its other slots) now, as a timeout would.
   * @throws NetcodeError `InvalidRequest` for a local or unknown slot.
   */
  disconnectPlayer(slot: number): void {
    this.assertOpen();
    const owner = Number.isInteger(slot) ? this.owners[slot] : undefined;
    if (owner === undefined) throw new NetcodeError('InvalidRequest', `disconnectPlayer: slot ${slot} is not a remote player slot`, { slot });
    const link = this.links.get(owner)!;
    if (link.state !== 'disconnected') this.onLinkLost(link);
  }

  /**
   * Adds a spectator while the session runs (late join). Returns the frame its spectator
   * session must start at (`SessionBuilder.withStartFrame`): hand it the state of that frame
   * (the saved snapshot of that frame, or the current world when it equals `currentFrame`);
   * confirmed inputs from that frame on are kept for it and sent to it once its handshake is
   * done. The frame is the first whose state no input still to come can change
   * (`confirmedFrame + 1`, at most `currentFrame`); with sparse saving, when that state was not
   * saved, the newest saved frame before it.
   * @throws NetcodeError `InvalidRequest` when `peerId` already has a role or is this peer.
   */
  addSpectator(peerId: PeerId): Frame {
    this.assertOpen();
    if (typeof peerId !== 'string' || peerId === '' || peerId === this.localPeerId || this.links.has(peerId)) {
      throw new NetcodeError('InvalidRequest', `addSpectator: ${String(peerId)} is this peer or already in the session`, { peerId });
    }
    let from = Math.min(this.confirmed + 1, this.frame);
    if (from < this.frame && this.ring[from % this.snapshotWindow] !== from) {
      // Sparse saving skipped that state (or a rollback forgot it): every saved frame up to
      // `confirmed + 1` holds a correct state, and inputs are kept from the oldest saved frame on.
      let newest = NULL_FRAME;
      for (const f of this.ring) if (f !== NULL_FRAME && f <= from && f > newest) newest = f;
      if (newest === NULL_FRAME) throw new NetcodeError('InvalidRequest', `addSpectator: no saved state at or before frame ${from} to start ${peerId} from`, { peerId, frame: from });
      from = newest;
    }
    this.links.set(peerId, new PeerLink(peerId, 'spectator', [], this.numPlayers, from, this.clock.now()));
    return from;
  }

  /**
   * Removes a spectator (configured, or added with {@link addSpectator}): nothing more is sent
   * to it, the inputs kept for it are released, and its messages count as `UnknownPeer` from
   * now on. It may be added again. Use it for a late joiner that never finished its handshake.
   * @returns `false` when `peerId` is not a spectator of this session.
   */
  removeSpectator(peerId: PeerId): boolean {
    const link = this.links.get(peerId);
    if (link === undefined || link.role !== 'spectator') return false;
    this.links.delete(peerId);
    return true;
  }

  /**
   * Reports the checksum of the state saved for `frame` (after each `save` request). Checksums
   * of every `checksumInterval`-th frame are exchanged once the frame is confirmed; a mismatch
   * with a peer gives a `desync` event on both sides.
   * @returns `true` (the return value is used by the sync test session).
   */
  reportChecksum(frame: Frame, checksum: number): boolean {
    if (this.checksumInterval > 0 && Number.isInteger(frame) && frame % this.checksumInterval === 0 && frame >= this.nextChecksumFrame) {
      this.reported.set(frame, checksum >>> 0);
    }
    return true;
  }

  // ----- the frame -------------------------------------------------------------------------------

  /**
   * Does the network work and returns the requests that bring the world to the next frame (see
   * the module doc for the order). `localInputs` (slot -> bytes) is a shortcut for
   * {@link addLocalInput}.
   * @throws NetcodeError `InvalidRequest` when a local slot has no input (while running),
   *   `Closed` after `close()`.
   */
  advanceFrame(localInputs?: Readonly<Record<number, Uint8Array>>): AdvanceResult {
    this.assertOpen();
    if (localInputs !== undefined) for (const key of Object.keys(localInputs)) this.addLocalInput(Number(key), localInputs[Number(key)]!);
    const now = this.clock.now();
    this.pollLinks(now);
    this.checkRunning();
    if (!this.running) {
      this.pending.fill(undefined);
      this.heartbeat(now);
      return { status: 'NotSynchronized', requests: [], frame: this.frame };
    }
    for (const s of this.localSlotList) {
      if (this.pending[s] === undefined) {
        throw new NetcodeError('InvalidRequest', `advanceFrame: no input for local slot ${s} at frame ${this.frame} (call addLocalInput for every local slot first)`, { slot: s, frame: this.frame });
      }
    }
    const requests: SessionRequest[] = [];
    const prevConfirmed = this.confirmed;
    if (this.checksumInterval > 0) this.finalizeChecksums(Math.min(prevConfirmed, this.settledFrame()));
    this.updateDisconnects();
    this.confirmed = this.computeConfirmed();

    // Corrections first; never dropped, whatever happens below.
    if (this.firstIncorrect < this.frame) this.rollback(this.firstIncorrect, requests);
    this.firstIncorrect = Infinity;
    const lastCorrect = this.newestCorrectSave();
    if (this.sparseSaving && this.maxPrediction > 0 && lastCorrect > NULL_FRAME && this.frame - lastCorrect >= this.maxPrediction
      && this.frame - 1 > this.confirmed && this.confirmed + 1 > lastCorrect) {
      // Sparse saving keeps one correct state within reach: re-simulate from it and save the
      // newest correct state on the way (GGRS `check_last_saved_state`).
      this.rollback(lastCorrect, requests);
    }

    for (const s of this.localSlotList) this.scheduleLocalInput(s, this.pending[s]!);
    this.pending.fill(undefined);
    this.confirmed = this.computeConfirmed();

    let status: AdvanceStatus;
    if (this.frame - this.confirmed <= this.maxPrediction) {
      const f = this.frame;
      if (this.wantsSave(f, false)) this.pushSave(f, requests);
      this.pushAdvance(f, requests);
      this.frame++;
      status = 'advanced';
    } else {
      status = 'PredictionThreshold';
      this.more.predictionThresholdHits++;
    }

    this.sendToSpectators(now);
    this.prune();
    this.updateTimeSync();
    this.sendInputs(now);
    return { status, requests, frame: this.frame };
  }

  /**
   * Network work without advancing (handshake, re-sends, keep-alives, timeouts): call it while
   * the game does not call `advanceFrame` (e.g. a loading screen, or while synchronizing).
   */
  poll(): void {
    this.assertOpen();
    const now = this.clock.now();
    this.pollLinks(now);
    this.checkRunning();
    if (this.running && now - this.lastInputSendAt >= RUNNING_RETRY_INTERVAL_MS) {
      this.sendToSpectators(now);
      this.sendInputs(now);
    }
    if (!this.running) this.heartbeat(now);
  }

  /**
   * While still synchronizing with someone, tells the peers already synchronized that we are
   * alive with a best-effort input message without inputs (the peers that already run count
   * our silence; a reliable keep-alive can be held up for seconds by retransmissions).
   */
  private heartbeat(now: number): void {
    if (now - this.lastInputSendAt < KEEP_ALIVE_INTERVAL_MS) return;
    for (const link of this.links.values()) {
      if (link.role === 'player' && link.state === 'running') return this.sendInputs(now);
    }
  }

  // ----- LinkedSession hooks -------------------------------------------------------------------

  protected override onSessionMessage(link: PeerLink, msg: RollbackMessage, e: MessageEvent): void {
    switch (msg.type) {
      case 'input':
        if (link.role !== 'player') return this.dropMessage('ForeignSlot', link.peerId, e.data.length, `spectator ${link.peerId} sent inputs`);
        return this.onInput(link, msg, e.data.length);
      case 'inputAck':
        if (link.role === 'spectator' && msg.ackFrame > link.ackFrame) {
          link.ackFrame = Math.min(msg.ackFrame, link.sentUpTo);
          link.lastAckProgressAt = this.clock.now();
        }
        return;
      case 'checksumReport':
        if (link.role === 'player') this.onRemoteChecksum(link.peerId, msg.frame, msg.checksum);
        return;
      default:
        return;
    }
  }

  protected override onLinkLost(link: PeerLink): void {
    if (link.state === 'disconnected') return;
    link.state = 'disconnected';
    if (link.role === 'player') {
      this.newlyDisconnected.add(link);
      // Settle the disconnect frame now if running; otherwise at the first advanceFrame.
      if (this.running) this.updateDisconnects();
    } else {
      this.emit({ kind: 'disconnected', peerId: link.peerId, slots: [], frame: this.frame });
    }
  }

  protected override livenessActive(): boolean {
    return this.running;
  }

  protected override frameAdvantageFor(link: PeerLink): number {
    return link.localAdvantage;
  }

  // ----- internals -------------------------------------------------------------------------------

  private assertLocalSlot(what: string, slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.numPlayers || this.owners[slot] !== undefined) {
      throw new NetcodeError('InvalidRequest', `${what}: slot ${slot} is not a local player slot (local: ${this.localSlotList.join(', ')})`, { slot });
    }
  }

  private checkRunning(): void {
    if (this.running || !this.allSynchronized()) return;
    this.running = true;
    const now = this.clock.now();
    for (const link of this.links.values()) link.lastRecvAt = Math.max(link.lastRecvAt, now);
    this.emit({ kind: 'running', frame: this.frame });
  }

  /** Puts a local input at `frame + delay`, filling a gap left by a raised delay. */
  private scheduleLocalInput(slot: number, bytes: Uint8Array): void {
    const log = this.logs[slot]!;
    const target = this.frame + this.delays[slot]!;
    if (target <= log.lastFrame) {
      this.more.localInputsDiscarded++;
      return;
    }
    while (log.lastFrame + 1 < target) log.push(log.lastBytes ?? this.zero);
    log.push(bytes);
  }

  private computeConfirmed(): Frame {
    let c = Infinity;
    for (let s = 0; s < this.numPlayers; s++) if (this.disconnectedFrom[s] === Infinity) c = Math.min(c, this.logs[s]!.lastFrame);
    return c;
  }

  private inputsFor(f: Frame): PlayerInput[] {
    const out: PlayerInput[] = [];
    for (let s = 0; s < this.numPlayers; s++) {
      if (f >= this.disconnectedFrom[s]!) {
        out.push({ bytes: this.zero, status: 'disconnected' });
        continue;
      }
      const log = this.logs[s]!;
      const b = log.get(f);
      out.push(b !== undefined ? { bytes: b, status: 'confirmed' } : { bytes: log.lastBytes ?? this.zero, status: 'predicted' });
    }
    return out;
  }

  private pushAdvance(f: Frame, requests: SessionRequest[]): void {
    const inputs = this.inputsFor(f);
    if (f > this.confirmed) this.used.set(f, inputs);
    else this.used.delete(f);
    if (f <= this.highestAdvanced) this.more.resimulatedFrames++;
    else this.highestAdvanced = f;
    requests.push({ kind: 'advance', frame: f, inputs });
  }

  private pushSave(f: Frame, requests: SessionRequest[]): void {
    requests.push({ kind: 'save', frame: f });
    const i = f % this.snapshotWindow;
    this.ring[i] = f;
    this.ringCorrect[i] = f - 1 <= this.confirmed;
  }

  /** Newest frame in the ring whose saved state was correct, or {@link NULL_FRAME}. */
  private newestCorrectSave(): Frame {
    let best = NULL_FRAME;
    for (let i = 0; i < this.ring.length; i++) if (this.ringCorrect[i] && this.ring[i]! > best) best = this.ring[i]!;
    return best;
  }

  private isChecksumFrame(f: Frame): boolean {
    return this.checksumInterval > 0 && f > this.startFrame && f % this.checksumInterval === 0;
  }

  /** Whether the state of `f` is saved before advancing it (`resim`: during a re-simulation). */
  private wantsSave(f: Frame, resim: boolean): boolean {
    if (this.maxPrediction === 0) return this.isChecksumFrame(f); // lockstep: never loads
    if (!this.sparseSaving || this.isChecksumFrame(f)) return true;
    const correct = f - 1 <= this.confirmed;
    const last = this.newestCorrectSave();
    if (!correct || f <= last) return false;
    if (resim) return f === this.confirmed + 1;
    return last === NULL_FRAME || f - last >= this.maxPrediction;
  }

  /**
   * Loads the newest saved frame at or before `from` that the engine still holds, then
   * re-simulates every frame up to the current one (saving as {@link wantsSave} says).
   */
  private rollback(from: Frame, requests: SessionRequest[]): void {
    let load = NULL_FRAME;
    let oldest = Infinity;
    for (const f of this.ring) {
      if (f === NULL_FRAME || f >= this.frame) continue;
      if (f <= from && f > load) load = f;
      if (f < oldest) oldest = f;
    }
    if (load === NULL_FRAME) {
      if (oldest === Infinity) return; // nothing saved yet: nothing was simulated either
      load = oldest;
      this.more.clampedRollbacks++;
    }
    // Saves after `load` may hold states this rollback changes: forget them; the re-simulation
    // saves again what it needs.
    for (let i = 0; i < this.ring.length; i++) if (this.ring[i]! > load) this.ring[i] = NULL_FRAME;
    requests.push({ kind: 'load', frame: load });
    this.more.rollbacks++;
    for (let f = load; f < this.frame; f++) {
      if (f > load && this.wantsSave(f, true)) this.pushSave(f, requests);
      this.pushAdvance(f, requests);
    }
  }

  private onInput(link: PeerLink, msg: InputMessage, size: number): void {
    if (msg.inputSize !== this.inputSize || msg.status.length !== this.numPlayers) {
      return this.dropMessage('Malformed', link.peerId, size, `input message with ${msg.status.length} players of ${msg.inputSize} bytes; this session has ${this.numPlayers} of ${this.inputSize}`);
    }
    for (const s of msg.slots) {
      if (s >= this.numPlayers || this.owners[s] !== link.peerId) {
        const owner = s < this.numPlayers ? (this.owners[s] ?? this.localPeerId) : 'nobody';
        return this.dropMessage('ForeignSlot', link.peerId, size, `${link.peerId} sent inputs for slot ${s}, owned by ${owner}`);
      }
    }
    link.mergeStatus(msg.status);
    if (msg.senderFrame > link.remoteFrame) link.remoteFrame = msg.senderFrame;
    let gap = false;
    let inconsistent = false;
    msg.slots.forEach((s, j) => {
      if (this.disconnectedFrom[s] !== Infinity) return;
      const log = this.logs[s]!;
      if (msg.frameCount > 0 && msg.startFrame > log.lastFrame + 1) {
        gap = true;
        return;
      }
      for (let i = 0; i < msg.frameCount; i++) {
        const f = msg.startFrame + i;
        const bytes = inputAt(msg, i, j);
        if (f <= log.lastFrame) {
          const known = log.get(f);
          if (known !== undefined && !bytesEqual(known, bytes)) inconsistent = true;
          continue;
        }
        if (f > this.frame + MAX_INPUT_FRAMES_AHEAD) break;
        const copy = bytes.slice();
        log.push(copy);
        const u = this.used.get(f);
        if (u !== undefined && u[s]!.status === 'predicted' && !bytesEqual(u[s]!.bytes, copy)) this.firstIncorrect = Math.min(this.firstIncorrect, f);
      }
    });
    if (gap) this.dropMessage('Gap', link.peerId, size, `${link.peerId} sent inputs from frame ${msg.startFrame}, past the next expected frame`);
    if (inconsistent) this.dropMessage('Inconsistent', link.peerId, size, `${link.peerId} re-sent inputs that differ from the ones received first (kept the first)`);
  }

  /**
   * Agrees on disconnect frames: a remote slot that we or any running player consider
   * disconnected is `'disconnected'` from one frame after the oldest newest-input any of us has
   * of it (GGRS `update_player_disconnects`); announcements of an earlier frame by others are
   * adopted, so every remaining peer converges on the earliest. Moving it earlier rolls back.
   */
  private updateDisconnects(): void {
    for (let pass = 0; pass < 2; pass++) {
      for (let s = 0; s < this.numPlayers; s++) {
        const owner = this.owners[s];
        if (owner === undefined) continue;
        const ownerLink = this.links.get(owner)!;
        let says = ownerLink.state === 'disconnected';
        let minLast = Math.min(this.logs[s]!.lastFrame, this.disconnectedFrom[s]! - 1);
        for (const link of this.links.values()) {
          if (link.role !== 'player' || link.state !== 'running') continue;
          const st = link.status[s]!;
          if (st.disconnectedFrom !== Infinity) says = true;
          minLast = Math.min(minLast, st.lastFrame, st.disconnectedFrom - 1);
        }
        if (!says) continue;
        const d = Math.max(minLast + 1, this.startFrame);
        if (d < this.disconnectedFrom[s]!) {
          this.disconnectedFrom[s] = d;
          if (d < this.frame) this.firstIncorrect = Math.min(this.firstIncorrect, d);
        }
        if (ownerLink.state !== 'disconnected') {
          ownerLink.state = 'disconnected';
          this.newlyDisconnected.add(ownerLink);
        }
      }
    }
    for (const link of this.newlyDisconnected) {
      const frame = Math.min(...link.slots.map((s) => this.disconnectedFrom[s]!));
      if (frame === Infinity) continue; // settled at the next pass (session not running yet)
      this.emit({ kind: 'disconnected', peerId: link.peerId, slots: link.slots, frame });
      this.newlyDisconnected.delete(link);
    }
  }

  /**
   * Newest frame whose inputs every running player holds too, so that no disconnect agreed
   * later can change it: until then a checksum of a later state could still change, and
   * confirmed inputs sent to spectators could still turn `'disconnected'`.
   */
  private settledFrame(): Frame {
    let settled = this.confirmed;
    for (let s = 0; s < this.numPlayers; s++) {
      const disconnected = this.disconnectedFrom[s] !== Infinity;
      for (const link of this.links.values()) {
        if (link.role !== 'player' || link.state !== 'running') continue;
        const st = link.status[s]!;
        // A disconnected slot is settled once every running player announced it.
        if (disconnected ? st.disconnectedFrom === Infinity : true) settled = Math.min(settled, st.lastFrame);
      }
    }
    return settled;
  }

  private slotStatus(): SlotStatus[] {
    const out: SlotStatus[] = [];
    for (let s = 0; s < this.numPlayers; s++) {
      const d = this.disconnectedFrom[s]!;
      out.push(d !== Infinity ? { lastFrame: d - 1, disconnected: true } : { lastFrame: this.logs[s]!.lastFrame, disconnected: false });
    }
    return out;
  }

  /** Broadcasts the local inputs no connected player has acknowledged, with our view of every slot. */
  private sendInputs(now: number): void {
    const targets = [...this.links.values()].filter((l) => l.role === 'player' && l.state !== 'disconnected');
    if (targets.length === 0 || this.localSlotList.length === 0) return;
    let end = Infinity;
    let oldest = -Infinity;
    for (const s of this.localSlotList) {
      end = Math.min(end, this.logs[s]!.lastFrame);
      oldest = Math.max(oldest, this.logs[s]!.firstFrame);
    }
    let start = end + 1;
    for (const link of targets) for (const s of this.localSlotList) start = Math.min(start, link.status[s]!.lastFrame + 1);
    start = Math.max(start, oldest, this.startFrame);
    let count = Math.max(0, Math.min(end - start + 1, MAX_FRAMES_PER_PACKET));
    const status = this.slotStatus();
    const slots = this.localSlotList;
    for (;;) {
      const inputs = new Uint8Array(count * slots.length * this.inputSize);
      for (let i = 0; i < count; i++) {
        for (let j = 0; j < slots.length; j++) inputs.set(this.logs[slots[j]!]!.get(start + i)!, (i * slots.length + j) * this.inputSize);
      }
      const msg: InputMessage = {
        type: 'input', startFrame: Math.max(0, start), senderFrame: this.frame, frameCount: count, inputSize: this.inputSize,
        slots, status, inputs,
      };
      const bytes = encodeMessage(msg);
      if (bytes.length > this.transport.maxFrameBytes && count > 1) {
        count = Math.ceil(count / 2);
        continue;
      }
      if (this.broadcastBytes(bytes, targets)) this.lastInputSendAt = now;
      return;
    }
  }

  /** Sends confirmed inputs (every slot) to each running spectator, from what it acknowledged. */
  private sendToSpectators(now: number): void {
    const upTo = Math.min(this.settledFrame(), this.frame - 1);
    for (const link of this.links.values()) {
      if (link.role !== 'spectator' || link.state !== 'running') continue;
      if (link.sentUpTo > link.ackFrame && now - link.lastAckProgressAt >= Math.max(RUNNING_RETRY_INTERVAL_MS, 2 * (link.rttMs ?? 0))) {
        link.sentUpTo = link.ackFrame; // nothing acknowledged for a while: send again (a reset connection loses reliable messages)
        link.lastAckProgressAt = now;
      }
      const from = link.sentUpTo + 1;
      if (from > upTo) continue;
      const count = Math.min(upTo - from + 1, MAX_FRAMES_PER_PACKET);
      const slots = Array.from({ length: this.numPlayers }, (_, s) => s);
      const inputs = new Uint8Array(count * this.numPlayers * this.inputSize);
      for (let i = 0; i < count; i++) {
        const f = from + i;
        for (let s = 0; s < this.numPlayers; s++) {
          const b = f >= this.disconnectedFrom[s]! ? this.zero : this.logs[s]!.get(f) ?? this.zero;
          inputs.set(b, (i * this.numPlayers + s) * this.inputSize);
        }
      }
      const msg: InputMessage = {
        type: 'input', startFrame: from, senderFrame: this.frame, frameCount: count, inputSize: this.inputSize,
        slots, status: this.slotStatus(), inputs,
      };
      if (this.sendTo(link, msg)) link.sentUpTo = from + count - 1;
    }
  }

  /** Forgets inputs and bookkeeping nobody needs any more. */
  private prune(): void {
    let specFloor = Infinity;
    let ackFloor = Infinity;
    for (const link of this.links.values()) {
      if (link.state === 'disconnected') continue;
      if (link.role === 'spectator') specFloor = Math.min(specFloor, link.ackFrame + 1);
      else for (const s of this.localSlotList) ackFloor = Math.min(ackFloor, link.status[s]!.lastFrame + 1);
    }
    // Keep the inputs of every frame a rollback may re-simulate: from the oldest saved frame still in the ring.
    let oldestSaved = this.frame;
    for (const f of this.ring) if (f !== NULL_FRAME && f < oldestSaved) oldestSaved = f;
    const base = Math.min(this.confirmed, oldestSaved, specFloor);
    for (let s = 0; s < this.numPlayers; s++) this.logs[s]!.prune(this.owners[s] === undefined ? Math.min(base, ackFloor) : base);
    for (const f of this.used.keys()) if (f <= this.confirmed) this.used.delete(f);
  }

  /** Frame advantages, `framesAhead`, wait recommendations and periodic time-sync events. */
  private updateTimeSync(): void {
    let ahead = -Infinity;
    for (const link of this.links.values()) {
      if (link.role !== 'player' || link.state !== 'running') continue;
      if (link.remoteFrame !== NULL_FRAME) {
        const oneWayFrames = Math.round(((link.rttMs ?? 0) / 2) * this.fps / 1000);
        link.localAdvantage = link.remoteFrame + oneWayFrames - this.frame;
      }
      link.timeSync.record(this.frame, link.localAdvantage, link.remoteAdvantage);
      ahead = Math.max(ahead, link.timeSync.averageFrameAdvantage());
    }
    this.framesAheadValue = ahead === -Infinity ? 0 : ahead;
    if (this.frame > this.nextRecommendation && this.framesAheadValue >= MIN_FRAME_ADVANTAGE) {
      this.nextRecommendation = this.frame + RECOMMENDATION_INTERVAL_FRAMES;
      this.emit({ kind: 'waitRecommendation', skipFrames: Math.min(this.framesAheadValue, MAX_FRAME_ADVANTAGE), framesAhead: this.framesAheadValue });
    }
    if (this.frame >= this.nextTimesync) {
      this.nextTimesync = this.frame + RECOMMENDATION_INTERVAL_FRAMES;
      const peers = [...this.links.values()].filter((l) => l.role === 'player').map((l) => this.linkStats(l));
      this.emit({ kind: 'timesync', frame: this.frame, framesAhead: this.framesAheadValue, peers });
    }
  }

  /**
   * Checksum frames whose state is final (every input before them was confirmed when the last
   * requests were made, held by every running player, and they were saved): send ours, compare
   * with what peers sent.
   */
  private finalizeChecksums(settled: Frame): void {
    const limit = Math.min(settled + 1, this.frame - 1);
    while (this.nextChecksumFrame <= limit) {
      const f = this.nextChecksumFrame;
      const mine = this.reported.get(f);
      this.reported.delete(f);
      this.nextChecksumFrame += this.checksumInterval;
      if (mine === undefined) continue; // the engine did not report this save
      this.localChecksums.set(f, mine);
      if (this.localChecksums.size > MAX_CHECKSUM_HISTORY) this.localChecksums.delete(this.localChecksums.keys().next().value!);
      for (const link of this.links.values()) {
        if (link.role !== 'player' || link.state !== 'running') continue;
        this.sendTo(link, { type: 'checksumReport', frame: f, checksum: mine });
        const theirs = this.remoteChecksums.get(link.peerId)?.get(f);
        if (theirs !== undefined) this.compareChecksums(link.peerId, f, theirs);
      }
    }
    for (const f of this.reported.keys()) if (f < this.nextChecksumFrame) this.reported.delete(f);
  }

  private onRemoteChecksum(peerId: PeerId, frame: Frame, checksum: number): void {
    if (this.localChecksums.has(frame)) return this.compareChecksums(peerId, frame, checksum);
    let m = this.remoteChecksums.get(peerId);
    if (m === undefined) this.remoteChecksums.set(peerId, (m = new Map()));
    m.set(frame, checksum);
    if (m.size > MAX_CHECKSUM_HISTORY) m.delete(m.keys().next().value!);
  }

  private compareChecksums(peerId: PeerId, frame: Frame, remote: number): void {
    this.remoteChecksums.get(peerId)?.delete(frame);
    const local = this.localChecksums.get(frame)!;
    if (local !== remote) this.emit({ kind: 'desync', peerId, frame, localChecksum: local, remoteChecksum: remote });
  }
}
