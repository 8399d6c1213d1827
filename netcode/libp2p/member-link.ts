/**
 * Our side of the link to one room member: the connection and the outbound stream we send
 * frames on, the queue while (re)connecting, keep-alive pings and the member's counters.
 *
 * - Connection: an open direct one (TCP, WebSocket, WebRTC) is preferred to a relayed one.
 *   In `mesh` the lower peer id dials; the higher one waits `dialGraceMs` for that dial before
 *   dialling itself. In `relay-star` only relayed addresses are dialled. In `gossip` nothing
 *   is dialled until the first `send`.
 * - A link on a relayed connection retries a direct dial with backoff (2 s doubling to 60 s)
 *   and moves to a direct connection as soon as one opens (new stream, old stream closed
 *   after its last frame; the receiver keeps the order, see inbound.ts).
 * - The dialling side never makes frames wait for a WebRTC dial: WebRTC is negotiated through
 *   the relay and its first dial sometimes stalls until the dial timeout (seen: 9-20 s). When the
 *   member can only be reached directly over WebRTC, the link opens its stream on a relayed
 *   connection at once and tries the WebRTC upgrade in the background right away. Direct TCP and
 *   WebSocket addresses (Node peers) are still dialled first: they connect or fail fast.
 * - A broken stream is reopened with exponential backoff while the member is in the room.
 * - RTT: PING frames every keep-alive on our stream, answered by PONG on the same stream,
 *   timed with `performance.now()`; smoothed with an EWMA of weight 0.2.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { NetcodeError, type DropEvent } from '../errors.ts';
import type { ConnectionKind, Topology } from '../transport/types.ts';
import { addrKind, connectionKind, dialPlan } from './addrs.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import type { PeerServices } from './create-libp2p.ts';
import { frameBytes, readFrames } from './frame-reader.ts';
import { decodeStreamFrame, encodePingFrame } from './wire.ts';

/** Weight of a new RTT sample in the smoothed RTT. */
export const RTT_EWMA_WEIGHT = 0.2;

/** What a link needs from its room. */
export interface LinkHost {
  readonly libp2p: Libp2p<PeerServices>;
  readonly localPeerId: string;
  readonly protocol: string;
  readonly webrtc: boolean;
  readonly dialTimeoutMs: number;
  readonly dialGraceMs: number;
  readonly maxQueuedBytes: number;
  readonly timeoutMs: number;
  readonly reconnect: BackoffOptions;
  topology(): Topology;
  /** Multiaddrs of our connected relays (to reach the member through them). */
  relayAddrs(): string[];
  /** The member showed a sign of life (pong). */
  alive(peerId: string): void;
  drop(event: DropEvent): void;
}

interface OutStream {
  readonly stream: Stream;
  readonly connection: Connection;
}

export class MemberLink {
  rttMs: number | undefined;
  bytesIn = 0;
  bytesOut = 0;
  messagesIn = 0;
  messagesOut = 0;
  /** Whether a connection to the member was open at some point. */
  everConnected = false;

  /** The member's announced multiaddrs (from its presence), see {@link setAddrs}. */
  private addrs: string[] = [];
  private readonly remote: PeerId;
  private readonly createdAt = performance.now();
  private readonly backoff: Backoff;
  private readonly upgradeBackoff = new Backoff({ initialMs: 2000, maxMs: 60_000 });
  private readonly pings = new Map<number, number>();
  private out: OutStream | undefined;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private opening = false;
  private migrating = false;
  /** Set when the stream goes relayed without having tried WebRTC: upgrade without waiting. */
  private upgradeNow = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private upgradeTimer: ReturnType<typeof setTimeout> | undefined;
  private nonce = Math.floor(Math.random() * 0xffffffff);
  private closed = false;

  constructor(readonly peerId: string, private readonly host: LinkHost) {
    this.remote = peerIdFromString(peerId);
    this.backoff = new Backoff({ initialMs: 250, maxMs: 4000, ...host.reconnect });
  }

