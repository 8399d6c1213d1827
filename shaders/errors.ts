/**
 * Errors raised by the shaders area (WebGPU compute kernels and their CPU twins).
 *
 * A missing or unusable GPU is NOT an error: {@link acquireCompute} falls back to the CPU twin and
 * says why. What throws is misuse (bad options) and a GPU failing after it was acquired.
 */

/**
 * Stable error codes of the shaders area.
 *
 * - `InvalidOption`: a kernel option is out of range or of the wrong type (`data.option` names it,
 *   `data.value` holds what was given).
 * - `ShaderCompile`: a `.wgsl` file failed to compile or the pipeline was rejected
 *   (`data.label` names the kernel, `data.messages` lists the compiler's messages).
 * - `ShaderSource`: a `.wgsl` file could not be loaded (`data.url`).
 * - `Gpu`: a GPU operation failed after the device was acquired: validation error, out of
 *   memory, lost device, failed buffer mapping (`data.label`, `data.reason`). Recoverable: acquire
 *   a new backend (possibly the CPU one) and run again.
 * - `UnknownKernel`: a task named a kernel that is not in the registry (`data.kernel`).
 * - `MalformedInput`: a kernel task's input bytes are not one valid input, or exceed the kernel's
 *   `maxInputBytes` (`data.kernel`, `data.detail` or `data.bytes`/`data.limit`). Recoverable: the
 *   bytes came from elsewhere (a peer, a worker); refuse the task.
 * - `KernelFailed`: a kernel threw something that is not a ShadersError, or returned something
 *   that is not a Uint8Array, inside a pool worker (`data.kernel`, `data.reason`). The worker
 *   lives on.
 * - `WorkerQueueFull`: a worker pool's queue holds `maxQueued` tasks and no worker is free
 *   (`data.kernel`, `data.queued`, `data.busy`). Recoverable: retry later; check `canSubmit`.
 * - `WorkerTaskCancelled`: a worker pool task's AbortSignal fired (`data.kernel`,
 *   `data.running`: whether the worker was already running it and was replaced, `data.reason`).
 * - `WorkerCrashed`: the worker running a task died (uncaught error, `process.exit`, out of
 *   memory) (`data.kernel`, `data.reason`, `data.exitCode` in Node). The pool replaces the
 *   worker; other tasks are unaffected. Retrying the same input will likely crash again.
 * - `WorkerStart`: a pool worker could not start: no worker support, the entry or one of the
 *   pool's `modules` failed to load or exports no `registerKernels` (`data.reason`, `data.url`).
 * - `WorkerPoolClosed`: the task was refused, or was queued or running, when the pool's
 *   `close()` was called (`data.kernel`).
 */
export type ShadersErrorCode = 'InvalidOption' | 'ShaderCompile' | 'ShaderSource' | 'Gpu' | 'UnknownKernel' | 'MalformedInput'
  | 'KernelFailed' | 'WorkerQueueFull' | 'WorkerTaskCancelled' | 'WorkerCrashed' | 'WorkerStart' | 'WorkerPoolClosed';

/** The one error class of the shaders area: a stable `code` plus data fields. */
export class ShadersError extends Error {
  override readonly name = 'ShadersError';
  /** Stable machine-readable code. */
  readonly code: ShadersErrorCode;
  /** Offending option names and values, kernel labels, compiler messages. */
  readonly data: Readonly<Record<string, unknown>>;

  constructor(code: ShadersErrorCode, message: string, data: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.data = data;
  }
}
