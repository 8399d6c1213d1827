/**
 * A pool of workers running registered kernels' CPU twins off the main thread: browser Web
 * Workers or Node `worker_threads`, behind one API. Tasks are addressed like every kernel task
 * (registry name, bytes in, bytes out; see shaders/kernels.ts), so a result from the pool is
 * byte-equal to `runKernelCpu` on the main thread.
 *
 * - **No copies of large arrays**: the input's buffer is transferred to the worker and the
 *   output's buffer back (by default; see {@link WorkerRunOptions.transfer}).
 * - **Back-pressure**: at most `size` tasks run and `maxQueued` wait; `run` on a full pool
 *   rejects with `WorkerQueueFull` (check {@link WorkerPool.canSubmit} first).
 * - **Cancellation**: an AbortSignal. A queued task is dropped; a running task's worker is
 *   terminated (a kernel cannot be interrupted otherwise) and replaced when needed.
 * - **Crashes**: a worker that dies fails only its own task (`WorkerCrashed`, naming the
 *   kernel); the pool starts another worker for the next task.
 * - **Lifetime**: workers start when tasks need them (up to `size`) and stay until
 *   {@link WorkerPool.close}, which terminates all of them; {@link WorkerPool.activeWorkers} is 0
 *   once it resolves. In Node, idle workers do not keep the process alive.
 *
 * Game kernels: a module listed in `modules` must export `registerKernels()` (registering with
 * `registerKernel`, safe to call twice); every worker imports it and calls it at start. Call the
 * same function on the main thread too: `run` validates inputs there first.
 *
 * @example
 * ```ts
 * const pool = createWorkerPool({ size: 2 });
 * const input = encodeTerrainChunkInput({ seed: 7, chunkX: 1, chunkZ: -2, size: 256 });
 * const bytes = await pool.run('terrain.chunk', input); // input is detached now
 * const heights = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
 * // From a compute task (engine/compute-tasks.ts): the tick never waits on the worker.
 * tasks.submit({ name: 'chunk 1,-2', run: (signal) => pool.run('terrain.chunk', next, { signal }), onResult: ... });
 * await pool.close();
 * ```
 */
import { ShadersError } from '../errors.ts';
import { prepareKernelTask } from '../kernels.ts';
import type { WorkerToPool } from './protocol.ts';
import { spawnKernelWorker, type KernelWorker, type NodeWorkerLimits } from './spawn.ts';

/** Default of {@link WorkerPoolOptions.maxQueued}. */
export const DEFAULT_WORKER_MAX_QUEUED = 256;
/** Largest {@link WorkerPoolOptions.size}. */
export const MAX_WORKER_POOL_SIZE = 64;

/**
 * Default {@link WorkerPoolOptions.size}: `navigator.hardwareConcurrency - 1` (one core left for
 * the main thread), at least 1. Node 20 has no `navigator`: there it is 1 (pass
 * `os.availableParallelism() - 1` yourself).
 */
export function defaultWorkerPoolSize(): number {
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return Math.max(1, Math.min(MAX_WORKER_POOL_SIZE, (typeof cores === 'number' && cores > 0 ? cores : 2) - 1));
}

/** Options of {@link createWorkerPool}. */
export interface WorkerPoolOptions {
  /** Most workers, an integer 1..{@link MAX_WORKER_POOL_SIZE}; default {@link defaultWorkerPoolSize}. */
  readonly size?: number;
  /** Most tasks waiting for a worker, an integer >= 0; default {@link DEFAULT_WORKER_MAX_QUEUED}. */
  readonly maxQueued?: number;
  /**
   * Absolute URLs of modules every worker imports at start, each exporting `registerKernels()`.
   * `file:` URLs in Node; in a browser, URLs the page could `import()` (e.g. `new URL('./my-kernels.ts',
   * import.meta.url).href` under Vite's dev server). Default none. A module that fails to load
   * fails the task that started the worker with `WorkerStart`.
   */
  readonly modules?: readonly (URL | string)[];
  /** Node only: heap limits of each worker (a worker over them dies: `WorkerCrashed`). */
  readonly nodeResourceLimits?: NodeWorkerLimits;
}

