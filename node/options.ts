/**
 * Options of `createNode`, with their defaults and checks. Every field is optional: an empty
 * object gives an offline node (a world ticking at 60 Hz, compute on WebGPU when there is one,
 * else the CPU twins), which is what a single-player game or a test needs.
 */
import type { GameWorld, InputSource, PhysicsOptions, Scheduler } from '../engine/index.ts';
import type {
  PeerId, PeerOptions, ReplicatedComponent, RoomTransport, TopologySetting, VerifyMode,
} from '../netcode/index.ts';
import { NodeError } from './errors.ts';

/** Default of {@link NodeOptions.tickRate}, ticks per second. */
export const DEFAULT_NODE_TICK_RATE = 60;
/** Most players of a rollback session (GGPO-style sessions here support 2-8). */
export const MAX_ROLLBACK_PLAYERS = 8;

/** Where the room is and how to reach it. */
export interface NodeNetworkOptions {
  /** Room id (1-64 of `A-Z a-z 0-9 . _ ~ -`). */
  readonly room: string;
  /**
   * Relay multiaddrs. Browser default: what the main job serves at `/peercompute/config.json`
   * (or `?relay=`). Node: required unless `transport` is given.
   */
  readonly relays?: readonly string[];
  /** A transport to use instead of libp2p (an in-memory room in tests). `stop()` closes it. */
  readonly transport?: RoomTransport;
  /** Extra options of `createPeer` (listen addresses, timeouts, private key). */
  readonly peer?: Omit<PeerOptions, 'relays'>;
}

/** A replicated world: components travel through the room's Yjs document. */
export interface ReplicationSessionOptions {
  readonly kind: 'replication';
  /** Replicated components, the same list in the same order on every peer. */
  readonly components: readonly ReplicatedComponent[];
  /** Network ticks per second of the replicator; default its own default (20). */
  readonly networkHz?: number;
  /** Presence published in awareness (a name, a colour); default none. */
  readonly presence?: Record<string, unknown>;
}

/** What a rollback match tells the game factory. */
export interface RollbackMatch {
  /** Every player's peer id, by slot (sorted ids: the same on every peer). */
  readonly peers: readonly PeerId[];
  /** This node's slot. */
  readonly localSlot: number;
}

/** A game made for a rollback match. */
export interface RollbackGame {
  readonly world: GameWorld;
  readonly scheduler: Scheduler;
  /** Entity of each slot's player (index = slot), each with `PlayerInput`. */
  readonly players: readonly number[];
}

/**
 * A GGPO-style rollback session. The match starts when `players` peers (this one included) are
 * in the room; slots go by sorted peer id, so every peer agrees without a host. The game is made
 * then by `createGame` (its entities usually depend on the slots).
 */
export interface RollbackSessionOptions {
  readonly kind: 'rollback';
  /** Players, an integer 2..8. */
  readonly players: number;
  /** Input delay, frames; default 2 (GGPO's sample value). */
  readonly inputDelay?: number;
  /** Builds the world for the match; called once, when the match starts. */
  createGame(match: RollbackMatch): RollbackGame;
  /**
   * Called with the checksum of every saved frame (again after a rollback re-saves it: the
   * last call for a frame holds its final state). Compare confirmed frames across peers.
   */
  onChecksum?(frame: number, checksum: number): void;
}

/** Options of `createNode`. */
export interface NodeOptions {
  /**
   * An existing world and its scheduler (a demo's game). Default: a new world with `seed`,
   * `tickRate` and `maxEntities`. Not used with a rollback session (its game comes from
   * `createGame`).
   */
  readonly world?: GameWorld;
  readonly scheduler?: Scheduler;
  /** Seed of a new world's PRNG; default 1. */
  readonly seed?: number;
  /** Ticks per second of a new world; default {@link DEFAULT_NODE_TICK_RATE}. */
  readonly tickRate?: number;
  /** Capacity of a new world; default the engine's (`DEFAULT_MAX_ENTITIES`). */
  readonly maxEntities?: number;
  /**
   * Rapier physics in the Physics phase: `true` for defaults, or its options; default off. Not
   * applied with a rollback session: its `createGame` sets up its own physics.
   */
  readonly physics?: boolean | PhysicsOptions;
  /**
   * This peer's input, sampled once per tick: a browser sampler, a bot, a script. Without a
   * rollback session it feeds the world's `LocalPlayer` entities (Input phase); with one it is
   * the session's local input. Default none.
   */
  readonly input?: InputSource;
  /** Join a room; default: offline. */
  readonly network?: NodeNetworkOptions;
  /**
   * How the room carries messages (libp2p rooms): `'auto'` (default: full mesh up to 8 members,
   * then gossip), `'mesh'`, `'relay-star'` or `'gossip'`. Ignored with an injected transport.
   */
  readonly topology?: TopologySetting;
  /** What the room shares; default none (the room is used for compute and presence only). */
  readonly session?: ReplicationSessionOptions | RollbackSessionOptions;
  /**
   * Where a replicated document is kept between runs, loaded before the room is joined (so the
   * first sync carries it): `'memory'` (default: not kept), `'indexeddb'` (browser) or
   * `{ leveldb: dir }` (Node: a LevelDB directory, one process at a time).
   */
  readonly storage?: 'memory' | 'indexeddb' | { readonly leveldb: string };
  /**
   * WebGPU for kernels: `'auto'` (default) uses it when there is a usable device, `'off'` never,
   * `'require'` fails `start()` with `NoWebGpu` without one.
   */
  readonly webgpu?: 'auto' | 'off' | 'require';
  /**
   * CPU kernels in workers: the pool size, 0 for none (tasks then run on the calling thread);
   * default 0 in Node, `hardwareConcurrency - 1` (at least 1) in a browser.
   */
  readonly workers?: number;
  /**
   * Share compute with the room (needs `network`): `true` (default when networked) advertises
   * this peer's capability and runs others' tasks; an object sets the verification
   * (`'spot-check'` by default) and the slots offered.
   */
  readonly roomCompute?: boolean | { readonly verify?: VerifyMode; readonly slots?: number };
  /**
   * How ticks run: `'auto'` (default) on a timer in Node and in pages without a scene, or by the
   * Babylon plugin from the render loop when `babylon` is given; `'manual'`: the caller calls
   * `scheduler.step()`/`advance()`.
   */
  readonly tick?: 'auto' | 'manual';
  /**
   * Browser: attach the Babylon plugin to this scene (`attachPeerCompute`: meshes follow
   * entities, interpolation, overlay). It then drives the ticks from the render loop.
   */
  readonly babylon?: { readonly scene: unknown; readonly overlay?: boolean };
}

