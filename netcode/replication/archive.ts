/**
 * The archival peer (Node only): an always-on member of world rooms that stores each room's
 * document on disk, so a world survives every player leaving and a late joiner gets it from
 * the archive when nobody else is there. It runs next to the relay (`npm start` and
 * `npm run relay` start one) but is an ordinary peer: `createPeer` connected to the relay,
 * `joinRoom`, a {@link YRoomProvider} per room. It has no awareness state (invisible in
 * presence).
 *
 * Storage: y-leveldb's `LeveldbPersistence` in one LevelDB directory (`dir`; one process at a
 * time, LevelDB locks it), one y-leveldb document per room id. Every update of a room's
 * document is appended as it happens; every `compactEvery` updates (and at close) the room's
 * updates are merged into one. At join, the stored state is loaded into the room's document
 * before the provider starts, so the first step 2 it sends already holds it.
 *
 * Which rooms: those whose id starts with `roomPrefix` (default `world`; `''` for every room),
 * at most `maxRooms` at once. The archive joins a room when
 * - it starts, for every room it has stored (so a restarted archive serves its worlds at once;
 *   `startArchive` resolves once they are joined);
 * - the room's gossipsub topic shows up: the relay subscribes to a room's topic as soon as a
 *   page joins the room (relay/room-topics.ts) and gossipsub tells the relay's neighbours, the
 *   archive among them (`subscription-change`). With `relayPubsub` (the relay runs in the same
 *   process), the relay's own subscriptions and its peers' are watched directly, which also
 *   covers rooms that existed before the archive started. Pages do nothing special.
 * - `join(roomId)` is called.
 * Rooms stay joined until the archive closes.
 *
 * @example
 * ```ts
 * const relay = await startRelay({ tcpPort: 9091, wsPort: 9090 });
 * const archive = await startArchive({ relays: relay.tcpMultiaddrs, dir: '.peercompute/archive', relayPubsub: relay.libp2p.services.pubsub });
 * // a page joins 'world-1' -> the archive joins it, stores every change, serves late joiners
 * await archive.close();
 * ```
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { SubscriptionChangeData } from '@libp2p/gossipsub';
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import { LeveldbPersistence } from 'y-leveldb';
import { NetcodeError } from '../errors.ts';
import { createPeer, joinRoom, type JoinRoomOptions, type Peer, type PeerOptions } from '../libp2p/index.ts';
import { ROOM_ID_PATTERN, ROOM_TOPIC_PREFIX } from '../libp2p/names.ts';
import type { RoomTransport } from '../transport/types.ts';
import { YRoomProvider, type YRoomProviderOptions } from './provider.ts';

/** Rooms archived unless told otherwise: ids starting with `world`. */
export const DEFAULT_ARCHIVE_ROOM_PREFIX = 'world';
/** Most rooms archived at once. */
export const DEFAULT_ARCHIVE_MAX_ROOMS = 256;
/** Stored updates of a room after which they are merged into one. */
export const DEFAULT_ARCHIVE_COMPACT_EVERY = 500;

/** Something with gossipsub's topic events: the relay's pubsub (`relay.libp2p.services.pubsub`). */
export interface TopicSource {
  getTopics(): string[];
  addEventListener(type: 'subscription-change', listener: (e: CustomEvent<SubscriptionChangeData>) => void): void;
  removeEventListener(type: 'subscription-change', listener: (e: CustomEvent<SubscriptionChangeData>) => void): void;
}

/** Options of {@link startArchive}. */
export interface ArchiveOptions {
  /** Relay multiaddrs to connect to (Node: the relay's `tcpMultiaddrs`). At least one. */
  readonly relays: readonly string[];
  /** LevelDB directory, created if missing. One archive process per directory. */
  readonly dir: string;
  /** Archive rooms whose id starts with this; `''` for all. Default {@link DEFAULT_ARCHIVE_ROOM_PREFIX}. */
  readonly roomPrefix?: string;
  /** Most rooms at once; further ones are logged and ignored. Default {@link DEFAULT_ARCHIVE_MAX_ROOMS}. */
  readonly maxRooms?: number;
  /** Join every stored room (matching the prefix) at start. Default `true`. */
  readonly joinStored?: boolean;
  /** Merge a room's stored updates every this many updates. Default {@link DEFAULT_ARCHIVE_COMPACT_EVERY}. */
  readonly compactEvery?: number;
  /** The relay's gossipsub when it runs in this process: rooms are found from its subscriptions. */
  readonly relayPubsub?: TopicSource;
  /** More options of the archive's peer (`allow`, `listen`, `privateKey`, ...). */
  readonly peer?: Omit<PeerOptions, 'relays'>;
  /** Options of each room joined. */
  readonly room?: JoinRoomOptions;
  /** Options of each room's provider (the awareness is the archive's own). */
  readonly provider?: Omit<YRoomProviderOptions, 'awareness'>;
  /** Where status lines go. Default `console.log` prefixed with `archive: `. */
  readonly log?: (line: string) => void;
}

