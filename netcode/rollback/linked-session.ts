/**
 * What the networked sessions (P2P and spectator) share: one {@link PeerLink} per remote peer
 * with its handshake, liveness and quality figures, the event queue, drop counting, sending
 * through the transport, and the optional snapshot exchange used to explain a desync.
 *
 * Per peer (GGPO `network/udp_proto.cpp`, GGRS `network/protocol.rs`):
 * - Handshake: each side sends sync requests with a fresh random nonce (a seeded generator, not
 *   `Math.random`) and needs {@link NUM_SYNC_ROUNDTRIPS} matching replies; requests are retried
 *   every {@link SYNC_RETRY_INTERVAL_MS}. A request whose settings differ (player count, input
 *   size, slot owners, start frame, protocol version) is answered "refused" and counted
 *   `ConfigMismatch` on both sides.
 * - Running: a quality report every {@link QUALITY_REPORT_INTERVAL_MS} (frame advantage + a
 *   timestamp echoed back: round-trip time), a keep-alive when nothing else was sent for
 *   {@link KEEP_ALIVE_INTERVAL_MS}.
 * - Liveness: nothing heard for `disconnectNotifyStartMs` gives `networkInterrupted`, hearing
 *   again `networkResumed`; nothing heard for `disconnectTimeoutMs` disconnects the peer. A peer
 *   whose transport says it left (`peer:leave` `'left'`) is disconnected at once.
 *
 * Messages are handled when the transport delivers them (never inside a `send`); what they change
 * is only acted upon in `advanceFrame`/`poll`, so the engine sees changes at frame boundaries.
 */
import { Rng, fnv1a32 } from '../../engine/index.ts';
import { NetcodeError } from '../errors.ts';
import type { MessageEvent, PeerId, RoomTransport } from '../transport/types.ts';
import { PROTOCOL_VERSION, decodeMessage, encodeMessage, type RollbackMessage, type SlotStatus } from './protocol.ts';
import { TimeSync } from './time-sync.ts';
import {
  MAX_EVENT_QUEUE, NULL_FRAME, SESSION_DROP_REASONS,
  type Frame, type PeerNetworkStats, type SessionClock, type SessionDropReason, type SessionEvent,
} from './types.ts';

/** Handshake round trips before a peer counts as synchronized (GGPO/GGRS `NUM_SYNC_PACKETS`). */
export const NUM_SYNC_ROUNDTRIPS = 5;
/** Interval between sync request retries, ms (GGRS `SYNC_RETRY_INTERVAL`). */
export const SYNC_RETRY_INTERVAL_MS = 200;
/** Inputs are re-sent at least this often while running, ms, even without new ones (GGPO/GGRS `RUNNING_RETRY_INTERVAL`). */
export const RUNNING_RETRY_INTERVAL_MS = 200;
/** A keep-alive goes to a peer that got nothing else for this long, ms (GGPO/GGRS `KEEP_ALIVE_INTERVAL`). */
export const KEEP_ALIVE_INTERVAL_MS = 200;
/** Interval between quality reports to each peer, ms (GGRS `QUALITY_REPORT_INTERVAL`; GGPO uses 1000). */
export const QUALITY_REPORT_INTERVAL_MS = 200;
/** Largest snapshot accepted through `requestSnapshot`, bytes (64 MiB). */
export const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;
/** Largest snapshot chunk sent, bytes (RFC 8831's advice for WebRTC data channel messages). */
export const SNAPSHOT_CHUNK_BYTES = 16 * 1024;

/** Settings every networked session has. */
export interface LinkedSessionOptions {
  readonly transport: RoomTransport;
  readonly clock: SessionClock;
  readonly channel: string;
  readonly numPlayers: number;
  readonly inputSize: number;
  /** Frames per second: converts round-trip times into frames. */
  readonly fps: number;
  readonly disconnectTimeoutMs: number;
  readonly disconnectNotifyStartMs: number;
  /** Which role this session announces in its handshake. */
  readonly role: 'player' | 'spectator';
  /** Hash of the settings players must share (0 for spectators). */
  readonly configHash: number;
}

