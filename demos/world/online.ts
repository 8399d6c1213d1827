/**
 * World, the network side: finds the relay, creates the libp2p peer, joins room `roomId`,
 * loads the room's document from IndexedDB, then replicates it with the room
 * (`YRoomProvider`, authority guard installed) and binds the world's components to it
 * (`replicateWorld`). Presence (names, colours) travels in awareness.
 *
 * Order matters (see `netcode/replication/ecs.ts`, "persistence"): the stored document is loaded
 * BEFORE the provider and the replicator exist, so the replicator's first read sees the stored
 * world and the provider's first sync with the room already carries it.
 *
 * The relay's archival peer (`npm start`, rooms whose id starts with `world`) is a room member
 * with no awareness state; a member that has published no presence for
 * {@link ARCHIVE_GUESS_MS} is reported as the archive (`archiveSeen`).
 */
import * as Y from 'yjs';
import {
  closeWithPage, createPeer, createRoomCompute, discoverRelays, EcsAuthority, joinRoom, persistInBrowser, RealClock, replicateWorld,
  YRoomProvider, type BrowserPersistence, type Peer, type Replicator, type RoomCompute, type RoomTransport,
} from '../../netcode/index.ts';
import { encodeTerrainChunkInput, getKernel, prepareKernelTask, runKernel } from '../../shaders/index.ts';
import { hasComponent, Phase, query, storeOf } from '../../engine/index.ts';
import {
  Avatar, Block, BlockState, createBlockCleanupSystem, liveBlocks, markRemoved, PALETTE, placeBlockAt, spawnerOf, WORLD_COMPONENTS,
  type WorldGame,
} from './game.ts';

/** A member with no presence for this long is taken for the archival peer, ms. */
export const ARCHIVE_GUESS_MS = 2500;

/** Presence state each page publishes in awareness. */
export interface WorldPresence {
  /** Player name, 1-24 characters. */
  readonly name: string;
  /** CSS colour of the player (from {@link PALETTE}). */
  readonly colour: string;
}

/** Persistence status shown in the HUD and the debug handle. */
export interface PersistenceStatus {
  /** IndexedDB loaded into the document (before the network). */
  loaded: boolean;
  /** Live blocks the document held right after the IndexedDB load (before any peer spoke), or -1 before. */
  blocksAtLoad: number;
  /** ms from page start until IndexedDB was loaded. */
  loadedAtMs: number;
  /** Whether a member without presence (the relay's archival peer) is in the room. */
  archiveSeen: boolean;
  /** `?fresh=1` cleared this room's IndexedDB database first. */
  cleared: boolean;
}

/** The `net` part of the debug handle (README.md, "Debug handle"). */
export interface WorldNetDebug {
  readonly peerId: string;
  readonly roomId: string;
  readonly peer: Peer;
  readonly room: RoomTransport;
  readonly doc: Y.Doc;
  readonly provider: YRoomProvider;
  readonly replicator: Replicator;
  /** Compute shared with the room: this page generates terrain chunks for peers without WebGPU, and asks GPU peers when it has none. */
  readonly compute: RoomCompute;
  readonly persistence: PersistenceStatus;
  /** Live (not removed) blocks with a network id: grid cell and level. */
  blocks(): Array<{ netId: string; x: number; y: number; z: number }>;
  /** Visible avatars with a network id (ours included): the spawning peer and position, m. */
  avatars(): Array<{ netId: string; peerId?: string; name?: string; x: number; z: number; mine: boolean }>;
  /** Places a block on top of the column holding `(x, z)` (m); returns its entity id, or undefined (off the ground, full). */
  placeBlock(x: number, z: number): number | undefined;
  /** Removes block `netId` (anyone's); false when unknown or already removed. */
  removeBlock(netId: string): boolean;
  /** Our avatar: network id (once registered) and position, m. */
  myAvatar(): { netId: string | undefined; x: number; z: number };
  /** Peers present (with presence, us included): peer id, name, colour. */
  present(): Array<{ peerId: string; name: string; colour: string }>;
}

