/**
 * `YRoomProvider`: a Yjs document replicated over a {@link RoomTransport}, peer to peer, with no
 * server. It speaks the standard y-protocols sync and awareness messages (see `messages.ts`), so
 * a stock y-protocols client on the same channels can sync with it.
 *
 * Protocol (y-protocols `sync.js`, peer-to-peer variant: both sides initiate):
 * - When a peer joins (and for every member already there at construction), send it sync step 1
 *   (our state vector) and our awareness state. A peer answers step 1 with step 2 (what we lack).
 *   Receiving step 2 from a peer makes us synced with it (`whenSynced`, `'synced'`).
 * - First sync: while we are synced with nobody, step 1 goes to one member only; the others get
 *   theirs once its step 2 is applied (then carrying the state vector that includes it, so they
 *   answer with only what that member lacked), or after `firstSyncTimeoutMs`, or when it leaves.
 *   A late joiner thus downloads the document about once instead of once per member.
 * - Every local transaction (a doc `'update'` whose origin is not this provider's remote apply)
 *   is broadcast as an update message (best effort).
 * - Every `resyncIntervalMs` (default 10 s) step 1 goes to one random member, whose step 2 brings
 *   back whatever lossy broadcasts missed.
 * - Messages larger than the transport's `maxFrameBytes` go in chunks, reliably, to each member
 *   (`chunks.ts`); the receiver reassembles them within memory bounds.
 *
 * Incoming updates (step 2 and update messages) pass, in order: the decode check
 * (`Y.decodeUpdate`), the `beforeApply` veto hook, and (validation `'shadow'`, the default) a dry
 * run on a mirror document; only then are they applied (see `validate.ts`). Any failure drops
 * the update, counts it and emits `drop`; the document is unchanged. Nothing a remote sends
 * throws out of the transport's handlers.
 *
 * The veto is all or nothing per update (a step 2 holding one forbidden struct is refused whole),
 * and it cuts the author off: Yjs integrates each client's structs without clock gaps, so every
 * later update of that Yjs client waits in the pending store for good. Honest peers must never
 * write what others will veto (check authority before writing, not only on receipt).
 *
 * Remote updates are applied with a {@link RemoteOrigin} as transaction origin, which names the
 * authenticated sender: `ymap.observe((e, tr) => tr.origin instanceof RemoteOrigin && tr.origin.from)`.
 *
 * Awareness (y-protocols `awareness.js`): presence states (name, colour, anything JSON) of every
 * client. A peer may only send states for client ids it announced first (a state for a client id
 * bound to another member, or ours, is dropped `Forbidden`), and its states are removed when it
 * leaves the room.
 *
 * @example
 * ```ts
 * const doc = new Y.Doc();
 * const provider = new YRoomProvider(doc, await joinRoom(peer, 'world-1'), {
 *   beforeApply: (update, from, { decoded }) => decoded.structs.every((s) => mayWrite(from, s)),
 * });
 * provider.awareness.setLocalState({ name: 'Ada', colour: '#e91e63' });
 * provider.on('remoteUpdate', ({ from, update }) => console.log(from, update.length));
 * await provider.whenSynced();                 // first peer's state received
 * doc.getMap('blocks').set('3,0,7', 'stone');  // broadcast to the room
 * provider.destroy();                          // the room stays open: close it yourself
 * ```
 */
import * as Y from 'yjs';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import { NetcodeError } from '../errors.ts';
import type { Clock } from '../transport/clock.ts';
import { Emitter } from '../transport/emitter.ts';
import type { Channel, MessageEvent, PeerId, RoomTransport } from '../transport/types.ts';
import { CHUNK_HEADER_MAX_BYTES, CHUNK_KIND_AWARENESS, CHUNK_KIND_SYNC, Reassembler, encodeChunks, type ChunkKind } from './chunks.ts';
import { decodeAwarenessUpdate, decodeSyncMessage, encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate } from './messages.ts';
import { UpdateGate, type DecodedUpdate, type ValidationMode } from './validate.ts';