/** Options of {@link WorkerPool.run}. */
export interface WorkerRunOptions {
  /** Cancels the task: rejects with `WorkerTaskCancelled`; a running task's worker is terminated. */
  readonly signal?: AbortSignal;
  /**
   * Move the input's buffer to the worker instead of copying it. Default `true`. When the input
   * covers its whole ArrayBuffer, that buffer is DETACHED as soon as `run` accepts the task
   * (`input.byteLength` becomes 0; the caller must not use it again); a view into a larger
   * buffer, a SharedArrayBuffer, or `transfer: false` copies just the input's bytes instead,
   * leaving the caller's array untouched. Either way the task sees the bytes as they were at
   * the call.
   */
  readonly transfer?: boolean;
}

/** Counters and gauges of a {@link WorkerPool}. */
export interface WorkerPoolStats {
  /** The configured most workers. */
  readonly size: number;
  /** Workers started and not yet stopped (including ones still loading, or being terminated). */
  readonly workers: number;
  /** Tasks running in a worker now. */
  readonly busy: number;
  /** Tasks waiting for a worker now. */
  readonly queued: number;
  /** Tasks resolved with output bytes. */
  readonly completed: number;
  /**
   * Tasks rejected by a kernel error (the kernel's ShadersError, `KernelFailed`) or by
   * `WorkerStart` (not `WorkerCrashed` ones: see `crashed`).
   */
  readonly failed: number;
  /**
   * Workers that died unexpectedly, while running a task (which rejects `WorkerCrashed`, or
   * `WorkerStart` when the worker had not finished loading) or while idle.
   */
  readonly crashed: number;
  /** Tasks ended by their signal or by `close()`. */
  readonly cancelled: number;
}

interface Task {
  readonly id: number;
  readonly kernel: string;
  /** The bytes to post; covers its whole buffer, which is transferred. */
  input: Uint8Array;
  readonly resolve: (output: Uint8Array) => void;
  readonly reject: (error: ShadersError) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
  slot: Slot | null;
}

/** One worker place: starting (worker null), idle, busy, or stopping. */
interface Slot {
  worker: KernelWorker | null;
  state: 'idle' | 'busy' | 'stopping';
  /** The worker said `ready` (its modules registered). */
  ready: boolean;
  task: Task | null;
  /** Resolves once the slot is gone (its worker stopped, or never started). */
  readonly gone: Promise<void>;
  readonly markGone: () => void;
}

const EMPTY = new Uint8Array(0);

function checkInteger(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ShadersError('InvalidOption', `worker pool ${option} must be an integer in ${min}..${max}, got ${String(value)}`, { option, value });
  }
  return value;
}

/** Detaches `buffer` and returns a new ArrayBuffer owning its memory (no copy). */
function detach(buffer: ArrayBuffer): ArrayBuffer {
  const withTransfer = buffer as ArrayBuffer & { transfer?: () => ArrayBuffer };
  if (typeof withTransfer.transfer === 'function') return withTransfer.transfer();
  return structuredClone(buffer, { transfer: [buffer] });
}

/**
 * A pool of kernel workers. Create it with {@link createWorkerPool}.
 */
export class WorkerPool {
  /** Most workers (see {@link WorkerPoolOptions.size}). */
  readonly size: number;
  /** Most queued tasks (see {@link WorkerPoolOptions.maxQueued}). */
  readonly maxQueued: number;
  /** Module URLs every worker imports (hrefs). */
  readonly modules: readonly string[];
  readonly #limits: NodeWorkerLimits | undefined;
  readonly #queue: Task[] = [];
  readonly #slots = new Set<Slot>();
  #nextId = 1;
  #closing: Promise<void> | null = null;
  #completed = 0;
  #failed = 0;
  #crashed = 0;
  #cancelled = 0;

  /** @throws ShadersError `InvalidOption` for a bad size, maxQueued or module URL. */
  constructor(options: WorkerPoolOptions = {}) {
    this.size = checkInteger('size', options.size ?? defaultWorkerPoolSize(), 1, MAX_WORKER_POOL_SIZE);
    this.maxQueued = checkInteger('maxQueued', options.maxQueued ?? DEFAULT_WORKER_MAX_QUEUED, 0, Number.MAX_SAFE_INTEGER);
    const modules = options.modules ?? [];
    if (!Array.isArray(modules)) throw new ShadersError('InvalidOption', 'worker pool modules must be an array of URLs', { option: 'modules', value: modules });
    this.modules = modules.map((module: unknown) => {
      try {
        if (module instanceof URL) return module.href;
        if (typeof module === 'string') return new URL(module).href;
      } catch {
        // falls through to the error below
      }
      throw new ShadersError('InvalidOption', `worker pool module ${String(module)} is not an absolute URL`, { option: 'modules', value: String(module) });
    });
    this.#limits = options.nodeResourceLimits;
  }

