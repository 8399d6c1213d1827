/**
 * Clocks that time simulated network deliveries: a real one (wall time, `setTimeout`) for demos
 * and tests of other layers, and a manual one (virtual time moved by `advance`) for fast,
 * deterministic tests.
 *
 * Both keep their own queue of callbacks ordered by (due time, scheduling order), so callbacks
 * due at the same instant always run in the order they were scheduled, whatever the platform's
 * timer granularity. A callback never runs inside the call that scheduled it.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * clock.schedule(clock.now() + 50, () => console.log('50 ms later'));
 * clock.advance(49); // nothing
 * clock.advance(1);  // logs
 * ```
 */
import { NetcodeError } from '../errors.ts';

/** A source of time and timers, in milliseconds. */
export interface Clock {
  /** Current time, ms (monotonic, arbitrary origin). */
  now(): number;
  /**
   * Runs `fn` once the clock reaches `atMs` (same timeline as {@link Clock.now}); a time in the
   * past means "at the next turn". Callbacks due at the same time run in scheduling order.
   * Returns a function that cancels the callback (no effect once it has run).
   */
  schedule(atMs: number, fn: () => void): () => void;
}

interface Entry {
  at: number;
  seq: number;
  fn: (() => void) | null;
}

/** Binary min-heap of entries by (at, seq). */
class TimerQueue {
  private readonly heap: Entry[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, fn: () => void): Entry {
    const e: Entry = { at, seq: this.seq++, fn };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
    return e;
  }

  peek(): Entry | undefined {
    return this.heap[0];
  }

  pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.heap.length = 0;
  }
}

function less(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * Virtual time that moves only when {@link ManualClock.advance} is called. Starts at `startMs`
 * (default 0). Nothing runs on its own: tests decide when time passes.
 */
export class ManualClock implements Clock {
  private readonly queue = new TimerQueue();
  private time: number;
  private running = false;

  constructor(startMs = 0) {
    if (!Number.isFinite(startMs)) throw new NetcodeError('InvalidConfig', `ManualClock: startMs must be finite, got ${startMs}`, { field: 'startMs' });
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  schedule(atMs: number, fn: () => void): () => void {
    const e = this.queue.push(Math.max(atMs, this.time), fn);
    return () => void (e.fn = null);
  }

  /** Number of callbacks still queued (cancelled ones included until their time comes). */
  get pending(): number {
    return this.queue.size;
  }

  /**
   * Moves time forward by `ms` (>= 0), running every callback due up to the new time in
   * (due time, scheduling order), with `now()` equal to each callback's due time while it runs.
   * Callbacks scheduled meanwhile for a time within the window run too. A callback that throws
   * ends the advance at its time (later callbacks stay queued) and the error propagates.
   * @throws NetcodeError `InvalidConfig` when `ms` is negative or not finite, or when called from
   *   inside one of its own callbacks.
   */
  advance(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new NetcodeError('InvalidConfig', `ManualClock.advance: ms must be a finite number >= 0, got ${ms}`, { field: 'ms' });
    if (this.running) throw new NetcodeError('InvalidConfig', 'ManualClock.advance called re-entrantly from a scheduled callback', { field: 'advance' });
    const target = this.time + ms;
    this.running = true;
    try {
      for (let e = this.queue.peek(); e !== undefined && e.at <= target; e = this.queue.peek()) {
        this.queue.pop();
        this.time = e.at;
        const fn = e.fn;
        e.fn = null;
        fn?.();
      }
      this.time = target;
    } finally {
      this.running = false;
    }
  }
}

/**
 * Wall-clock time (`performance.now()`) driving one platform timer armed for the earliest queued
 * callback. Callbacks run from that timer, never inside `schedule`.
 */
export class RealClock implements Clock {
  private readonly queue = new TimerQueue();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private armedAt = Infinity;
  /** Queued callbacks not yet run or cancelled. */
  private live = 0;

  now(): number {
    return performance.now();
  }

  schedule(atMs: number, fn: () => void): () => void {
    const e = this.queue.push(atMs, fn);
    this.live++;
    this.arm();
    return () => {
      if (e.fn === null) return;
      e.fn = null;
      // Nothing left to run: drop the queue and the platform timer so an idle clock keeps no
      // process alive.
      if (--this.live === 0) this.clear();
    };
  }

  private arm(): void {
    const head = this.queue.peek();
    if (head === undefined) return;
    if (this.timer !== undefined && this.armedAt <= head.at) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedAt = head.at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, head.at - this.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = this.now();
    // Run what is due now; callbacks scheduled meanwhile for <= now run in this turn too.
    for (let e = this.queue.peek(); e !== undefined && e.at <= now; e = this.queue.peek()) {
      this.queue.pop();
      const fn = e.fn;
      if (fn === null) continue;
      e.fn = null;
      this.live--;
      try {
        fn();
      } catch (err) {
        // A throwing callback must not stall the others; surface it like an uncaught timer error.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    this.arm();
  }

  /**
   * Cancels every queued callback of every user of this clock and stops the platform timer. For
   * a clock owned by one component (e.g. a `MemoryNetwork` that created it) on shutdown.
   */
  clear(): void {
    this.queue.clear();
    this.live = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }
}