/** Default channel of y-protocols sync messages. */
export const DEFAULT_SYNC_CHANNEL = 'yjs/sync';
/** Default channel of y-protocols awareness updates. */
export const DEFAULT_AWARENESS_CHANNEL = 'yjs/awareness';
/** Default channel of chunks of messages larger than the transport's frame limit. */
export const DEFAULT_CHUNK_CHANNEL = 'yjs/chunk';
/** Default interval of the periodic re-sync (step 1 to one random member), ms. */
export const DEFAULT_RESYNC_INTERVAL_MS = 10_000;
/** Default wait for the first member's step 2 before asking every member, ms. */
export const DEFAULT_FIRST_SYNC_TIMEOUT_MS = 5000;
/** Default largest reassembled message, bytes (32 MiB): a larger step 2 is dropped `Oversized`. */
export const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
/** Default budget of all unfinished chunked messages together, bytes (64 MiB). */
export const DEFAULT_MAX_REASSEMBLY_BYTES = 64 * 1024 * 1024;
/** Default most unfinished chunked messages per peer. */
export const DEFAULT_MAX_CHUNKED_PER_PEER = 4;
/** Default time an unfinished chunked message is kept after its first chunk, ms. */
export const DEFAULT_REASSEMBLY_TIMEOUT_MS = 30_000;
/** Default most awareness client ids one peer may hold states for. */
export const DEFAULT_MAX_AWARENESS_CLIENTS_PER_PEER = 8;

/**
 * Why the provider dropped a received message.
 * - `Malformed`: bytes that are not a y-protocols sync message, awareness update or chunk
 *   (empty, unknown type, truncated, trailing bytes, state vector that does not decode, state
 *   that is not JSON), or chunks that disagree with each other.
 * - `InvalidUpdate`: a Yjs update that does not decode, or throws while integrating (dry run).
 * - `Vetoed`: `beforeApply` returned false (or threw).
 * - `Oversized`: a chunked message announcing more than `maxMessageBytes`.
 * - `ChunkLimit`: the reassembly budget (per peer or in total) is full.
 * - `ChunkExpired`: a chunked message still unfinished `reassemblyTimeoutMs` after its first chunk.
 * - `Duplicate`: a chunk received twice.
 * - `Forbidden`: an awareness state for a client id bound to another peer or to us, or more
 *   client ids than `maxAwarenessClientsPerPeer`.
 */
export type ReplicationDropReason =
  | 'Malformed' | 'InvalidUpdate' | 'Vetoed' | 'Oversized' | 'ChunkLimit' | 'ChunkExpired' | 'Duplicate' | 'Forbidden';

/** Emitted on `drop` for every message (or reassembled message) the provider discards. */
export interface ReplicationDropEvent {
  readonly reason: ReplicationDropReason;
  /** Authenticated sender. */
  readonly from: PeerId;
  /** Channel it came on. */
  readonly channel: Channel;
  /** Size of what was dropped, bytes. */
  readonly bytes: number;
  /** Human-readable detail for logs. */
  readonly detail: string;
}

/**
 * Transaction origin of every update the provider applies: `from` is the authenticated peer id
 * of the sender (the transport connection's, never a payload field). One instance per
 * (provider, peer), so it can be compared by identity.
 */
export class RemoteOrigin {
  /** @internal Made by the provider. */
  constructor(readonly provider: YRoomProvider, readonly from: PeerId) {}
}

/** What {@link YRoomProviderOptions.beforeApply} is told besides the update and its sender. */
export interface BeforeApplyInfo {
  /** `'step2'`: the answer to our sync step 1 (everything we lacked); `'update'`: an incremental update. */
  readonly kind: 'step2' | 'update';
  /** The update decoded by `Y.decodeUpdate`: structs (client ids, parents, map keys, content) and delete set. */
  readonly decoded: DecodedUpdate;
}

/**
 * Veto hook: return `false` to reject an incoming update as a whole (it is not applied, counted
 * as `Vetoed` and emitted as `drop`). Runs after the decode check and before the dry run and
 * apply, synchronously inside the transport's message handler. A hook that throws rejects.
 */
export type BeforeApply = (update: Uint8Array, from: PeerId, info: BeforeApplyInfo) => boolean;

/** A remote update was applied. */
export interface RemoteUpdateEvent {
  /** Authenticated sender. */
  readonly from: PeerId;
  /** The update as applied (V1 encoding). */
  readonly update: Uint8Array;
  readonly kind: 'step2' | 'update';
  /** The transaction origin it was applied with. */
  readonly origin: RemoteOrigin;
}

/** Events of a {@link YRoomProvider}. */
export interface ReplicationEvents {
  remoteUpdate: RemoteUpdateEvent;
  /** Sync step 2 from `peerId` was applied: we hold everything it had when it answered. */
  synced: { readonly peerId: PeerId };
  drop: ReplicationDropEvent;
}

