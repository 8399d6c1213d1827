/**
 * Topology choice of a room.
 *
 * - `mesh`: every member keeps a direct connection (TCP, WebSocket or WebRTC) to every other;
 *   where a direct connection cannot be made, that pair falls back to a relayed connection.
 * - `relay-star`: every unicast goes over a relayed connection through the relay, no direct
 *   connection is attempted (networks where direct connections never work).
 * - `gossip`: no connections are kept per member; membership and broadcast travel over
 *   gossipsub, and a unicast opens a connection (direct if possible) on first use.
 *
 * `'auto'` picks by room size n (members including ourselves): `mesh` while
 * n <= meshMaxPeers (default 8), `gossip` once n > gossipMinPeers (default 16), and in between
 * keeps the current topology (hysteresis, so a room hovering at a threshold does not flap).
 */
import type { Topology } from '../transport/types.ts';

/** A topology, or `'auto'` to choose by room size. */
export type TopologySetting = 'auto' | Topology;

/** Largest room (members including us) that `'auto'` runs as a full mesh. */
export const DEFAULT_MESH_MAX_PEERS = 8;
/** Room size above which `'auto'` switches to gossip. */
export const DEFAULT_GOSSIP_MIN_PEERS = 16;

/**
 * Topology for a room of `roomSize` members (including us).
 * @param current The topology in use (returned between the thresholds).
 */
export function chooseTopology(
  setting: TopologySetting,
  roomSize: number,
  current: Topology,
  meshMaxPeers: number = DEFAULT_MESH_MAX_PEERS,
  gossipMinPeers: number = DEFAULT_GOSSIP_MIN_PEERS,
): Topology {
  if (setting !== 'auto') return setting;
  if (roomSize <= meshMaxPeers) return 'mesh';
  if (roomSize > gossipMinPeers) return 'gossip';
  return current === 'gossip' ? 'gossip' : 'mesh';
}
