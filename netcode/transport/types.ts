/**
 * The transport seam: a room of peers exchanging bytes. Small and transport-neutral: the libp2p
 * transport and the in-memory transport (with its network conditioner) implement the same
 * interface and pass one compliance suite (tests/unit/transport-compliance.ts).
 *
 * Semantics every implementation guarantees:
 * - `send(peer, channel, bytes)`: reliable and ordered per (sender, receiver, channel) while
 *   both stay connected; delivered at most once. Frames larger than `maxFrameBytes` throw
 *   `NetcodeError('FrameTooLarge')` locally.
 * - `send` and `broadcast` keep no reference to `data` after they return: the caller may reuse
 *   the buffer at once. Delivery is never re-entrant: no event fires inside `send`/`broadcast`.
 * - `broadcast(channel, bytes)`: best-effort delivery to every current member; each member
 *   delivers a given broadcast at most once; not delivered back to the sender.
 * - `message` events carry `from`: the authenticated peer id of the connection the bytes came
 *   on (never a field of the payload), which higher layers use for authority checks.
 * - `peer:join` fires once per peer that becomes a member, `peer:leave` once when it stops
 *   being one (left, timed out, or disconnected beyond the reconnect window); a peer that comes
 *   back joins again.
 * - Bad input from peers is counted in `stats().drops` and emitted as `drop`, never thrown.
 */
import type { DropEvent } from '../errors.ts';

/**
 * Default `maxFrameBytes`, bytes: 64 KiB. A frame is independent of WebRTC's 16 KiB message
 * advice (RFC 8831): the libp2p transport carries frames on streams, which split them.
 */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;

/** A peer's id: the libp2p peer id string (base58btc multihash) or, in memory, any unique string. */
export type PeerId = string;

/** Channel name: which layer a message belongs to, e.g. `'rollback'`, `'replication'`. */
export type Channel = string;

/** How a peer is reached right now. */
export type ConnectionKind = 'direct-webrtc' | 'relayed' | 'tcp' | 'websocket' | 'memory' | 'gossip-only' | 'none';

/** Room topology: how messages between members are carried. */
export type Topology = 'mesh' | 'relay-star' | 'gossip';

/** Counters of one remote peer. */
export interface PeerStats {
  readonly peerId: PeerId;
  /** Round-trip time, ms, measured by ping (smoothed, EWMA weight 0.2); undefined before the first sample. */
  readonly rttMs: number | undefined;
  /**
   * Application messages and their payload bytes (`data.length`), counted at `send`/`broadcast`
   * (a broadcast once per member it goes to) and at delivery. Framing, pings and other control
   * traffic are not counted. Counters start at 0 when the peer joins.
   */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly connection: ConnectionKind;
}

/** Counters of the whole transport. */
export interface TransportStats {
  readonly peers: readonly PeerStats[];
  /** Dropped incoming messages by reason. */
  readonly drops: Readonly<Record<DropEvent['reason'], number>>;
  readonly topology: Topology;
}

/** A received message. `data` is owned by the receiver (not reused by the transport). */
export interface MessageEvent {
  /** Authenticated sender. */
  readonly from: PeerId;
  readonly channel: Channel;
  readonly data: Uint8Array;
  /** `true` when it came through `broadcast`. */
  readonly broadcast: boolean;
}

/** Events of a {@link RoomTransport}. */
export interface TransportEvents {
  'peer:join': { readonly peerId: PeerId };
  /**
   * `'left'`: the peer said goodbye (`close()`); `'timeout'`: nothing heard from it for the
   * transport's timeout; `'closed'`: its connection ended without a goodbye (reset, restart).
   */
  'peer:leave': { readonly peerId: PeerId; readonly reason: 'left' | 'timeout' | 'closed' };
  message: MessageEvent;
  drop: DropEvent;
}

/** A member's view of one room. */
export interface RoomTransport {
  readonly localPeerId: PeerId;
  readonly roomId: string;
  /** Largest `data` accepted by `send`/`broadcast` and on receive, bytes. */
  readonly maxFrameBytes: number;
  /** Current members other than this peer, sorted. */
  peers(): readonly PeerId[];
  /**
   * Sends `data` to one member on `channel` (reliable, ordered per channel).
   * @throws NetcodeError `UnknownPeer` (not a member), `FrameTooLarge`, `Closed`.
   */
  send(peerId: PeerId, channel: Channel, data: Uint8Array): void;
  /**
   * Sends `data` to every current member (best effort).
   * @throws NetcodeError `FrameTooLarge`, `Closed`.
   */
  broadcast(channel: Channel, data: Uint8Array): void;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof TransportEvents>(event: K, handler: (e: TransportEvents[K]) => void): () => void;
  stats(): TransportStats;
  /** Leaves the room and releases every resource (idempotent). */
  close(): Promise<void>;
}