  /** Starts connecting when the topology keeps connections (mesh, relay-star). */
  start(): void {
    if (this.connected()) this.everConnected = true;
    if (this.wanted()) this.ensure();
  }

  /**
   * Queues one frame (unframed stream frame, see wire.ts) for the member.
   * @param payloadBytes Payload size counted in `bytesOut`.
   * @throws NetcodeError `DialFailed` when more than `maxQueuedBytes` wait for a connection.
   */
  send(frame: Uint8Array, payloadBytes: number): void {
    const bytes = frameBytes(frame);
    if (this.out !== undefined && writable(this.out.stream)) {
      this.flush();
      this.write(bytes);
    } else {
      if (this.queuedBytes + bytes.length > this.host.maxQueuedBytes) {
        throw new NetcodeError('DialFailed', `peer ${this.peerId} unreachable: ${this.queuedBytes} bytes already wait for a connection`, {
          peerId: this.peerId,
        });
      }
      this.queue.push(bytes);
      this.queuedBytes += bytes.length;
      this.ensure();
    }
    this.bytesOut += payloadBytes;
    this.messagesOut++;
  }

  /** Sends a keep-alive ping on the open stream (no-op without one); forgets stale pings. */
  ping(): void {
    const now = performance.now();
    for (const [nonce, sent] of this.pings) if (now - sent > this.host.timeoutMs) this.pings.delete(nonce);
    if (this.out === undefined || !writable(this.out.stream)) return;
    this.nonce = (this.nonce + 1) >>> 0;
    this.pings.set(this.nonce, now);
    this.write(frameBytes(encodePingFrame('ping', this.nonce)));
  }

  /**
   * Updates the member's announced addresses (each presence carries them). When new direct
   * addresses appear while we are on a relayed connection, e.g. its WebRTC address once it got
   * its relay reservation, the lower peer id tries a direct dial right away (only one side, so
   * the two WebRTC dials do not collide; the other keeps its slower upgrade schedule).
   */
  setAddrs(addrs: string[]): void {
    const before = new Set(dialPlan(this.peerId, this.addrs, [], this.host.webrtc).direct);
    this.addrs = addrs;
    const fresh = dialPlan(this.peerId, addrs, [], this.host.webrtc).direct.some((a) => !before.has(a));
    const relayed = this.out !== undefined && connectionKind(this.out.connection) === 'relayed';
    if (fresh && relayed && this.host.localPeerId < this.peerId) {
      clearTimeout(this.upgradeTimer);
      this.upgradeTimer = undefined;
      this.upgradeBackoff.reset();
      this.scheduleUpgrade(0);
    }
  }

  /** Kind of the connection frames go over now. */
  kind(): ConnectionKind {
    if (this.out !== undefined) return connectionKind(this.out.connection);
    const best = this.bestConnection();
    if (best !== undefined) return connectionKind(best);
    return this.host.topology() === 'gossip' ? 'gossip-only' : 'none';
  }

  /** Whether any connection to the member is open. */
  connected(): boolean {
    return this.openConnections().length > 0;
  }

  /** A connection to the member opened (either side dialled): use it, or move to it if better. */
  onConnectionOpen(connection: Connection): void {
    if (this.closed) return;
    this.everConnected = true;
    if (this.out === undefined) {
      if (!this.opening && this.wanted()) {
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        this.ensure();
      }
      return;
    }
    const better = connectionKind(this.out.connection) === 'relayed' && connectionKind(connection) !== 'relayed';
    if (better && this.host.topology() !== 'relay-star') void this.migrate(connection);
  }

  /** The room's topology changed: connect now if it keeps connections. */
  topologyChanged(): void {
    if (this.wanted()) this.ensure();
  }