/** This session's knowledge of one remote peer. */
export class PeerLink {
  state: 'syncing' | 'running' | 'disconnected' = 'syncing';
  syncRemaining = NUM_SYNC_ROUNDTRIPS;
  /** Outstanding sync nonces and when they were sent, ms. */
  readonly nonces = new Map<number, number>();
  lastSyncRequestAt = -Infinity;
  lastRecvAt: number;
  lastSendAt = -Infinity;
  lastQualityAt = -Infinity;
  interrupted = false;
  /** It refused our handshake (reported once). */
  refused = false;
  /** We refused its handshake (reported once, counted every time). */
  refusing = false;
  rttMs: number | undefined = undefined;
  /** Frames the peer is ahead of us (our estimate). */
  localAdvantage = 0;
  /** Frames we are ahead of the peer (its estimate, from its quality reports). */
  remoteAdvantage = 0;
  /** Newest frame the peer said it was at. */
  remoteFrame: Frame = NULL_FRAME;
  /**
   * The peer's view of each player slot (from its input messages): the newest frame it holds
   * without a gap (only grows; for our own slots this is its acknowledgement), and the frame from
   * which it considers the slot disconnected (Infinity while it does not; only decreases).
   */
  readonly status: { lastFrame: Frame; disconnectedFrom: Frame }[];
  readonly timeSync = new TimeSync();
  /** Spectators (on the host): newest frame acknowledged, and sent. */
  ackFrame: Frame;
  sentUpTo: Frame;
  lastAckProgressAt: number;

  constructor(
    readonly peerId: PeerId,
    /** `'player'`: plays `slots`; `'spectator'`: watches us; `'host'`: the player a spectator watches. */
    readonly role: 'player' | 'spectator' | 'host',
    readonly slots: readonly number[],
    numPlayers: number,
    startFrame: Frame,
    now: number,
  ) {
    this.lastRecvAt = now;
    this.lastAckProgressAt = now;
    this.status = Array.from({ length: numPlayers }, () => ({ lastFrame: startFrame - 1, disconnectedFrom: Infinity }));
    this.ackFrame = startFrame - 1;
    this.sentUpTo = startFrame - 1;
  }

  /**
   * Merges a status list received from the peer. Packets may arrive out of order: the newest
   * frame held only grows; a disconnect announcement (`lastFrame` = the frame before the
   * disconnect) only moves the disconnect earlier.
   */
  mergeStatus(status: readonly SlotStatus[]): void {
    for (let i = 0; i < this.status.length && i < status.length; i++) {
      const mine = this.status[i]!;
      const theirs = status[i]!;
      if (theirs.disconnected) mine.disconnectedFrom = Math.min(mine.disconnectedFrom, theirs.lastFrame + 1);
      else if (theirs.lastFrame > mine.lastFrame) mine.lastFrame = theirs.lastFrame;
    }
  }
}

/** Shared machinery of {@link P2PSession} and {@link SpectatorSession}; not used directly. */
export abstract class LinkedSession {
  /** This peer's id (the transport's). */
  readonly localPeerId: PeerId;
  readonly channel: string;
  readonly numPlayers: number;
  readonly inputSize: number;
  readonly fps: number;
  readonly disconnectTimeoutMs: number;
  readonly disconnectNotifyStartMs: number;
  protected readonly transport: RoomTransport;
  protected readonly clock: SessionClock;
  protected readonly links = new Map<PeerId, PeerLink>();
  protected closed = false;
  protected readonly counters = {
    messagesSent: 0, bytesSent: 0, messagesReceived: 0, bytesReceived: 0, sendErrors: 0, eventsDropped: 0,
  };
  protected readonly drops: Record<SessionDropReason, number>;
  private readonly queue: SessionEvent[] = [];
  private readonly role: 'player' | 'spectator';
  private readonly configHash: number;
  private readonly nonceRng: Rng;
  private readonly unsubscribe: (() => void)[] = [];
  /** Snapshots asked of peers: key `peer\0frame` -> reassembly state. */
  private readonly snapshotsIn = new Map<string, { buf: Uint8Array | undefined; received: number }>();

