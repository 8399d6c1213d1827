/**
 * Public types of the rollback sessions: frames, per-slot inputs, the requests a session hands
 * the engine, the results of `advanceFrame`, events, and counters.
 *
 * Frame numbering (the same for every session kind): frame `f` is one simulation step. "The
 * state of frame `f`" is the world *before* frame `f` is simulated (the engine's
 * `world.time.tick === f`, `WorldSnapshot.tick === f`). Advancing frame `f` with its inputs gives
 * the state of frame `f + 1`. Frames are integers >= 0; {@link NULL_FRAME} (-1) means "none".
 */
import type { SnapshotDifference } from '../../engine/index.ts';
import type { PeerId } from '../transport/types.ts';

/** A frame number: an integer >= 0 (see the module doc for what "state of frame f" means). */
export type Frame = number;

/** "No frame": the last frame of a slot before any input, an unset acknowledgement. */
export const NULL_FRAME = -1;

/**
 * Where the input of one slot for one frame comes from.
 * - `'confirmed'`: the owner's real input (local, or received from the authenticated owner).
 * - `'predicted'`: not received yet; the slot's last received input repeated (GGPO's rule), or
 *   all zeros before any. A later rollback replaces it if the real input differs.
 * - `'disconnected'`: the owner left or timed out before this frame; bytes are all zeros.
 *
 * Game code may branch on `'disconnected'` (e.g. to let an AI take over) but must not treat
 * `'predicted'` differently from `'confirmed'`: a correct prediction is not rolled back, so the
 * two must simulate identically.
 */
export type InputStatus = 'confirmed' | 'predicted' | 'disconnected';

/** One slot's input for one frame, as handed to the engine in an `advance` request. */
export interface PlayerInput {
  /**
   * The input bytes, `inputSize` long (8 for an `InputRecord`: decode with
   * `decodeInputRecord(bytes)`). Shared with the session's input log: read, never write.
   */
  readonly bytes: Uint8Array;
  readonly status: InputStatus;
}

/**
 * Take a snapshot of the current world, which is the state of `frame` (`world.time.tick ===
 * frame`), keep it under `frame`, and report its checksum with `session.reportChecksum(frame,
 * checksum)`. A later save of the same frame replaces the earlier one.
 */
export interface SaveRequest {
  readonly kind: 'save';
  readonly frame: Frame;
}

/** Restore the snapshot saved under `frame`: afterwards the world is the state of `frame`. */
export interface LoadRequest {
  readonly kind: 'load';
  readonly frame: Frame;
}

/**
 * Simulate frame `frame` once (`scheduler.simulateTick()`), with `inputs[slot]` as each player
 * slot's input. Before it, the world is the state of `frame`; after it, of `frame + 1`.
 */
export interface AdvanceRequest {
  readonly kind: 'advance';
  readonly frame: Frame;
  /** One entry per player slot, index = slot (0 .. numPlayers-1). */
  readonly inputs: readonly PlayerInput[];
}

/** A request of {@link AdvanceResult.requests}; carry them out in order, each exactly once. */
export type SessionRequest = SaveRequest | LoadRequest | AdvanceRequest;

/**
 * Outcome of one `advanceFrame` call.
 * - `'advanced'`: the requests end with the `advance` of the frame that was current at the call.
 * - `'PredictionThreshold'`: the current frame was not advanced because it would need more than
 *   `maxPrediction` frames of predicted input (a spectator or a lockstep session: because its
 *   inputs have not arrived). The requests may still hold a correction (`load` + `advance`s):
 *   carry them out. Every received input is kept. Try again next tick.
 * - `'NotSynchronized'`: the handshake with some peer is not finished; no requests.
 */
export type AdvanceStatus = 'advanced' | 'PredictionThreshold' | 'NotSynchronized';

/** What `advanceFrame` returns. */
export interface AdvanceResult {
  readonly status: AdvanceStatus;
  /** Ordered requests; carry out every one, in order, before the next `advanceFrame`. */
  readonly requests: readonly SessionRequest[];
  /** The session's current frame after these requests (the next frame to advance). */
  readonly frame: Frame;
}

