/**
 * Errors raised by the node area (`createNode`, the one-call front door).
 */

/**
 * Stable error codes of the node area.
 *
 * - `InvalidConfig`: an option is missing, out of range or of the wrong type (`data.option`
 *   names it, `data.value` holds what was given).
 * - `InvalidState`: a lifecycle call out of order: `start()` twice, `start()` after `stop()`,
 *   `world` read before a rollback match made the game (`data.state`).
 * - `NoRelay`: the node should join a room but found no relay (none given in Node, none served
 *   by `/peercompute/config.json` in a browser).
 * - `NoWebGpu`: `webgpu: 'require'` and no usable WebGPU device (`data.reason` says why).
 * - `StartFailed`: a part failed while starting (`data.part`, `data.reason`); everything started
 *   so far was released again. Recoverable: fix the cause, create a new node.
 */
export type NodeErrorCode = 'InvalidConfig' | 'InvalidState' | 'NoRelay' | 'NoWebGpu' | 'StartFailed';

/** The one error class of the node area: a stable `code` plus data fields. */
export class NodeError extends Error {
  override readonly name = 'NodeError';
  /** Stable machine-readable code. */
  readonly code: NodeErrorCode;
  /** Offending option names and values, states, parts. */
  readonly data: Readonly<Record<string, unknown>>;

  constructor(code: NodeErrorCode, message: string, data: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.data = data;
  }
}