  protected constructor(o: LinkedSessionOptions) {
    this.transport = o.transport;
    this.clock = o.clock;
    this.localPeerId = o.transport.localPeerId;
    this.channel = o.channel;
    this.numPlayers = o.numPlayers;
    this.inputSize = o.inputSize;
    this.fps = o.fps;
    this.disconnectTimeoutMs = o.disconnectTimeoutMs;
    this.disconnectNotifyStartMs = o.disconnectNotifyStartMs;
    this.role = o.role;
    this.configHash = o.configHash;
    this.drops = Object.fromEntries(SESSION_DROP_REASONS.map((r) => [r, 0])) as Record<SessionDropReason, number>;
    // Handshake nonces are not simulation state: seeded from this peer's id and the clock so a
    // virtual-clock test is reproducible and two sessions of one peer still differ.
    this.nonceRng = new Rng(fnv1a32(new TextEncoder().encode(`${this.localPeerId}|${o.clock.now()}`)));
    this.unsubscribe.push(
      o.transport.on('message', (e) => this.onTransportMessage(e)),
      o.transport.on('peer:leave', (e) => {
        const link = this.links.get(e.peerId);
        if (!this.closed && link !== undefined && link.state !== 'disconnected' && e.reason === 'left') this.onLinkLost(link, 'left');
      }),
    );
  }

  // ----- public ------------------------------------------------------------------------------

  /** Returns and clears the queued events, oldest first. */
  drainEvents(): SessionEvent[] {
    return this.queue.splice(0, this.queue.length);
  }

  /**
   * Asks `peerId` for its snapshot bytes of `frame` (to diff a desync). The peer's engine sees a
   * `snapshotRequested` event and may answer with `sendSnapshot`; the bytes arrive as a
   * `snapshotReceived` event. Nothing happens if the peer does not have it any more.
   * @throws NetcodeError `InvalidRequest` for a peer that is not a running peer of the session, or a bad frame.
   */
  requestSnapshot(peerId: PeerId, frame: Frame): void {
    this.assertOpen();
    const link = this.links.get(peerId);
    if (link === undefined || link.state !== 'running') {
      throw new NetcodeError('InvalidRequest', `requestSnapshot: ${peerId} is not a running peer of this session`, { peerId });
    }
    if (!Number.isInteger(frame) || frame < 0) throw new NetcodeError('InvalidRequest', `requestSnapshot: frame must be an integer >= 0, got ${frame}`, { frame });
    this.snapshotsIn.set(`${peerId}\u0000${frame}`, { buf: undefined, received: 0 });
    this.sendTo(link, { type: 'snapshotRequest', frame });
  }

  /**
   * Sends the snapshot bytes of `frame` to `peerId` (answering a `snapshotRequested` event), in
   * chunks of at most {@link SNAPSHOT_CHUNK_BYTES} over the reliable channel.
   * @throws NetcodeError `InvalidRequest` for an unknown peer or more than {@link MAX_SNAPSHOT_BYTES}.
   */
  sendSnapshot(peerId: PeerId, frame: Frame, bytes: Uint8Array): void {
    this.assertOpen();
    const link = this.links.get(peerId);
    if (link === undefined || link.state !== 'running') {
      throw new NetcodeError('InvalidRequest', `sendSnapshot: ${peerId} is not a running peer of this session`, { peerId });
    }
    if (!(bytes instanceof Uint8Array) || bytes.length > MAX_SNAPSHOT_BYTES) {
      throw new NetcodeError('InvalidRequest', `sendSnapshot: bytes must be a Uint8Array of at most ${MAX_SNAPSHOT_BYTES} bytes`, { peerId, frame });
    }
    const chunk = Math.max(1, Math.min(SNAPSHOT_CHUNK_BYTES, this.transport.maxFrameBytes - 32));
    let offset = 0;
    do {
      const part = bytes.subarray(offset, Math.min(bytes.length, offset + chunk));
      this.sendTo(link, { type: 'snapshotChunk', frame, totalBytes: bytes.length, offset, bytes: part });
      offset += part.length;
    } while (offset < bytes.length);
  }