/** Counters of an archive. */
export interface ArchiveStats {
  /** Rooms joined now. */
  readonly rooms: number;
  /** Updates written since start, and their bytes. */
  readonly updatesStored: number;
  readonly bytesStored: number;
  /** Rooms not joined because `maxRooms` was reached. */
  readonly roomsRefused: number;
}

/** A running archive, from {@link startArchive}. */
export interface Archive {
  /** The archive peer's id (a member of every archived room). */
  readonly peerId: string;
  /** Absolute path of the LevelDB directory. */
  readonly dir: string;
  readonly roomPrefix: string;
  /** The peer (escape hatch). */
  readonly peer: Peer;
  /** Ids of the rooms joined, sorted. */
  rooms(): string[];
  /** The document of a joined room. */
  doc(roomId: string): Y.Doc | undefined;
  /** The provider of a joined room. */
  provider(roomId: string): YRoomProvider | undefined;
  /**
   * Joins `roomId` (loading what is stored) unless already joined; resolves once its provider runs.
   * @throws (rejects) NetcodeError `InvalidConfig` for an id that is not a valid room id or lacks
   *   the prefix, or when `maxRooms` rooms are joined; `Closed` after `close()`.
   */
  join(roomId: string): Promise<void>;
  stats(): ArchiveStats;
  /** Leaves every room, writes and merges what is pending, closes the database and the peer. Idempotent. */
  close(): Promise<void>;
}

interface Held {
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  readonly room: RoomTransport;
  readonly provider: YRoomProvider;
  readonly stopStoring: () => void;
}

/**
 * Opens the LevelDB directory, starts the archive's peer and joins the stored rooms (resolves
 * once they are joined; rooms that fail to join are logged, not thrown).
 * @throws NetcodeError `Persistence` when the directory cannot be created or opened (another
 *   process holds it, permissions); `InvalidConfig` for a bad option; `DialFailed` when no relay
 *   answers (from createPeer). Nothing stays open after a throw.
 */
