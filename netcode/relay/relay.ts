/**
 * The relay server (Node): where peers find each other. libp2p with WebSockets (browsers) and
 * TCP (Node peers), circuit relay v2 server (reservations, relayed connections, WebRTC
 * signalling), identify, ping, gossipsub (forwards the discovery topics and every room topic
 * its peers use) and pubsub peer discovery. Optional HTTP health/metrics endpoint.
 *
 * @example
 * ```ts
 * const relay = await startRelay({ wsPort: 9090, tcpPort: 9091, keyFile: '.relay/key.json' });
 * console.log(relay.wsMultiaddrs[0]); // /ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooW... (for browsers)
 * console.log(relay.metrics());       // { peers: 0, reservations: 0, connections: 0, bytesIn: 0, ... }
 * await relay.close();
 * ```
 */
import { circuitRelayServer, type CircuitRelayService } from '@libp2p/circuit-relay-v2';
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import { identify, type Identify } from '@libp2p/identify';
import { noise } from '@libp2p/noise';
import { ping, type Ping } from '@libp2p/ping';
import { pubsubPeerDiscovery } from '@libp2p/pubsub-peer-discovery';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { yamux } from '@libp2p/yamux';
import { multiaddr } from '@multiformats/multiaddr';
import type { Libp2p, Listener } from '@libp2p/interface';
import { NetcodeError } from '../errors.ts';
import { DEFAULT_DISCOVERY_TOPIC, ROOM_TOPIC_PREFIX } from '../libp2p/names.ts';
import { prepareRuntime } from '../libp2p/runtime.ts';
import { byteCounter } from './byte-counter.ts';
import { startHealthServer, type HealthServer } from './health-server.ts';
import { loadOrCreateKey } from './key-file.ts';
import {
  DEFAULT_CONNECTIONS_PER_IP_PER_SECOND, DEFAULT_MAX_PENDING_CONNECTIONS, DEFAULT_MAX_RESERVATIONS, DEFAULT_MAX_ROOM_TOPICS,
  DEFAULT_RELAY_DISCOVERY_INTERVAL_MS, DEFAULT_RELAY_HOST, DEFAULT_RELAY_MAX_CONNECTIONS, DEFAULT_RELAYED_DATA_BYTES,
  DEFAULT_RELAYED_DURATION_MS, DEFAULT_RESERVATION_TTL_MS, type RelayOptions,
} from './relay-options.ts';
import { RoomTopicFollower } from './room-topics.ts';

/** Counters of a running relay. */
export interface RelayMetrics {
  /** Distinct peers connected now. */
  readonly peers: number;
  /** Reservations held now. */
  readonly reservations: number;
  /** Open connections now. */
  readonly connections: number;
  /** Bytes received on all connections since start (encrypted bytes, relayed traffic included). */
  readonly bytesIn: number;
  /** Bytes sent on all connections since start. */
  readonly bytesOut: number;
  /** Room topics followed now. */
  readonly roomTopics: number;
  /** Time since start, ms. */
  readonly uptimeMs: number;
}

/** A running relay. */
export interface Relay {
  /** The relay's peer id (pin it in client multiaddrs). */
  readonly peerId: string;
  /** Advertised and listen multiaddrs, each ending with `/p2p/<peerId>`. */
  readonly multiaddrs: readonly string[];
  /** The `/ws` and `/wss` ones among {@link multiaddrs}: what browsers dial. */
  readonly wsMultiaddrs: readonly string[];
  /** The `/tcp` ones without `/ws`: what Node peers dial best. */
  readonly tcpMultiaddrs: readonly string[];
  /** Base URL of the health endpoint, when enabled (`http://127.0.0.1:9092/`). */
  readonly healthUrl: string | undefined;
  /** Key file path when one is used; `keyCreated` tells whether it was created by this start. */
  readonly keyFile: string | undefined;
  readonly keyCreated: boolean;
  /** Key file warning (loose permissions), if any. */
  readonly keyWarning: string | undefined;
  /** The libp2p node (escape hatch). */
  readonly libp2p: Libp2p<RelayServices>;
  metrics(): RelayMetrics;
  /** Stops the health endpoint and libp2p (connections are closed). Idempotent. */
  close(): Promise<void>;
}