  /** Stops everything; closes our stream after its queued frames. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.upgradeTimer);
    this.queue = [];
    this.queuedBytes = 0;
    const out = this.out;
    this.out = undefined;
    if (out !== undefined) await closeStream(out.stream, 500);
  }

  private wanted(): boolean {
    return !this.closed && (this.host.topology() !== 'gossip' || this.queue.length > 0 || this.out !== undefined);
  }

  private write(bytes: Uint8Array): void {
    try {
      this.out!.stream.send(bytes);
    } catch {
      // The stream broke between the check and the write: keep the frame for the next stream.
      this.queue.unshift(bytes);
      this.queuedBytes += bytes.length;
      this.out = undefined;
      this.ensure();
    }
  }

  private ensure(): void {
    if (this.closed || this.opening || this.retryTimer !== undefined) return;
    if (this.out !== undefined && writable(this.out.stream)) return;
    this.opening = true;
    this.open()
      .then((waitMs) => {
        if (waitMs !== undefined) this.schedule(waitMs);
        else this.backoff.reset();
      })
      .catch(() => {
        this.schedule(this.backoff.next());
      })
      .finally(() => {
        this.opening = false;
      });
  }

  /** Opens our stream; returns ms to wait first when the member is expected to dial us. */
  private async open(): Promise<number | undefined> {
    const connection = await this.acquire();
    if (typeof connection === 'number') return connection;
    const stream = await connection.newStream(this.host.protocol, {
      runOnLimitedConnection: true,
      signal: AbortSignal.timeout(this.host.dialTimeoutMs),
    });
    if (this.closed) {
      stream.abort(new Error('link closed'));
      return undefined;
    }
    this.attach(stream, connection);
    return undefined;
  }

  /** The connection to open our stream on, dialling if needed; or ms to wait for the member's dial. */
  private async acquire(): Promise<Connection | number> {
    const topology = this.host.topology();
    const best = this.bestConnection();
    if (best !== undefined && (connectionKind(best) !== 'relayed' || topology === 'relay-star')) return best;
    const age = performance.now() - this.createdAt;
    const weDial = this.host.localPeerId < this.peerId || topology === 'gossip';
    if (!weDial && age < this.host.dialGraceMs) {
      // The lower id is dialling: use its relayed connection meanwhile (a WebRTC dial opens
      // one first for signalling) and move when the direct one opens; or wait for its dial.
      return best ?? this.host.dialGraceMs - age;
    }
    const plan = dialPlan(this.peerId, this.addrs, this.host.relayAddrs(), this.host.webrtc);
    const fast = plan.direct.filter((a) => addrKind(a) !== 'direct-webrtc');
    const webrtcOnly = fast.length === 0 && plan.direct.length > 0;
    if (topology !== 'relay-star' && plan.direct.length > 0 && !(webrtcOnly && (best !== undefined || plan.relayed.length > 0))) {
      const direct = await this.dial(fast.length > 0 ? fast : plan.direct).catch(() => undefined);
      if (direct !== undefined && connectionKind(direct) !== 'relayed') return direct;
    }
    // Relayed now; attach() starts the upgrade to WebRTC at once when that is the way to go direct.
    if (webrtcOnly && topology !== 'relay-star' && this.host.localPeerId < this.peerId) this.upgradeNow = true;
    const relayed = this.bestConnection();
    if (relayed !== undefined) return relayed;
    if (plan.relayed.length === 0) throw new Error(`no address to reach ${this.peerId}`);
    return this.dial(plan.relayed);
  }

  private dial(addrs: readonly string[]): Promise<Connection> {
    return this.host.libp2p.dial(addrs.map((a) => multiaddr(a)), { signal: AbortSignal.timeout(this.host.dialTimeoutMs) });
  }

  private attach(stream: Stream, connection: Connection): void {
    this.out = { stream, connection };
    this.everConnected = true;
    stream.addEventListener('close', () => {
      if (this.out?.stream !== stream) return;
      this.out = undefined;
      this.pings.clear();
      if (this.wanted()) this.schedule(this.backoff.next());
    });
    void this.readPongs(stream);
    this.flush();
    if (connectionKind(connection) === 'relayed') {
      this.scheduleUpgrade(this.upgradeNow ? 0 : undefined);
      this.upgradeNow = false;
    }
  }

