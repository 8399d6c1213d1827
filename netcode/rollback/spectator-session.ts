/**
 * A spectator session (GGRS `sessions/p2p_spectator_session.rs`): watches a game through one
 * player, its host, which sends it the confirmed inputs of every slot. A spectator never
 * predicts, never rolls back and never sends inputs: its requests are `advance`s only, each
 * with `'confirmed'` or `'disconnected'` inputs, so it runs behind the players by the time
 * confirmed inputs take to reach it. When it falls more than `maxFramesBehind` frames behind
 * the host it advances `catchupSpeed` frames per call to catch up.
 *
 * Only the host may send it inputs (by the transport's authenticated `from`): inputs sent to it
 * directly by anyone else are dropped and counted (`ForeignSlot`). The players' input
 * broadcasts that also reach it are ignored.
 *
 * @example
 * ```ts
 * const spectator = new SessionBuilder().withNumPlayers(2).startSpectatorSession(hostPeerId, room);
 * // each tick:
 * const { requests } = spectator.advanceFrame();
 * for (const r of requests) if (r.kind === 'advance') { applyInputs(world, r.inputs); scheduler.simulateTick(); }
 * ```
 */
import { NetcodeError } from '../errors.ts';
import type { MessageEvent, PeerId, RoomTransport } from '../transport/types.ts';
import { InputLog } from './input-log.ts';
import { LinkedSession, PeerLink } from './linked-session.ts';
import { inputAt, type InputMessage, type RollbackMessage } from './protocol.ts';
import {
  NULL_FRAME,
  type AdvanceResult, type Frame, type PlayerInput, type SessionClock, type SessionDropReason, type SessionRequest, type SessionStats,
} from './types.ts';

/** Resolved settings of a spectator session. */
export interface SpectatorSessionConfig {
  readonly numPlayers: number;
  readonly inputSize: number;
  readonly fps: number;
  readonly disconnectTimeoutMs: number;
  readonly disconnectNotifyStartMs: number;
  readonly startFrame: Frame;
  readonly channel: string;
  /** Frames behind the host beyond which the spectator catches up. */
  readonly maxFramesBehind: number;
  /** Frames advanced per call while catching up. */
  readonly catchupSpeed: number;
}

/** A session that replays a running game from its host's confirmed inputs. Create it with `SessionBuilder.startSpectatorSession`. */
export class SpectatorSession extends LinkedSession {
  readonly hostPeerId: PeerId;
  readonly startFrame: Frame;
  readonly maxFramesBehind: number;
  readonly catchupSpeed: number;
  /** A spectator never loads: it needs no saved snapshots. */
  readonly snapshotWindow = 0;
  /** A spectator plays no slot: always empty (so `attachRollback` can drive it like the other sessions). */
  readonly localSlots: readonly number[] = Object.freeze([]);
  private frame: Frame;
  private readonly logs: InputLog[];
  private readonly disconnectedFrom: number[];
  private readonly host: PeerLink;
  private running = false;
  private lastAcked = NULL_FRAME;
  private readonly zero: Uint8Array;
  private predictionThresholdHits = 0;

  /** @internal Use `SessionBuilder.startSpectatorSession`. */
  constructor(config: SpectatorSessionConfig, hostPeerId: PeerId, transport: RoomTransport, clock: SessionClock) {
    super({
      transport, clock, channel: config.channel, numPlayers: config.numPlayers, inputSize: config.inputSize, fps: config.fps,
      disconnectTimeoutMs: config.disconnectTimeoutMs, disconnectNotifyStartMs: config.disconnectNotifyStartMs, role: 'spectator', configHash: 0,
    });
    this.hostPeerId = hostPeerId;
    this.startFrame = config.startFrame;
    this.maxFramesBehind = config.maxFramesBehind;
    this.catchupSpeed = config.catchupSpeed;
    this.frame = config.startFrame;
    this.lastAcked = config.startFrame - 1;
    this.logs = Array.from({ length: config.numPlayers }, () => new InputLog(config.startFrame));
    this.disconnectedFrom = Array.from({ length: config.numPlayers }, () => Infinity);
    this.zero = new Uint8Array(config.inputSize);
    this.host = new PeerLink(hostPeerId, 'host', [], config.numPlayers, config.startFrame, clock.now());
    this.links.set(hostPeerId, this.host);
    this.pollLinks(clock.now());
  }

  /** The next frame to advance. */
  get currentFrame(): Frame {
    return this.frame;
  }

  /** Newest frame whose inputs arrived (`startFrame - 1` before any). */
  get lastReceivedFrame(): Frame {
    let c = Infinity;
    for (const log of this.logs) c = Math.min(c, log.lastFrame);
    return c;
  }

  /** `'synchronizing'`, `'running'`, `'closed'`; the host's disconnect shows as a `disconnected` event. */
  get state(): 'synchronizing' | 'running' | 'closed' {
    return this.closed ? 'closed' : this.running ? 'running' : 'synchronizing';
  }

  /** Frames the host was ahead of us at its last message (0 before any). */
  framesBehindHost(): number {
    return this.host.remoteFrame === NULL_FRAME ? 0 : Math.max(0, this.host.remoteFrame - this.frame);
  }

  stats(): SessionStats {
    return {
      frame: this.frame,
      confirmedFrame: this.lastReceivedFrame,
      rollbacks: 0,
      resimulatedFrames: 0,
      predictionThresholdHits: this.predictionThresholdHits,
      localInputsDiscarded: 0,
      clampedRollbacks: 0,
      drops: { ...this.drops },
      ...this.counters,
      peers: [this.linkStats(this.host)],
    };
  }

