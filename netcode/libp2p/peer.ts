/**
 * One factory for Node and browser peers: a libp2p node connected to the relays, ready to join
 * rooms with `joinRoom` (room.ts).
 *
 * - Browser: WebSockets to the relays, a relay reservation, WebRTC to other peers (signalled
 *   through the relay).
 * - Node (bots, tests, headless servers): TCP and WebSockets, a relay reservation, TCP listen
 *   addresses (default loopback) and WebRTC when node-datachannel loads.
 *
 * @example
 * ```ts
 * const peer = await createPeer({ relays: ['/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooW...'] });
 * const room = await joinRoom(peer, 'lobby');
 * room.on('peer:join', ({ peerId }) => room.send(peerId, 'chat', new TextEncoder().encode('hi')));
 * // ...
 * await peer.close(); // leaves its rooms, stops libp2p
 * ```
 */
import type { Libp2p, PrivateKey } from '@libp2p/interface';
import { NetcodeError } from '../errors.ts';
import type { BackoffOptions } from './backoff.ts';
import type { PeerServices } from './create-libp2p.ts';
import { DEFAULT_DISCOVERY_TOPIC } from './names.ts';
import { parseRelayAddrs, RelayLinks, type RelayStatus } from './relay-links.ts';
import { detectRuntime, prepareRuntime, type RuntimeKind } from './runtime.ts';
import type { TransportRequest, TransportSet } from './transport-set.ts';

/** Node listen addresses unless told otherwise: TCP on loopback, any free port. */
export const DEFAULT_NODE_LISTEN: readonly string[] = ['/ip4/127.0.0.1/tcp/0'];
/** How long createPeer waits for the first relay connection, ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Timeout of one dial attempt (relay or peer), ms. */
export const DEFAULT_DIAL_TIMEOUT_MS = 5_000;
/** How long createPeer waits for a first relay reservation after connecting, ms. */
export const DEFAULT_RESERVATION_WAIT_MS = 1000;
/** Pubsub peer discovery broadcast interval, ms. */
export const DEFAULT_DISCOVERY_INTERVAL_MS = 10_000;
/** libp2p connection limit of a peer. */
export const DEFAULT_MAX_CONNECTIONS = 300;
/** Inbound connections accepted per second from one IP (libp2p's default). */
export const DEFAULT_INBOUND_CONNECTIONS_PER_SECOND = 5;

/** Options of {@link createPeer}. Only `relays` is required. */
export interface PeerOptions {
  /**
   * Relay multiaddrs, each ending with `/p2p/<relay peer id>` (pin the relay's id). Several
   * relays give redundancy: the peer stays connected to all of them. Browsers need a `/ws` or
   * `/wss` address; Node peers use `/tcp` or `/ws`. At least one.
   */
  readonly relays: readonly string[];
  /** Identity; default a new Ed25519 key (a new peer id each run). */
  readonly privateKey?: PrivateKey;
  /** Node only: addresses to listen on for direct connections. Default {@link DEFAULT_NODE_LISTEN}. */
  readonly listen?: readonly string[];
  /** WebRTC: `true` required, `false` off, `'auto'` (default) when available (browsers; Node with node-datachannel). */
  readonly webrtc?: boolean | 'auto';
  /** STUN/TURN servers for WebRTC. Default none (host candidates: LAN and loopback only). */
  readonly iceServers?: readonly RTCIceServer[];
  /** Relay reservations to hold (others reach us through them). Default: one per relay; 0 for none. */
  readonly reservations?: number;
  /** Pubsub peer discovery topics. Default `[DEFAULT_DISCOVERY_TOPIC]`; `[]` turns it off. */
  readonly discoveryTopics?: readonly string[];
  /** Pubsub peer discovery interval, ms. Default {@link DEFAULT_DISCOVERY_INTERVAL_MS}. */
  readonly discoveryIntervalMs?: number;
  /** How long createPeer waits for a first relay connection, ms. Default {@link DEFAULT_CONNECT_TIMEOUT_MS}. */
  readonly connectTimeoutMs?: number;
  /**
   * How long createPeer then waits for a first reservation, ms, so the first announcements
   * already carry our relayed and WebRTC addresses; it resolves without one after that (0 = do
   * not wait). Default {@link DEFAULT_RESERVATION_WAIT_MS}.
   */
  readonly reservationWaitMs?: number;
  /** Timeout of one dial attempt, ms. Default {@link DEFAULT_DIAL_TIMEOUT_MS}. */
  readonly dialTimeoutMs?: number;
  /** Relay redial backoff. Default 500 ms doubling to 10 s, +-20 % jitter. */
  readonly relayBackoff?: BackoffOptions;
  /** libp2p connection limit. Default {@link DEFAULT_MAX_CONNECTIONS}. */
  readonly maxConnections?: number;
  /** Inbound connections per second per IP. Default {@link DEFAULT_INBOUND_CONNECTIONS_PER_SECOND}. */
  readonly inboundConnectionsPerSecond?: number;
  /** Multiaddr CIDRs exempt from connection limits, e.g. `'/ip4/127.0.0.0/ipcidr/8'` for local tests. Default none. */
  readonly allow?: readonly string[];
}

