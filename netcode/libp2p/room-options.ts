/**
 * Options of `joinRoom`: the defaults (shapes, units) and their validation. Numbers are ms
 * unless named otherwise.
 */
import { NetcodeError } from '../errors.ts';
import { DEFAULT_MAX_FRAME_BYTES } from '../transport/types.ts';
import type { BackoffOptions } from './backoff.ts';
import { DEFAULT_GOSSIP_MIN_PEERS, DEFAULT_MESH_MAX_PEERS, type TopologySetting } from './topology.ts';

/** Upper bound of `maxFrameBytes`, bytes (1 MiB; gossipsub messages must stay well below 4 MiB). */
export const MAX_MAX_FRAME_BYTES = 1024 * 1024;
/** Presence heartbeat and ping interval, ms. */
export const DEFAULT_KEEP_ALIVE_MS = 1000;
/** Silence after which a member leaves, ms (GGPO's disconnect timeout). */
export const DEFAULT_TIMEOUT_MS = 5000;
/** How long messages from a not-yet-member wait for its presence, ms. */
export const DEFAULT_JOIN_GRACE_MS = 2000;
/** How long the higher peer id waits for the lower one to dial before dialling itself, ms. */
export const DEFAULT_DIAL_GRACE_MS = 1500;
/** Bytes per member that may wait for a connection before `send` throws `DialFailed` (4 MiB). */
export const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/** Most members a room admits; presence from further peers is dropped as `NotInRoom`. */
export const DEFAULT_MAX_PEERS = 256;

/** Options of `joinRoom`; every field is optional. */
export interface JoinRoomOptions {
  /** `'auto'` (default), `'mesh'`, `'relay-star'` or `'gossip'`; see topology.ts. */
  readonly topology?: TopologySetting;
  /** `'auto'`: largest room (including us) kept as a full mesh. Default 8. */
  readonly meshMaxPeers?: number;
  /** `'auto'`: room size above which the room switches to gossip. Default 16. */
  readonly gossipMinPeers?: number;
  /** Largest payload of a message, bytes, 1..1 MiB. Default DEFAULT_MAX_FRAME_BYTES (64 KiB, transport/types.ts). */
  readonly maxFrameBytes?: number;
  /** Presence heartbeat and ping interval, ms. Default 1000. */
  readonly keepAliveMs?: number;
  /** Silence after which a member is reported left, ms (> keepAliveMs). Default 5000. */
  readonly timeoutMs?: number;
  /** How long messages from a not-yet-member wait for its presence, ms. Default 2000. */
  readonly joinGraceMs?: number;
  /** How long the higher peer id waits for the lower one to dial, ms. Default 1500. */
  readonly dialGraceMs?: number;
  /** Bytes per member queued while (re)connecting before `send` throws `DialFailed`. Default 4 MiB. */
  readonly maxQueuedBytes?: number;
  /** Stream reopen backoff. Default 250 ms doubling to 4 s, +-20 % jitter. */
  readonly reconnect?: BackoffOptions;
  /**
   * Most other members admitted (a guard against identity floods, not a game's player cap);
   * presences of further peers are dropped as `NotInRoom`. Default 256.
   */
  readonly maxPeers?: number;
}

/** Options with every default filled in. */
export type ResolvedOptions = Required<Omit<JoinRoomOptions, 'reconnect'>> & { reconnect: BackoffOptions };

/**
 * Fills in defaults and checks every option.
 * @throws NetcodeError `InvalidConfig` naming the first bad option.
 */
/**
 * Fills in defaults and checks every option.
 * @throws NetcodeError `InvalidConfig` naming the first bad option.
 */
export function resolveRoomOptions(options: JoinRoomOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    topology: options.topology ?? 'auto',
    meshMaxPeers: options.meshMaxPeers ?? DEFAULT_MESH_MAX_PEERS,
    gossipMinPeers: options.gossipMinPeers ?? DEFAULT_GOSSIP_MIN_PEERS,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    keepAliveMs: options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    joinGraceMs: options.joinGraceMs ?? Math.min(DEFAULT_JOIN_GRACE_MS, options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    dialGraceMs: options.dialGraceMs ?? DEFAULT_DIAL_GRACE_MS,
    maxQueuedBytes: options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
    reconnect: options.reconnect ?? {},
    maxPeers: options.maxPeers ?? DEFAULT_MAX_PEERS,
  };
  const bad = (option: string, rule: string): never => {
    throw new NetcodeError('InvalidConfig', `${option} ${rule}, got ${String((resolved as Record<string, unknown>)[option])}`, { option });
  };
  if (!['auto', 'mesh', 'relay-star', 'gossip'].includes(resolved.topology)) bad('topology', "must be 'auto', 'mesh', 'relay-star' or 'gossip'");
  if (!(Number.isInteger(resolved.meshMaxPeers) && resolved.meshMaxPeers >= 2)) bad('meshMaxPeers', 'must be an integer >= 2');
  if (!(Number.isInteger(resolved.gossipMinPeers) && resolved.gossipMinPeers >= resolved.meshMaxPeers)) bad('gossipMinPeers', 'must be an integer >= meshMaxPeers');
  if (!(Number.isInteger(resolved.maxFrameBytes) && resolved.maxFrameBytes >= 1 && resolved.maxFrameBytes <= MAX_MAX_FRAME_BYTES)) {
    bad('maxFrameBytes', `must be an integer in 1..${MAX_MAX_FRAME_BYTES}`);
  }
  if (!(resolved.keepAliveMs > 0)) bad('keepAliveMs', 'must be > 0');
  if (!(resolved.timeoutMs > resolved.keepAliveMs)) bad('timeoutMs', 'must be > keepAliveMs');
  if (!(resolved.joinGraceMs > 0 && resolved.joinGraceMs <= resolved.timeoutMs)) bad('joinGraceMs', 'must be in (0, timeoutMs]');
  if (!(resolved.dialGraceMs >= 0)) bad('dialGraceMs', 'must be >= 0');
  if (!(resolved.maxQueuedBytes >= resolved.maxFrameBytes)) bad('maxQueuedBytes', 'must be >= maxFrameBytes');
  if (!(Number.isInteger(resolved.maxPeers) && resolved.maxPeers >= 1)) bad('maxPeers', 'must be an integer >= 1');
  return resolved;
}
