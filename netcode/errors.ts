/**
 * Errors of the netcode area: one class, stable codes, data fields naming the offending ids.
 *
 * Misuse by local code throws a {@link NetcodeError}. Bad bytes or misbehaviour from a remote
 * peer never throw across the network boundary: they are counted and reported as a
 * {@link DropEvent} on the transport's `drop` event, then dropped.
 */

/**
 * Stable error codes of the netcode area.
 *
 * - `InvalidConfig`: a setting is out of range or of the wrong type (the message names it).
 * - `NotStarted` / `Closed`: the transport is not open (yet / any more).
 * - `UnknownPeer`: a send named a peer id that is not a member of the room.
 * - `FrameTooLarge`: a local send exceeded the maximum frame size.
 * - `DialFailed`: no relay or peer could be reached (message lists what was tried).
 * - `Relay`: the relay server failed to start or stopped unexpectedly.
 * - `InvalidRequest` (rollback): a session was misused: input for a slot that is not local, of
 *   the wrong size, missing before `advanceFrame`, an unknown peer or slot (the message names it).
 * - `JoinRefused` (late join): the host refused to let this peer watch; `data.reason` is its
 *   `JoinRefusal` (`NotRunning`, `TooManySpectators`, ...). Recoverable: ask later or elsewhere.
 * - `JoinFailed` (late join): the join did not complete; `data.reason` is `Timeout`, `HostLeft`,
 *   `Malformed`, `Cancelled` or `Closed`. Recoverable: ask again.
 * - `Persistence` (replication): a document store is unavailable or failed: no IndexedDB in this
 *   runtime, or the archive's LevelDB directory cannot be opened (locked by another process,
 *   not writable); the message names the store.
 * - `ComputeFailed` (room compute): a submitted task could not complete; `data.reason` is
 *   `Attempts` (every allowed remote run failed), `NoWorker` (no capable peer for `timeoutMs`),
 *   `Failed` (our own executor failed too), `Cancelled` (its signal aborted) or `Closed`;
 *   `data.taskId` and `data.kernel` name the task. Recoverable: submit again later.
 */
export type NetcodeErrorCode =
  | 'InvalidConfig'
  | 'NotStarted'
  | 'Closed'
  | 'UnknownPeer'
  | 'FrameTooLarge'
  | 'DialFailed'
  | 'Relay'
  | 'InvalidRequest'
  | 'JoinRefused'
  | 'JoinFailed'
  | 'Persistence'
  | 'ComputeFailed';

/** The one error class of the netcode area. */
export class NetcodeError extends Error {
  override readonly name = 'NetcodeError';
  readonly code: NetcodeErrorCode;
  readonly data: Readonly<Record<string, unknown>>;

  constructor(code: NetcodeErrorCode, message: string, data: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

/**
 * Why a received message was dropped.
 * - `Oversized`: a frame longer than the transport's `maxFrameBytes`.
 * - `Malformed`: bytes that do not decode (bad length prefix, bad envelope, unknown channel).
 * - `NotInRoom`: a message from a peer that is not a member of this room, or for another room.
 * - `Duplicate`: a broadcast already delivered (same origin and sequence number).
 */
export type DropReason = 'Oversized' | 'Malformed' | 'NotInRoom' | 'Duplicate';

/** Emitted on a transport's `drop` event for every message it discards. */
export interface DropEvent {
  readonly reason: DropReason;
  /** Authenticated peer id the bytes came from (the connection's), when known. */
  readonly from: string | undefined;
  /** Size of the dropped message, bytes. */
  readonly bytes: number;
  /** Human-readable detail for logs. */
  readonly detail: string;
}
