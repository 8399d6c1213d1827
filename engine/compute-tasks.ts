/**
 * Compute tasks: asynchronous work (a GPU kernel with its readback, a CPU twin in a worker, a
 * chunk from a peer) that systems start from the tick and whose results come back on a LATER
 * tick, so the tick never waits on a GPU or a network.
 *
 * Rules, in order of a tick's Compute phase (the {@link computeTaskSystem} runs there):
 * 1. **Landing.** Every task whose promise settled since the previous Compute phase "lands": its
 *    `onResult` (or `onError`) runs with the world, in ascending task id (submission order),
 *    whatever order the promises settled in. A task never lands on the tick it was submitted,
 *    even when its promise is already resolved: promises settle in microtasks, after the
 *    synchronous tick has finished.
 * 2. **Starting.** Queued tasks start, oldest first, while fewer than `maxInFlight` run. A task
 *    submitted before this system runs (in an earlier phase, or earlier in the Compute phase)
 *    starts on the same tick; one submitted later in the tick starts on the next.
 *
 * Back-pressure: at most `maxInFlight` tasks run and at most `maxQueued` wait; `submit` on a
 * full queue throws {@link EngineError} `ComputeQueueFull` (check {@link ComputeTasks.canSubmit}
 * first). Cancellation aborts the task's `AbortSignal`, frees its slot at once and drops its
 * result; the work itself may still finish in the background.
 *
 * Determinism: when a result lands depends on wall-clock time (GPU speed, network), so results
 * must not feed a rollback simulation directly (the landing tick differs between peers and
 * between a first run and a re-simulation). Use them for rendering, replicated or local-only
 * state, or as inputs of a pure function that every peer computes identically (terrain heights
 * are the same whenever they arrive). See docs/pitfalls.md, "Compute tasks".
 *
 * @example
 * ```ts
 * const tasks = installComputeTasks(scheduler, { maxInFlight: 2 });
 * scheduler.addSystem(Phase.Compute, function terrainRequestSystem(world) {
 *   if (!wanted.has(key) || !tasks.canSubmit) return;
 *   tasks.submit({
 *     name: `terrain ${key}`,
 *     run: () => generateChunk(backend, options),          // GPU dispatch + readback
 *     onResult: (w, heights, info) => addChunk(w, key, heights), // runs on a later tick
 *   });
 * }, 'terrainRequestSystem');  // registered after installComputeTasks: starts next tick
 * ```
 */
import { EngineError } from './errors.ts';
import { Phase, type Scheduler } from './scheduler.ts';
import { deleteResource, findResource, getResource, resourceKey, setResource, type GameWorld } from './world.ts';

/** Default of {@link ComputeTasksOptions.maxInFlight}. */
export const DEFAULT_MAX_IN_FLIGHT = 2;
/** Default of {@link ComputeTasksOptions.maxQueued}. */
export const DEFAULT_MAX_QUEUED = 256;
/** Name under which {@link installComputeTasks} registers {@link computeTaskSystem}. */
export const COMPUTE_TASK_SYSTEM = 'computeTaskSystem';

/** Where a task is: waiting, running, landed with a result or an error, or cancelled. */
export type ComputeTaskState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** Ticks of one task's life, passed to its callbacks (values of `world.time.tick`). */
export interface ComputeTaskInfo {
  /** Unique per {@link ComputeTasks}, increasing from 1 in submission order. */
  readonly id: number;
  readonly name: string;
  /** Tick during which `submit` was called. */
  readonly submittedTick: number;
  /** Tick whose Compute phase started it. */
  readonly startedTick: number;
  /** Tick whose Compute phase runs the callback (always > `submittedTick`). */
  readonly landedTick: number;
}

/** One unit of asynchronous work and what to do with its result. */
export interface ComputeTaskSpec<R> {
  /** Shown in stats and errors, e.g. `"terrain 3,-2 lod 0"`. */
  readonly name: string;
  /**
   * Starts the work. Called from the Compute phase (never during `submit`); must not touch the
   * world (it has no world argument for that reason). A synchronous throw counts as a failure.
   * @param signal Aborted when the task is cancelled; pass it on to fetches and workers.
   */
  run(signal: AbortSignal): Promise<R>;
  /** Runs in the Compute phase of the landing tick with the result. */
  onResult?(world: GameWorld, result: R, info: ComputeTaskInfo): void;
  /** Runs in the Compute phase of the landing tick when `run` threw or its promise rejected. */
  onError?(world: GameWorld, error: unknown, info: ComputeTaskInfo): void;
}

/** What `submit` returns: the task's id, its state, and a way to cancel it. */
export interface ComputeTaskHandle {
  readonly id: number;
  readonly name: string;
  /** Current state; `done`/`failed` only once the task has landed. */
  readonly state: ComputeTaskState;
  /**
   * Cancels a queued or running task: its signal is aborted, its slot freed, its result never
   * lands. Returns whether it was cancelled (false once it landed or was cancelled before).
   */
  cancel(): boolean;
}

