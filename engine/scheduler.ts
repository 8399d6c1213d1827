/**
 * Fixed-timestep scheduler with named phases.
 *
 * One tick runs every phase in {@link PHASE_ORDER}. Systems register into a phase and run in
 * registration order within it; across phases the order is the enum's, never registration's.
 * `advance(elapsedMs)` turns wall-clock time into ticks with an accumulator ("Fix Your
 * Timestep!", Glenn Fiedler, 2004): at most `maxCatchUpSteps` ticks per call, surplus time is
 * dropped (and counted) rather than spiralling, and `alpha` tells the renderer how far between
 * the last two ticks the present moment is.
 *
 * @example
 * ```ts
 * const scheduler = new Scheduler(world);                // 60 Hz from world.time.tickRate
 * scheduler.addSystem(Phase.Simulation, movementSystem);
 * scheduler.step();                                      // one tick, headless
 * const steps = scheduler.advance(16.7);                 // from a render loop
 * ```
 */
import { EngineError } from './errors.ts';
import type { GameWorld } from './world.ts';

/**
 * The phases of a tick, in execution order. Each value documents what holds once it has run.
 */
export enum Phase {
  /** Local devices are sampled: every local player's `PlayerInput` holds this tick's record. */
  Input = 0,
  /**
   * Network traffic is handled: remote inputs received, and (with rollback) earlier ticks
   * reloaded and re-simulated so the world is at the newest state consistent with known inputs.
   */
  Network = 1,
  /** Game rules ran for this tick: components hold the intended state before physics. */
  Simulation = 2,
  /** Physics stepped once by `dt`: Transforms and velocities of bodies are written back. */
  Physics = 3,
  /** Compute jobs were dispatched or their results (from earlier ticks) applied. */
  Compute = 4,
  /** Replicated state of this tick was sent to and received from peers. */
  Replication = 5,
  /** Render-side buffers (previous/current transforms for interpolation) are up to date. */
  RenderSync = 6,
}

/** All phases in execution order. */
export const PHASE_ORDER: readonly Phase[] = [
  Phase.Input, Phase.Network, Phase.Simulation, Phase.Physics, Phase.Compute, Phase.Replication, Phase.RenderSync,
];

/**
 * The phases that make up the deterministic simulation of one tick: what rollback saves,
 * restores and re-runs. Other phases never run during re-simulation.
 */
export const SIMULATION_PHASES: readonly Phase[] = [Phase.Simulation, Phase.Physics];

/** A system: a plain function of the world. Keep simulation state in components, not closures. */
export type System = (world: GameWorld) => void;

/** Default of {@link SchedulerOptions.maxCatchUpSteps}. */
export const DEFAULT_MAX_CATCH_UP_STEPS = 5;

/** Options of {@link Scheduler}. */
export interface SchedulerOptions {
  /**
   * Most ticks one `advance` call may run; time beyond that is dropped and counted in
   * `stats.droppedMs` (the game slows down instead of freezing). Default 5.
   */
  readonly maxCatchUpSteps?: number;
}

/** Timing counters of a scheduler (wall-clock, for display only; never feed the simulation). */
export interface SchedulerStats {
  /** Ticks run by this scheduler. */
  ticks: number;
  /** Duration of the last tick, ms. */
  lastTickMs: number;
  /** Exponential moving average of tick duration, ms (weight 0.1). */
  avgTickMs: number;
  /** Total wall-clock time dropped because `maxCatchUpSteps` was hit, ms. */
  droppedMs: number;
}

interface Entry {
  readonly name: string;
  readonly phase: Phase;
  readonly system: System;
}

/**
 * Tolerance when comparing accumulated time with the step: `1000 / 60` is not exact in binary,
 * so three 16.666... ms frames must still make three ticks.
 */
const STEP_EPSILON_MS = 1e-6;

const now: () => number = typeof performance !== 'undefined' ? () => performance.now() : () => Date.now();

/** Runs systems phase by phase at a fixed tick rate (taken from `world.time.tickRate`). */
export class Scheduler {
  readonly world: GameWorld;
  /** Milliseconds per tick: `1000 / tickRate`. */
  readonly stepMs: number;
  readonly maxCatchUpSteps: number;
  readonly stats: SchedulerStats = { ticks: 0, lastTickMs: 0, avgTickMs: 0, droppedMs: 0 };
  readonly #phases: Entry[][] = PHASE_ORDER.map(() => []);
  readonly #names = new Map<string, Entry>();
  #accumulatorMs = 0;
  #externalSimulation = false;

  /** @throws EngineError `InvalidConfig` when `maxCatchUpSteps` is not an integer >= 1. */
  constructor(world: GameWorld, options: SchedulerOptions = {}) {
    const maxCatchUpSteps = options.maxCatchUpSteps ?? DEFAULT_MAX_CATCH_UP_STEPS;
    if (!Number.isInteger(maxCatchUpSteps) || maxCatchUpSteps < 1) {
      throw new EngineError('InvalidConfig', `maxCatchUpSteps must be an integer >= 1, got ${maxCatchUpSteps}`, { maxCatchUpSteps });
    }
    this.world = world;
    this.stepMs = 1000 / world.time.tickRate;
    this.maxCatchUpSteps = maxCatchUpSteps;
  }

