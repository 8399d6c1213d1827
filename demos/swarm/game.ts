/**
 * Swarm, shared logic (no DOM, no Babylon): tens of thousands of spheres simulated by the swarm
 * kernels (`shaders/swarm`: GPU broadphase, narrowphase and integration, or their bit-exact CPU
 * twin), driven from the engine's tick through compute tasks.
 *
 * Every tick, the Compute-phase system {@link swarmStepSystem} makes sure one swarm task is in
 * flight: it submits "advance the swarm by the ticks that passed (at most
 * {@link MAX_STEPS_PER_TASK}) and read the state back". The task's result lands on a later tick
 * (engine/compute-tasks.ts) and becomes {@link SwarmRuntime.frame}, which the scene draws. The
 * tick never waits for the GPU; when the backend is slower than 60 steps per second the swarm
 * runs in slow motion, and `simRate` says by how much.
 *
 * @example
 * ```ts
 * const game = await createSwarmGame({ count: 8192, backend: await acquireCompute() });
 * game.scheduler.advance(1000 / 60);   // submits the first task
 * game.runtime.frame?.positions;        // Q16 m, once a task has landed
 * ```
 */
import {
  computeTasks, createWorld, installComputeTasks, Phase, resourceKey, Scheduler, getResource, setResource, type ComputeTasks, type GameWorld,
} from '../../engine/index.ts';
import {
  SwarmSimulation, swarmChecksum, type ComputeBackend, type ResolvedSwarm, type SwarmOptions,
} from '../../shaders/index.ts';

/** Default number of spheres. */
export const DEFAULT_SWARM_COUNT = 20_000;
/** Most steps one task advances (catching up after slow frames). */
export const MAX_STEPS_PER_TASK = 4;

/** The newest state that landed: what the scene draws. */
export interface SwarmFrame {
  /** Q16 m, 3 per body (a copy on the GPU path; the live array on the CPU path). */
  readonly positions: Int32Array;
  /** Swarm step this state is at. */
  readonly step: number;
  /** Overlapping pairs found by the broadphase in the last step. */
  readonly pairs: number;
}

/** Display figures (wall-clock, never fed back into the simulation). */
export interface SwarmStats {
  /** Wall-clock time of the last task (steps + readback), ms. */
  taskMs: number;
  /** Same, per step, exponential moving average (weight 0.2), ms. */
  stepMs: number;
  /** Steps landed per second over the last second, and its ratio to the tick rate (1 = real time). */
  stepsPerSecond: number;
  simRate: number;
}

/** The swarm's state on the world (a resource, see {@link SWARM_RUNTIME}). */
export interface SwarmRuntime {
  sim: SwarmSimulation;
  /** `'webgpu'` or `'cpu'`: where the steps run now. */
  backend: 'webgpu' | 'cpu';
  /** Human-readable backend: the adapter's name, or the CPU backend's reason. */
  backendLabel: string;
  frame: SwarmFrame | null;
  readonly stats: SwarmStats;
  /** Backend to move to, set by {@link requestBackend}; taken by the step system. */
  pendingBackend: ComputeBackend | null;
  /** A task is in flight. */
  busy: boolean;
  /** Tick of the last submission. */
  lastSubmitTick: number;
  /** Landing times of recent steps, for `stepsPerSecond` (display only). */
  readonly landed: { at: number; steps: number }[];
  /** Last error of a task (shown on the HUD), or null. */
  error: string | null;
}

/** World resource holding the {@link SwarmRuntime}. */
export const SWARM_RUNTIME = resourceKey<SwarmRuntime>('demo.swarm');

/** A swarm game. */
export interface SwarmGame {
  readonly world: GameWorld;
  readonly scheduler: Scheduler;
  readonly tasks: ComputeTasks;
  readonly runtime: SwarmRuntime;
  /** The swarm's resolved options (radius, box, ...). */
  readonly options: ResolvedSwarm;
}

/** Options of {@link createSwarmGame}. */
export interface SwarmGameOptions extends Partial<SwarmOptions> {
  /** Where to run first: from `acquireCompute()` (GPU or the CPU twin). */
  readonly backend: ComputeBackend;
}

