/**
 * Errors raised by the Babylon plugin.
 *
 * Every failure the plugin reports is a {@link BabylonPluginError} with a stable
 * {@link BabylonPluginErrorCode} and a `data` record naming the offending entity id, mesh name or
 * setting, so callers can branch on `code` without parsing messages.
 */

/**
 * Stable error codes of the Babylon plugin.
 *
 * - `AlreadyAttached`: `attachPeerCompute` was called on a scene that already has a runtime for a
 *   different world or scheduler (data: `scene`).
 * - `Disposed`: a method was called on a runtime after `dispose()` (data: `method`).
 * - `UnknownEntity`: an entity id is not alive or lacks a component the call needs
 *   (data: `eid`, `component`).
 * - `AlreadyBound`: the entity or the mesh is already bound (data: `eid`, `mesh`).
 * - `UnsupportedMesh`: a mesh cannot be bound or turned into a collider as it is (parented,
 *   off-centre, no geometry, ...) (data: `mesh`, `reason`).
 * - `UnsupportedShape`: a collider shape has no mesh builder or no registered data
 *   (data: `eid`, `shape`).
 * - `InvalidConfig`: an option is out of range or of the wrong type (data: `option`, `value`).
 */
export type BabylonPluginErrorCode =
  | 'AlreadyAttached'
  | 'Disposed'
  | 'UnknownEntity'
  | 'AlreadyBound'
  | 'UnsupportedMesh'
  | 'UnsupportedShape'
  | 'InvalidConfig';

/** The one error class of the Babylon plugin: a stable `code` plus data fields. */
export class BabylonPluginError extends Error {
  override readonly name = 'BabylonPluginError';
  /** Stable machine-readable code. */
  readonly code: BabylonPluginErrorCode;
  /** Offending ids and values (entity ids, mesh names, option names). */
  readonly data: Readonly<Record<string, unknown>>;

  constructor(code: BabylonPluginErrorCode, message: string, data: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.data = data;
  }
}
