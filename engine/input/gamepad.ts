/**
 * Gamepad collector: polls the Gamepad API once per sample.
 *
 * Browsers do not push gamepad state as events; `navigator.getGamepads()` returns a snapshot,
 * so the sampler calls {@link GamepadDevice.poll} at the start of each sample. Indices follow the
 * W3C "standard" mapping (buttons 0 A/cross, 1 B/circle, 2 X/square, 3 Y/triangle, 4/5 bumpers,
 * 6/7 triggers, 8 back, 9 start, 10/11 stick presses, 12-15 d-pad; axes 0/1 left stick, 2/3
 * right stick, y down positive). Dead zones are applied by the sampler per axis binding.
 *
 * @example
 * ```ts
 * const pad = new GamepadDevice();   // first connected gamepad
 * pad.attach();
 * pad.poll();
 * pad.axis(0);                       // left stick x in [-1, 1], 0 when absent
 * ```
 */
import type { InputDevice } from './device.ts';

/** The part of the DOM `Gamepad` this collector reads (so tests can pass plain objects). */
export interface GamepadLike {
  readonly connected: boolean;
  /** Axis values in [-1, 1]. */
  readonly axes: readonly number[];
  readonly buttons: readonly { readonly pressed: boolean }[];
}

/** Options of {@link GamepadDevice}. */
export interface GamepadDeviceOptions {
  /**
   * Which gamepad to read, as an index into `navigator.getGamepads()`. Default: the connected
   * gamepad with the lowest index, re-chosen at every poll (so plugging one in just works).
   */
  index?: number;
  /**
   * Source of gamepad snapshots. Default: `navigator.getGamepads()` when it exists, else no
   * gamepads. Tests and bots inject their own.
   */
  getGamepads?: () => ArrayLike<GamepadLike | null> | null | undefined;
}

function defaultGetGamepads(): ArrayLike<GamepadLike | null> | null {
  if (typeof navigator === 'undefined' || typeof navigator.getGamepads !== 'function') return null;
  return navigator.getGamepads();
}

/**
 * Reads one gamepad by polling. `attach()` adds no listeners (the API is polled) but gates
 * polling: while not attached, {@link poll} sees no gamepad.
 */
export class GamepadDevice implements InputDevice {
  readonly #index: number | undefined;
  readonly #getGamepads: () => ArrayLike<GamepadLike | null> | null | undefined;
  #attached = false;
  #current: GamepadLike | null = null;

  constructor(options: GamepadDeviceOptions = {}) {
    this.#index = options.index;
    this.#getGamepads = options.getGamepads ?? defaultGetGamepads;
  }

  /** @inheritdoc */
  get attached(): boolean {
    return this.#attached;
  }

  /** The gamepad read by the last {@link poll}, or null when none is connected. */
  get current(): GamepadLike | null {
    return this.#current;
  }

  /** Starts polling (no DOM listeners; works in Node with an injected `getGamepads`). Idempotent. */
  attach(): void {
    this.#attached = true;
  }

  /** Stops polling and forgets the current gamepad. Idempotent. */
  dispose(): void {
    this.#attached = false;
    this.#current = null;
  }

  /** Takes a fresh snapshot of the chosen gamepad (null when detached or none is connected). */
  poll(): void {
    this.#current = null;
    if (!this.#attached) return;
    const pads = this.#getGamepads();
    if (pads == null) return;
    if (this.#index !== undefined) {
      const pad = this.#index < pads.length ? pads[this.#index] : null;
      if (pad != null && pad.connected) this.#current = pad;
      return;
    }
    for (let i = 0; i < pads.length; i++) {
      const pad = pads[i];
      if (pad != null && pad.connected) {
        this.#current = pad;
        return;
      }
    }
  }

  /** Raw value of axis `i` in [-1, 1] (no dead zone); 0 when absent or not finite. */
  axis(i: number): number {
    const pad = this.#current;
    if (pad === null || i >= pad.axes.length) return 0;
    const v = pad.axes[i];
    if (!Number.isFinite(v)) return 0;
    return v > 1 ? 1 : v < -1 ? -1 : v;
  }

  /** Whether button `i` is pressed; false when absent. */
  isPressed(i: number): boolean {
    const pad = this.#current;
    if (pad === null || i >= pad.buttons.length) return false;
    return pad.buttons[i]?.pressed === true;
  }

  /** Nothing to reset: every sample polls a fresh snapshot. */
  endSample(): void {}
}
