/**
 * Names on the wire shared by peers and the relay: gossipsub topics and the stream protocol.
 * Changing any of them splits the network, so they carry a version.
 */

/**
 * Default pubsub peer discovery topic. Peers announce their addresses on it and the relay
 * subscribes to it so gossipsub forwards it. Room membership does not depend on it.
 */
export const DEFAULT_DISCOVERY_TOPIC = 'peercompute._peer-discovery._p2p._pubsub';

/** Prefix of every room's gossipsub topic; the relay subscribes to topics under it on demand. */
export const ROOM_TOPIC_PREFIX = 'peercompute/room/1/';

/** Prefix of every room's stream protocol id (length-prefixed frames, see wire.ts). */
export const ROOM_PROTOCOL_PREFIX = '/peercompute/room/1.0.0/';

/** Room ids: 1 to 64 characters from `A-Z a-z 0-9 . _ ~ -` (they appear in topics and protocol ids). */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9._~-]{1,64}$/;

/** Gossipsub topic of room `roomId` (already validated against {@link ROOM_ID_PATTERN}). */
export function roomTopic(roomId: string): string {
  return ROOM_TOPIC_PREFIX + roomId;
}

/** Stream protocol id of room `roomId` (already validated against {@link ROOM_ID_PATTERN}). */
export function roomProtocol(roomId: string): string {
  return ROOM_PROTOCOL_PREFIX + roomId;
}