/** Options of {@link ComputeTasks} / {@link installComputeTasks}. */
export interface ComputeTasksOptions {
  /** Most tasks running at once, an integer >= 1; default {@link DEFAULT_MAX_IN_FLIGHT}. */
  readonly maxInFlight?: number;
  /** Most tasks waiting to start, an integer >= 0; default {@link DEFAULT_MAX_QUEUED}. */
  readonly maxQueued?: number;
  /**
   * Called when an `onResult`/`onError` callback throws; the other tasks still land. Default:
   * `console.error`. The error is counted in `stats.callbackErrors` either way.
   */
  readonly onCallbackError?: (error: unknown, info: ComputeTaskInfo) => void;
}

/** Counters of a {@link ComputeTasks} (ticks are simulation ticks, not milliseconds). */
export interface ComputeTaskStats {
  submitted: number;
  /** Landed with a result. */
  completed: number;
  /** Landed with an error. */
  failed: number;
  cancelled: number;
  /** Waiting to start now. */
  queued: number;
  /** Started and not yet landed or cancelled now. */
  running: number;
  /** Callbacks that threw. */
  callbackErrors: number;
  /** `landedTick - submittedTick` of the last landed task. */
  lastLatencyTicks: number;
  /** Largest `landedTick - submittedTick` so far. */
  maxLatencyTicks: number;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

class Task implements ComputeTaskHandle {
  state: ComputeTaskState = 'queued';
  startedTick = -1;
  outcome: Outcome | null = null;
  readonly controller = new AbortController();

  constructor(
    readonly owner: ComputeTasks,
    readonly id: number,
    readonly spec: ComputeTaskSpec<unknown>,
    readonly submittedTick: number,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  cancel(): boolean {
    return this.owner.cancelTask(this);
  }
}

/** Key of the world resource set by {@link installComputeTasks}. */
export const COMPUTE_TASKS = resourceKey<ComputeTasks>('peercompute.computeTasks');

function checkCount(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new EngineError('InvalidConfig', `${name} must be an integer >= ${min}, got ${value}`, { [name]: value });
  }
  return value;
}

/**
 * The compute task queue of one world. Create it with {@link installComputeTasks}, which also
 * registers the system that starts tasks and lands their results.
 */
export class ComputeTasks {
  readonly maxInFlight: number;
  readonly maxQueued: number;
  readonly stats: ComputeTaskStats = {
    submitted: 0, completed: 0, failed: 0, cancelled: 0, queued: 0, running: 0, callbackErrors: 0,
    lastLatencyTicks: 0, maxLatencyTicks: 0,
  };
  readonly #queue: Task[] = [];
  readonly #running = new Set<Task>();
  /** Settled since the last landing; sorted by id before landing. */
  #settled: Task[] = [];
  #nextId = 1;
  readonly #onCallbackError: (error: unknown, info: ComputeTaskInfo) => void;

