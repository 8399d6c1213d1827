/**
 * Mouse collector: held buttons and movement accumulated since the last sample.
 *
 * Movement uses `MouseEvent.movementX/Y` (CSS pixels, x right and y down positive), which keeps
 * reporting at the screen edge and under pointer lock. A button clicked between two samples
 * still reads as held for one sample.
 *
 * @example
 * ```ts
 * const mouse = new MouseDevice({ target: canvas, pointerLock: true });
 * mouse.attach();          // first click on the canvas locks the pointer
 * mouse.movementX;         // px moved right since the last sample
 * ```
 */
import { ACTIVE_LISTENER, resolveTarget, windowOtherThan, type InputDevice } from './device.ts';

/** Options of {@link MouseDevice}. */
export interface MouseDeviceOptions {
  /** Target receiving mouse events, typically the game canvas. Default: `window` at `attach()` time. */
  target?: EventTarget;
  /**
   * When `true`, a press on the target requests pointer lock and movement is accumulated only
   * while the target holds the lock (so moving the cursor over menus does not turn the camera).
   * Needs an `Element` target. Default `false`: movement always counts.
   */
  pointerLock?: boolean;
  /** Prevent the context menu on the target, so the secondary button can be bound. Default `true`. */
  preventContextMenu?: boolean;
}

interface PointerLockable {
  requestPointerLock?: () => unknown;
}

/** Collects mouse state from `mousedown`/`mouseup`/`mousemove`; clears buttons on `blur`. */
export class MouseDevice implements InputDevice {
  readonly #explicitTarget: EventTarget | undefined;
  readonly #pointerLock: boolean;
  readonly #preventContextMenu: boolean;
  #target: EventTarget | undefined;
  #window: EventTarget | undefined;
  /** Bit b set = `MouseEvent.button` b held. */
  #down = 0;
  /** Bit b set = button b pressed since the last sample. */
  #pressedSinceSample = 0;
  #movementX = 0;
  #movementY = 0;

  constructor(options: MouseDeviceOptions = {}) {
    this.#explicitTarget = options.target;
    this.#pointerLock = options.pointerLock ?? false;
    this.#preventContextMenu = options.preventContextMenu ?? true;
  }

  /** @inheritdoc */
  get attached(): boolean {
    return this.#target !== undefined;
  }

  /** Horizontal movement since the last sample, CSS px, right positive. */
  get movementX(): number {
    return this.#movementX;
  }

  /** Vertical movement since the last sample, CSS px, down positive. */
  get movementY(): number {
    return this.#movementY;
  }

  /** Held buttons as a bitmask: bit b = `MouseEvent.button` b (0 primary, 1 middle, 2 secondary). */
  get heldMask(): number {
    return this.#down;
  }

  /** Buttons held now or pressed since the last sample, as a bitmask like {@link heldMask}: what the sampler reads. */
  get activeMask(): number {
    return (this.#down | this.#pressedSinceSample) >>> 0;
  }

  /** @inheritdoc */
  attach(): void {
    if (this.#target !== undefined) return;
    const target = resolveTarget(this.#explicitTarget, 'MouseDevice');
    target.addEventListener('mousedown', this.#onDown);
    target.addEventListener('mouseup', this.#onUp);
    target.addEventListener('mousemove', this.#onMove);
    target.addEventListener('contextmenu', this.#onContextMenu, ACTIVE_LISTENER);
    target.addEventListener('blur', this.#onBlur);
    // A release outside the target (or after the window lost focus) must still release.
    const win = windowOtherThan(target);
    if (win !== undefined) {
      win.addEventListener('mouseup', this.#onUp);
      win.addEventListener('blur', this.#onBlur);
    }
    this.#target = target;
    this.#window = win;
  }

  /** @inheritdoc */
  dispose(): void {
    const target = this.#target;
    if (target !== undefined) {
      target.removeEventListener('mousedown', this.#onDown);
      target.removeEventListener('mouseup', this.#onUp);
      target.removeEventListener('mousemove', this.#onMove);
      target.removeEventListener('contextmenu', this.#onContextMenu, ACTIVE_LISTENER);
      target.removeEventListener('blur', this.#onBlur);
      this.#window?.removeEventListener('mouseup', this.#onUp);
      this.#window?.removeEventListener('blur', this.#onBlur);
    }
    this.#target = undefined;
    this.#window = undefined;
    this.clear();
  }

  /** Records `button` (a `MouseEvent.button`, 0..31) as pressed. Other values are ignored. */
  buttonDown(button: number): void {
    if (!Number.isInteger(button) || button < 0 || button > 31) return;
    this.#down = (this.#down | (1 << button)) >>> 0;
    this.#pressedSinceSample = (this.#pressedSinceSample | (1 << button)) >>> 0;
  }

  /** Records `button` as released. Other values are ignored. */
  buttonUp(button: number): void {
    if (!Number.isInteger(button) || button < 0 || button > 31) return;
    this.#down = (this.#down & ~(1 << button)) >>> 0;
  }

  /** Adds movement in CSS px (x right, y down positive). Non-finite values are ignored. */
  move(dx: number, dy: number): void {
    if (Number.isFinite(dx)) this.#movementX += dx;
    if (Number.isFinite(dy)) this.#movementY += dy;
  }

  /** Whether `button` is held now or was pressed since the last sample. */
  isActive(button: number): boolean {
    return button >= 0 && button <= 31 && (this.activeMask & (1 << button)) !== 0;
  }

  /** Releases every button and forgets accumulated movement. */
  clear(): void {
    this.#down = 0;
    this.#pressedSinceSample = 0;
    this.#movementX = 0;
    this.#movementY = 0;
  }

  /** @inheritdoc */
  endSample(): void {
    this.#pressedSinceSample = 0;
    this.#movementX = 0;
    this.#movementY = 0;
  }

  #isLocked(): boolean {
    return typeof document !== 'undefined' && document.pointerLockElement === (this.#target as unknown);
  }

  readonly #onDown = (e: Event): void => {
    if (this.#pointerLock && !this.#isLocked()) {
      const request = (this.#target as PointerLockable | undefined)?.requestPointerLock;
      if (typeof request === 'function') {
        // Newer browsers return a promise that rejects when the lock is refused; that is not an error here.
        const result = request.call(this.#target) as { catch?: (f: () => void) => void } | undefined;
        if (result !== undefined && typeof result.catch === 'function') result.catch(() => {});
      }
    }
    this.buttonDown((e as MouseEvent).button);
  };

  readonly #onUp = (e: Event): void => {
    this.buttonUp((e as MouseEvent).button);
  };

  readonly #onMove = (e: Event): void => {
    if (this.#pointerLock && !this.#isLocked()) return;
    const m = e as MouseEvent;
    this.move(m.movementX, m.movementY);
  };

  readonly #onContextMenu = (e: Event): void => {
    if (this.#preventContextMenu) e.preventDefault();
  };

  readonly #onBlur = (): void => {
    this.clear();
  };
}
