/**
 * Messages between a {@link WorkerPool} (shaders/workers/pool.ts) and its workers
 * (shaders/workers/worker-entry.ts). Every message is a plain object sent with `postMessage`
 * (structured clone); byte arrays travel as transferred buffers, never copied.
 *
 * Pool -> worker:
 * 1. `init` once, first: the URLs of the game's kernel modules. The worker imports each and
 *    calls its exported `registerKernels()`, then answers `ready` (or `init-failed`).
 * 2. `run` per task: `input` is a Uint8Array whose buffer is transferred and covers it exactly
 *    (offset 0, whole buffer). A worker runs one task at a time; the pool sends the next `run`
 *    only after the answer to the previous one. A `run` that arrives before `init` finished
 *    waits for it.
 *
 * Worker -> pool:
 * - `ready`: every module registered its kernels.
 * - `init-failed`: a module failed to load or has no `registerKernels` function (`url`,
 *   `message`); the worker runs nothing and waits to be terminated.
 * - `result`: the task `id`'s output bytes, buffer transferred, covering the array exactly.
 * - `error`: the task `id` failed without harming the worker: `code` is a ShadersError code
 *   (`KernelFailed` for anything thrown that was not a ShadersError), `message` and `data` as
 *   the error had them (data reduced to what structured clone accepts).
 *
 * A worker that dies (uncaught error, `process.exit`, out of memory) sends nothing: the pool
 * learns it from the worker's `error`/`exit` events.
 */
import type { ShadersErrorCode } from '../errors.ts';

/** First message to a worker: module URLs (absolute, `file:` in Node, `http(s):` in browsers). */
export interface InitMessage {
  readonly type: 'init';
  readonly modules: readonly string[];
}

/** One task: `id` unique per pool, `kernel` a registry name, `input` the task's bytes. */
export interface RunMessage {
  readonly type: 'run';
  readonly id: number;
  readonly kernel: string;
  readonly input: Uint8Array;
}

/** What the pool sends. */
export type PoolToWorker = InitMessage | RunMessage;

/** The worker registered every module's kernels. */
export interface ReadyMessage {
  readonly type: 'ready';
}

/** A module could not be loaded or registered (`url` names it). */
export interface InitFailedMessage {
  readonly type: 'init-failed';
  readonly url: string;
  readonly message: string;
}

/** Task `id` finished: its output bytes. */
export interface ResultMessage {
  readonly type: 'result';
  readonly id: number;
  readonly output: Uint8Array;
}

/** Task `id` failed inside the kernel (or its input was refused): the error's fields. */
export interface ErrorMessage {
  readonly type: 'error';
  readonly id: number;
  readonly code: ShadersErrorCode;
  readonly message: string;
  readonly data: Record<string, unknown>;
}

/** What a worker sends. */
export type WorkerToPool = ReadyMessage | InitFailedMessage | ResultMessage | ErrorMessage;

/** Name of the function every module in `modules` must export. */
export const REGISTER_EXPORT = 'registerKernels';

/**
 * Returns a Uint8Array with the same bytes whose buffer can be transferred: `bytes` itself when
 * it covers a whole (non-shared) ArrayBuffer, else a compact copy of just its bytes (a view's
 * structured clone would copy its WHOLE buffer).
 */
export function transferable(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes;
  return new Uint8Array(bytes); // copies (Buffer#slice would share memory)
}
