/**
 * The relay server: the front door of `netcode/relay/` (Node-only; browsers import
 * `netcode/index.ts`, never this). Run it standalone with `npm run relay -- --help`.
 *
 * @example
 * ```ts
 * import { startRelay } from './netcode/relay/index.ts';
 * const relay = await startRelay({ wsPort: 9090, tcpPort: 9091, keyFile: 'relay-key.json', healthPort: 9092 });
 * // Give peers relay.wsMultiaddrs (browsers) or relay.tcpMultiaddrs (Node) as `relays`.
 * ```
 */
export { startRelay } from './relay.ts';
export type { Relay, RelayMetrics, RelayServices } from './relay.ts';
export {
  DEFAULT_RELAY_HOST, DEFAULT_MAX_RESERVATIONS, DEFAULT_RESERVATION_TTL_MS, DEFAULT_RELAYED_DURATION_MS,
  DEFAULT_RELAYED_DATA_BYTES, DEFAULT_RELAY_MAX_CONNECTIONS, DEFAULT_CONNECTIONS_PER_IP_PER_SECOND,
  DEFAULT_MAX_PENDING_CONNECTIONS, DEFAULT_RELAY_DISCOVERY_INTERVAL_MS, DEFAULT_MAX_ROOM_TOPICS,
} from './relay-options.ts';
export type { RelayOptions } from './relay-options.ts';
export { loadOrCreateKey } from './key-file.ts';
export type { KeyFileResult } from './key-file.ts';
export { closeOnSignals, isMainModule } from './process.ts';
// The archival peer that runs next to the relay (replication/archive.ts; Node only: LevelDB).
export {
  startArchive, DEFAULT_ARCHIVE_ROOM_PREFIX, DEFAULT_ARCHIVE_MAX_ROOMS, DEFAULT_ARCHIVE_COMPACT_EVERY,
} from '../replication/archive.ts';
export type { Archive, ArchiveOptions, ArchiveStats, TopicSource } from '../replication/archive.ts';
export type { CloseOnSignalsOptions } from './process.ts';

// Node persistence of a replicated document (y-leveldb), the twin of persistInBrowser.
export { persistInLevelDb } from '../replication/leveldb-persistence.ts';
export type { LevelDbPersistence } from '../replication/leveldb-persistence.ts';