/**
 * Why the session dropped a message from a peer (counted in `stats().drops`, emitted as a
 * `drop` event, never thrown).
 * - `Malformed`: bytes that do not decode as a rollback message, or fields out of range (a
 *   different player count or input size, a bad snapshot chunk).
 * - `Oversized`: a snapshot announced larger than the session accepts.
 * - `ForeignSlot`: inputs for a slot the sender does not own (or, to a spectator, inputs sent
 *   directly by someone other than its host). The whole packet is dropped.
 * - `UnknownPeer`: a message from a peer that has no role in this session.
 * - `ConfigMismatch`: a handshake with different settings (players, input size, slot owners,
 *   start frame); the handshake is refused.
 * - `Gap`: inputs that start after the next expected frame (a protocol violation).
 * - `Inconsistent`: a peer re-sent a frame's input with different bytes (the first is kept).
 * - `Unsolicited`: snapshot bytes that were not requested.
 */
export type SessionDropReason =
  | 'Malformed'
  | 'Oversized'
  | 'ForeignSlot'
  | 'UnknownPeer'
  | 'ConfigMismatch'
  | 'Gap'
  | 'Inconsistent'
  | 'Unsolicited';

/** Every {@link SessionDropReason}, in a stable order. */
export const SESSION_DROP_REASONS: readonly SessionDropReason[] = [
  'Malformed', 'Oversized', 'ForeignSlot', 'UnknownPeer', 'ConfigMismatch', 'Gap', 'Inconsistent', 'Unsolicited',
];

/** A sync-test finding: the state of `frame` differed between two simulations of it. */
export interface SyncTestMismatch {
  /**
   * The frame whose state differed: the advance of `frame - 1` (or something outside the
   * snapshot that it read) is not deterministic.
   */
  readonly frame: Frame;
  /** Checksum of the first simulation of that state. */
  readonly firstChecksum: number;
  /** Checksum after the re-simulation that differed. */
  readonly resimulatedChecksum: number;
  /** Field-level differences attached by the engine with `attachDiff` (first vs re-simulated). */
  readonly differences: readonly SnapshotDifference[] | undefined;
  /** Names of the components (or `tick`/`rng`/`entities`) in `differences`, sorted, unique. */
  readonly components: readonly string[];
}

/**
 * Events, drained with `drainEvents()` (oldest first; at most {@link MAX_EVENT_QUEUE} are
 * kept, the oldest are dropped beyond that and counted in `stats().eventsDropped`).
 */
export type SessionEvent =
  /** A handshake round trip with `peerId` completed (`count` of `total`). */
  | { readonly kind: 'synchronizing'; readonly peerId: PeerId; readonly count: number; readonly total: number }
  /** The handshake with `peerId` is complete. */
  | { readonly kind: 'synchronized'; readonly peerId: PeerId }
  /** Every peer is synchronized: `advanceFrame` now advances. Fired once. */
  | { readonly kind: 'running'; readonly frame: Frame }
  /** Nothing heard from `peerId` for `disconnectNotifyStartMs`; it is disconnected in `disconnectInMs` unless it is heard again. */
  | { readonly kind: 'networkInterrupted'; readonly peerId: PeerId; readonly disconnectInMs: number }
  /** `peerId` was heard again after `networkInterrupted` (it reconnected in time). */
  | { readonly kind: 'networkResumed'; readonly peerId: PeerId }
  /**
   * `peerId` is disconnected for good (timeout, it left, or the other peers say so): its `slots`
   * have `'disconnected'` input from `frame` on. Empty `slots` for a spectator or the host.
   */
  | { readonly kind: 'disconnected'; readonly peerId: PeerId; readonly slots: readonly number[]; readonly frame: Frame }
  /** Checksums of the confirmed state of `frame` differ between this peer and `peerId`. */
  | { readonly kind: 'desync'; readonly peerId: PeerId; readonly frame: Frame; readonly localChecksum: number; readonly remoteChecksum: number }
  /**
   * This peer runs ahead of the others by about `framesAhead` frames: skip `skipFrames`
   * `advanceFrame` calls (or slow the tick down) so they catch up (GGPO's TIMESYNC event, GGRS's
   * WaitRecommendation). At most one per {@link RECOMMENDATION_INTERVAL_FRAMES}.
   */
  | { readonly kind: 'waitRecommendation'; readonly skipFrames: number; readonly framesAhead: number }
  /** Periodic time-sync report (every {@link RECOMMENDATION_INTERVAL_FRAMES} frames): `framesAhead()` and per peer figures. */
  | { readonly kind: 'timesync'; readonly frame: Frame; readonly framesAhead: number; readonly peers: readonly PeerNetworkStats[] }
  /** A message from `from` was dropped (see {@link SessionDropReason}). */
  | { readonly kind: 'drop'; readonly reason: SessionDropReason; readonly from: PeerId; readonly bytes: number; readonly detail: string }
  /** `peerId` asks for the snapshot of `frame` (after a desync): answer with `sendSnapshot(peerId, frame, bytes)` if you still have it. */
  | { readonly kind: 'snapshotRequested'; readonly peerId: PeerId; readonly frame: Frame }
  /** The snapshot bytes of `frame` asked from `peerId` with `requestSnapshot` arrived. */
  | { readonly kind: 'snapshotReceived'; readonly peerId: PeerId; readonly frame: Frame; readonly bytes: Uint8Array }
  /** Sync test: a re-simulated state differed from the first simulation. */
  | { readonly kind: 'syncTestMismatch'; readonly mismatch: SyncTestMismatch };