  /**
   * Returns `advance` requests for the frames whose confirmed inputs have arrived: one per call,
   * or `catchupSpeed` while more than `maxFramesBehind` behind the host. Status
   * `'PredictionThreshold'` when the next frame's inputs have not arrived (a spectator's
   * prediction window is 0), `'NotSynchronized'` before the handshake with the host.
   * @throws NetcodeError `Closed` after `close()`.
   */
  advanceFrame(): AdvanceResult {
    this.assertOpen();
    const now = this.clock.now();
    this.pollLinks(now);
    if (!this.running && this.host.state === 'running') {
      this.running = true;
      this.emit({ kind: 'running', frame: this.frame });
    }
    if (!this.running) return { status: 'NotSynchronized', requests: [], frame: this.frame };
    const available = this.lastReceivedFrame;
    const behind = this.framesBehindHost();
    const steps = behind > this.maxFramesBehind ? this.catchupSpeed : 1;
    const requests: SessionRequest[] = [];
    for (let i = 0; i < steps && this.frame <= available; i++) {
      const f = this.frame;
      const inputs: PlayerInput[] = [];
      for (let s = 0; s < this.numPlayers; s++) {
        inputs.push(f >= this.disconnectedFrom[s]! ? { bytes: this.zero, status: 'disconnected' } : { bytes: this.logs[s]!.get(f)!, status: 'confirmed' });
      }
      requests.push({ kind: 'advance', frame: f, inputs });
      this.frame++;
    }
    for (const log of this.logs) log.prune(this.frame - 1);
    if (requests.length === 0) this.predictionThresholdHits++;
    return { status: requests.length > 0 ? 'advanced' : 'PredictionThreshold', requests, frame: this.frame };
  }

  /** Network work without advancing (handshake, acknowledgements, keep-alives, timeout). */
  poll(): void {
    this.assertOpen();
    this.pollLinks(this.clock.now());
  }

  /**
   * A spectator has no local slot: present for symmetry with the other sessions, it always throws.
   * @throws NetcodeError `InvalidRequest`, naming the slot.
   */
  addLocalInput(slot: number, _bytes: Uint8Array): void {
    throw new NetcodeError('InvalidRequest', `addLocalInput: a spectator has no local slots (got slot ${slot})`, { slot });
  }

  /** A spectator keeps no saves; accepted for symmetry with the other sessions and ignored. @returns `true`. */
  reportChecksum(_frame: Frame, _checksum: number): boolean {
    return true;
  }

  protected override onSessionMessage(link: PeerLink, msg: RollbackMessage, e: MessageEvent): void {
    if (msg.type !== 'input') return;
    if (e.broadcast) return; // a player's input broadcast: not for us
    this.onInput(link, msg, e.data.length);
  }

  protected override unknownPeerDrop(msg: RollbackMessage, e: MessageEvent): SessionDropReason | undefined {
    if (msg.type === 'input' && e.broadcast) return undefined; // a player's input broadcast: not for us
    return super.unknownPeerDrop(msg, e);
  }

  protected override onLinkLost(link: PeerLink): void {
    if (link.state === 'disconnected') return;
    link.state = 'disconnected';
    this.emit({ kind: 'disconnected', peerId: link.peerId, slots: [], frame: this.frame });
  }

  protected override frameAdvantageFor(): number {
    return 0;
  }

  private onInput(link: PeerLink, msg: InputMessage, size: number): void {
    if (link !== this.host) return this.dropMessage('ForeignSlot', link.peerId, size, `${link.peerId} is not the host`);
    if (msg.inputSize !== this.inputSize || msg.status.length !== this.numPlayers || msg.slots.length !== this.numPlayers || msg.slots.some((s, i) => s !== i)) {
      return this.dropMessage('Malformed', link.peerId, size, `spectator input must carry all ${this.numPlayers} slots of ${this.inputSize} bytes in order`);
    }
    if (msg.senderFrame > link.remoteFrame) link.remoteFrame = msg.senderFrame;
    msg.status.forEach((st, s) => {
      if (st.disconnected) this.disconnectedFrom[s] = Math.min(this.disconnectedFrom[s]!, st.lastFrame + 1);
    });
    const last = this.lastReceivedFrame;
    if (msg.frameCount > 0 && msg.startFrame > last + 1) {
      return this.dropMessage('Gap', link.peerId, size, `host sent frames from ${msg.startFrame}, expected ${last + 1}`);
    }
    for (let i = 0; i < msg.frameCount; i++) {
      const f = msg.startFrame + i;
      if (f <= last) continue;
      for (let s = 0; s < this.numPlayers; s++) this.logs[s]!.push(inputAt(msg, i, s).slice());
    }
    // Acknowledge every input message (GGRS `send_input_ack`): the host re-sends from the
    // newest acknowledged frame when acknowledgements stop.
    this.lastAcked = this.lastReceivedFrame;
    this.sendTo(link, { type: 'inputAck', ackFrame: this.lastAcked });
  }
}

/** Validates a host peer id for a spectator session. @throws NetcodeError `InvalidConfig`. */
export function assertHostPeerId(hostPeerId: unknown, localPeerId: PeerId): asserts hostPeerId is PeerId {
  if (typeof hostPeerId !== 'string' || hostPeerId === '' || hostPeerId === localPeerId) {
    throw new NetcodeError('InvalidConfig', `SessionBuilder: hostPeerId must be another peer's id, got ${String(hostPeerId)}`, { field: 'hostPeerId', value: hostPeerId });
  }
}