  /** @throws EngineError `InvalidConfig` for a bad `maxInFlight` or `maxQueued`. */
  constructor(readonly world: GameWorld, options: ComputeTasksOptions = {}) {
    this.maxInFlight = checkCount('maxInFlight', options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT, 1);
    this.maxQueued = checkCount('maxQueued', options.maxQueued ?? DEFAULT_MAX_QUEUED, 0);
    this.#onCallbackError = options.onCallbackError ?? ((error, info) => {
      console.error(`compute task ${info.id} (${info.name}) callback threw`, error);
    });
  }

  /** Whether `submit` would accept a task now (a slot to run in or room in the queue). */
  get canSubmit(): boolean {
    return this.#queue.length < this.maxQueued || (this.#queue.length === 0 && this.#running.size < this.maxInFlight);
  }

  /** True when nothing is queued, running or waiting to land. */
  get idle(): boolean {
    return this.#queue.length === 0 && this.#running.size === 0 && this.#settled.length === 0;
  }

  /**
   * Queues a task; it starts in a Compute phase (see the module's rules) and lands on a later
   * tick.
   * @throws EngineError `ComputeQueueFull` when `maxQueued` tasks already wait (and no slot is
   *   free to take one at once); `InvalidConfig` when `spec.run` is not a function.
   */
  submit<R>(spec: ComputeTaskSpec<R>): ComputeTaskHandle {
    if (typeof spec?.run !== 'function') {
      throw new EngineError('InvalidConfig', `compute task ${String(spec?.name)} has no run function`, { name: spec?.name });
    }
    if (!this.canSubmit) {
      throw new EngineError(
        'ComputeQueueFull',
        `compute task queue is full (${this.#queue.length} queued, ${this.#running.size} running): cannot submit ${spec.name}`,
        { name: spec.name, queued: this.#queue.length, running: this.#running.size },
      );
    }
    const task = new Task(this, this.#nextId++, spec as ComputeTaskSpec<unknown>, this.world.time.tick);
    this.#queue.push(task);
    this.stats.submitted++;
    this.stats.queued = this.#queue.length;
    return task;
  }

  /** Cancels every queued and running task (e.g. when leaving a level). Returns how many. */
  cancelAll(): number {
    let n = 0;
    for (const task of [...this.#queue, ...this.#running]) if (this.cancelTask(task)) n++;
    return n;
  }

  /** @internal Used by a handle's `cancel()`. */
  cancelTask(task: Task): boolean {
    if (task.state === 'queued') {
      this.#queue.splice(this.#queue.indexOf(task), 1);
    } else if (task.state === 'running') {
      this.#running.delete(task);
      const i = this.#settled.indexOf(task);
      if (i >= 0) this.#settled.splice(i, 1);
    } else {
      return false;
    }
    task.state = 'cancelled';
    task.controller.abort(new EngineError('ComputeCancelled', `compute task ${task.id} (${task.name}) was cancelled`, { id: task.id }));
    this.stats.cancelled++;
    this.#count();
    return true;
  }

  /** Runs one Compute phase: lands settled tasks, then starts queued ones. */
  tick(): void {
    this.#land();
    this.#start();
  }

  #land(): void {
    if (this.#settled.length === 0) return;
    const landing = this.#settled.sort((a, b) => a.id - b.id);
    this.#settled = [];
    const tick = this.world.time.tick;
    for (const task of landing) {
      if (task.state !== 'running') continue; // cancelled after settling
      this.#running.delete(task);
      const outcome = task.outcome!;
      const info: ComputeTaskInfo = {
        id: task.id, name: task.name, submittedTick: task.submittedTick, startedTick: task.startedTick, landedTick: tick,
      };
      const latency = tick - task.submittedTick;
      this.stats.lastLatencyTicks = latency;
      if (latency > this.stats.maxLatencyTicks) this.stats.maxLatencyTicks = latency;
      try {
        if (outcome.ok) {
          task.state = 'done';
          this.stats.completed++;
          task.spec.onResult?.(this.world, outcome.value, info);
        } else {
          task.state = 'failed';
          this.stats.failed++;
          task.spec.onError?.(this.world, outcome.error, info);
        }
      } catch (error) {
        this.stats.callbackErrors++;
        this.#onCallbackError(error, info);
      }
    }
    this.#count();
  }

  #start(): void {
    const tick = this.world.time.tick;
    while (this.#queue.length > 0 && this.#running.size < this.maxInFlight) {
      const task = this.#queue.shift()!;
      task.state = 'running';
      task.startedTick = tick;
      this.#running.add(task);
      let promise: Promise<unknown>;
      try {
        promise = Promise.resolve(task.spec.run(task.controller.signal));
      } catch (error) {
        promise = Promise.reject(error);
      }
      promise.then(
        (value) => this.#settle(task, { ok: true, value }),
        (error: unknown) => this.#settle(task, { ok: false, error }),
      );
    }
    this.#count();
  }

  #settle(task: Task, outcome: Outcome): void {
    if (task.state !== 'running') return; // cancelled: drop the result
    task.outcome = outcome;
    this.#settled.push(task);
  }

  #count(): void {
    this.stats.queued = this.#queue.length;
    this.stats.running = this.#running.size;
  }
}

/**
 * The system that lands results and starts tasks; runs {@link ComputeTasks.tick} of the world's
 * {@link COMPUTE_TASKS} resource. Registered by {@link installComputeTasks} in `Phase.Compute`.
 */
export function computeTaskSystem(world: GameWorld): void {
  findResource(world, COMPUTE_TASKS)?.tick();
}

/**
 * Creates the world's compute task queue, stores it as the {@link COMPUTE_TASKS} resource and
 * registers {@link computeTaskSystem} in `Phase.Compute` (after the systems already there).
 *
 * @param scheduler The scheduler of the world.
 * @param options See {@link ComputeTasksOptions}.
 * @returns The queue. {@link uninstallComputeTasks} undoes this.
 * @throws EngineError `InvalidConfig` when the world already has a queue or an option is bad.
 */
export function installComputeTasks(scheduler: Scheduler, options: ComputeTasksOptions = {}): ComputeTasks {
  const world = scheduler.world;
  if (findResource(world, COMPUTE_TASKS) !== undefined) {
    throw new EngineError('InvalidConfig', 'this world already has compute tasks installed', {});
  }
  const tasks = new ComputeTasks(world, options);
  scheduler.addSystem(Phase.Compute, computeTaskSystem, COMPUTE_TASK_SYSTEM);
  setResource(world, COMPUTE_TASKS, tasks);
  return tasks;
}

/**
 * Undoes {@link installComputeTasks}: cancels every task, removes the system and the resource.
 * Safe to call twice.
 */
export function uninstallComputeTasks(scheduler: Scheduler): void {
  const tasks = findResource(scheduler.world, COMPUTE_TASKS);
  if (tasks === undefined) return;
  tasks.cancelAll();
  if (scheduler.systemsOf(Phase.Compute).includes(COMPUTE_TASK_SYSTEM)) scheduler.removeSystem(COMPUTE_TASK_SYSTEM);
  deleteResource(scheduler.world, COMPUTE_TASKS);
}

/**
 * The world's compute task queue.
 * @throws EngineError `MissingResource` when {@link installComputeTasks} was not called.
 */
export function computeTasks(world: GameWorld): ComputeTasks {
  return getResource(world, COMPUTE_TASKS);
}