/** The kinds of {@link SessionEvent}. */
export type SessionEventKind = SessionEvent['kind'];

/** Most events kept between two `drainEvents()` calls. */
export const MAX_EVENT_QUEUE = 1000;

/** Frames between two wait recommendations / time-sync reports (GGRS `RECOMMENDATION_INTERVAL`, p2p_session.rs). */
export const RECOMMENDATION_INTERVAL_FRAMES = 60;

/** Network figures of one remote peer. */
export interface PeerNetworkStats {
  readonly peerId: PeerId;
  readonly role: 'player' | 'spectator' | 'host';
  /** `'synchronizing'` (handshake), `'running'`, `'disconnected'`. */
  readonly state: 'synchronizing' | 'running' | 'disconnected';
  /** Round-trip time from quality reports, ms; undefined before the first sample. */
  readonly rttMs: number | undefined;
  /** Frames the peer is estimated to be ahead of this peer (negative: behind). */
  readonly localFrameAdvantage: number;
  /** The same estimate as the peer reported it (its view of this peer). */
  readonly remoteFrameAdvantage: number;
  /** Newest frame the peer said it was at. */
  readonly remoteFrame: Frame;
}

/** Counters of a session. */
export interface SessionStats {
  readonly frame: Frame;
  readonly confirmedFrame: Frame;
  /** `load` requests issued. */
  readonly rollbacks: number;
  /** `advance` requests issued for frames already simulated once (re-simulation cost). */
  readonly resimulatedFrames: number;
  /** `advanceFrame` calls that returned `'PredictionThreshold'`. */
  readonly predictionThresholdHits: number;
  /** Local inputs discarded: input delay lowered, or sampled while the frame did not advance. */
  readonly localInputsDiscarded: number;
  /** Rollbacks that had to start later than the first incorrect frame (older than the snapshot window; see `snapshotWindow`). */
  readonly clampedRollbacks: number;
  /** Messages dropped, by reason. */
  readonly drops: Readonly<Record<SessionDropReason, number>>;
  readonly messagesSent: number;
  readonly bytesSent: number;
  readonly messagesReceived: number;
  readonly bytesReceived: number;
  /** Sends the transport refused (peer gone, transport closed). */
  readonly sendErrors: number;
  readonly eventsDropped: number;
  readonly peers: readonly PeerNetworkStats[];
}

/** A source of time, ms (monotonic, any origin). The transport's `Clock` (`ManualClock`, `RealClock`) fits. */
export interface SessionClock {
  now(): number;
}

/** Who plays a slot, or watches: the argument of `SessionBuilder.addPlayer`. */
export type PlayerType =
  | { readonly kind: 'local' }
  | { readonly kind: 'remote'; readonly peerId: PeerId }
  | { readonly kind: 'spectator'; readonly peerId: PeerId };
