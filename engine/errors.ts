/**
 * Errors raised by the engine area.
 *
 * Every failure the engine reports is an {@link EngineError} with a stable {@link EngineErrorCode}
 * and a `data` record naming the offending ids, so callers can branch on `code` without parsing
 * messages.
 */

/**
 * Stable error codes of the engine area.
 *
 * - `InvalidConfig`: a setting is out of range or of the wrong type (the message names it).
 * - `DuplicateComponent`: two component definitions with one name were used in one world.
 * - `DuplicateSystem`: a system name was registered twice with one scheduler.
 * - `UnknownSystem`: a system name that is not registered was removed.
 * - `EntityLimit`: spawning would exceed the world's `maxEntities`.
 * - `UnknownEntity`: an operation named an entity id that is not alive.
 * - `MissingResource`: a world resource was read before it was set.
 * - `InvalidSnapshot`: restore was given bytes that are not a snapshot of this world's layout
 *   (or inconsistent ones), or `encodeSnapshot` a snapshot that was not taken by `snapshot`.
 * - `MalformedSnapshot`: `decodeSnapshot` was given bytes that are not one valid encoded snapshot
 *   (`data.reason` says why: truncated, oversized, bad magic or version, checksum mismatch...).
 *   Recoverable: the bytes came from elsewhere (a peer, a file); ask again or give up.
 * - `InvalidInputRecord`: an input record is malformed (short buffer, value out of range).
 * - `Physics`: a physics body or collider could not be created from its components.
 * - `ComputeQueueFull`: a compute task was submitted while `maxQueued` tasks wait. Recoverable:
 *   check `canSubmit` and submit on a later tick.
 * - `ComputeCancelled`: the abort reason of a cancelled compute task's signal.
 */
export type EngineErrorCode =
  | 'InvalidConfig'
  | 'DuplicateComponent'
  | 'DuplicateSystem'
  | 'UnknownSystem'
  | 'EntityLimit'
  | 'UnknownEntity'
  | 'MissingResource'
  | 'InvalidSnapshot'
  | 'MalformedSnapshot'
  | 'InvalidInputRecord'
  | 'Physics'
  | 'ComputeQueueFull'
  | 'ComputeCancelled';

/** The one error class of the engine area: a stable `code` plus data fields. */
export class EngineError extends Error {
  override readonly name = 'EngineError';
  /** Stable machine-readable code. */
  readonly code: EngineErrorCode;
  /** Offending ids and values (entity ids, setting names, sizes). */
  readonly data: Readonly<Record<string, unknown>>;

  constructor(code: EngineErrorCode, message: string, data: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.data = data;
  }
}