function invalid(option: string, value: unknown, rule: string): NodeError {
  return new NodeError('InvalidConfig', `createNode option ${option} ${rule}, got ${JSON.stringify(value) ?? String(value)}`, { option, value });
}

/**
 * Checks the options that can be checked before anything starts.
 * @throws NodeError `InvalidConfig` naming the option.
 */
export function checkNodeOptions(options: NodeOptions): void {
  if (options === null || typeof options !== 'object') throw invalid('options', options, 'must be an object');
  const intIn = (name: string, value: unknown, min: number, max: number): void => {
    if (value !== undefined && (!Number.isInteger(value) || (value as number) < min || (value as number) > max)) {
      throw invalid(name, value, `must be an integer ${min}..${max}`);
    }
  };
  intIn('seed', options.seed, 0, 0xffffffff);
  intIn('tickRate', options.tickRate, 1, 1000);
  intIn('maxEntities', options.maxEntities, 1, 1 << 24);
  intIn('workers', options.workers, 0, 64);
  if ((options.world === undefined) !== (options.scheduler === undefined)) {
    throw invalid('world', options.world === undefined ? 'scheduler only' : 'world only', 'and scheduler must be given together');
  }
  if (options.world !== undefined && options.scheduler!.world !== options.world) throw invalid('scheduler', 'another world', 'must be the scheduler of world');
  for (const [name, value, allowed] of [
    ['webgpu', options.webgpu, ['auto', 'off', 'require']],
    ['tick', options.tick, ['auto', 'manual']],
    ['topology', options.topology, ['auto', 'mesh', 'relay-star', 'gossip']],
  ] as const) {
    if (value !== undefined && !(allowed as readonly string[]).includes(value)) throw invalid(name, value, `must be one of ${allowed.join(', ')}`);
  }
  const storage = options.storage;
  if (storage !== undefined && storage !== 'memory' && storage !== 'indexeddb'
    && !(typeof storage === 'object' && storage !== null && typeof storage.leveldb === 'string' && storage.leveldb !== '')) {
    throw invalid('storage', storage, "must be 'memory', 'indexeddb' or { leveldb: <directory> }");
  }
  const network = options.network;
  if (network !== undefined && (typeof network !== 'object' || typeof network.room !== 'string')) {
    throw invalid('network.room', network?.room, 'must be a room id string');
  }
  const session = options.session;
  if (session !== undefined) {
    if (network === undefined) throw invalid('session', session.kind, 'needs network (a room to share it with)');
    if (session.kind === 'rollback') {
      intIn('session.players', session.players, 2, MAX_ROLLBACK_PLAYERS);
      if (session.players === undefined) throw invalid('session.players', undefined, 'is required');
      intIn('session.inputDelay', session.inputDelay, 0, 30);
      if (typeof session.createGame !== 'function') throw invalid('session.createGame', typeof session.createGame, 'must be a function');
      if (options.world !== undefined) throw invalid('world', 'given', 'cannot be used with a rollback session (createGame makes the game)');
    } else if (session.kind === 'replication') {
      if (!Array.isArray(session.components) || session.components.length === 0) throw invalid('session.components', session.components, 'must list the replicated components');
    } else {
      throw invalid('session.kind', (session as { kind: unknown }).kind, "must be 'replication' or 'rollback'");
    }
  }
  if (options.roomCompute !== undefined && options.roomCompute !== false && network === undefined && typeof options.roomCompute === 'object') {
    throw invalid('roomCompute', options.roomCompute, 'needs network');
  }
}