  /**
   * Registers `system` in `phase`, after the systems already there.
   * @param name unique name; defaults to the function's name.
   * @returns a function that unregisters it.
   * @throws EngineError `DuplicateSystem` when the name is taken, `InvalidConfig` when the
   *   phase is unknown or the name empty.
   */
  addSystem(phase: Phase, system: System, name: string = system.name): () => void {
    if (!(phase in Phase) || typeof phase !== 'number') {
      throw new EngineError('InvalidConfig', `unknown phase ${String(phase)}`, { phase });
    }
    if (!name) throw new EngineError('InvalidConfig', 'a system needs a name (pass one for anonymous functions)', {});
    if (this.#names.has(name)) {
      throw new EngineError('DuplicateSystem', `a system named ${name} is already registered`, { name });
    }
    const entry: Entry = { name, phase, system };
    this.#phases[phase]!.push(entry);
    this.#names.set(name, entry);
    return () => {
      if (this.#names.get(name) === entry) this.removeSystem(name);
    };
  }

  /**
   * Unregisters a system by name.
   * @throws EngineError `UnknownSystem` when no system has that name.
   */
  removeSystem(name: string): void {
    const entry = this.#names.get(name);
    if (!entry) throw new EngineError('UnknownSystem', `no system named ${name}`, { name });
    const list = this.#phases[entry.phase]!;
    list.splice(list.indexOf(entry), 1);
    this.#names.delete(name);
  }

  /** Names of the systems of `phase`, in run order. */
  systemsOf(phase: Phase): string[] {
    return this.#phases[phase]!.map((e) => e.name);
  }

  /** Runs the systems of one phase. */
  runPhase(phase: Phase): void {
    const list = this.#phases[phase]!;
    for (let i = 0; i < list.length; i++) list[i]!.system(this.world);
  }

  /**
   * Simulates one tick: runs {@link SIMULATION_PHASES} and increments `world.time.tick`.
   * This is the "advance" that rollback re-runs; no other phase runs.
   */
  simulateTick(): void {
    for (const phase of SIMULATION_PHASES) this.runPhase(phase);
    this.world.time.tick++;
  }

  /**
   * Runs one full tick: Input, Network, the simulation phases (incrementing `time.tick`;
   * skipped when {@link externalSimulation} is set), Compute, Replication, RenderSync.
   */
  step(): void {
    const t0 = now();
    this.runPhase(Phase.Input);
    this.runPhase(Phase.Network);
    if (!this.#externalSimulation) this.simulateTick();
    this.runPhase(Phase.Compute);
    this.runPhase(Phase.Replication);
    this.runPhase(Phase.RenderSync);
    const ms = now() - t0;
    const s = this.stats;
    s.ticks++;
    s.lastTickMs = ms;
    s.avgTickMs = s.ticks === 1 ? ms : s.avgTickMs * 0.9 + ms * 0.1;
  }

  /**
   * Whether something other than `step()` drives the simulation phases. A rollback session
   * sets this: its Network-phase system then calls {@link simulateTick} once per `advance`
   * request (zero times while waiting for peers, several times when re-simulating), and
   * `step()` runs only the other phases. Default `false`.
   */
  get externalSimulation(): boolean {
    return this.#externalSimulation;
  }

  set externalSimulation(value: boolean) {
    this.#externalSimulation = value;
  }

  /**
   * Adds `elapsedMs` of wall-clock time and runs as many whole ticks as fit, at most
   * `maxCatchUpSteps`.
   * @param elapsedMs time since the last call, ms; negative or non-finite values count as 0.
   * @returns the number of ticks run.
   */
  advance(elapsedMs: number): number {
    if (Number.isFinite(elapsedMs) && elapsedMs > 0) this.#accumulatorMs += elapsedMs;
    let steps = 0;
    while (this.#accumulatorMs + STEP_EPSILON_MS >= this.stepMs && steps < this.maxCatchUpSteps) {
      this.step();
      this.#accumulatorMs = Math.max(0, this.#accumulatorMs - this.stepMs);
      steps++;
    }
    if (this.#accumulatorMs + STEP_EPSILON_MS >= this.stepMs) {
      const keep = this.#accumulatorMs % this.stepMs;
      this.stats.droppedMs += this.#accumulatorMs - keep;
      this.#accumulatorMs = keep;
    }
    return steps;
  }

  /**
   * Interpolation factor in `[0, 1)`: how far the present is between the last tick and the
   * next, for rendering `lerp(previous, current, alpha)`.
   */
  get alpha(): number {
    return this.#accumulatorMs / this.stepMs;
  }

  /** Time accumulated toward the next tick, ms. */
  get accumulatorMs(): number {
    return this.#accumulatorMs;
  }

  /** Clears the accumulator (after a pause, so the world does not jump ahead). */
  resetAccumulator(): void {
    this.#accumulatorMs = 0;
  }
}