/** A running peer. Join rooms with `joinRoom(peer, roomId)`. */
export interface Peer {
  /** Our libp2p peer id (base58btc). */
  readonly peerId: string;
  /** Runtime detected at creation. */
  readonly runtime: RuntimeKind;
  /** Whether this peer can dial and accept WebRTC. */
  readonly webrtc: boolean;
  /** The libp2p node (escape hatch; rooms use it). */
  readonly libp2p: Libp2p<PeerServices>;
  /** Our current multiaddrs (listen and relay-reserved), with `/p2p/<peerId>`. */
  multiaddrs(): string[];
  /** State of every configured relay. */
  relays(): RelayStatus[];
  /** Leaves every room (saying goodbye), stops libp2p. Idempotent. */
  close(): Promise<void>;
}

/** Something that must close before the node stops (a room). */
export interface PeerResource {
  close(): Promise<void>;
}

/** The peer implementation; rooms reach its relay links and resources through it. */
export class Libp2pPeer implements Peer {
  readonly peerId: string;
  private readonly resources = new Set<PeerResource>();
  private closing: Promise<void> | undefined;

  constructor(
    readonly libp2p: Libp2p<PeerServices>,
    readonly runtime: RuntimeKind,
    readonly webrtc: boolean,
    readonly relayLinks: RelayLinks,
    readonly dialTimeoutMs: number,
  ) {
    this.peerId = libp2p.peerId.toString();
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((ma) => ma.toString());
  }

  relays(): RelayStatus[] {
    return this.relayLinks.status();
  }

  /** Registers a resource closed (first) by {@link close}; returns its unregister function. */
  track(resource: PeerResource): () => void {
    this.resources.add(resource);
    return () => this.resources.delete(resource);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.resources].map((r) => r.close()));
      this.relayLinks.stop();
      await this.libp2p.stop();
    })();
    return this.closing;
  }
}

/**
 * Creates a peer, starts it and waits until at least one relay is connected (then up to
 * `reservationWaitMs` for a first relay reservation).
 *
 * @throws NetcodeError `InvalidConfig` (bad relay address, number out of range, `webrtc: true`
 *   where it cannot load); `DialFailed` when no relay answered within `connectTimeoutMs`
 *   (the node is stopped again).
 */
export async function createPeer(options: PeerOptions): Promise<Peer> {
  const relays = parseRelayAddrs(options.relays ?? []);
  const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  const dialTimeoutMs = positive('dialTimeoutMs', options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS);
  const reservations = integer('reservations', options.reservations ?? relays.size, 0, 16);
  const runtime = detectRuntime();
  await prepareRuntime(runtime);

  const request: TransportRequest = {
    listen: options.listen ?? DEFAULT_NODE_LISTEN,
    webrtc: options.webrtc ?? 'auto',
    reservations,
    reservationTimeoutMs: dialTimeoutMs,
    iceServers: options.iceServers ?? [],
  };
  const transportSet: TransportSet = runtime === 'node'
    ? await (await import('./transports-node.ts')).nodeTransports(request)
    : (await import('./transports-browser.ts')).browserTransports(request);
  const { createPeerNode } = await import('./create-libp2p.ts');
  const libp2p = await createPeerNode({
    privateKey: options.privateKey,
    transportSet,
    discoveryTopics: options.discoveryTopics ?? [DEFAULT_DISCOVERY_TOPIC],
    discoveryIntervalMs: positive('discoveryIntervalMs', options.discoveryIntervalMs ?? DEFAULT_DISCOVERY_INTERVAL_MS),
    dialTimeoutMs,
    maxConnections: integer('maxConnections', options.maxConnections ?? DEFAULT_MAX_CONNECTIONS, 1, 1_000_000),
    inboundConnectionsPerSecond: positive('inboundConnectionsPerSecond', options.inboundConnectionsPerSecond ?? DEFAULT_INBOUND_CONNECTIONS_PER_SECOND),
    allow: options.allow ?? [],
  });
  const links = new RelayLinks(libp2p, relays, options.relayBackoff ?? {}, dialTimeoutMs);
  links.start();
  try {
    await links.waitForAny(connectTimeoutMs);
    if (reservations > 0) await links.waitForReservation(options.reservationWaitMs ?? DEFAULT_RESERVATION_WAIT_MS);
  } catch (err) {
    links.stop();
    await libp2p.stop();
    throw err;
  }
  return new Libp2pPeer(libp2p, runtime, transportSet.webrtc, links, dialTimeoutMs);
}

function positive(option: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new NetcodeError('InvalidConfig', `${option} must be a positive number, got ${value}`, { option, value });
  }
  return value;
}

function integer(option: string, value: number, min: number, max: number): number {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw new NetcodeError('InvalidConfig', `${option} must be an integer in ${min}..${max}, got ${value}`, { option, value });
  }
  return value;
}