/** Counters of a provider. Bytes are transport payload bytes (after chunking). */
export interface ReplicationStats {
  /** Messages and bytes received on the provider's channels (chunks counted one by one). */
  readonly messagesIn: number;
  readonly bytesIn: number;
  /** Messages and bytes handed to the transport, counted once per destination member (a broadcast to 4 members counts 4). */
  readonly messagesOut: number;
  readonly bytesOut: number;
  /** Remote updates applied (step 2 and update messages; empty ones not counted). */
  readonly updatesApplied: number;
  /** Local transactions sent to the room (while it had other members; alone, peers get them by step 2). */
  readonly updatesSent: number;
  /** Sync step 1 and step 2 messages sent. */
  readonly step1Sent: number;
  readonly step2Sent: number;
  /** Messages sent in chunks / reassembled from chunks. */
  readonly chunkedSent: number;
  readonly chunkedReceived: number;
  /** Bytes reserved by unfinished chunked messages now. */
  readonly reassemblyBytes: number;
  /** Sends the transport refused (member gone, room closed, queue full). */
  readonly sendErrors: number;
  /** Received messages dropped, by reason. */
  readonly drops: Readonly<Record<ReplicationDropReason, number>>;
  /** Members we are synced with now, sorted. */
  readonly syncedPeers: readonly PeerId[];
}

/** Options of {@link YRoomProvider}; every field is optional. */
export interface YRoomProviderOptions {
  /** Channel of sync messages. Default {@link DEFAULT_SYNC_CHANNEL}. */
  readonly syncChannel?: Channel;
  /** Channel of awareness updates. Default {@link DEFAULT_AWARENESS_CHANNEL}. */
  readonly awarenessChannel?: Channel;
  /** Channel of chunks. Default {@link DEFAULT_CHUNK_CHANNEL}. */
  readonly chunkChannel?: Channel;
  /**
   * Awareness instance to replicate (its `doc` should be this document). Default: a new
   * `Awareness(doc)`, destroyed with the provider. Its local state starts as `{}`; set it to
   * `null` to be invisible (the archive does).
   */
  readonly awareness?: Awareness;
  /** Veto hook, see {@link BeforeApply}. Default: accept everything that validates. */
  readonly beforeApply?: BeforeApply;
  /** How updates are checked before being applied, see `validate.ts`. Default `'shadow'`. */
  readonly validation?: ValidationMode;
  /** Interval of the periodic re-sync, ms; 0 turns it off. Default {@link DEFAULT_RESYNC_INTERVAL_MS}. */
  readonly resyncIntervalMs?: number;
  /**
   * While synced with nobody, how long to wait for the one member asked first before asking
   * every member, ms. Default {@link DEFAULT_FIRST_SYNC_TIMEOUT_MS}.
   */
  readonly firstSyncTimeoutMs?: number;
  /** Largest reassembled message, bytes. Default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  readonly maxMessageBytes?: number;
  /** Bytes all unfinished chunked messages may reserve together. Default {@link DEFAULT_MAX_REASSEMBLY_BYTES}. */
  readonly maxReassemblyBytes?: number;
  /** Most unfinished chunked messages per peer. Default {@link DEFAULT_MAX_CHUNKED_PER_PEER}. */
  readonly maxChunkedPerPeer?: number;
  /** Life of an unfinished chunked message, ms. Default {@link DEFAULT_REASSEMBLY_TIMEOUT_MS}. */
  readonly reassemblyTimeoutMs?: number;
  /** Most awareness client ids per peer. Default {@link DEFAULT_MAX_AWARENESS_CLIENTS_PER_PEER}. */
  readonly maxAwarenessClientsPerPeer?: number;
  /**
   * Clock of the re-sync, first-sync and reassembly timers. Default: wall time with platform
   * timers that do not keep a Node process alive. Tests on a `MemoryNetwork` with a manual clock
   * pass `network.clock`.
   */
  readonly clock?: Clock;
  /** Source of randomness for the re-sync target, `[0, 1)`. Default `Math.random`. */
  readonly random?: () => number;
}

const DROP_REASONS: readonly ReplicationDropReason[] = ['Malformed', 'InvalidUpdate', 'Vetoed', 'Oversized', 'ChunkLimit', 'ChunkExpired', 'Duplicate', 'Forbidden'];

/** Channels in use per room, so two providers never share one room's channels by mistake. */
const channelsInUse = new WeakMap<RoomTransport, Set<Channel>>();