  /** Stops listening to the transport (which stays open: it belongs to the caller). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.unsubscribe) u();
    this.unsubscribe.length = 0;
  }

  // ----- for subclasses ----------------------------------------------------------------------

  /** A message other than handshake/quality/keep-alive/snapshot from a known, connected peer. */
  protected abstract onSessionMessage(link: PeerLink, msg: RollbackMessage, e: MessageEvent): void;

  /** `link` timed out or left; the subclass disconnects it. */
  protected abstract onLinkLost(link: PeerLink, why: 'timeout' | 'left'): void;

  /**
   * How to count a message from a peer that has no role in this session: inputs are
   * `ForeignSlot` (the sender owns no slot), anything else `UnknownPeer`; `undefined` ignores it
   * silently (expected traffic, such as players' input broadcasts reaching a spectator).
   */
  protected unknownPeerDrop(msg: RollbackMessage, _e: MessageEvent): SessionDropReason | undefined {
    return msg.type === 'input' ? 'ForeignSlot' : 'UnknownPeer';
  }

  /**
   * Whether silence counts toward interruption and timeout now. The P2P session starts counting
   * when it runs (until then nothing advances, and a reliable channel retransmitting under
   * loss can be silent for seconds); every link's silence starts at that moment.
   */
  protected livenessActive(): boolean {
    return true;
  }

  /** The frame advantage to put in quality reports to `link`. */
  protected abstract frameAdvantageFor(link: PeerLink): number;

  protected assertOpen(): void {
    if (this.closed) throw new NetcodeError('Closed', `rollback session of ${this.localPeerId} is closed`, { peerId: this.localPeerId });
  }

  protected emit(e: SessionEvent): void {
    this.queue.push(e);
    if (this.queue.length > MAX_EVENT_QUEUE) {
      this.queue.shift();
      this.counters.eventsDropped++;
    }
  }

  protected dropMessage(reason: SessionDropReason, from: PeerId, bytes: number, detail: string): void {
    this.drops[reason]++;
    this.emit({ kind: 'drop', reason, from, bytes, detail });
  }

  /** Sends to one peer if it is a member now; never throws. */
  protected sendTo(link: PeerLink, msg: RollbackMessage): boolean {
    if (!this.transport.peers().includes(link.peerId)) return false;
    const bytes = encodeMessage(msg);
    try {
      this.transport.send(link.peerId, this.channel, bytes);
    } catch {
      this.counters.sendErrors++;
      return false;
    }
    link.lastSendAt = this.clock.now();
    this.counters.messagesSent++;
    this.counters.bytesSent += bytes.length;
    return true;
  }

  /** Broadcasts to every member (best effort); never throws. */
  protected broadcastBytes(bytes: Uint8Array, to: Iterable<PeerLink>): boolean {
    try {
      this.transport.broadcast(this.channel, bytes);
    } catch {
      this.counters.sendErrors++;
      return false;
    }
    const now = this.clock.now();
    for (const link of to) link.lastSendAt = now;
    this.counters.messagesSent++;
    this.counters.bytesSent += bytes.length;
    return true;
  }

  /** Handshake retries, quality reports, keep-alives, interruption and timeout of every link. */
  protected pollLinks(now: number): void {
    for (const link of this.links.values()) {
      if (link.state === 'syncing') {
        if (now - link.lastSyncRequestAt >= SYNC_RETRY_INTERVAL_MS) this.sendSyncRequest(link, now);
        continue;
      }
      if (link.state !== 'running') continue;
      if (now - link.lastQualityAt >= QUALITY_REPORT_INTERVAL_MS) {
        const adv = Math.max(-0x7fff, Math.min(0x7fff, Math.round(this.frameAdvantageFor(link))));
        if (this.sendTo(link, { type: 'qualityReport', frameAdvantage: adv, pingMs: now })) link.lastQualityAt = now;
      }
      if (now - link.lastSendAt >= KEEP_ALIVE_INTERVAL_MS) this.sendTo(link, { type: 'keepAlive' });
      if (!this.livenessActive()) continue;
      const silent = now - link.lastRecvAt;
      if (!link.interrupted && silent >= this.disconnectNotifyStartMs && silent < this.disconnectTimeoutMs) {
        link.interrupted = true;
        this.emit({ kind: 'networkInterrupted', peerId: link.peerId, disconnectInMs: this.disconnectTimeoutMs - silent });
      }
      if (silent >= this.disconnectTimeoutMs) this.onLinkLost(link, 'timeout');
    }
  }

