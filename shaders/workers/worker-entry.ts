/**
 * The worker side of a {@link WorkerPool}: the script every pool worker runs, as a browser
 * module Web Worker or a Node `worker_threads` worker. It runs registered kernels' CPU twins
 * (`runKernelCpu`) on the bytes it is sent and sends the output bytes back.
 *
 * Message protocol (types in shaders/workers/protocol.ts):
 *
 * | direction | message | when |
 * |---|---|---|
 * | pool -> worker | `{ type: 'init', modules: string[] }` | first; the worker imports each URL and calls its `registerKernels()` |
 * | worker -> pool | `{ type: 'ready' }` / `{ type: 'init-failed', url, message }` | after `init` |
 * | pool -> worker | `{ type: 'run', id, kernel, input }` | one task at a time; `input.buffer` transferred |
 * | worker -> pool | `{ type: 'result', id, output }` | `output.buffer` transferred |
 * | worker -> pool | `{ type: 'error', id, code, message, data }` | the kernel threw; the worker lives on |
 *
 * Messages are handled strictly in arrival order (a `run` waits for `init` to finish). The
 * kernel itself runs synchronously: it cannot be interrupted, so the pool cancels a running
 * task by terminating the worker. A kernel that throws is answered with `error` (a ShadersError
 * keeps its code; anything else becomes `KernelFailed`); an uncaught asynchronous error or
 * `process.exit` ends the worker, which the pool sees as a crash.
 *
 * Importing this file anywhere but in a worker does nothing (it checks where it runs).
 */
import { ShadersError, type ShadersErrorCode } from '../errors.ts';
import { runKernelCpu } from '../kernels.ts';
import { REGISTER_EXPORT, transferable, type ErrorMessage, type PoolToWorker, type WorkerToPool } from './protocol.ts';

/** The two things a worker needs from its environment. */
interface Port {
  post(message: WorkerToPool, transfer: ArrayBuffer[]): void;
  listen(handler: (message: unknown) => void): void;
}

/** The parts of a browser DedicatedWorkerGlobalScope used here (the DOM lib types `self` as a Window). */
interface WorkerScope {
  postMessage(message: unknown, options: { transfer: ArrayBuffer[] }): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

let failed = false;
let chain: Promise<void> = Promise.resolve();

function errorMessage(id: number, error: unknown, kernel: string): ErrorMessage {
  if (error instanceof ShadersError) return { type: 'error', id, code: error.code, message: error.message, data: { ...error.data } };
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const code: ShadersErrorCode = 'KernelFailed';
  return { type: 'error', id, code, message: `kernel ${kernel} threw in a worker: ${reason}`, data: { kernel, reason } };
}

async function init(port: Port, modules: readonly unknown[]): Promise<void> {
  for (const url of modules) {
    try {
      if (typeof url !== 'string') throw new Error(`module URL ${String(url)} is not a string`);
      const module = (await import(/* @vite-ignore */ url)) as Record<string, unknown>;
      const register = module[REGISTER_EXPORT];
      if (typeof register !== 'function') throw new Error(`the module exports no ${REGISTER_EXPORT}() function`);
      await (register as () => unknown)();
    } catch (error) {
      failed = true;
      port.post({ type: 'init-failed', url: String(url), message: error instanceof Error ? error.message : String(error) }, []);
      return;
    }
  }
  port.post({ type: 'ready' }, []);
}

function run(port: Port, id: number, kernel: string, input: unknown): void {
  let output: Uint8Array;
  try {
    const result: unknown = runKernelCpu(kernel, input as Uint8Array);
    if (!(result instanceof Uint8Array)) throw new ShadersError('KernelFailed', `kernel ${kernel} returned ${Object.prototype.toString.call(result)}, not a Uint8Array`, { kernel, reason: 'not a Uint8Array' });
    output = transferable(result);
  } catch (error) {
    const message = errorMessage(id, error, String(kernel));
    try {
      port.post(message, []);
    } catch {
      // data held something structured clone refuses (a function, a class instance).
      port.post({ ...message, data: { kernel: String(kernel), reason: 'error data could not be cloned' } }, []);
    }
    return;
  }
  port.post({ type: 'result', id, output }, [output.buffer as ArrayBuffer]);
}

function handle(port: Port, raw: unknown): Promise<void> | void {
  const message = raw as Partial<PoolToWorker> | null;
  if (message?.type === 'init') return init(port, Array.isArray(message.modules) ? message.modules : []);
  if (message?.type === 'run' && typeof message.id === 'number') {
    if (failed) return; // the pool has been told and terminates this worker
    run(port, message.id, String(message.kernel), message.input);
  }
  // Anything else is not from a pool: ignored.
}

function attach(port: Port): void {
  port.listen((raw) => {
    chain = chain.then(() => handle(port, raw));
  });
}

/** Where this file runs: a browser worker (sync check, so no message is missed), else maybe Node. */
async function start(): Promise<void> {
  if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === 'function') {
    const scope = globalThis as unknown as WorkerScope;
    attach({
      post: (message, transfer) => scope.postMessage(message, { transfer }),
      listen: (handler) => scope.addEventListener('message', (event) => handler(event.data)),
    });
    return;
  }
  if (typeof process === 'undefined' || typeof process.versions?.node !== 'string') return;
  // A computed specifier keeps bundlers from resolving a Node built-in for browsers.
  const specifier = 'node:worker_threads';
  const threads = (await import(/* @vite-ignore */ specifier)) as typeof import('node:worker_threads');
  const parent = threads.parentPort;
  if (threads.isMainThread || parent === null) return;
  attach({
    post: (message, transfer) => parent.postMessage(message, transfer),
    listen: (handler) => parent.on('message', handler),
  });
}

await start();