  /** Counters and gauges, a fresh object per read. */
  get stats(): WorkerPoolStats {
    let busy = 0;
    for (const slot of this.#slots) if (slot.state === 'busy') busy++;
    return {
      size: this.size, workers: this.#slots.size, busy, queued: this.#queue.length,
      completed: this.#completed, failed: this.#failed, crashed: this.#crashed, cancelled: this.#cancelled,
    };
  }

  /**
   * Workers started and not yet stopped, including ones loading or being terminated. 0 after
   * `await close()`: no worker of this pool remains.
   */
  get activeWorkers(): number {
    return this.#slots.size;
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closing !== null;
  }

  /** Whether `run` would accept a task now: a worker free or startable, or room in the queue. */
  get canSubmit(): boolean {
    if (this.closed) return false;
    return this.#queue.length < this.maxQueued || (this.#queue.length === 0 && this.#freeSlot() !== 'none');
  }

  /**
   * Runs a registered kernel's CPU twin in a worker.
   *
   * The task is checked first, on this thread (`prepareKernelTask`: the kernel exists, the input
   * decodes; this costs a decode of the input), then queued, then run by the first free worker,
   * which checks it again.
   *
   * @param kernel Registry name, e.g. `'terrain.chunk'`.
   * @param input The task's bytes. With `transfer` (default) its buffer is detached when the
   *   task is accepted, if it covers that whole buffer (see {@link WorkerRunOptions.transfer}).
   * @returns The output bytes, a Uint8Array covering its own (transferred) buffer, equal to
   *   `runKernelCpu(kernel, input)`.
   * @throws (rejects) ShadersError: `UnknownKernel`, `MalformedInput`, `InvalidOption` before
   *   queuing (input untouched); `WorkerQueueFull`; `WorkerPoolClosed`; `WorkerTaskCancelled`;
   *   the kernel's own ShadersError or `KernelFailed`; `WorkerCrashed`; `WorkerStart`.
   */
  run(kernel: string, input: Uint8Array, options: WorkerRunOptions = {}): Promise<Uint8Array> {
    try {
      return this.#submit(kernel, input, options ?? {});
    } catch (error) {
      return Promise.reject(error instanceof ShadersError ? error : new ShadersError('InvalidOption', `worker pool run: ${String(error)}`, { option: 'run', value: String(error) }));
    }
  }

  /**
   * Terminates every worker (running kernels are stopped mid-way) and rejects every queued and
   * running task with `WorkerPoolClosed`; later `run` calls reject the same way. Resolves once
   * every worker has stopped ({@link activeWorkers} is 0). Safe to call twice (same promise).
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    const slots = [...this.#slots];
    const closedError = (task: Task) => new ShadersError('WorkerPoolClosed', `worker pool closed: task ${task.id} (${task.kernel}) was not run`, { kernel: task.kernel });
    for (const task of this.#queue.splice(0)) {
      this.#cancelled++;
      this.#settle(task, closedError(task));
    }
    for (const slot of slots) {
      const task = slot.task;
      this.#stop(slot);
      if (task !== null) {
        this.#cancelled++;
        this.#settle(task, closedError(task));
      }
    }
    this.#closing = Promise.all(slots.map((slot) => slot.gone)).then(() => undefined);
    return this.#closing;
  }

  #submit(kernel: string, input: Uint8Array, options: WorkerRunOptions): Promise<Uint8Array> {
    if (this.closed) throw new ShadersError('WorkerPoolClosed', `worker pool is closed: cannot run ${String(kernel)}`, { kernel: String(kernel) });
    const { signal, transfer = true } = options;
    if (typeof transfer !== 'boolean') throw new ShadersError('InvalidOption', `worker pool run: transfer must be a boolean, got ${String(transfer)}`, { option: 'transfer', value: transfer });
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new ShadersError('InvalidOption', 'worker pool run: signal must be an AbortSignal', { option: 'signal', value: String(signal) });
    }
    prepareKernelTask(kernel, input); // throws UnknownKernel / MalformedInput / InvalidOption
    if (signal?.aborted) throw this.#cancelError(kernel, false, signal);
    if (!this.canSubmit) {
      const busy = this.stats.busy;
      throw new ShadersError('WorkerQueueFull', `worker pool is full (${this.#queue.length} queued, ${busy} running): cannot run ${kernel}`, {
        kernel, queued: this.#queue.length, busy,
      });
    }
    const whole = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength && input.buffer instanceof ArrayBuffer;
    const bytes = transfer && whole ? new Uint8Array(detach(input.buffer as ArrayBuffer)) : new Uint8Array(input);
    return new Promise<Uint8Array>((resolve, reject) => {
      const task: Task = {
        id: this.#nextId++, kernel, input: bytes, resolve, reject, signal, slot: null,
        onAbort: () => this.#cancel(task),
      };
      signal?.addEventListener('abort', task.onAbort, { once: true });
      this.#queue.push(task);
      this.#pump();
    });
  }

  #cancelError(kernel: string, running: boolean, signal: AbortSignal): ShadersError {
    const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
    return new ShadersError('WorkerTaskCancelled', `worker pool task ${kernel} was cancelled${running ? ' while running (its worker was terminated)' : ''}: ${reason}`, {
      kernel, running, reason,
    });
  }

  #cancel(task: Task): void {
    const queued = this.#queue.indexOf(task);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
    } else if (task.slot !== null && task.slot.task === task) {
      this.#stop(task.slot);
    } else {
      return; // already settled
    }
    this.#cancelled++;
    this.#settle(task, this.#cancelError(task.kernel, queued < 0, task.signal!));
    this.#pump();
  }

  #settle(task: Task, outcome: Uint8Array | ShadersError): void {
    task.signal?.removeEventListener('abort', task.onAbort);
    task.slot = null;
    task.input = EMPTY;
    if (outcome instanceof ShadersError) task.reject(outcome);
    else task.resolve(outcome);
  }

  /** An idle slot, `'new'` when another worker may start, or `'none'`. */
  #freeSlot(): Slot | 'new' | 'none' {
    let usable = 0;
    for (const slot of this.#slots) {
      if (slot.state === 'idle') return slot;
      if (slot.state === 'busy') usable++;
    }
    return usable < this.size ? 'new' : 'none';
  }