  protected linkStats(link: PeerLink): PeerNetworkStats {
    return {
      peerId: link.peerId,
      role: link.role,
      state: link.state === 'syncing' ? 'synchronizing' : link.state,
      rttMs: link.rttMs,
      localFrameAdvantage: link.localAdvantage,
      remoteFrameAdvantage: link.remoteAdvantage,
      remoteFrame: link.remoteFrame,
    };
  }

  /** Whether every link finished its handshake (or is disconnected). */
  protected allSynchronized(): boolean {
    for (const link of this.links.values()) if (link.state === 'syncing') return false;
    return true;
  }

  // ----- internals ---------------------------------------------------------------------------

  private sendSyncRequest(link: PeerLink, now: number): void {
    let nonce = this.nonceRng.nextU32();
    while (link.nonces.has(nonce)) nonce = this.nonceRng.nextU32();
    const msg: RollbackMessage = {
      type: 'syncRequest', version: PROTOCOL_VERSION, nonce, role: this.role,
      numPlayers: this.numPlayers, inputSize: this.inputSize, configHash: this.configHash,
    };
    if (!this.sendTo(link, msg)) return;
    link.lastSyncRequestAt = now;
    link.nonces.set(nonce, now);
    if (link.nonces.size > 32) link.nonces.delete(link.nonces.keys().next().value!);
  }

  /** Whether a sync request from `link` matches this session (see the module doc). */
  private accepts(link: PeerLink, msg: Extract<RollbackMessage, { type: 'syncRequest' }>): string | undefined {
    if (msg.version !== PROTOCOL_VERSION) return `protocol version ${msg.version}, this peer speaks ${PROTOCOL_VERSION}`;
    if (msg.numPlayers !== this.numPlayers) return `${msg.numPlayers} players, this session has ${this.numPlayers}`;
    if (msg.inputSize !== this.inputSize) return `input size ${msg.inputSize}, this session uses ${this.inputSize}`;
    const wantRole = link.role === 'spectator' ? 'spectator' : 'player';
    if (msg.role !== wantRole) return `role ${msg.role}, expected ${wantRole}`;
    if (link.role === 'player' && this.role === 'player' && msg.configHash !== this.configHash) {
      return `different settings (slot owners or start frame): hash ${msg.configHash} vs ${this.configHash}`;
    }
    return undefined;
  }

  private onTransportMessage(e: MessageEvent): void {
    if (this.closed || e.channel !== this.channel) return;
    this.counters.messagesReceived++;
    this.counters.bytesReceived += e.data.length;
    const msg = decodeMessage(e.data);
    if (msg.type === 'malformed') return this.dropMessage('Malformed', e.from, e.data.length, msg.detail);
    const link = this.links.get(e.from);
    if (link === undefined) {
      const reason = this.unknownPeerDrop(msg, e);
      if (reason === undefined) return;
      return this.dropMessage(reason, e.from, e.data.length, `${e.from} has no role in this session (it sent ${msg.type === 'input' ? `inputs for slots ${msg.slots.join(', ')}` : msg.type})`);
    }
    if (link.state === 'disconnected') return;
    const now = this.clock.now();
    link.lastRecvAt = now;
    if (link.interrupted) {
      link.interrupted = false;
      this.emit({ kind: 'networkResumed', peerId: link.peerId });
    }
    switch (msg.type) {
      case 'syncRequest': {
        const why = this.accepts(link, msg);
        this.sendTo(link, { type: 'syncReply', nonce: msg.nonce, accepted: why === undefined });
        if (why === undefined) return;
        if (link.refusing) this.drops.ConfigMismatch++; // retried every SYNC_RETRY_INTERVAL_MS: count, report once
        else this.dropMessage('ConfigMismatch', e.from, e.data.length, `refused handshake from ${e.from}: ${why}`);
        link.refusing = true;
        return;
      }
      case 'syncReply':
        return this.onSyncReply(link, msg.nonce, msg.accepted, now, e.data.length);
      case 'qualityReport':
        link.remoteAdvantage = msg.frameAdvantage;
        this.sendTo(link, { type: 'qualityReply', pongMs: msg.pingMs });
        return;
      case 'qualityReply': {
        const rtt = now - msg.pongMs;
        if (rtt >= 0) link.rttMs = rtt;
        return;
      }
      case 'keepAlive':
        return;
      case 'snapshotRequest':
        this.emit({ kind: 'snapshotRequested', peerId: link.peerId, frame: msg.frame });
        return;
      case 'snapshotChunk':
        return this.onSnapshotChunk(link, msg, e.data.length);
      default:
        this.onSessionMessage(link, msg, e);
    }
  }

