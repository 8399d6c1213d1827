/**
 * Compute tasks (engine/compute-tasks.ts): results land on a later tick in submission order,
 * back-pressure, cancellation, failures, and a tick that never waits for a task.
 */
import { describe, expect, test } from 'vitest';
import {
  COMPUTE_TASK_SYSTEM, computeTasks, createWorld, EngineError, installComputeTasks, Phase, Scheduler, uninstallComputeTasks,
  type ComputeTaskInfo,
} from '../../engine/index.ts';

/** A promise with its resolve/reject (Node 20 lacks Promise.withResolvers). */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** Lets every settled promise's callbacks run (what happens between two rendered frames). */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(options: Parameters<typeof installComputeTasks>[1] = {}) {
  const world = createWorld({ seed: 1 });
  const scheduler = new Scheduler(world);
  const tasks = installComputeTasks(scheduler, options);
  return { world, scheduler, tasks };
}

describe('compute tasks', () => {
  test('an already-resolved task lands on the next tick, never on the tick it was submitted', async () => {
    const { world, scheduler, tasks } = setup();
    const landed: { value: number; info: ComputeTaskInfo; tickAtCallback: number }[] = [];
    scheduler.step(); // tick 0 -> 1
    tasks.submit({
      name: 'instant',
      run: () => Promise.resolve(42),
      onResult: (w, value, info) => landed.push({ value, info, tickAtCallback: w.time.tick }),
    });
    const submittedTick = world.time.tick;
    scheduler.step(); // starts it
    expect(landed).toEqual([]);
    await flush();
    expect(landed).toEqual([]); // settled, but only a Compute phase lands it
    scheduler.step();
    expect(landed).toHaveLength(1);
    expect(landed[0]!.value).toBe(42);
    expect(landed[0]!.info.submittedTick).toBe(submittedTick);
    expect(landed[0]!.info.startedTick).toBe(submittedTick + 1);
    expect(landed[0]!.info.landedTick).toBe(landed[0]!.tickAtCallback);
    expect(landed[0]!.info.landedTick).toBeGreaterThan(submittedTick);
    expect(tasks.stats).toMatchObject({ submitted: 1, completed: 1, failed: 0, running: 0, queued: 0 });
    expect(tasks.idle).toBe(true);
  });

  test('tasks land in submission order whatever order their promises settle in', async () => {
    const { scheduler, tasks } = setup({ maxInFlight: 3 });
    const gates = [deferred<string>(), deferred<string>(), deferred<string>()];
    const order: string[] = [];
    gates.forEach((gate, i) => tasks.submit({ name: `t${i}`, run: () => gate.promise, onResult: (_w, v) => order.push(v) }));
    scheduler.step();
    gates[2]!.resolve('c');
    gates[0]!.resolve('a');
    gates[1]!.resolve('b');
    await flush();
    scheduler.step();
    expect(order).toEqual(['a', 'b', 'c']);
  });

  test('at most maxInFlight run; the rest start as slots free up; the tick never waits', async () => {
    const { scheduler, tasks } = setup({ maxInFlight: 2 });
    const gates = Array.from({ length: 5 }, () => deferred<number>());
    const started: number[] = [];
    gates.forEach((gate, i) => tasks.submit({
      name: `t${i}`,
      run: () => { started.push(i); return gate.promise; },
    }));
    for (let k = 0; k < 10; k++) scheduler.step(); // nothing resolves: ticks go on regardless
    expect(started).toEqual([0, 1]);
    expect(tasks.stats).toMatchObject({ running: 2, queued: 3 });
    gates[1]!.resolve(1);
    await flush();
    scheduler.step(); // lands 1, starts 2
    expect(started).toEqual([0, 1, 2]);
    expect(tasks.stats).toMatchObject({ running: 2, queued: 2, completed: 1 });
  });

  test('a full queue refuses with ComputeQueueFull and canSubmit says so beforehand', () => {
    const { tasks } = setup({ maxInFlight: 1, maxQueued: 2 });
    const never = () => new Promise<never>(() => {});
    tasks.submit({ name: 'a', run: never });
    tasks.submit({ name: 'b', run: never });
    expect(tasks.canSubmit).toBe(false);
    let caught: unknown;
    try {
      tasks.submit({ name: 'c', run: never });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EngineError);
    expect((caught as EngineError).code).toBe('ComputeQueueFull');
    expect((caught as EngineError).message).toContain('c');
  });

  test('cancelling: a queued task never runs; a running one is aborted, frees its slot and never lands', async () => {
    const { scheduler, tasks } = setup({ maxInFlight: 1 });
    const gate = deferred<number>();
    let signal: AbortSignal | undefined;
    const landed: string[] = [];
    const running = tasks.submit({
      name: 'running',
      run: (s) => { signal = s; return gate.promise; },
      onResult: () => landed.push('running'),
    });
    let queuedRan = false;
    const queued = tasks.submit({ name: 'queued', run: async () => { queuedRan = true; return 0; } });
    const next = tasks.submit({ name: 'next', run: async () => 7, onResult: () => landed.push('next') });
    scheduler.step();
    expect(running.state).toBe('running');
    expect(queued.cancel()).toBe(true);
    expect(queued.cancel()).toBe(false);
    expect(running.cancel()).toBe(true);
    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as EngineError).code).toBe('ComputeCancelled');
    gate.resolve(1); // finishes anyway: dropped
    scheduler.step(); // the freed slot starts "next"
    await flush();
    scheduler.step();
    expect(queuedRan).toBe(false);
    expect(landed).toEqual(['next']);
    expect(running.state).toBe('cancelled');
    expect(next.state).toBe('done');
    expect(tasks.stats).toMatchObject({ cancelled: 2, completed: 1, running: 0, queued: 0 });
  });

  test('failures land on onError; a throwing callback is counted and the others still land', async () => {
    const reported: string[] = [];
    const { scheduler, tasks } = setup({ maxInFlight: 4, onCallbackError: (_e, info) => reported.push(info.name) });
    const errors: string[] = [];
    const results: number[] = [];
    tasks.submit({ name: 'rejects', run: () => Promise.reject(new Error('gpu lost')), onError: (_w, e) => errors.push((e as Error).message) });
    tasks.submit({ name: 'throws', run: () => { throw new Error('sync'); }, onError: (_w, e) => errors.push((e as Error).message) });
    tasks.submit({ name: 'bad callback', run: async () => 1, onResult: () => { throw new Error('callback bug'); } });
    tasks.submit({ name: 'fine', run: async () => 2, onResult: (_w, v) => results.push(v) });
    scheduler.step();
    await flush();
    scheduler.step();
    expect(errors).toEqual(['gpu lost', 'sync']);
    expect(results).toEqual([2]);
    expect(reported).toEqual(['bad callback']);
    expect(tasks.stats).toMatchObject({ failed: 2, completed: 2, callbackErrors: 1 });
  });

  test('install checks options, refuses a second install; uninstall cancels and removes system and resource', () => {
    const world = createWorld({ seed: 1 });
    const scheduler = new Scheduler(world);
    expect(() => installComputeTasks(scheduler, { maxInFlight: 0 })).toThrow(/maxInFlight/);
    const tasks = installComputeTasks(scheduler);
    expect(scheduler.systemsOf(Phase.Compute)).toEqual([COMPUTE_TASK_SYSTEM]);
    expect(computeTasks(world)).toBe(tasks);
    expect(() => installComputeTasks(scheduler)).toThrow(/already/);
    const handle = tasks.submit({ name: 'x', run: () => new Promise<never>(() => {}) });
    uninstallComputeTasks(scheduler);
    uninstallComputeTasks(scheduler);
    expect(handle.state).toBe('cancelled');
    expect(scheduler.systemsOf(Phase.Compute)).toEqual([]);
    expect(() => computeTasks(world)).toThrow(/not set/);
  });
});