  /** Hands queued tasks to free workers, starting workers up to `size`. */
  #pump(): void {
    while (this.#queue.length > 0 && !this.closed) {
      const free = this.#freeSlot();
      if (free === 'none') return;
      const slot = free === 'new' ? this.#spawn() : free;
      this.#assign(slot, this.#queue.shift()!);
    }
  }

  #assign(slot: Slot, task: Task): void {
    slot.state = 'busy';
    slot.task = task;
    task.slot = slot;
    if (slot.worker !== null) this.#post(slot, task);
  }

  #post(slot: Slot, task: Task): void {
    const worker = slot.worker!;
    worker.keepAlive(true);
    const input = task.input;
    try {
      worker.post({ type: 'run', id: task.id, kernel: task.kernel, input }, [input.buffer as ArrayBuffer]);
    } catch (error) {
      this.#failed++;
      this.#release(slot);
      this.#settle(task, new ShadersError('KernelFailed', `could not send task ${task.kernel} to a worker: ${(error as Error).message}`, {
        kernel: task.kernel, reason: (error as Error).message,
      }));
      this.#pump();
      return;
    }
    task.input = EMPTY;
  }

  #spawn(): Slot {
    let markGone: () => void = () => {};
    const gone = new Promise<void>((resolve) => { markGone = resolve; });
    const slot: Slot = { worker: null, state: 'busy', ready: false, task: null, gone, markGone };
    this.#slots.add(slot);
    spawnKernelWorker({
      message: (message) => this.#onMessage(slot, message),
      crash: (reason, exitCode) => this.#onCrash(slot, reason, exitCode),
    }, { nodeResourceLimits: this.#limits }).then((worker) => {
      slot.worker = worker;
      if (slot.state === 'stopping') {
        // Cancelled or closed while starting.
        void worker.terminate().then(() => this.#remove(slot));
        return;
      }
      worker.post({ type: 'init', modules: this.modules }, []);
      if (slot.task !== null) this.#post(slot, slot.task);
      else this.#release(slot);
    }, (error: unknown) => {
      const task = slot.task;
      slot.state = 'stopping';
      this.#remove(slot);
      if (task !== null) {
        this.#failed++;
        const reason = error instanceof Error ? error.message : String(error);
        this.#settle(task, error instanceof ShadersError ? error : new ShadersError('WorkerStart', `could not start a kernel worker: ${reason}`, { reason }));
      }
      this.#pump();
    });
    return slot;
  }

  /** The slot's task is over: it is idle now (and lets a Node process exit). */
  #release(slot: Slot): void {
    if (slot.state === 'stopping') return;
    slot.task = null;
    slot.state = 'idle';
    slot.worker?.keepAlive(false);
  }

  /** Terminates the slot's worker (or the one still starting); drops its task without settling it. */
  #stop(slot: Slot): void {
    if (slot.state === 'stopping') return;
    slot.state = 'stopping';
    if (slot.task !== null) slot.task.slot = null;
    slot.task = null;
    if (slot.worker !== null) void slot.worker.terminate().then(() => this.#remove(slot));
    // else: removed when the start finishes (see #spawn).
  }

  #remove(slot: Slot): void {
    this.#slots.delete(slot);
    slot.markGone();
  }

  #onMessage(slot: Slot, message: WorkerToPool): void {
    if (slot.state === 'stopping') return;
    switch (message?.type) {
      case 'ready':
        slot.ready = true;
        return;
      case 'init-failed': {
        const task = slot.task;
        this.#stop(slot);
        if (task !== null) {
          this.#failed++;
          this.#settle(task, new ShadersError('WorkerStart', `a kernel worker could not load ${message.url}: ${message.message}`, {
            url: message.url, reason: message.message, kernel: task.kernel,
          }));
        }
        this.#pump();
        return;
      }
      case 'result':
      case 'error': {
        const task = slot.task;
        if (task === null || task.id !== message.id) return; // not this worker's task: ignore
        this.#release(slot);
        if (message.type === 'result') {
          if (message.output instanceof Uint8Array) {
            this.#completed++;
            this.#settle(task, message.output);
          } else {
            this.#failed++;
            this.#settle(task, new ShadersError('KernelFailed', `kernel ${task.kernel} sent back no bytes`, { kernel: task.kernel, reason: 'output not a Uint8Array' }));
          }
        } else {
          this.#failed++;
          const data = typeof message.data === 'object' && message.data !== null ? message.data : {};
          this.#settle(task, new ShadersError(message.code, String(message.message), data));
        }
        this.#pump();
        return;
      }
      default:
        // Unknown message: ignored (a kernel module posting its own messages, say).
    }
  }

  #onCrash(slot: Slot, reason: string, exitCode: number | undefined): void {
    if (slot.state === 'stopping') return;
    const task = slot.task;
    const started = slot.ready;
    slot.state = 'stopping';
    slot.task = null;
    this.#crashed++;
    void (slot.worker?.exited ?? Promise.resolve()).then(() => this.#remove(slot));
    if (task !== null) {
      if (!started) this.#failed++;
      task.slot = null;
      const data = { kernel: task.kernel, reason, ...(exitCode === undefined ? {} : { exitCode }) };
      this.#settle(task, started
        ? new ShadersError('WorkerCrashed', `the worker running ${task.kernel} (task ${task.id}) died: ${reason}`, data)
        : new ShadersError('WorkerStart', `a kernel worker died while starting, before running ${task.kernel}: ${reason}`, data));
    }
    this.#pump();
  }
}

/**
 * Creates a {@link WorkerPool}. No worker starts until a task needs one.
 *
 * @param options See {@link WorkerPoolOptions}; defaults: `size` {@link defaultWorkerPoolSize},
 *   `maxQueued` 256, no modules.
 * @throws ShadersError `InvalidOption` for a bad option (`data.option`, `data.value`).
 */
export function createWorkerPool(options: WorkerPoolOptions = {}): WorkerPool {
  return new WorkerPool(options);
}