  /** Writes the queued frames, oldest first, while the stream takes them. */
  private flush(): void {
    while (this.queue.length > 0 && this.out !== undefined && writable(this.out.stream)) {
      const bytes = this.queue.shift()!;
      this.queuedBytes -= bytes.length;
      this.write(bytes);
    }
  }

  private async migrate(connection: Connection): Promise<void> {
    if (this.migrating || this.closed) return;
    this.migrating = true;
    try {
      const stream = await connection.newStream(this.host.protocol, { signal: AbortSignal.timeout(this.host.dialTimeoutMs) });
      const old = this.out;
      if (this.closed) {
        stream.abort(new Error('link closed'));
        return;
      }
      this.attach(stream, connection);
      if (old !== undefined) void closeStream(old.stream, this.host.dialTimeoutMs);
    } catch {
      // Stay on the current stream; the next direct connection or upgrade attempt retries.
    } finally {
      this.migrating = false;
    }
  }

  private scheduleUpgrade(delayMs = this.upgradeBackoff.next()): void {
    if (this.closed || this.upgradeTimer !== undefined || this.host.topology() === 'relay-star') return;
    this.upgradeTimer = setTimeout(() => {
      this.upgradeTimer = undefined;
      if (this.closed || this.out === undefined || connectionKind(this.out.connection) !== 'relayed') return;
      const plan = dialPlan(this.peerId, this.addrs, [], this.host.webrtc);
      if (plan.direct.length === 0) return;
      this.dial(plan.direct)
        .then((connection) => {
          if (connectionKind(connection) !== 'relayed') {
            this.upgradeBackoff.reset();
            this.onConnectionOpen(connection);
          } else {
            this.scheduleUpgrade();
          }
        })
        .catch(() => this.scheduleUpgrade());
    }, delayMs);
  }

  private async readPongs(stream: Stream): Promise<void> {
    const end = await readFrames(stream, 16, (bytes) => {
      const frame = decodeStreamFrame(bytes, 0);
      if (frame.kind === 'pong') this.onPong(frame.nonce);
      else this.host.drop({ reason: 'Malformed', from: this.peerId, bytes: bytes.length, detail: 'unexpected frame on our own stream' });
    });
    if (end.kind === 'bad') {
      this.host.drop({ reason: end.reason, from: this.peerId, bytes: end.bytes, detail: `reply stream: ${end.detail}` });
      stream.abort(new Error(end.detail));
    }
  }

  private onPong(nonce: number): void {
    const sent = this.pings.get(nonce);
    if (sent === undefined) return;
    this.pings.delete(nonce);
    const sample = performance.now() - sent;
    this.rttMs = this.rttMs === undefined ? sample : this.rttMs + RTT_EWMA_WEIGHT * (sample - this.rttMs);
    this.host.alive(this.peerId);
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.wanted()) this.ensure();
    }, delayMs);
  }

  private openConnections(): Connection[] {
    return this.host.libp2p.getConnections(this.remote).filter((c) => c.status === 'open');
  }

  /** Best open connection: direct before relayed (in relay-star: relayed first). */
  private bestConnection(): Connection | undefined {
    const connections = this.openConnections();
    const relayStar = this.host.topology() === 'relay-star';
    const relayed = connections.filter((c) => addrKind(c.remoteAddr.toString()) === 'relayed');
    const direct = connections.filter((c) => addrKind(c.remoteAddr.toString()) !== 'relayed');
    return relayStar ? relayed[0] ?? direct[0] : direct[0] ?? relayed[0];
  }
}

function writable(stream: Stream): boolean {
  return stream.status === 'open' && stream.writeStatus === 'writable';
}

/** Closes a stream gracefully (queued data first), aborting it after `timeoutMs`. */
async function closeStream(stream: Stream, timeoutMs: number): Promise<void> {
  try {
    await stream.close({ signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)));
  }
}