/** Services of the relay node. */
export type RelayServices = {
  identify: Identify;
  ping: Ping;
  relay: CircuitRelayService;
  pubsub: GossipSub;
};

/**
 * Starts a relay.
 * @throws NetcodeError `InvalidConfig` (bad option, key file unreadable, both `keyFile` and
 *   `privateKey`); `Relay` when libp2p or the health endpoint cannot listen (port in use, ...).
 */
export async function startRelay(options: RelayOptions = {}): Promise<Relay> {
  const host = options.host ?? DEFAULT_RELAY_HOST;
  const tcpPort = port('tcpPort', options.tcpPort ?? 0);
  const wsPort = port('wsPort', options.wsPort ?? 0);
  if (tcpPort !== 0 && tcpPort === wsPort) throw new NetcodeError('InvalidConfig', `tcpPort and wsPort are both ${tcpPort}`, { option: 'wsPort' });
  if (options.keyFile !== undefined && options.privateKey !== undefined) {
    throw new NetcodeError('InvalidConfig', 'give keyFile or privateKey, not both', { option: 'keyFile' });
  }
  const family = host.includes(':') ? 'ip6' : /^\d+\.\d+\.\d+\.\d+$/.test(host) ? 'ip4' : undefined;
  if (family === undefined) throw new NetcodeError('InvalidConfig', `host must be an IPv4 or IPv6 address, got "${host}"`, { option: 'host' });
  for (const addr of options.announce ?? []) {
    try {
      multiaddr(addr);
    } catch {
      throw new NetcodeError('InvalidConfig', `announce: "${addr}" is not a multiaddr`, { option: 'announce', value: addr });
    }
  }
  const maxReservations = count('maxReservations', options.maxReservations ?? DEFAULT_MAX_RESERVATIONS, 0);
  const relayedDataBytes = count('relayedDataBytes', options.relayedDataBytes ?? DEFAULT_RELAYED_DATA_BYTES, 1);
  const discoveryTopics = options.discoveryTopics ?? [DEFAULT_DISCOVERY_TOPIC];

  await prepareRuntime('node');
  const key = options.keyFile === undefined ? undefined : await loadOrCreateKey(options.keyFile);
  const privateKey = key?.privateKey ?? options.privateKey;
  const bytes = byteCounter();
  const listening: string[] = [];
  const libp2p = await createRelayNode();
  libp2p.addEventListener('transport:listening', (event: CustomEvent<Listener>) => {
    for (const ma of event.detail.getAddrs()) listening.push(ma.toString());
  });
  try {
    await libp2p.start();
  } catch (err) {
    await Promise.resolve(libp2p.stop()).catch(() => {});
    throw new NetcodeError('Relay', `relay could not listen on ${host} (tcp ${tcpPort}, ws ${wsPort}): ${String(err)}`, { host, tcpPort, wsPort });
  }

  const peerId = libp2p.peerId.toString();
  const withId = (addr: string): string => (addr.endsWith(`/p2p/${peerId}`) ? addr : `${addr}/p2p/${peerId}`);
  const bound = listening.filter((a) => !a.startsWith('/ip4/0.0.0.0/') && !a.startsWith('/ip6/::/'));
  const multiaddrs = [...new Set([...libp2p.getMultiaddrs().map((ma) => ma.toString()), ...bound.map(withId)])];
  const follower = new RoomTopicFollower(libp2p.services.pubsub, ROOM_TOPIC_PREFIX, count('maxRoomTopics', options.maxRoomTopics ?? DEFAULT_MAX_ROOM_TOPICS, 0));
  follower.start();
  const startedAt = performance.now();
  const metrics = (): RelayMetrics => {
    const connections = libp2p.getConnections();
    return {
      peers: new Set(connections.map((c) => c.remotePeer.toString())).size,
      reservations: libp2p.services.relay.reservations.size,
      connections: connections.length,
      ...bytes.totals(),
      roomTopics: follower.count,
      uptimeMs: Math.round(performance.now() - startedAt),
    };
  };

  let health: HealthServer | undefined;
  if (options.healthPort !== undefined) {
    try {
      health = await startHealthServer({ peerId, multiaddrs, metrics }, options.healthHost ?? host, port('healthPort', options.healthPort));
    } catch (err) {
      follower.stop();
      await libp2p.stop();
      throw new NetcodeError('Relay', `health endpoint could not listen on port ${options.healthPort}: ${String(err)}`, { healthPort: options.healthPort });
    }
  }

  let closing: Promise<void> | undefined;
  return {
    peerId,
    multiaddrs,
    wsMultiaddrs: multiaddrs.filter((a) => /\/(ws|wss|tls\/ws)\//.test(a)),
    tcpMultiaddrs: multiaddrs.filter((a) => /\/tcp\/\d+\/p2p\//.test(a)),
    healthUrl: health?.url,
    keyFile: key?.path,
    keyCreated: key?.created ?? false,
    keyWarning: key?.warning,
    libp2p,
    metrics,
    close: () => {
      closing ??= (async () => {
        follower.stop();
        await health?.close();
        await libp2p.stop();
      })();
      return closing;
    },
  };

  function createRelayNode(): Promise<Libp2p<RelayServices>> {
    return createLibp2pNode({
      ...(privateKey === undefined ? {} : { privateKey }),
      start: false,
      addresses: {
        listen: [`/${family}/${host}/tcp/${tcpPort}`, `/${family}/${host}/tcp/${wsPort}/ws`],
        ...(options.announce !== undefined && options.announce.length > 0 ? { announce: [...options.announce] } : {}),
      },
      transports: [tcp(), webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      metrics: bytes.metrics,
      connectionGater: { denyDialMultiaddr: () => false },
      connectionManager: {
        maxConnections: count('maxConnections', options.maxConnections ?? DEFAULT_RELAY_MAX_CONNECTIONS, 1),
        inboundConnectionThreshold: count('connectionsPerIpPerSecond', options.connectionsPerIpPerSecond ?? DEFAULT_CONNECTIONS_PER_IP_PER_SECOND, 1),
        maxIncomingPendingConnections: count('maxPendingConnections', options.maxPendingConnections ?? DEFAULT_MAX_PENDING_CONNECTIONS, 1),
        allow: [...(options.allow ?? [])],
      },
      peerDiscovery: discoveryTopics.length === 0
        ? []
        : [pubsubPeerDiscovery({ topics: [...discoveryTopics], interval: options.discoveryIntervalMs ?? DEFAULT_RELAY_DISCOVERY_INTERVAL_MS })],
      services: {
        identify: identify(),
        ping: ping(),
        relay: circuitRelayServer({
          reservations: {
            maxReservations,
            reservationTtl: options.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS,
            applyDefaultLimit: true,
            defaultDurationLimit: options.relayedDurationMs ?? DEFAULT_RELAYED_DURATION_MS,
            defaultDataLimit: BigInt(relayedDataBytes),
          },
        }),
        pubsub: gossipsub({
          globalSignaturePolicy: 'StrictSign',
          allowPublishToZeroTopicPeers: true,
          // The relay is the hub of small rooms: keep more mesh peers per topic than the default 6.
          D: 12, Dlo: 8, Dhi: 24,
          scoreParams: { IPColocationFactorWeight: 0 },
        }),
      },
    });
  }
}

// createLibp2p is imported lazily so the Node polyfills are in place before libp2p loads.
async function createLibp2pNode(init: import('libp2p').Libp2pOptions<RelayServices>): Promise<Libp2p<RelayServices>> {
  const { createLibp2p } = await import('libp2p');
  return createLibp2p<RelayServices>(init);
}

function port(option: string, value: number): number {
  if (!(Number.isInteger(value) && value >= 0 && value <= 65535)) {
    throw new NetcodeError('InvalidConfig', `${option} must be an integer in 0..65535, got ${value}`, { option, value });
  }
  return value;
}

function count(option: string, value: number, min: number): number {
  if (!(Number.isInteger(value) && value >= min)) {
    throw new NetcodeError('InvalidConfig', `${option} must be an integer >= ${min}, got ${value}`, { option, value });
  }
  return value;
}
