/**
 * Touch collector: a virtual stick on the left half of the target, taps on the right half.
 *
 * - The first touch that starts on the left half becomes the stick. Its origin is where it
 *   started; its deflection is the offset from the origin divided by `radius` (CSS px), limited to
 *   the unit circle, x right and y down positive. Other left-half touches are ignored while the
 *   stick is held.
 * - Any touch that starts on the right half counts as a tap: the buttons bound with
 *   `touch: 'tap'` are held while at least one such touch is down, and for at least one sample
 *   after a quick tap.
 *
 * Touches are assigned a role when they start and keep it until they end, wherever they move.
 *
 * @example
 * ```ts
 * const touch = new TouchDevice({ target: canvas, radius: 70 });
 * touch.attach();
 * touch.stickX; touch.stickY;  // in [-1, 1]
 * touch.tapActive;             // true while a right-half touch is down
 * ```
 */
import { ACTIVE_LISTENER, resolveTarget, type InputDevice } from './device.ts';
import { EngineError } from '../errors.ts';

/** Default {@link TouchDeviceOptions.radius}: 60 CSS px. */
export const DEFAULT_TOUCH_STICK_RADIUS = 60;

/** A rectangle in CSS px, in the same coordinates as `Touch.clientX/clientY`. */
export interface TouchBounds {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** Options of {@link TouchDevice}. */
export interface TouchDeviceOptions {
  /** Target receiving touch events, typically the game canvas. Default: `window` at `attach()` time. */
  target?: EventTarget;
  /** Stick radius: finger offset giving full deflection, CSS px, > 0. Default 60. */
  radius?: number;
  /**
   * Returns the target's rectangle, read at each touch start to decide left vs right half.
   * Default: `target.getBoundingClientRect()` when it exists, else the window's inner size.
   */
  getBounds?: () => TouchBounds;
  /**
   * Call `preventDefault()` on touch events, which stops scrolling, zooming and the emulated
   * mouse events browsers send after a tap (which would also press mouse-bound buttons).
   * Default `true`.
   */
  preventDefault?: boolean;
}

interface TouchPoint {
  identifier: number;
  clientX: number;
  clientY: number;
}

interface TouchListLike {
  readonly length: number;
  [index: number]: TouchPoint;
}

/** Collects touch state from `touchstart`/`touchmove`/`touchend`/`touchcancel`. */
export class TouchDevice implements InputDevice {
  /** Stick radius, CSS px. */
  readonly radius: number;
  readonly #explicitTarget: EventTarget | undefined;
  readonly #getBounds: (() => TouchBounds) | undefined;
  readonly #preventDefault: boolean;
  #target: EventTarget | undefined;
  /** Identifier of the touch driving the stick, or -1. */
  #stickId = -1;
  #originX = 0;
  #originY = 0;
  #currentX = 0;
  #currentY = 0;
  readonly #taps = new Set<number>();
  #tappedSinceSample = false;

  /** @throws EngineError `InvalidConfig` when `radius` is not a finite number > 0. */
  constructor(options: TouchDeviceOptions = {}) {
    const radius = options.radius ?? DEFAULT_TOUCH_STICK_RADIUS;
    if (!Number.isFinite(radius) || radius <= 0) {
      throw new EngineError('InvalidConfig', `TouchDevice radius must be a finite number of CSS px > 0, got ${radius}`, { radius });
    }
    this.radius = radius;
    this.#explicitTarget = options.target;
    this.#getBounds = options.getBounds;
    this.#preventDefault = options.preventDefault ?? true;
  }

  /** @inheritdoc */
  get attached(): boolean {
    return this.#target !== undefined;
  }

  /** Whether a touch is driving the stick. */
  get stickActive(): boolean {
    return this.#stickId !== -1;
  }

  /** Stick x deflection in [-1, 1], right positive; 0 when no stick touch. */
  get stickX(): number {
    return this.#deflection(true);
  }

  /** Stick y deflection in [-1, 1], down positive (screen convention); 0 when no stick touch. */
  get stickY(): number {
    return this.#deflection(false);
  }

  /** Whether a right-half touch is down now or one was started since the last sample. */
  get tapActive(): boolean {
    return this.#taps.size > 0 || this.#tappedSinceSample;
  }