/** Names a backend for the HUD. */
export function backendLabel(backend: ComputeBackend): string {
  return backend.kind === 'webgpu' ? `GPU: ${backend.adapterName}` : `CPU twin (${backend.reason})`;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : 0);

/**
 * The Compute-phase system: lands nothing itself (the compute task system does), but keeps one
 * swarm task in flight, and carries out a requested backend switch between two tasks.
 */
export function swarmStepSystem(world: GameWorld): void {
  const rt = getResource(world, SWARM_RUNTIME);
  if (rt.busy) return;
  const tasks = computeTasks(world);
  const pending = rt.pendingBackend;
  rt.busy = true;
  if (pending !== null) {
    rt.pendingBackend = null;
    tasks.submit({
      name: `swarm switch to ${pending.kind}`,
      run: () => rt.sim.switchTo(pending),
      onResult: () => {
        rt.backend = rt.sim.backend;
        rt.backendLabel = backendLabel(pending);
        rt.busy = false;
      },
      onError: (_w, error) => {
        rt.error = `switch to ${pending.kind} failed: ${(error as Error).message}`;
        rt.busy = false;
      },
    });
    return;
  }
  const due = Math.max(1, Math.min(MAX_STEPS_PER_TASK, world.time.tick - rt.lastSubmitTick));
  rt.lastSubmitTick = world.time.tick;
  tasks.submit({
    name: `swarm ${due} step(s)`,
    run: async () => {
      const t0 = now();
      rt.sim.step(due);
      const read = await rt.sim.read();
      return { read, ms: now() - t0 };
    },
    onResult: (_w, { read, ms }) => {
      rt.frame = { positions: read.state.positions, step: read.state.tick, pairs: read.pairs };
      const s = rt.stats;
      s.taskMs = ms;
      s.stepMs = s.stepMs === 0 ? ms / due : s.stepMs * 0.8 + (ms / due) * 0.2;
      const t = now();
      rt.landed.push({ at: t, steps: due });
      while (rt.landed.length > 0 && rt.landed[0]!.at < t - 1000) rt.landed.shift();
      s.stepsPerSecond = rt.landed.reduce((sum, l) => sum + l.steps, 0);
      s.simRate = s.stepsPerSecond / world.time.tickRate;
      rt.busy = false;
    },
    onError: (_w, error) => {
      rt.error = (error as Error).message;
      rt.busy = false;
    },
  });
}

/**
 * Creates the world, its scheduler (60 Hz), the compute task queue (one task in flight) and the
 * swarm on `options.backend`.
 *
 * @throws ShadersError `InvalidOption` for bad swarm options; GPU compile errors (`ShaderCompile`)
 *   when the GPU kernels cannot be built (create it with a CPU backend then).
 */
export async function createSwarmGame(options: SwarmGameOptions): Promise<SwarmGame> {
  const { backend, ...swarmOptions } = options;
  const sim = await SwarmSimulation.create(backend, { count: DEFAULT_SWARM_COUNT, ...swarmOptions });
  const world = createWorld({ seed: sim.options.seed });
  const scheduler = new Scheduler(world);
  const runtime: SwarmRuntime = {
    sim,
    backend: sim.backend,
    backendLabel: backendLabel(backend),
    frame: null,
    stats: { taskMs: 0, stepMs: 0, stepsPerSecond: 0, simRate: 0 },
    pendingBackend: null,
    busy: false,
    lastSubmitTick: 0,
    landed: [],
    error: null,
  };
  setResource(world, SWARM_RUNTIME, runtime);
  // Registered before the task system, so a task submitted here starts on the same tick.
  scheduler.addSystem(Phase.Compute, swarmStepSystem);
  const tasks = installComputeTasks(scheduler, { maxInFlight: 1, maxQueued: 1 });
  return { world, scheduler, tasks, runtime, options: sim.options };
}

/** Asks the step system to move the swarm to `backend` between two tasks (state unchanged). */
export function requestBackend(game: SwarmGame, backend: ComputeBackend): void {
  game.runtime.pendingBackend = backend;
}

/** Checksum of the swarm's state now (reads the GPU when it runs there). */
export async function currentChecksum(game: SwarmGame): Promise<{ step: number; checksum: number }> {
  const { state } = await game.runtime.sim.read();
  return { step: state.tick, checksum: swarmChecksum(state) };
}
