/**
 * Options of `startRelay`: defaults (shapes, units) of the relay's limits and addresses.
 * Durations are ms, sizes bytes, unless named otherwise.
 */
import type { PrivateKey } from '@libp2p/interface';

/** Address the relay listens on unless told otherwise: loopback only. */
export const DEFAULT_RELAY_HOST = '127.0.0.1';
/** Most simultaneous reservations (peers reachable through the relay). */
export const DEFAULT_MAX_RESERVATIONS = 128;
/** Reservation lifetime before the client must refresh it, ms (2 h, libp2p's default). */
export const DEFAULT_RESERVATION_TTL_MS = 2 * 60 * 60 * 1000;
/** Longest life of one relayed connection, ms (10 min; libp2p's default is 2 min). */
export const DEFAULT_RELAYED_DURATION_MS = 10 * 60 * 1000;
/** Most bytes over one relayed connection (64 MiB; libp2p's default is 128 KiB). */
export const DEFAULT_RELAYED_DATA_BYTES = 64 * 1024 * 1024;
/** Connection limit of the relay. */
export const DEFAULT_RELAY_MAX_CONNECTIONS = 1024;
/** Inbound connections accepted per second from one IP (libp2p's default is 5). */
export const DEFAULT_CONNECTIONS_PER_IP_PER_SECOND = 10;
/** Inbound connections allowed to be upgrading at once. */
export const DEFAULT_MAX_PENDING_CONNECTIONS = 64;
/** Interval at which the relay announces its own addresses on the discovery topics, ms. */
export const DEFAULT_RELAY_DISCOVERY_INTERVAL_MS = 10_000;
/** Most room topics the relay follows at once. */
export const DEFAULT_MAX_ROOM_TOPICS = 4096;

/** Options of `startRelay`; every field is optional. */
export interface RelayOptions {
  /** Address to listen on. Default {@link DEFAULT_RELAY_HOST}; `0.0.0.0` for every IPv4 interface. */
  readonly host?: string;
  /** TCP port for Node peers, 0..65535 (0 = any free port). Default 0. */
  readonly tcpPort?: number;
  /** WebSocket port for browsers, 0..65535 (0 = any free port). Default 0. */
  readonly wsPort?: number;
  /**
   * Public multiaddrs to advertise instead of the listen addresses, e.g.
   * `/dns4/relay.example.com/tcp/443/wss` behind a TLS proxy. Default none (advertise the listen addresses).
   */
  readonly announce?: readonly string[];
  /** Key file for a persistent peer id (created if missing, mode 600). Default none: a new id each start. */
  readonly keyFile?: string;
  /** Identity to use instead of a key file (not both). */
  readonly privateKey?: PrivateKey;
  /** Most simultaneous reservations. Default {@link DEFAULT_MAX_RESERVATIONS}. */
  readonly maxReservations?: number;
  /** Reservation lifetime, ms. Default {@link DEFAULT_RESERVATION_TTL_MS}. */
  readonly reservationTtlMs?: number;
  /** Longest life of a relayed connection, ms. Default {@link DEFAULT_RELAYED_DURATION_MS}. */
  readonly relayedDurationMs?: number;
  /** Most bytes over one relayed connection. Default {@link DEFAULT_RELAYED_DATA_BYTES}. */
  readonly relayedDataBytes?: number;
  /** Connection limit. Default {@link DEFAULT_RELAY_MAX_CONNECTIONS}. */
  readonly maxConnections?: number;
  /** Inbound connections per second per IP; more are refused. Default {@link DEFAULT_CONNECTIONS_PER_IP_PER_SECOND}. */
  readonly connectionsPerIpPerSecond?: number;
  /** Inbound connections upgrading at once. Default {@link DEFAULT_MAX_PENDING_CONNECTIONS}. */
  readonly maxPendingConnections?: number;
  /** Multiaddr CIDRs exempt from the connection limits, e.g. `/ip4/127.0.0.0/ipcidr/8`. Default none. */
  readonly allow?: readonly string[];
  /** Discovery topics the relay subscribes to (and forwards). Default `[DEFAULT_DISCOVERY_TOPIC]`. */
  readonly discoveryTopics?: readonly string[];
  /** Interval of the relay's own discovery announcements, ms. Default {@link DEFAULT_RELAY_DISCOVERY_INTERVAL_MS}. */
  readonly discoveryIntervalMs?: number;
  /** Most room topics followed at once. Default {@link DEFAULT_MAX_ROOM_TOPICS}. */
  readonly maxRoomTopics?: number;
  /** Port of the HTTP health/metrics endpoint (0 = any free port). Default: no endpoint. */
  readonly healthPort?: number;
  /** Address of the health endpoint. Default: `host`. */
  readonly healthHost?: string;
}