interface Waiter {
  readonly peerId: PeerId | undefined;
  readonly resolve: (peerId: PeerId) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Binds a `Y.Doc` to a room. One provider per (room, channels); the provider does not own the
 * room (closing it is the caller's business) nor the document.
 */
export class YRoomProvider {
  readonly doc: Y.Doc;
  readonly room: RoomTransport;
  /** The replicated awareness (presence) of this document. */
  readonly awareness: Awareness;
  readonly syncChannel: Channel;
  readonly awarenessChannel: Channel;
  readonly chunkChannel: Channel;

  private readonly events = new Emitter<ReplicationEvents>();
  private readonly ownsAwareness: boolean;
  private readonly beforeApply: BeforeApply | undefined;
  private readonly gate: UpdateGate;
  private readonly reassembler: Reassembler;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly resyncIntervalMs: number;
  private readonly firstSyncTimeoutMs: number;
  /** First sync: the member asked first (awaiting its step 2), the members waiting for it, its timer. */
  private firstSyncFrom: PeerId | undefined;
  private readonly deferred = new Set<PeerId>();
  private cancelFirstSync: (() => void) | undefined;
  private readonly maxAwarenessClients: number;
  private readonly origins = new Map<PeerId, RemoteOrigin>();
  private readonly synced = new Set<PeerId>();
  private readonly waiters = new Set<Waiter>();
  /** Awareness client id -> peer that announced it; and the reverse. */
  private readonly clientOwner = new Map<number, PeerId>();
  private readonly peerClients = new Map<PeerId, Set<number>>();
  private readonly unsubscribe: (() => void)[] = [];
  private cancelResync: (() => void) | undefined;
  private nextChunkId = 0;
  private destroyed = false;
  private readonly counters = {
    messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0, updatesApplied: 0, updatesSent: 0,
    step1Sent: 0, step2Sent: 0, chunkedSent: 0, chunkedReceived: 0, sendErrors: 0,
  };
  private readonly drops = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<ReplicationDropReason, number>;

  /**
   * Starts replicating `doc` in `room`: sends step 1 to the members already there.
   * @throws NetcodeError `InvalidConfig` for a bad option (the message names it), channels that
   *   are equal or already used by another provider on this room, a transport whose
   *   `maxFrameBytes` leaves no room for chunks, or an awareness of another document; `Closed`
   *   when the document is destroyed.
   */
  constructor(doc: Y.Doc, room: RoomTransport, options: YRoomProviderOptions = {}) {
    if (!(doc instanceof Y.Doc)) throw new NetcodeError('InvalidConfig', 'YRoomProvider needs a Y.Doc', { option: 'doc' });
    if (doc.isDestroyed) throw new NetcodeError('Closed', `document ${doc.guid} is destroyed`, { guid: doc.guid });
    this.doc = doc;
    this.room = room;
    this.syncChannel = options.syncChannel ?? DEFAULT_SYNC_CHANNEL;
    this.awarenessChannel = options.awarenessChannel ?? DEFAULT_AWARENESS_CHANNEL;
    this.chunkChannel = options.chunkChannel ?? DEFAULT_CHUNK_CHANNEL;
    const channels = [this.syncChannel, this.awarenessChannel, this.chunkChannel];
    if (channels.some((c) => typeof c !== 'string' || c === '') || new Set(channels).size !== 3) {
      throw new NetcodeError('InvalidConfig', `YRoomProvider: channels must be 3 distinct non-empty strings, got ${channels.join(', ')}`, { option: 'syncChannel' });
    }
    const used = channelsInUse.get(room) ?? new Set<Channel>();
    const taken = channels.find((c) => used.has(c));
    if (taken !== undefined) {
      throw new NetcodeError('InvalidConfig', `YRoomProvider: channel '${taken}' of room '${room.roomId}' is already used by another provider (destroy it first)`, { option: 'syncChannel', channel: taken, roomId: room.roomId });
    }
    if (room.maxFrameBytes <= CHUNK_HEADER_MAX_BYTES) {
      throw new NetcodeError('InvalidConfig', `YRoomProvider: the transport's maxFrameBytes ${room.maxFrameBytes} must exceed ${CHUNK_HEADER_MAX_BYTES}`, { option: 'maxFrameBytes' });
    }
    this.resyncIntervalMs = nonNegative('resyncIntervalMs', options.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS);
    this.firstSyncTimeoutMs = nonNegative('firstSyncTimeoutMs', options.firstSyncTimeoutMs ?? DEFAULT_FIRST_SYNC_TIMEOUT_MS);
    this.maxAwarenessClients = positiveInteger('maxAwarenessClientsPerPeer', options.maxAwarenessClientsPerPeer ?? DEFAULT_MAX_AWARENESS_CLIENTS_PER_PEER);
    const validation = options.validation ?? 'shadow';
    if (validation !== 'shadow' && validation !== 'decode') throw new NetcodeError('InvalidConfig', `YRoomProvider: validation must be 'shadow' or 'decode', got ${String(validation)}`, { option: 'validation' });
    if (options.awareness !== undefined && options.awareness.doc !== doc) {
      throw new NetcodeError('InvalidConfig', 'YRoomProvider: the awareness belongs to another document', { option: 'awareness' });
    }
    const limits = {
      maxMessageBytes: positiveInteger('maxMessageBytes', options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES),
      maxTotalBytes: positiveInteger('maxReassemblyBytes', options.maxReassemblyBytes ?? DEFAULT_MAX_REASSEMBLY_BYTES),
      maxMessagesPerPeer: positiveInteger('maxChunkedPerPeer', options.maxChunkedPerPeer ?? DEFAULT_MAX_CHUNKED_PER_PEER),
      timeoutMs: positiveInteger('reassemblyTimeoutMs', options.reassemblyTimeoutMs ?? DEFAULT_REASSEMBLY_TIMEOUT_MS),
    };
    this.beforeApply = options.beforeApply;
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? wallClock;
    this.ownsAwareness = options.awareness === undefined;
    this.awareness = options.awareness ?? new Awareness(doc);
    this.gate = new UpdateGate(doc, validation, (origin) => this.isOwnOrigin(origin));
    this.reassembler = new Reassembler(limits, this.clock, (from, total, detail) => this.drop('ChunkExpired', from, this.chunkChannel, total, detail));

    for (const c of channels) used.add(c);
    channelsInUse.set(room, used);
    this.unsubscribe.push(
      room.on('message', (e) => this.onMessage(e)),
      room.on('peer:join', ({ peerId }) => this.onJoin(peerId)),
      room.on('peer:leave', ({ peerId }) => this.onLeave(peerId)),
    );
    const onUpdate = (update: Uint8Array, origin: unknown): void => this.onLocalUpdate(update, origin);
    doc.on('update', onUpdate);
    const onDestroy = (): void => this.destroy();
    doc.on('destroy', onDestroy);
    const onAwareness = (change: { added: number[]; updated: number[]; removed: number[] }, origin: unknown): void => this.onAwarenessUpdate(change, origin);
    this.awareness.on('update', onAwareness);
    this.unsubscribe.push(() => doc.off('update', onUpdate), () => doc.off('destroy', onDestroy), () => this.awareness.off('update', onAwareness));

    for (const peerId of room.peers()) this.onJoin(peerId);
    this.scheduleResync();
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof ReplicationEvents>(event: K, handler: (e: ReplicationEvents[K]) => void): () => void {
    return this.events.on(event, handler);
  }

  /** Whether this provider applied a transaction with `origin` (a {@link RemoteOrigin} of its own). */
  isOwnOrigin(origin: unknown): origin is RemoteOrigin {
    return origin instanceof RemoteOrigin && origin.provider === this;
  }

  /** Whether we hold `peerId`'s state (its step 2 was applied since it joined); without an id, whether we are synced with any member. */
  isSynced(peerId?: PeerId): boolean {
    return peerId === undefined ? this.synced.size > 0 : this.synced.has(peerId);
  }

  /**
   * Resolves with the peer id once its step 2 has been applied: `peerId`'s, or without one the
   * first member's (at once when already synced with one). A late joiner awaits this to know it
   * holds the room's document.
   * @throws (rejects) NetcodeError `Closed` when the provider is destroyed first.
   */
  whenSynced(peerId?: PeerId): Promise<PeerId> {
    if (this.destroyed) return Promise.reject(new NetcodeError('Closed', `provider of room '${this.room.roomId}' is destroyed`, { roomId: this.room.roomId }));
    if (peerId !== undefined && this.synced.has(peerId)) return Promise.resolve(peerId);
    if (peerId === undefined && this.synced.size > 0) return Promise.resolve([...this.synced].sort()[0]!);
    return new Promise((resolve, reject) => this.waiters.add({ peerId, resolve, reject }));
  }

  /** Sends sync step 1 now, to `peerId` or to every member. Misuse-safe: unknown peers are ignored. */
  resync(peerId?: PeerId): void {
    if (this.destroyed) return;
    for (const p of peerId === undefined ? this.room.peers() : [peerId]) if (this.room.peers().includes(p)) this.sendStep1(p);
  }

  /** The member that announced awareness client `clientID` (its `doc.clientID`), if any. */
  peerOfAwarenessClient(clientID: number): PeerId | undefined {
    return this.clientOwner.get(clientID);
  }

  /** Current counters. */
  stats(): ReplicationStats {
    return {
      ...this.counters,
      reassemblyBytes: this.reassembler.reservedBytes,
      drops: { ...this.drops },
      syncedPeers: [...this.synced].sort(),
    };
  }

  /**
   * Stops replicating: broadcasts that our awareness state is gone, unsubscribes from the room
   * and document, cancels timers, rejects pending `whenSynced` with `Closed`. Does not close the
   * room or destroy the document. Idempotent; also runs when the document is destroyed.
   */
  destroy(): void {
    if (this.destroyed) return;
    if (this.awareness.getLocalState() !== null) {
      try {
        removeAwarenessStates(this.awareness, [this.awareness.clientID], 'destroy');
      } catch {
        // Awareness already destroyed.
      }
    }
    this.destroyed = true;
    for (const u of this.unsubscribe) u();
    this.cancelResync?.();
    this.cancelFirstSync?.();
    this.deferred.clear();
    this.reassembler.clear();
    this.gate.destroy();
    const remote = [...this.clientOwner.keys()];
    if (this.ownsAwareness) this.awareness.destroy();
    else if (remote.length > 0) removeAwarenessStates(this.awareness, remote, 'destroy');
    const used = channelsInUse.get(this.room);
    for (const c of [this.syncChannel, this.awarenessChannel, this.chunkChannel]) used?.delete(c);
    const err = new NetcodeError('Closed', `provider of room '${this.room.roomId}' is destroyed`, { roomId: this.room.roomId });
    for (const w of this.waiters) w.reject(err);
    this.waiters.clear();
    this.events.clear();
  }

  // ----- internals ---------------------------------------------------------------------------

  private originOf(peerId: PeerId): RemoteOrigin {
    let o = this.origins.get(peerId);
    if (o === undefined) this.origins.set(peerId, (o = new RemoteOrigin(this, peerId)));
    return o;
  }

  private scheduleResync(): void {
    if (this.resyncIntervalMs === 0 || this.destroyed) return;
    this.cancelResync = this.clock.schedule(this.clock.now() + this.resyncIntervalMs, () => {
      if (this.destroyed) return;
      const peers = this.room.peers();
      if (peers.length > 0) {
        const target = peers[Math.min(peers.length - 1, Math.floor(this.random() * peers.length))]!;
        this.sendStep1(target);
        this.sendLocalAwareness(target);
      }
      this.scheduleResync();
    });
  }

  private onJoin(peerId: PeerId): void {
    if (this.destroyed) return;
    this.synced.delete(peerId);
    if (this.synced.size > 0) this.sendStep1(peerId);
    else if (this.firstSyncFrom === undefined || this.firstSyncFrom === peerId) this.startFirstSync(peerId);
    else this.deferred.add(peerId);
    this.sendLocalAwareness(peerId);
  }

  /** Asks `peerId` first while synced with nobody; the others wait (see the module doc). */
  private startFirstSync(peerId: PeerId): void {
    this.firstSyncFrom = peerId;
    this.cancelFirstSync?.();
    this.cancelFirstSync = this.clock.schedule(this.clock.now() + this.firstSyncTimeoutMs, () => this.endFirstSync());
    this.sendStep1(peerId);
  }

  /** The first sync is over (step 2 applied, or timed out): ask every member that waited. */
  private endFirstSync(): void {
    this.firstSyncFrom = undefined;
    this.cancelFirstSync?.();
    this.cancelFirstSync = undefined;
    if (this.destroyed) return;
    const members = new Set(this.room.peers());
    for (const p of this.deferred) if (members.has(p)) this.sendStep1(p);
    this.deferred.clear();
  }

  private onLeave(peerId: PeerId): void {
    if (this.destroyed) return;
    this.synced.delete(peerId);
    this.deferred.delete(peerId);
    if (this.firstSyncFrom === peerId) {
      this.firstSyncFrom = undefined;
      const next = [...this.deferred].find((p) => this.room.peers().includes(p));
      if (next !== undefined) {
        this.deferred.delete(next);
        this.startFirstSync(next);
      } else {
        this.endFirstSync();
      }
    }
    this.reassembler.dropPeer(peerId);
    const clients = this.peerClients.get(peerId);
    this.peerClients.delete(peerId);
    if (clients !== undefined) {
      for (const c of clients) this.clientOwner.delete(c);
      removeAwarenessStates(this.awareness, [...clients], this.originOf(peerId));
      // Forget their clocks too: when the peer comes back it resends its state with the clock it
      // had, which must count as new.
      for (const c of clients) this.awareness.meta.delete(c);
    }
    this.origins.delete(peerId);
  }

  private sendStep1(peerId: PeerId): void {
    this.counters.step1Sent++;
    this.sendTo(peerId, CHUNK_KIND_SYNC, encodeSyncStep1(Y.encodeStateVector(this.doc)));
  }

  private sendLocalAwareness(peerId: PeerId): void {
    if (this.awareness.getLocalState() === null) return;
    this.sendTo(peerId, CHUNK_KIND_AWARENESS, encodeAwarenessUpdate(this.awareness, [this.awareness.clientID]));
  }

  private onLocalUpdate(update: Uint8Array, origin: unknown): void {
    if (this.destroyed || this.isOwnOrigin(origin) || this.room.peers().length === 0) return;
    this.counters.updatesSent++;
    this.broadcastMessage(CHUNK_KIND_SYNC, encodeSyncUpdate(update));
  }

  private onAwarenessUpdate(change: { added: number[]; updated: number[]; removed: number[] }, origin: unknown): void {
    if (this.destroyed || origin instanceof RemoteOrigin) return;
    const own = this.awareness.clientID;
    if (!change.added.includes(own) && !change.updated.includes(own) && !change.removed.includes(own)) return;
    this.broadcastMessage(CHUNK_KIND_AWARENESS, encodeAwarenessUpdate(this.awareness, [own]));
  }

  private channelOf(kind: ChunkKind): Channel {
    return kind === CHUNK_KIND_SYNC ? this.syncChannel : this.awarenessChannel;
  }

  /** Sends one message to one member, in chunks when it exceeds the frame limit. */
  private sendTo(peerId: PeerId, kind: ChunkKind, message: Uint8Array): void {
    if (message.length <= this.room.maxFrameBytes) {
      this.rawSend(peerId, this.channelOf(kind), message);
      return;
    }
    this.counters.chunkedSent++;
    for (const chunk of encodeChunks(kind, this.nextChunkId++, message, this.room.maxFrameBytes)) {
      if (!this.rawSend(peerId, this.chunkChannel, chunk)) return;
    }
  }

  /** Broadcasts one message; a message over the frame limit goes in chunks to each member instead. */
  private broadcastMessage(kind: ChunkKind, message: Uint8Array): void {
    const peers = this.room.peers();
    if (peers.length === 0) return;
    if (message.length > this.room.maxFrameBytes) {
      for (const p of peers) this.sendTo(p, kind, message);
      return;
    }
    try {
      this.room.broadcast(this.channelOf(kind), message);
      this.counters.messagesOut += peers.length;
      this.counters.bytesOut += message.length * peers.length;
    } catch {
      this.counters.sendErrors++;
    }
  }

  private rawSend(peerId: PeerId, channel: Channel, data: Uint8Array): boolean {
    try {
      this.room.send(peerId, channel, data);
      this.counters.messagesOut++;
      this.counters.bytesOut += data.length;
      return true;
    } catch {
      // The member left, the room closed or its queue is full: the periodic re-sync repairs it.
      this.counters.sendErrors++;
      return false;
    }
  }

  private onMessage(e: MessageEvent): void {
    if (this.destroyed) return;
    const { from, channel, data } = e;
    if (channel !== this.syncChannel && channel !== this.awarenessChannel && channel !== this.chunkChannel) return;
    this.counters.messagesIn++;
    this.counters.bytesIn += data.length;
    try {
      if (channel === this.syncChannel) this.onSync(from, data, channel);
      else if (channel === this.awarenessChannel) this.onAwareness(from, data, channel);
      else this.onChunk(from, data);
    } catch (err) {
      // A bug of ours or an event handler of the application: never let it escape into the
      // transport's delivery loop, but do not hide it either.
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  private onChunk(from: PeerId, data: Uint8Array): void {
    const r = this.reassembler.accept(from, data);
    if (r.kind === 'pending') return;
    if (r.kind === 'drop') return this.drop(r.reason, from, this.chunkChannel, data.length, r.detail);
    this.counters.chunkedReceived++;
    if (r.chunkKind === CHUNK_KIND_SYNC) this.onSync(from, r.message, this.chunkChannel);
    else this.onAwareness(from, r.message, this.chunkChannel);
  }

  private onSync(from: PeerId, data: Uint8Array, channel: Channel): void {
    const msg = decodeSyncMessage(data);
    if (msg.type === 'malformed') return this.drop('Malformed', from, channel, data.length, msg.detail);
    if (msg.type === 'step1') {
      let update: Uint8Array;
      try {
        update = Y.encodeStateAsUpdate(this.doc, msg.payload);
      } catch (err) {
        return this.drop('Malformed', from, channel, data.length, `state vector does not decode: ${(err as Error).message}`);
      }
      this.counters.step2Sent++;
      this.sendTo(from, CHUNK_KIND_SYNC, encodeSyncStep2(update));
      return;
    }
    const applied = this.applyRemote(from, msg.payload, msg.type, channel);
    if (msg.type === 'step2' && applied && this.room.peers().includes(from)) this.markSynced(from);
  }

  /** Validates and applies a remote update; returns whether it was accepted. */
  private applyRemote(from: PeerId, update: Uint8Array, kind: 'step2' | 'update', channel: Channel): boolean {
    const decoded = this.gate.decode(update);
    if (!decoded.ok) {
      this.drop('InvalidUpdate', from, channel, update.length, decoded.detail);
      return false;
    }
    const empty = decoded.decoded.structs.length === 0 && decoded.decoded.ds.clients.size === 0;
    if (empty) return true;
    if (this.beforeApply !== undefined) {
      let ok: boolean;
      let detail = `beforeApply rejected a ${update.length}-byte ${kind} from ${from}`;
      try {
        ok = this.beforeApply(update, from, { kind, decoded: decoded.decoded }) === true;
      } catch (err) {
        ok = false;
        detail = `beforeApply threw on a ${kind} from ${from}: ${String((err as Error)?.message ?? err)}`;
      }
      if (!ok) {
        this.drop('Vetoed', from, channel, update.length, detail);
        return false;
      }
    }
    const bad = this.gate.dryRun(update);
    if (bad !== undefined) {
      this.drop('InvalidUpdate', from, channel, update.length, bad);
      return false;
    }
    const origin = this.originOf(from);
    try {
      Y.applyUpdate(this.doc, update, origin);
    } catch (err) {
      // An observer of the application threw (Yjs finished the transaction first), or the
      // shadow and the document diverged: re-mirror and report the error.
      this.gate.resync();
      queueMicrotask(() => {
        throw err;
      });
    }
    this.counters.updatesApplied++;
    this.emit('remoteUpdate', { from, update, kind, origin });
    return true;
  }

  private markSynced(peerId: PeerId): void {
    const first = !this.synced.has(peerId);
    this.synced.add(peerId);
    if (this.firstSyncFrom !== undefined || this.deferred.size > 0) this.endFirstSync();
    for (const w of [...this.waiters]) {
      if (w.peerId === undefined || w.peerId === peerId) {
        this.waiters.delete(w);
        w.resolve(peerId);
      }
    }
    if (first) this.emit('synced', { peerId });
  }

  private onAwareness(from: PeerId, data: Uint8Array, channel: Channel): void {
    const entries = decodeAwarenessUpdate(data);
    if (!Array.isArray(entries)) {
      const m = entries as { detail: string };
      return this.drop('Malformed', from, channel, data.length, m.detail);
    }
    const mine = this.peerClients.get(from) ?? new Set<number>();
    const fresh = new Set<number>();
    for (const { clientID } of entries) {
      const owner = this.clientOwner.get(clientID);
      if (clientID === this.awareness.clientID || (owner !== undefined && owner !== from)) {
        return this.drop('Forbidden', from, channel, data.length, `awareness state for client ${clientID}, which belongs to ${owner ?? 'us'}`);
      }
      if (!mine.has(clientID)) fresh.add(clientID);
    }
    if (mine.size + fresh.size > this.maxAwarenessClients) {
      return this.drop('Forbidden', from, channel, data.length, `${from} would hold ${mine.size + fresh.size} awareness clients, more than ${this.maxAwarenessClients}`);
    }
    for (const c of fresh) {
      mine.add(c);
      this.clientOwner.set(c, from);
    }
    if (mine.size > 0) this.peerClients.set(from, mine);
    applyAwarenessUpdate(this.awareness, data, this.originOf(from));
  }

  private drop(reason: ReplicationDropReason, from: PeerId, channel: Channel, bytes: number, detail: string): void {
    this.drops[reason]++;
    this.emit('drop', { reason, from, channel, bytes, detail });
  }

  /** Emits without letting a throwing handler break the delivery loop that called us. */
  private emit<K extends keyof ReplicationEvents>(event: K, payload: ReplicationEvents[K]): void {
    try {
      this.events.emit(event, payload);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}

/** Wall time; its timers are unref'd in Node, so a provider left running does not keep the process alive. */
const wallClock: Clock = {
  now: () => performance.now(),
  schedule(atMs, fn) {
    const timer = setTimeout(fn, Math.max(0, atMs - performance.now()));
    (timer as { unref?: () => void }).unref?.();
    return () => clearTimeout(timer);
  },
};

function nonNegative(option: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new NetcodeError('InvalidConfig', `YRoomProvider: ${option} must be a finite number >= 0, got ${String(value)}`, { option, value });
  }
  return value;
}

function positiveInteger(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new NetcodeError('InvalidConfig', `YRoomProvider: ${option} must be an integer >= 1, got ${String(value)}`, { option, value });
  }
  return value;
}
