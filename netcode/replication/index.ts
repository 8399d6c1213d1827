/**
 * Replication: Yjs documents shared by the peers of a room (browser-safe front door; the
 * relay's archival peer, Node only, is `startArchive` behind `netcode/relay/index.ts`).
 *
 * - {@link YRoomProvider}: binds a `Y.Doc` to a `RoomTransport` with the standard y-protocols
 *   sync (step 1, step 2, update) and awareness messages on channels `yjs/sync` and
 *   `yjs/awareness` (`yjs/chunk` for messages over the frame limit), peer to peer. Incoming
 *   updates are validated (decode, veto hook, dry run on a shadow copy) before they touch the
 *   document; remote transactions carry a `RemoteOrigin` naming the authenticated sender.
 * - {@link persistInBrowser}: y-indexeddb persistence, so a reload keeps the world.
 *
 * @example
 * ```ts
 * import * as Y from 'yjs';
 * import { createPeer, joinRoom, discoverRelays, YRoomProvider, persistInBrowser } from 'peercompute/netcode';
 *
 * const { relays } = await discoverRelays();
 * const peer = await createPeer({ relays });
 * const doc = new Y.Doc();
 * await persistInBrowser(doc, 'peercompute/world-1').whenLoaded;
 * const provider = new YRoomProvider(doc, await joinRoom(peer, 'world-1'));
 * provider.awareness.setLocalState({ name: 'Ada', colour: '#e91e63' });
 * doc.getMap('blocks').observe((event, tr) => console.log('from', tr.origin?.from ?? 'me', [...event.keysChanged]));
 * doc.getMap('blocks').set('3,0,7', 'stone');
 * ```
 */
export {
  YRoomProvider, RemoteOrigin,
  DEFAULT_SYNC_CHANNEL, DEFAULT_AWARENESS_CHANNEL, DEFAULT_CHUNK_CHANNEL, DEFAULT_RESYNC_INTERVAL_MS,
  DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_REASSEMBLY_BYTES, DEFAULT_MAX_CHUNKED_PER_PEER, DEFAULT_REASSEMBLY_TIMEOUT_MS,
  DEFAULT_MAX_AWARENESS_CLIENTS_PER_PEER, DEFAULT_FIRST_SYNC_TIMEOUT_MS,
} from './provider.ts';
export type {
  YRoomProviderOptions, BeforeApply, BeforeApplyInfo, RemoteUpdateEvent, ReplicationEvents, ReplicationStats,
  ReplicationDropEvent, ReplicationDropReason,
} from './provider.ts';
export type { ValidationMode, DecodedUpdate } from './validate.ts';

export { persistInBrowser } from './browser-persistence.ts';
export type { BrowserPersistence } from './browser-persistence.ts';

// Wire formats, for tools and tests that speak the protocol by hand.
export { encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate, decodeSyncMessage, decodeAwarenessUpdate } from './messages.ts';
export type { SyncMessage, MalformedReplicationMessage, AwarenessEntry } from './messages.ts';
export { encodeChunks, decodeChunk, CHUNK_HEADER_MAX_BYTES, CHUNK_KIND_SYNC, CHUNK_KIND_AWARENESS } from './chunks.ts';
export type { Chunk, ChunkKind } from './chunks.ts';

// ECS binding: replicated components over the document (ecs.ts), its authority guard and formats.
export {
  Replicated, Replicator, defineReplicated, replicateWorld,
  DEFAULT_NETWORK_HZ, DEFAULT_INTERPOLATION_DELAY_MS, DEFAULT_COMPACT_INTERVAL_MS, DEFAULT_MAX_SNAPSHOTS, DEFAULT_OWNERSHIP_CHANNEL,
} from './ecs.ts';
export type { Authority, ReplicatedComponent, ReplicatedOptions, ReplicateWorldOptions, ReplicatorStats } from './ecs.ts';
export { EcsAuthority, CLAIMS_ROOT, SHARED_ROOT, WRITER_ROOT_PREFIX, GENERATION_KEY } from './ecs-authority.ts';
export type { AuthorityRejectReason, AuthorityStats } from './ecs-authority.ts';
export {
  ENTITY_BLOB_VERSION, MAX_REPLICATED_COMPONENTS, MAX_NET_ID_LENGTH, defaultQuantization, encodeBlob, encodeBlobBody, decodeBlob,
  formatNetId, isNetId, encodeOwnership, decodeOwnership,
} from './ecs-codec.ts';
export type { Quantization, QuantizedField, BlobLayout, BlobHeader, DecodedBlob, OwnershipMessage } from './ecs-codec.ts';