  private onSyncReply(link: PeerLink, nonce: number, accepted: boolean, now: number, size: number): void {
    if (link.state !== 'syncing') return;
    const sentAt = link.nonces.get(nonce);
    if (sentAt === undefined) return;
    link.nonces.delete(nonce);
    if (!accepted) {
      if (!link.refused) this.dropMessage('ConfigMismatch', link.peerId, size, `${link.peerId} refused the handshake: settings differ (see its drop events)`);
      link.refused = true;
      return;
    }
    link.rttMs = now - sentAt;
    if (--link.syncRemaining > 0) {
      this.emit({ kind: 'synchronizing', peerId: link.peerId, count: NUM_SYNC_ROUNDTRIPS - link.syncRemaining, total: NUM_SYNC_ROUNDTRIPS });
      this.sendSyncRequest(link, now);
      return;
    }
    link.state = 'running';
    link.nonces.clear();
    link.lastRecvAt = now;
    link.lastAckProgressAt = now;
    this.emit({ kind: 'synchronized', peerId: link.peerId });
  }

  private onSnapshotChunk(link: PeerLink, msg: Extract<RollbackMessage, { type: 'snapshotChunk' }>, size: number): void {
    const key = `${link.peerId}\u0000${msg.frame}`;
    const st = this.snapshotsIn.get(key);
    if (st === undefined) return this.dropMessage('Unsolicited', link.peerId, size, `snapshot of frame ${msg.frame} was not requested from ${link.peerId}`);
    if (msg.totalBytes > MAX_SNAPSHOT_BYTES) {
      this.snapshotsIn.delete(key);
      return this.dropMessage('Oversized', link.peerId, size, `snapshot of ${msg.totalBytes} bytes exceeds ${MAX_SNAPSHOT_BYTES}`);
    }
    if (st.buf === undefined) st.buf = new Uint8Array(msg.totalBytes);
    if (st.buf.length !== msg.totalBytes || msg.offset !== st.received) {
      this.snapshotsIn.delete(key);
      return this.dropMessage('Malformed', link.peerId, size, `snapshot chunk at ${msg.offset} of ${msg.totalBytes}, expected ${st.received} of ${st.buf.length}`);
    }
    st.buf.set(msg.bytes, msg.offset);
    st.received += msg.bytes.length;
    if (st.received === st.buf.length) {
      this.snapshotsIn.delete(key);
      this.emit({ kind: 'snapshotReceived', peerId: link.peerId, frame: msg.frame, bytes: st.buf });
    }
  }
}

/** Hash of the settings all players of a P2P session must share: FNV-1a 32 of a canonical string. */
export function playerConfigHash(numPlayers: number, inputSize: number, startFrame: Frame, owners: readonly PeerId[]): number {
  return fnv1a32(new TextEncoder().encode(`peercompute-rollback|v${PROTOCOL_VERSION}|players=${numPlayers}|input=${inputSize}|start=${startFrame}|${owners.join('\u0000')}`));
}