/** Options of {@link startOnlineWorld}. */
export interface OnlineWorldOptions {
  readonly game: WorldGame;
  readonly roomId: string;
  readonly presence: WorldPresence;
  /** Delete this room's IndexedDB database first (tests). Default false. */
  readonly fresh?: boolean;
  /** Called as the steps progress ("Looking for the relay…"). */
  readonly onStatus?: (text: string) => void;
  /** Receives the persistence status object as soon as it exists (it is updated in place). */
  readonly onPersistence?: (status: PersistenceStatus) => void;
}

/**
 * Connects `game` to room `roomId` (see the module doc).
 * @throws Error when the server names no relay; NetcodeError from the network layers.
 */
export async function startOnlineWorld(options: OnlineWorldOptions): Promise<WorldNetDebug> {
  const { game, roomId } = options;
  const { world, scheduler, avatar } = game;
  const status = options.onStatus ?? (() => {});
  const persistence: PersistenceStatus = { loaded: false, blocksAtLoad: -1, loadedAtMs: 0, archiveSeen: false, cleared: false };
  options.onPersistence?.(persistence);

  // 1. The stored document first (no network needed).
  status('Loading this browser\'s copy…');
  const doc = new Y.Doc();
  const dbName = `peercompute/${roomId}`;
  if (options.fresh === true) {
    await deleteDatabase(dbName);
    persistence.cleared = true;
  }
  let stored: BrowserPersistence | undefined;
  try {
    stored = persistInBrowser(doc, dbName);
    await stored.whenLoaded;
    persistence.loaded = true;
    persistence.loadedAtMs = Math.round(performance.now());
  } catch (error) {
    console.warn(`world: no browser persistence: ${error instanceof Error ? error.message : String(error)}`);
  }

  // 2. The network.
  status('Looking for the relay…');
  const found = await discoverRelays();
  if (found.relays.length === 0) throw new Error('the server names no relay: start it with "npm start", or add ?relay=<multiaddr>');
  status('Connecting to the relay…');
  const peer = await createPeer({ relays: found.relays });
  closeWithPage(peer, () => void stored?.destroy());
  status(`Joining ${roomId}…`);
  const room = await joinRoom(peer, roomId);

  // 3. Replication: the guard, the provider, the ECS binding (reads the stored world at once).
  const authority = new EcsAuthority();
  const provider = new YRoomProvider(doc, room, { beforeApply: authority.beforeApply });
  const replicator = replicateWorld(world, provider, { components: WORLD_COMPONENTS, authority, clock: new RealClock() });
  persistence.blocksAtLoad = liveBlocks(world).eids.length;
  scheduler.addSystem(Phase.Replication, createBlockCleanupSystem(replicator, peer.peerId));
  provider.awareness.setLocalState({ name: options.presence.name, colour: options.presence.colour } satisfies WorldPresence);

  // 4. Compute shared with the room: a page with WebGPU generates chunks for the others; a page
  //    without asks a GPU peer first (its own CPU twin when none has room). Same heights either way.
  //    A software adapter (SwiftShader) is slower than the CPU twin: it does not count as a GPU
  //    worth asking (it still answers tasks like any peer with a free slot).
  const local = game.terrain.backend;
  const realGpu = local.kind === 'webgpu' && !local.isFallbackAdapter;
  const compute = createRoomCompute(room, {
    capability: { webgpu: realGpu, adapter: local.kind === 'webgpu' ? local.adapterName.slice(0, 120) : '', slots: 1 },
    execute: (kernel, input) => runKernel(game.terrain.backend, kernel, input),
    validate: (kernel, input) => void prepareKernelTask(kernel, input),
    maxOutputBytes: (kernel) => getKernel(kernel)?.maxOutputBytes,
    local: 'fallback',
  });
  if (local.kind === 'cpu') {
    game.terrain.setOffload((heightmap, signal) => {
      const gpuPeerFree = compute.peers().some((p) => p.present && !p.excluded && p.capability?.webgpu === true
        && p.capability.running < p.capability.slots);
      if (!gpuPeerFree) return undefined;
      return compute.submit('terrain.chunk', encodeTerrainChunkInput(heightmap), { signal })
        .then((bytes) => new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    });
  }

  // Archive guess: members that published no presence for a while.
  const joinedAt = new Map<string, number>();
  for (const p of room.peers()) joinedAt.set(p, performance.now());
  room.on('peer:join', ({ peerId }) => joinedAt.set(peerId, performance.now()));
  room.on('peer:leave', ({ peerId }) => joinedAt.delete(peerId));

  const presenceByPeer = (): Map<string, WorldPresence> => {
    const out = new Map<string, WorldPresence>();
    for (const [client, state] of provider.awareness.getStates()) {
      const who = client === doc.clientID ? peer.peerId : provider.peerOfAwarenessClient(client);
      if (who === undefined || state === null || typeof state !== 'object') continue;
      const s = state as Partial<WorldPresence>;
      out.set(who, { name: typeof s.name === 'string' ? s.name.slice(0, 24) : '?', colour: typeof s.colour === 'string' ? s.colour : PALETTE[0]! });
    }
    return out;
  };
  setInterval(() => {
    const present = presenceByPeer();
    const now = performance.now();
    persistence.archiveSeen = room.peers().some((p) => !present.has(p) && now - (joinedAt.get(p) ?? now) >= ARCHIVE_GUESS_MS);
  }, 500);

  const members = (): Set<string> => new Set([peer.peerId, ...room.peers()]);
  const a = storeOf(world, Avatar);
  const b = storeOf(world, Block);

  const net: WorldNetDebug = {
    peerId: peer.peerId,
    roomId,
    peer,
    room,
    doc,
    provider,
    replicator,
    compute,
    persistence,
    blocks() {
      const out: Array<{ netId: string; x: number; y: number; z: number }> = [];
      for (const eid of liveBlocks(world).eids) {
        const netId = replicator.netIdOf(eid);
        if (netId !== undefined) out.push({ netId, x: b.cx[eid]!, y: b.cy[eid]!, z: b.cz[eid]! });
      }
      return out.sort((p, q) => (p.netId < q.netId ? -1 : 1));
    },
    avatars() {
      const present = presenceByPeer();
      const here = members();
      const out: ReturnType<WorldNetDebug['avatars']> = [];
      for (const eid of query(world, [Avatar])) {
        const netId = replicator.netIdOf(eid);
        if (netId === undefined) continue;
        const spawner = spawnerOf(netId);
        if (!here.has(spawner)) continue;
        const name = present.get(spawner)?.name;
        out.push({ netId, peerId: spawner, ...(name === undefined ? {} : { name }), x: a.x[eid]!, z: a.z[eid]!, mine: eid === avatar });
      }
      return out;
    },
    placeBlock: (x, z) => placeBlockAt(world, x, z, a.colour[avatar]!),
    removeBlock(netId) {
      const eid = replicator.eidOf(netId);
      if (eid === undefined || !hasComponent(world, eid, Block)) return false;
      if (hasComponent(world, eid, BlockState) && storeOf(world, BlockState).removed[eid] === 1) return false;
      markRemoved(world, eid);
      return true;
    },
    myAvatar: () => ({ netId: replicator.netIdOf(avatar), x: a.x[avatar]!, z: a.z[avatar]! }),
    present: () => [...presenceByPeer()].map(([peerId, p]) => ({ peerId, ...p })),
  };
  status('Online');
  return net;
}

/**
 * Label and visibility of avatar `eid` for the scene: the name its player publishes in
 * awareness (`names`: peer id -> name, from {@link WorldNetDebug.present}); avatars of peers no
 * longer in the room (left, or an earlier session of a reloaded page) are hidden.
 */
export function avatarLabel(net: WorldNetDebug, eid: number, names: ReadonlyMap<string, string>): { name: string; visible: boolean } {
  const netId = net.replicator.netIdOf(eid);
  if (netId === undefined) return { name: '', visible: false };
  const spawner = spawnerOf(netId);
  if (spawner !== net.peerId && !net.room.peers().includes(spawner)) return { name: '', visible: false };
  return { name: names.get(spawner) ?? '', visible: true };
}

/** Deletes IndexedDB database `name` (resolves also when blocked or missing). */
function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => resolve();
    request.onblocked = () => resolve();
  });
}
