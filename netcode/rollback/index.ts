/**
 * Rollback netcode (GGPO-style), the front door of `netcode/rollback/`.
 *
 * A session turns each tick's local inputs into an ordered list of requests for the engine:
 * `save` (snapshot the world under a frame and report its checksum), `load` (restore a frame)
 * and `advance` (simulate one frame with every slot's input and its status, `'confirmed'`,
 * `'predicted'` or `'disconnected'`). It never touches the engine: the engine's Network-phase
 * system carries the requests out. Three kinds, built by one {@link SessionBuilder} (GGRS
 * `src/sessions/builder.rs`):
 *
 * - {@link P2PSession}: 2-8 players over a `RoomTransport`, prediction up to `maxPrediction`
 *   frames, input delay, time sync (`framesAhead`, `waitRecommendation`), disconnect handling,
 *   checksum exchange for desync detection, spectators.
 * - {@link SyncTestSession}: local; rolls back every frame to catch non-determinism.
 * - {@link SpectatorSession}: replays a game from its host's confirmed inputs, behind the players;
 *   a peer arriving mid-match gets the state to start from with `requestLateJoin` from a host
 *   running `serveLateJoins` (late-join.ts).
 *
 * Units: frames (integers; at 60 Hz one frame is 16.7 ms) and milliseconds. Defaults are the
 * `DEFAULT_*` constants of `builder.ts` (prediction 8, input delay 2, 60 fps, disconnect after
 * 2000 ms, notify after 500 ms, checksum every 60 frames). Misuse throws `NetcodeError`
 * (`InvalidConfig` from the builder, `InvalidRequest` from a session, `Closed` after `close()`);
 * bad bytes from peers never throw: they are counted in `stats().drops` and reported as `drop`
 * events.
 *
 * @example
 * ```ts
 * import { SessionBuilder } from './netcode/rollback/index.ts';
 * import { createSnapshot, decodeInputRecord, encodeInputRecord, restore, snapshot, writeInputRecord } from './engine/index.ts';
 *
 * const session = new SessionBuilder()
 *   .addPlayer({ kind: 'local' }, 0)
 *   .addPlayer({ kind: 'remote', peerId: otherPeerId }, 1)
 *   .startP2PSession(room);                   // room: a RoomTransport
 * const ring = Array.from({ length: session.snapshotWindow }, () => createSnapshot());
 * scheduler.externalSimulation = true;        // the session decides when frames are simulated
 *
 * scheduler.addSystem(Phase.Network, function rollbackSystem(world) {
 *   session.addLocalInput(0, encodeInputRecord(localRecord));
 *   const { requests } = session.advanceFrame();
 *   for (const r of requests) {
 *     const slot = ring[r.frame % ring.length]!;
 *     if (r.kind === 'save') session.reportChecksum(r.frame, snapshot(world, slot).checksum);
 *     else if (r.kind === 'load') restore(world, slot);
 *     else {
 *       r.inputs.forEach((input, s) => writeInputRecord(world, playerEntity[s], decodeInputRecord(input.bytes)));
 *       scheduler.simulateTick();
 *     }
 *   }
 *   for (const e of session.drainEvents()) if (e.kind === 'desync') console.warn('desync at frame', e.frame);
 * });
 * ```
 */
export {
  SessionBuilder,
  DEFAULT_NUM_PLAYERS, DEFAULT_INPUT_SIZE, DEFAULT_MAX_PREDICTION, DEFAULT_INPUT_DELAY, DEFAULT_FPS,
  DEFAULT_DISCONNECT_TIMEOUT_MS, DEFAULT_DISCONNECT_NOTIFY_START_MS, DEFAULT_CHECKSUM_INTERVAL, DEFAULT_SPARSE_SAVING,
  DEFAULT_START_FRAME, DEFAULT_CHANNEL, DEFAULT_MAX_FRAMES_BEHIND, DEFAULT_CATCHUP_SPEED, DEFAULT_CHECK_DISTANCE,
  MIN_PLAYERS, MAX_PREDICTION_LIMIT,
} from './builder.ts';

export { P2PSession, MAX_CHECKSUM_HISTORY, MAX_INPUT_DELAY, MAX_INPUT_FRAMES_AHEAD } from './p2p-session.ts';
export type { P2PSessionConfig } from './p2p-session.ts';

export { SpectatorSession } from './spectator-session.ts';
export type { SpectatorSessionConfig } from './spectator-session.ts';

export { SyncTestSession } from './sync-test-session.ts';
export type { SyncTestReport, SyncTestSessionConfig } from './sync-test-session.ts';

export {
  NUM_SYNC_ROUNDTRIPS, SYNC_RETRY_INTERVAL_MS, RUNNING_RETRY_INTERVAL_MS, KEEP_ALIVE_INTERVAL_MS, QUALITY_REPORT_INTERVAL_MS,
  MAX_SNAPSHOT_BYTES, SNAPSHOT_CHUNK_BYTES, playerConfigHash,
} from './linked-session.ts';

export { FRAME_WINDOW_SIZE, MIN_FRAME_ADVANTAGE, MAX_FRAME_ADVANTAGE, TimeSync } from './time-sync.ts';

export {
  PROTOCOL_VERSION, MAX_PLAYERS, MAX_INPUT_SIZE, MAX_FRAMES_PER_PACKET, MAX_WIRE_FRAME, MessageType,
  encodeMessage, decodeMessage, inputAt,
} from './protocol.ts';
export type { InputMessage, MalformedMessage, RollbackMessage, SlotStatus } from './protocol.ts';

export { NULL_FRAME, SESSION_DROP_REASONS, MAX_EVENT_QUEUE, RECOMMENDATION_INTERVAL_FRAMES } from './types.ts';
export type {
  AdvanceRequest, AdvanceResult, AdvanceStatus, Frame, InputStatus, LoadRequest, PeerNetworkStats, PlayerInput, PlayerType,
  SaveRequest, SessionClock, SessionDropReason, SessionEvent, SessionEventKind, SessionRequest, SessionStats, SyncTestMismatch,
} from './types.ts';

export { attachRollback, PlayerInputStatus, INPUT_STATUS_CODE } from './engine-system.ts';
export type { RollbackSessionLike, RollbackSystem, RollbackSystemOptions, RollbackSystemStats } from './engine-system.ts';

export {
  serveLateJoins, requestLateJoin, rollbackStateAt, lateJoinSessionBuilder,
  DEFAULT_JOIN_CHANNEL, DEFAULT_MAX_SPECTATORS, MAX_MAX_SPECTATORS, DEFAULT_JOIN_WINDOW_BYTES, DEFAULT_JOIN_TIMEOUT_MS,
  DEFAULT_LATE_JOIN_TIMEOUT_MS, JOIN_CHUNK_BYTES, LATE_JOIN_DROP_REASONS,
} from './late-join.ts';
export type {
  LateJoin, LateJoinDrop, LateJoinDropReason, LateJoinHost, LateJoinHostOptions, LateJoinHostStats, LateJoinRequestOptions, LateJoinSettings,
} from './late-join.ts';
export {
  LATE_JOIN_VERSION, MAX_JOIN_APP_BYTES, MAX_JOIN_STATE_BYTES, MAX_JOIN_DETAIL_BYTES, MAX_JOIN_CHANNEL_BYTES, JOIN_REFUSALS, JoinMessageType,
  encodeJoinMessage, decodeJoinMessage,
} from './late-join-protocol.ts';
export type { JoinMessage, JoinRefusal, MalformedJoinMessage } from './late-join-protocol.ts';
