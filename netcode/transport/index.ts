/**
 * The transport seam of the netcode area: the {@link RoomTransport} interface, an in-memory
 * implementation with a seeded network conditioner, and a wrapper that puts the conditioner in
 * front of any transport.
 *
 * @example
 * ```ts
 * import { MemoryNetwork, conditionTransport } from './transport/index.ts';
 *
 * // Tests: deterministic virtual time, 40 ms one way, 10 % Gilbert-Elliott burst loss.
 * const net = new MemoryNetwork({ seed: 7, clock: 'manual', conditioner: { latencyMs: 40, loss: { p: 0.02, r: 0.18 } } });
 * const [a, b] = [await net.join('room'), await net.join('room')];
 * net.advance(40); // both see peer:join
 * a.send(b.localPeerId, 'rollback', new Uint8Array([1, 2, 3]));
 * net.advance(100);
 *
 * // Demos: "bad network" toggle in front of the real transport.
 * const room = conditionTransport(libp2pRoom, { conditioner: { latencyMs: 100, jitterMs: 30, loss: 0.05 } });
 * room.setConditioner(undefined); // toggle off
 * ```
 */
export { DEFAULT_MAX_FRAME_BYTES } from './types.ts';
export type {
  Channel, ConnectionKind, MessageEvent, PeerId, PeerStats, RoomTransport, Topology, TransportEvents, TransportStats,
} from './types.ts';

export { ManualClock, RealClock } from './clock.ts';
export type { Clock } from './clock.ts';

export {
  DEFAULT_MAX_RETRANSMITS, DEFAULT_MIN_RTO_MS, DEFAULT_REORDER_DELAY_MS, MAX_RTO_MS,
  LinkConditioner, NetworkConditioner, conditionTransport, gilbertElliottLossRate, linkSeed, resolveConditionerOptions,
} from './conditioner.ts';
export type {
  ConditionTransportOptions, ConditionedTransport, ConditionerOptions, GilbertElliottOptions, ResolvedConditionerOptions,
  Transmission,
} from './conditioner.ts';

export {
  BROADCAST_DEDUP_WINDOW, DEFAULT_PEER_TIMEOUT_MS, DEFAULT_PING_INTERVAL_MS, MAX_CHANNEL_BYTES, MEMORY_FRAME_MAX_HEADER_BYTES,
  MemoryNetwork, MemoryRoomTransport, decodeMemoryFrame, encodeMemoryFrame,
} from './memory.ts';
export type { MalformedFrame, MemoryFrame, MemoryJoinOptions, MemoryNetworkOptions } from './memory.ts';
