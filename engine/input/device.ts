/**
 * What every input device collector has in common.
 *
 * A device turns DOM events (or polling) into plain state that the sampler reads once per tick.
 * Devices are local, per-peer and never part of the simulation: rollback does not save them,
 * and nothing in them feeds the world except through the sampled input record.
 *
 * Constructing a device touches no DOM, so devices can be created in Node; only `attach()`
 * needs an event target (the browser `window` by default, or any `EventTarget` passed in, which
 * lets tests dispatch plain `Event` objects).
 */
import { EngineError } from '../errors.ts';

/** Lifecycle and per-sample hooks shared by all device collectors. */
export interface InputDevice {
  /** Whether the device currently listens to its target. */
  readonly attached: boolean;
  /**
   * Starts listening to DOM events. Calling it again while attached does nothing.
   * @throws EngineError `InvalidConfig` when no target was given and there is no `window`
   *   (e.g. in Node).
   */
  attach(): void;
  /**
   * Stops listening and forgets all held state. Safe to call twice or without `attach()`;
   * `attach()` may be called again afterwards.
   */
  dispose(): void;
  /**
   * Called by the sampler after each sample: clears what is reported only once (mouse movement
   * accumulated since the last sample, presses that were released before they were sampled).
   */
  endSample(): void;
}

/** `addEventListener` options for listeners that may call `preventDefault()`. */
export const ACTIVE_LISTENER: AddEventListenerOptions = Object.freeze({ passive: false });

/**
 * The event target a device listens to: `explicit` when given, else the global `window`.
 * @throws EngineError `InvalidConfig` naming `device` when neither exists.
 */
export function resolveTarget(explicit: EventTarget | undefined, device: string): EventTarget {
  if (explicit !== undefined) return explicit;
  if (typeof window !== 'undefined') return window;
  throw new EngineError(
    'InvalidConfig',
    `${device}.attach(): no event target: pass options.target (there is no window in this environment)`,
    { device },
  );
}

/** The global `window` when running in a browser and it differs from `target`, else undefined. */
export function windowOtherThan(target: EventTarget): EventTarget | undefined {
  return typeof window !== 'undefined' && window !== target ? window : undefined;
}
