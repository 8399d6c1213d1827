/**
 * Exponential backoff with jitter for redialling relays and peers.
 *
 * Delay n (from 0) is `min(maxMs, initialMs * factor^n)`, then scaled by a random factor in
 * `[1 - jitter, 1 + jitter]` so peers that dropped together do not redial in lockstep.
 *
 * @example
 * ```ts
 * const backoff = new Backoff({ initialMs: 250, maxMs: 4000 });
 * backoff.next(); // ~250 ms, then ~500, ~1000, ~2000, ~4000, ~4000, ...
 * backoff.reset(); // after a success
 * ```
 */
import { NetcodeError } from '../errors.ts';

/** Settings of a {@link Backoff}; every field is optional. */
export interface BackoffOptions {
  /** First delay, ms. Default 250. */
  readonly initialMs?: number;
  /** Largest delay before jitter, ms. Default 5000. */
  readonly maxMs?: number;
  /** Growth per attempt, >= 1. Default 2. */
  readonly factor?: number;
  /** Relative random spread, 0..1. Default 0.2 (+-20 %). */
  readonly jitter?: number;
}

export const DEFAULT_BACKOFF_INITIAL_MS = 250;
export const DEFAULT_BACKOFF_MAX_MS = 5000;
export const DEFAULT_BACKOFF_FACTOR = 2;
export const DEFAULT_BACKOFF_JITTER = 0.2;

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private attempt = 0;

  /** @throws NetcodeError `InvalidConfig` naming the bad field. */
  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? DEFAULT_BACKOFF_INITIAL_MS;
    this.maxMs = options.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
    this.factor = options.factor ?? DEFAULT_BACKOFF_FACTOR;
    this.jitter = options.jitter ?? DEFAULT_BACKOFF_JITTER;
    const bad = !(this.initialMs > 0) ? 'initialMs' : !(this.maxMs >= this.initialMs) ? 'maxMs'
      : !(this.factor >= 1) ? 'factor' : !(this.jitter >= 0 && this.jitter <= 1) ? 'jitter' : undefined;
    if (bad !== undefined) {
      throw new NetcodeError('InvalidConfig', `backoff.${bad} is out of range`, { option: `backoff.${bad}` });
    }
  }

  /** Attempts made since the last {@link reset}. */
  get attempts(): number {
    return this.attempt;
  }

  /** Delay before the next attempt, ms; counts the attempt. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** Math.min(this.attempt, 30));
    this.attempt++;
    return base * (1 + this.jitter * (2 * Math.random() - 1));
  }

  /** Starts over from `initialMs` (call after a success). */
  reset(): void {
    this.attempt = 0;
  }
}