  /** @inheritdoc */
  attach(): void {
    if (this.#target !== undefined) return;
    const target = resolveTarget(this.#explicitTarget, 'TouchDevice');
    target.addEventListener('touchstart', this.#onStart, ACTIVE_LISTENER);
    target.addEventListener('touchmove', this.#onMove, ACTIVE_LISTENER);
    target.addEventListener('touchend', this.#onEnd, ACTIVE_LISTENER);
    target.addEventListener('touchcancel', this.#onEnd, ACTIVE_LISTENER);
    this.#target = target;
  }

  /** @inheritdoc */
  dispose(): void {
    const target = this.#target;
    if (target !== undefined) {
      target.removeEventListener('touchstart', this.#onStart, ACTIVE_LISTENER);
      target.removeEventListener('touchmove', this.#onMove, ACTIVE_LISTENER);
      target.removeEventListener('touchend', this.#onEnd, ACTIVE_LISTENER);
      target.removeEventListener('touchcancel', this.#onEnd, ACTIVE_LISTENER);
    }
    this.#target = undefined;
    this.clear();
  }

  /**
   * Records a touch starting at (`x`, `y`) CSS px, client coordinates. Whether it is the stick
   * or a tap is decided by `bounds` (default: the target's rectangle, see
   * {@link TouchDeviceOptions.getBounds}).
   */
  touchStart(id: number, x: number, y: number, bounds: TouchBounds = this.#bounds()): void {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    if (x < bounds.left + bounds.width / 2) {
      if (this.#stickId !== -1) return;
      this.#stickId = id;
      this.#originX = this.#currentX = x;
      this.#originY = this.#currentY = y;
    } else {
      this.#taps.add(id);
      this.#tappedSinceSample = true;
    }
  }

  /** Records touch `id` moving to (`x`, `y`). Only the stick touch's movement matters. */
  touchMove(id: number, x: number, y: number): void {
    if (id !== this.#stickId || !Number.isFinite(x) || !Number.isFinite(y)) return;
    this.#currentX = x;
    this.#currentY = y;
  }

  /** Records touch `id` ending (lifted or cancelled). */
  touchEnd(id: number): void {
    if (id === this.#stickId) this.#stickId = -1;
    this.#taps.delete(id);
  }

  /** Forgets every touch. */
  clear(): void {
    this.#stickId = -1;
    this.#taps.clear();
    this.#tappedSinceSample = false;
  }

  /** @inheritdoc */
  endSample(): void {
    this.#tappedSinceSample = false;
  }

  #deflection(wantX: boolean): number {
    if (this.#stickId === -1) return 0;
    const dx = this.#currentX - this.#originX;
    const dy = this.#currentY - this.#originY;
    const len = Math.hypot(dx, dy);
    const scale = len > this.radius ? 1 / len : 1 / this.radius;
    const v = (wantX ? dx : dy) * scale;
    return v > 1 ? 1 : v < -1 ? -1 : v;
  }

  #bounds(): TouchBounds {
    if (this.#getBounds !== undefined) return this.#getBounds();
    const target = this.#target as { getBoundingClientRect?: () => TouchBounds } | undefined;
    if (target !== undefined && typeof target.getBoundingClientRect === 'function') return target.getBoundingClientRect();
    if (typeof window !== 'undefined') return { left: 0, top: 0, width: window.innerWidth, height: window.innerHeight };
    return { left: 0, top: 0, width: 0, height: 0 };
  }

  #forEachChanged(e: Event, fn: (t: TouchPoint) => void): void {
    const list = (e as unknown as { changedTouches?: TouchListLike }).changedTouches;
    if (list == null) return;
    for (let i = 0; i < list.length; i++) fn(list[i]);
  }

  readonly #onStart = (e: Event): void => {
    if (this.#preventDefault && e.cancelable) e.preventDefault();
    const bounds = this.#bounds();
    this.#forEachChanged(e, (t) => this.touchStart(t.identifier, t.clientX, t.clientY, bounds));
  };

  readonly #onMove = (e: Event): void => {
    if (this.#preventDefault && e.cancelable) e.preventDefault();
    this.#forEachChanged(e, (t) => this.touchMove(t.identifier, t.clientX, t.clientY));
  };

  readonly #onEnd = (e: Event): void => {
    if (this.#preventDefault && e.cancelable) e.preventDefault();
    this.#forEachChanged(e, (t) => this.touchEnd(t.identifier));
  };
}
