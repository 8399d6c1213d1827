/**
 * PeerCompute netcode: the front door of the `netcode` area (browser-safe). Rooms of peers
 * exchanging bytes behind one small interface, {@link RoomTransport}: the libp2p transport
 * (`createPeer` + `joinRoom`, browser and Node) and the in-memory transport with its network
 * conditioner (tests, demos). The relay server is Node-only: `netcode/relay/index.ts`.
 *
 * @example
 * ```ts
 * import { createPeer, joinRoom } from 'peercompute/netcode';
 * const peer = await createPeer({ relays: ['/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooW...'] });
 * const room = await joinRoom(peer, 'lobby');
 * room.on('peer:join', ({ peerId }) => room.send(peerId, 'hello', new Uint8Array([1])));
 *
 * // In a page served by `npm start`: the relay comes from the dev server (or ?relay=...).
 * const { relays } = await discoverRelays();
 * ```
 */
export { NetcodeError } from './errors.ts';
export type { DropEvent, DropReason, NetcodeErrorCode } from './errors.ts';
// The transport seam and the in-memory transport: transport/index.ts lists them explicitly.
export * from './transport/index.ts';

// The libp2p transport (browser and Node).
export {
  createPeer, joinRoom, closeWithPage, chooseTopology,
  DEFAULT_NODE_LISTEN, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_DISCOVERY_INTERVAL_MS,
  DEFAULT_MAX_CONNECTIONS, DEFAULT_INBOUND_CONNECTIONS_PER_SECOND, DEFAULT_RESERVATION_WAIT_MS,
  MAX_MAX_FRAME_BYTES, DEFAULT_KEEP_ALIVE_MS, DEFAULT_TIMEOUT_MS, DEFAULT_JOIN_GRACE_MS, DEFAULT_DIAL_GRACE_MS,
  DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_PEERS, DEFAULT_MESH_MAX_PEERS, DEFAULT_GOSSIP_MIN_PEERS,
  DEFAULT_DISCOVERY_TOPIC, ROOM_TOPIC_PREFIX, ROOM_PROTOCOL_PREFIX, ROOM_ID_PATTERN,
} from './libp2p/index.ts';

// How a page finds its relays: `?relay=` or the main job's /peercompute/config.json.
export {
  discoverRelays, fetchRelayConfig, relaysFromQuery, parseRelayConfig, checkRelayAddr,
  RELAY_CONFIG_PATH, RELAY_QUERY_PARAM, DEFAULT_RELAY_CONFIG_TIMEOUT_MS,
} from './libp2p/discover-relays.ts';
export type {
  RelayConfig, RelaySource, DiscoveredRelays, FetchRelayConfigOptions, DiscoverRelaysOptions,
} from './libp2p/discover-relays.ts';
export type {
  Peer, PeerOptions, JoinRoomOptions, TopologySetting, RelayStatus, BackoffOptions, PeerServices, RuntimeKind,
} from './libp2p/index.ts';

// Rollback sessions (GGPO-style) and their engine integration: rollback/index.ts lists them explicitly.
export * from './rollback/index.ts';

// Yjs documents replicated over rooms (y-protocols sync and awareness), browser persistence:
// replication/index.ts lists them explicitly. The archival peer is Node-only (relay/index.ts).
export * from './replication/index.ts';

// Compute shared across a room's peers (kernel names and bytes, verified results):
// compute/index.ts lists them explicitly.
export * from './compute/index.ts';
