/**
 * Errors raised by the terrain plugin (`plugins/terrain`).
 */

/**
 * Stable error codes of the terrain plugin.
 *
 * - `InvalidConfig`: an option is out of range or of the wrong type (data: `option`, `value`).
 * - `AlreadyInstalled`: the world already has a terrain (data: `seed` of the existing one).
 * - `NoTerrain`: a query needs the world's terrain and none is installed.
 * - `OutOfRange`: a chunk is outside the range colliders can name (data: `chunkX`, `chunkZ`).
 */
export type TerrainPluginErrorCode = 'InvalidConfig' | 'AlreadyInstalled' | 'NoTerrain' | 'OutOfRange';

/** The one error class of the terrain plugin: a stable `code` plus data fields. */
export class TerrainPluginError extends Error {
  override readonly name = 'TerrainPluginError';
  /** Stable machine-readable code. */
  readonly code: TerrainPluginErrorCode;
  /** Offending option names, values and chunk coordinates. */
  readonly data: Readonly<Record<string, unknown>>;

  constructor(code: TerrainPluginErrorCode, message: string, data: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.data = data;
  }
}
