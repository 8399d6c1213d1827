/**
 * Keyboard collector: which keys (by `KeyboardEvent.code`) are held.
 *
 * Keys are tracked by physical position (`code`, e.g. `'KeyW'` is W on QWERTY and Z on AZERTY),
 * so default bindings land on the same keys for every layout. A key pressed and released between
 * two samples still reads as held for one sample, so quick taps at low tick rates are not lost.
 *
 * @example
 * ```ts
 * const keyboard = new KeyboardDevice();   // listens to window once attached
 * keyboard.attach();
 * keyboard.isActive('Space');              // true while Space is held
 * keyboard.dispose();
 * ```
 */
import { ACTIVE_LISTENER, resolveTarget, windowOtherThan, type InputDevice } from './device.ts';

/** Options of {@link KeyboardDevice}. */
export interface KeyboardDeviceOptions {
  /**
   * Target receiving `keydown`/`keyup`. Default: `window` at `attach()` time. A canvas only gets
   * key events while focused (it needs a `tabindex`), so `window` is usually right.
   */
  target?: EventTarget;
  /**
   * Ignore key presses whose event target is a text field (`<input>`, `<textarea>`, `<select>`,
   * contenteditable), so typing in a chat box does not move the player. Releases are always
   * processed. Default `true`.
   */
  ignoreEditableTargets?: boolean;
  /** Initial {@link KeyboardDevice.preventDefaultCodes}. Default none. */
  preventDefaultCodes?: Iterable<string>;
}

function isEditable(target: EventTarget | null): boolean {
  if (target === null || typeof target !== 'object') return false;
  const el = target as { tagName?: unknown; isContentEditable?: unknown };
  if (el.isContentEditable === true) return true;
  return el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT';
}

/** Collects keyboard state from `keydown`/`keyup`; clears it on `blur`. */
export class KeyboardDevice implements InputDevice {
  /**
   * Key codes whose `keydown`/`keyup` default action is prevented while attached (e.g. `Space`
   * and arrows scrolling the page). `InputSampler` sets it to the keys its action map binds.
   */
  preventDefaultCodes: Set<string>;
  readonly #explicitTarget: EventTarget | undefined;
  readonly #ignoreEditable: boolean;
  readonly #down = new Set<string>();
  /** Keys pressed since the last sample (kept until `endSample`, even if released). */
  readonly #pressedSinceSample = new Set<string>();
  #target: EventTarget | undefined;
  #blurTarget: EventTarget | undefined;

  constructor(options: KeyboardDeviceOptions = {}) {
    this.#explicitTarget = options.target;
    this.#ignoreEditable = options.ignoreEditableTargets ?? true;
    this.preventDefaultCodes = new Set(options.preventDefaultCodes ?? []);
  }

  /** @inheritdoc */
  get attached(): boolean {
    return this.#target !== undefined;
  }

  /** Keys currently held, by `KeyboardEvent.code` (a live view; do not mutate). */
  get heldCodes(): ReadonlySet<string> {
    return this.#down;
  }

  /** @inheritdoc */
  attach(): void {
    if (this.#target !== undefined) return;
    const target = resolveTarget(this.#explicitTarget, 'KeyboardDevice');
    target.addEventListener('keydown', this.#onKeyDown, ACTIVE_LISTENER);
    target.addEventListener('keyup', this.#onKeyUp, ACTIVE_LISTENER);
    target.addEventListener('blur', this.#onBlur);
    const win = windowOtherThan(target);
    if (win !== undefined) win.addEventListener('blur', this.#onBlur);
    this.#target = target;
    this.#blurTarget = win;
  }

  /** @inheritdoc */
  dispose(): void {
    const target = this.#target;
    if (target !== undefined) {
      target.removeEventListener('keydown', this.#onKeyDown, ACTIVE_LISTENER);
      target.removeEventListener('keyup', this.#onKeyUp, ACTIVE_LISTENER);
      target.removeEventListener('blur', this.#onBlur);
      this.#blurTarget?.removeEventListener('blur', this.#onBlur);
    }
    this.#target = undefined;
    this.#blurTarget = undefined;
    this.clear();
  }

  /** Records `code` as pressed (what a `keydown` does). */
  keyDown(code: string): void {
    this.#down.add(code);
    this.#pressedSinceSample.add(code);
  }

  /** Records `code` as released (what a `keyup` does). */
  keyUp(code: string): void {
    this.#down.delete(code);
    // macOS sends no keyup for keys released while Meta is held: drop everything on Meta up.
    if (code === 'MetaLeft' || code === 'MetaRight') this.#down.clear();
  }

  /** Releases every key (what a window `blur` does: keyups are lost while unfocused). */
  clear(): void {
    this.#down.clear();
    this.#pressedSinceSample.clear();
  }

  /** Whether `code` is held now. */
  isDown(code: string): boolean {
    return this.#down.has(code);
  }

  /** Whether `code` is held now or was pressed since the last sample: what the sampler reads. */
  isActive(code: string): boolean {
    return this.#down.has(code) || this.#pressedSinceSample.has(code);
  }

  /** @inheritdoc */
  endSample(): void {
    this.#pressedSinceSample.clear();
  }

  readonly #onKeyDown = (e: Event): void => {
    const code = (e as KeyboardEvent).code;
    if (typeof code !== 'string' || code === '') return;
    if (this.#ignoreEditable && isEditable(e.target)) return;
    if (this.preventDefaultCodes.has(code)) e.preventDefault();
    this.keyDown(code);
  };

  readonly #onKeyUp = (e: Event): void => {
    const code = (e as KeyboardEvent).code;
    if (typeof code !== 'string' || code === '') return;
    if (this.preventDefaultCodes.has(code) && !(this.#ignoreEditable && isEditable(e.target))) e.preventDefault();
    this.keyUp(code);
  };

  readonly #onBlur = (): void => {
    this.clear();
  };
}