export async function startArchive(options: ArchiveOptions): Promise<Archive> {
  const dir = path.resolve(options.dir);
  const roomPrefix = options.roomPrefix ?? DEFAULT_ARCHIVE_ROOM_PREFIX;
  if (typeof roomPrefix !== 'string' || !/^[A-Za-z0-9._~-]{0,63}$/.test(roomPrefix)) {
    throw new NetcodeError('InvalidConfig', `archive: roomPrefix must be up to 63 characters of A-Z a-z 0-9 . _ ~ -, got "${String(roomPrefix)}"`, { option: 'roomPrefix' });
  }
  const maxRooms = integer('maxRooms', options.maxRooms ?? DEFAULT_ARCHIVE_MAX_ROOMS);
  const compactEvery = integer('compactEvery', options.compactEvery ?? DEFAULT_ARCHIVE_COMPACT_EVERY);
  const log = options.log ?? ((line: string) => console.log(`archive: ${line}`));

  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new NetcodeError('Persistence', `archive: cannot create directory ${dir}: ${(err as Error).message}`, { dir });
  }
  const store = new LeveldbPersistence(dir);
  const openError = await store._transact(async (db) => {
    try {
      await db.open();
      return undefined;
    } catch (err) {
      const e = err as Error & { cause?: Error };
      return `${e.message}${e.cause === undefined ? '' : ` (${e.cause.message})`}`;
    }
  });
  if (openError !== undefined && openError !== null) {
    await store.destroy().catch(() => {});
    throw new NetcodeError('Persistence', `archive: cannot open LevelDB directory ${dir}: ${openError}. Is another archive using it?`, { dir });
  }

  let peer: Peer;
  try {
    peer = await createPeer({ ...options.peer, relays: options.relays });
  } catch (err) {
    await store.destroy().catch(() => {});
    throw err;
  }

  const held = new Map<string, Held>();
  const joining = new Map<string, Promise<void>>();
  const refused = new Set<string>();
  /** Rooms with updates stored since start (merged at close). */
  const dirty = new Set<string>();
  const counts = { updatesStored: 0, bytesStored: 0 };
  let closing: Promise<void> | undefined;

  const wanted = (roomId: string): boolean => roomId.startsWith(roomPrefix) && ROOM_ID_PATTERN.test(roomId);

  const open = async (roomId: string): Promise<void> => {
    const doc = await store.getYDoc(roomId) ?? new Y.Doc();
    if (closing !== undefined) {
      doc.destroy();
      throw closedError();
    }
    let sinceCompact = 0;
    const onUpdate = (update: Uint8Array): void => {
      dirty.add(roomId);
      counts.updatesStored++;
      counts.bytesStored += update.length;
      void store.storeUpdate(roomId, update);
      if (++sinceCompact >= compactEvery) {
        sinceCompact = 0;
        void store.flushDocument(roomId);
      }
    };
    doc.on('update', onUpdate);
    let room: RoomTransport;
    try {
      room = await joinRoom(peer, roomId, options.room);
    } catch (err) {
      doc.off('update', onUpdate);
      doc.destroy();
      throw err;
    }
    const awareness = new Awareness(doc);
    awareness.setLocalState(null);
    const provider = new YRoomProvider(doc, room, { ...options.provider, awareness });
    held.set(roomId, { doc, awareness, room, provider, stopStoring: () => doc.off('update', onUpdate) });
    log(`joined room ${roomId} (${Y.encodeStateAsUpdate(doc).length} bytes stored)`);
  };

  const join = (roomId: string): Promise<void> => {
    if (closing !== undefined) return Promise.reject(closedError());
    if (typeof roomId !== 'string' || !wanted(roomId)) {
      return Promise.reject(new NetcodeError('InvalidConfig', `archive: room id "${String(roomId)}" is not a valid room id starting with "${roomPrefix}"`, { roomId }));
    }
    if (held.has(roomId)) return Promise.resolve();
    const pending = joining.get(roomId);
    if (pending !== undefined) return pending;
    if (held.size + joining.size >= maxRooms) {
      refused.add(roomId);
      return Promise.reject(new NetcodeError('InvalidConfig', `archive: already holds ${maxRooms} rooms (maxRooms); not archiving ${roomId}`, { roomId, maxRooms }));
    }
    const p = open(roomId).finally(() => joining.delete(roomId));
    joining.set(roomId, p);
    return p;
  };

  /** Joins a room found by watching topics (or in the store); logs instead of throwing. */
  const found = (topic: string): Promise<void> => {
    if (!topic.startsWith(ROOM_TOPIC_PREFIX)) return Promise.resolve();
    const roomId = topic.slice(ROOM_TOPIC_PREFIX.length);
    if (!wanted(roomId) || held.has(roomId) || joining.has(roomId) || closing !== undefined) return Promise.resolve();
    return join(roomId).catch((err: unknown) => {
      if (closing !== undefined) return;
      if (refused.has(roomId)) log(`not archiving room ${roomId}: ${maxRooms} rooms already (maxRooms)`);
      else log(`could not join room ${roomId}: ${(err as Error).message}`);
    });
  };
  const onSubscriptionChange = (e: CustomEvent<SubscriptionChangeData>): void => {
    for (const s of e.detail.subscriptions) if (s.subscribe) void found(s.topic);
  };
  const ownPubsub = peer.libp2p.services.pubsub;
  ownPubsub.addEventListener('subscription-change', onSubscriptionChange);
  options.relayPubsub?.addEventListener('subscription-change', onSubscriptionChange);
  for (const topic of options.relayPubsub?.getTopics() ?? []) void found(topic);

  if (options.joinStored ?? true) {
    const names = (await store.getAllDocNames()) ?? [];
    await Promise.all(names.map((name) => found(ROOM_TOPIC_PREFIX + name)));
  }
  log(`peer ${peer.peerId} archiving rooms "${roomPrefix}*" in ${dir}`);

  return {
    peerId: peer.peerId,
    dir,
    roomPrefix,
    peer,
    rooms: () => [...held.keys()].sort(),
    doc: (roomId) => held.get(roomId)?.doc,
    provider: (roomId) => held.get(roomId)?.provider,
    join,
    stats: () => ({ rooms: held.size, ...counts, roomsRefused: refused.size }),
    close: () => {
      closing ??= (async () => {
        ownPubsub.removeEventListener('subscription-change', onSubscriptionChange);
        options.relayPubsub?.removeEventListener('subscription-change', onSubscriptionChange);
        await Promise.allSettled([...joining.values()]);
        for (const h of held.values()) h.provider.destroy();
        await peer.close();
        for (const [roomId, h] of held) {
          h.stopStoring();
          if (dirty.has(roomId)) await store.flushDocument(roomId);
          h.awareness.destroy();
          h.doc.destroy();
        }
        held.clear();
        await store.destroy();
      })();
      return closing;
    },
  };
}

function closedError(): NetcodeError {
  return new NetcodeError('Closed', 'archive is closed');
}

function integer(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new NetcodeError('InvalidConfig', `archive: ${option} must be an integer >= 1, got ${String(value)}`, { option, value });
  return value;
}
