/**
 * The libp2p room transport (browser and Node): `createPeer` + `joinRoom`. Browser-safe:
 * Node-only modules (polyfills, TCP) load through dynamic imports inside `createPeer`.
 *
 * @example
 * ```ts
 * const peer = await createPeer({ relays: ['/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooW...'] });
 * const room = await joinRoom(peer, 'lobby');            // RoomTransport
 * room.on('message', ({ from, channel, data }) => console.log(from, channel, data));
 * room.broadcast('chat', new TextEncoder().encode('hi'));
 * await peer.close();
 * ```
 */
export {
  createPeer, Libp2pPeer,
  DEFAULT_NODE_LISTEN, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_DISCOVERY_INTERVAL_MS,
  DEFAULT_MAX_CONNECTIONS, DEFAULT_INBOUND_CONNECTIONS_PER_SECOND, DEFAULT_RESERVATION_WAIT_MS,
} from './peer.ts';
export type { Peer, PeerOptions } from './peer.ts';
export { joinRoom } from './room.ts';
export { closeWithPage } from './page-lifecycle.ts';
export {
  MAX_MAX_FRAME_BYTES, DEFAULT_KEEP_ALIVE_MS, DEFAULT_TIMEOUT_MS, DEFAULT_JOIN_GRACE_MS, DEFAULT_DIAL_GRACE_MS,
  DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_PEERS,
} from './room-options.ts';
export type { JoinRoomOptions } from './room-options.ts';
export { chooseTopology, DEFAULT_MESH_MAX_PEERS, DEFAULT_GOSSIP_MIN_PEERS } from './topology.ts';
export type { TopologySetting } from './topology.ts';
export type { RelayStatus } from './relay-links.ts';
export type { BackoffOptions } from './backoff.ts';
export type { PeerServices } from './create-libp2p.ts';
export type { RuntimeKind } from './runtime.ts';
export { DEFAULT_DISCOVERY_TOPIC, ROOM_TOPIC_PREFIX, ROOM_PROTOCOL_PREFIX, ROOM_ID_PATTERN } from './names.ts';
