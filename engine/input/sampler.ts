/**
 * Input sources: where a tick's {@link InputRecord} comes from.
 *
 * - {@link InputSampler} reads the local devices (keyboard, mouse, gamepad, touch) through an
 *   action map.
 * - {@link ScriptedInputSource} is set by code (bots, tests, replays) by action name, with no DOM.
 *
 * Both implement {@link InputSource}; the input system (`createInputSystem`) takes either.
 *
 * Combining sources for one axis: keys give -1, 0 or +1 (opposite keys both held give 0); the
 * gamepad axis (after its dead zone), the touch stick (after the dead zone) and mouse movement
 * (times `mouseScale`) give analog values; `invert` negates the analog ones. The value with the
 * largest magnitude wins (ties: keys, then gamepad, touch, mouse), is clamped to [-1, 1] and
 * quantized. A button is held when any bound key, mouse button, gamepad button or touch tap is.
 *
 * @example
 * ```ts
 * // Browser
 * const sampler = createBrowserInputSampler({ target: canvas });
 * sampler.attach();
 * const rec = createInputRecord();
 * sampler.sample(rec);          // once per tick (the input system does this)
 * sampler.dispose();
 *
 * // Headless bot
 * const bot = new ScriptedInputSource();
 * bot.press('jump').setAxis('moveY', 1);
 * bot.sample(rec);              // rec.buttons === 1, rec.axes[1] === 127
 * ```
 */
import { EngineError } from '../errors.ts';
import {
  DEFAULT_ACTION_MAP,
  DEFAULT_DEAD_ZONE,
  DEFAULT_MOUSE_SCALE,
  boundKeyCodes,
  buttonMask,
  axisIndex,
  validateActionMap,
  type ReadonlyActionMap,
} from './actions.ts';
import { GamepadDevice } from './gamepad.ts';
import { KeyboardDevice } from './keyboard.ts';
import { MouseDevice } from './mouse.ts';
import { clearInputRecord, copyInputRecord, createInputRecord, quantizeAxis, type InputRecord } from './record.ts';
import { TouchDevice } from './touch.ts';

/** Anything that can fill one input record per tick. */
export interface InputSource {
  /**
   * Overwrites `out` with this tick's input and returns it. Called once per tick; may consume
   * per-tick state (mouse movement, quick taps), so a second call in the same tick can differ.
   * Must not allocate per call.
   */
  sample(out: InputRecord): InputRecord;
}

/** Devices an {@link InputSampler} reads. Each may be omitted or null (not read). */
export interface InputDevices {
  keyboard?: KeyboardDevice | null;
  mouse?: MouseDevice | null;
  gamepad?: GamepadDevice | null;
  touch?: TouchDevice | null;
}

interface CompiledButton {
  readonly mask: number;
  readonly keys: readonly string[];
  /** Bit b set = `MouseEvent.button` b. */
  readonly mouseMask: number;
  readonly gamepadButtons: readonly number[];
  readonly touchTap: boolean;
}

const NONE = 0;
const X = 1;
const Y = 2;

interface CompiledAxis {
  readonly index: number;
  readonly positiveKeys: readonly string[];
  readonly negativeKeys: readonly string[];
  /** -1 when not bound. */
  readonly gamepadAxis: number;
  /** -1 when `invert`, else 1 (applies to analog sources). */
  readonly sign: number;
  readonly mouse: number;
  readonly mouseScale: number;
  readonly touch: number;
  readonly deadZone: number;
}

interface CompiledMap {
  readonly buttons: readonly CompiledButton[];
  readonly axes: readonly CompiledAxis[];
}

const EMPTY: readonly never[] = Object.freeze([]);

function compile(map: ReadonlyActionMap): CompiledMap {
  const buttons: CompiledButton[] = [];
  for (const b of Object.values(map.buttons)) {
    let mouseMask = 0;
    for (const m of b.mouseButtons ?? EMPTY) mouseMask |= 1 << m;
    buttons.push({
      mask: (1 << b.bit) >>> 0,
      keys: b.keys?.slice() ?? EMPTY,
      mouseMask: mouseMask >>> 0,
      gamepadButtons: b.gamepadButtons?.slice() ?? EMPTY,
      touchTap: b.touch === 'tap',
    });
  }
  const axes: CompiledAxis[] = [];
  for (const a of Object.values(map.axes)) {
    axes.push({
      index: a.index,
      positiveKeys: a.positiveKeys?.slice() ?? EMPTY,
      negativeKeys: a.negativeKeys?.slice() ?? EMPTY,
      gamepadAxis: a.gamepadAxis ?? -1,
      sign: a.invert === true ? -1 : 1,
      mouse: a.mouse === 'x' ? X : a.mouse === 'y' ? Y : NONE,
      mouseScale: a.mouseScale ?? DEFAULT_MOUSE_SCALE,
      touch: a.touch === 'stickX' ? X : a.touch === 'stickY' ? Y : NONE,
      deadZone: a.deadZone ?? DEFAULT_DEAD_ZONE,
    });
  }
  return { buttons, axes };
}

/**
 * Applies a dead zone to an analog value in [-1, 1]: magnitudes up to `deadZone` give 0, larger
 * ones are rescaled linearly from (deadZone, 1] to (0, 1], keeping the sign.
 *
 * @param v analog value in [-1, 1] (larger magnitudes give ±1).
 * @param deadZone fraction of full deflection in [0, 1).
 */
export function applyDeadZone(v: number, deadZone: number): number {
  const m = Math.abs(v);
  if (!(m > deadZone)) return 0; // also NaN
  const r = m >= 1 ? 1 : (m - deadZone) / (1 - deadZone);
  return v < 0 ? -r : r;
}

function anyKey(keyboard: KeyboardDevice, codes: readonly string[]): boolean {
  for (let i = 0; i < codes.length; i++) if (keyboard.isActive(codes[i])) return true;
  return false;
}

/**
 * Reads the local devices through an action map and produces one record per {@link sample}.
 *
 * The sampler owns no simulation state: it is a local, per-peer view of the devices.
 * Sampling consumes per-tick device state (mouse movement, quick taps): sample exactly once per
 * tick, and never during rollback re-simulation (recorded inputs are replayed there instead).
 */
export class InputSampler implements InputSource {
  readonly keyboard: KeyboardDevice | null;
  readonly mouse: MouseDevice | null;
  readonly gamepad: GamepadDevice | null;
  readonly touch: TouchDevice | null;
  #map: ReadonlyActionMap;
  #compiled: CompiledMap;

  /**
   * @param map action map; validated. Default {@link DEFAULT_ACTION_MAP}. The sampler keeps a
   *   compiled copy, so later edits to `map` take effect only through {@link setActionMap}.
   * @param devices devices to read; omitted ones are not read. See
   *   {@link createBrowserInputSampler} for all four on one target.
   * @throws EngineError `InvalidConfig` when `map` is invalid (see `validateActionMap`).
   */
  constructor(map: ReadonlyActionMap = DEFAULT_ACTION_MAP, devices: InputDevices = {}) {
    validateActionMap(map);
    this.keyboard = devices.keyboard ?? null;
    this.mouse = devices.mouse ?? null;
    this.gamepad = devices.gamepad ?? null;
    this.touch = devices.touch ?? null;
    this.#map = map;
    this.#compiled = compile(map);
    this.#syncPreventDefault();
  }

  /** The action map in use (as passed; not copied). */
  get actionMap(): ReadonlyActionMap {
    return this.#map;
  }

  /**
   * Switches to new bindings, e.g. after the player rebinds a key. Takes effect at the next
   * sample. The keyboard's `preventDefaultCodes` become the keys the new map binds.
   * Peers must agree on the layout (bits and indices): check with `assertSameActionLayout`.
   *
   * @throws EngineError `InvalidConfig` when `map` is invalid; the previous map stays in use.
   */
  setActionMap(map: ReadonlyActionMap): void {
    validateActionMap(map);
    const compiled = compile(map);
    this.#map = map;
    this.#compiled = compiled;
    this.#syncPreventDefault();
  }

  /**
   * Attaches every device (see `InputDevice.attach`). Idempotent.
   * @throws EngineError `InvalidConfig` from a device that has no event target (e.g. in Node
   *   without `options.target`); devices attached before it stay attached.
   */
  attach(): void {
    this.keyboard?.attach();
    this.mouse?.attach();
    this.gamepad?.attach();
    this.touch?.attach();
  }

  /** Disposes every device (removes listeners, forgets state). Idempotent. */
  dispose(): void {
    this.keyboard?.dispose();
    this.mouse?.dispose();
    this.gamepad?.dispose();
    this.touch?.dispose();
  }

  /**
   * Fills `out` from the devices as described in this module's docs, then ends the sample on
   * every device (clearing accumulated mouse movement and quick-press latches). Axes that the
   * map does not bind and button bits it does not name are 0. Allocates nothing (beyond what
   * `navigator.getGamepads()` allocates in the browser).
   *
   * @returns `out`.
   */
  sample(out: InputRecord): InputRecord {
    const { keyboard, mouse, gamepad, touch } = this;
    const { buttons, axes } = this.#compiled;
    gamepad?.poll();
    const mouseActive = mouse === null ? 0 : mouse.activeMask;
    const tap = touch !== null && touch.tapActive;

    let bits = 0;
    for (let i = 0; i < buttons.length; i++) {
      const b = buttons[i];
      let held = (keyboard !== null && anyKey(keyboard, b.keys)) || (mouseActive & b.mouseMask) !== 0 || (b.touchTap && tap);
      if (!held && gamepad !== null) {
        const pads = b.gamepadButtons;
        for (let j = 0; j < pads.length && !held; j++) held = gamepad.isPressed(pads[j]);
      }
      if (held) bits |= b.mask;
    }
    clearInputRecord(out);
    out.buttons = bits >>> 0;

    for (let i = 0; i < axes.length; i++) {
      const a = axes[i];
      let best = 0;
      if (keyboard !== null) {
        best = (anyKey(keyboard, a.positiveKeys) ? 1 : 0) - (anyKey(keyboard, a.negativeKeys) ? 1 : 0);
      }
      if (gamepad !== null && a.gamepadAxis !== -1) {
        const v = a.sign * applyDeadZone(gamepad.axis(a.gamepadAxis), a.deadZone);
        if (Math.abs(v) > Math.abs(best)) best = v;
      }
      if (touch !== null && a.touch !== NONE) {
        const v = a.sign * applyDeadZone(a.touch === X ? touch.stickX : touch.stickY, a.deadZone);
        if (Math.abs(v) > Math.abs(best)) best = v;
      }
      if (mouse !== null && a.mouse !== NONE) {
        const v = a.sign * a.mouseScale * (a.mouse === X ? mouse.movementX : mouse.movementY);
        if (Math.abs(v) > Math.abs(best)) best = v;
      }
      out.axes[a.index] = quantizeAxis(best);
    }

    keyboard?.endSample();
    mouse?.endSample();
    gamepad?.endSample();
    touch?.endSample();
    return out;
  }

  #syncPreventDefault(): void {
    if (this.keyboard !== null) this.keyboard.preventDefaultCodes = new Set(boundKeyCodes(this.#map));
  }
}

/** Options of {@link createBrowserInputSampler}. */
export interface BrowserInputSamplerOptions {
  /** Action map. Default {@link DEFAULT_ACTION_MAP}. */
  map?: ReadonlyActionMap;
  /** Target of mouse and touch events, typically the game canvas. Default `window`. */
  target?: EventTarget;
  /** Target of keyboard events. Default `window` (a canvas gets keys only while focused). */
  keyboardTarget?: EventTarget;
  /** Lock the pointer on the first click and count mouse movement only while locked. Default `false`. */
  pointerLock?: boolean;
  /** Touch stick radius in CSS px. Default 60. */
  touchRadius?: number;
  /** Gamepad index. Default: first connected. */
  gamepadIndex?: number;
}

/**
 * An {@link InputSampler} reading keyboard, mouse, gamepad and touch. Touches no DOM until
 * `attach()` is called on the result.
 *
 * @throws EngineError `InvalidConfig` when the map or `touchRadius` is invalid.
 */
export function createBrowserInputSampler(options: BrowserInputSamplerOptions = {}): InputSampler {
  return new InputSampler(options.map ?? DEFAULT_ACTION_MAP, {
    keyboard: new KeyboardDevice({ target: options.keyboardTarget }),
    mouse: new MouseDevice({ target: options.target, pointerLock: options.pointerLock }),
    gamepad: new GamepadDevice({ index: options.gamepadIndex }),
    touch: new TouchDevice({ target: options.target, radius: options.touchRadius }),
  });
}

/**
 * An input source driven by code: bots, tests, replays and AI players set actions by name.
 *
 * State persists across samples (a pressed button stays held until released), like a player
 * holding a key. Values are quantized when set, so `sample` is a copy.
 */
export class ScriptedInputSource implements InputSource {
  readonly #map: ReadonlyActionMap;
  readonly #record: InputRecord = createInputRecord();

  /**
   * @param map action map giving names their bits and indices; validated. Default
   *   {@link DEFAULT_ACTION_MAP}. Only the layout matters (bindings are ignored).
   * @throws EngineError `InvalidConfig` when `map` is invalid.
   */
  constructor(map: ReadonlyActionMap = DEFAULT_ACTION_MAP) {
    validateActionMap(map);
    this.#map = map;
  }

  /** The action map in use. */
  get actionMap(): ReadonlyActionMap {
    return this.#map;
  }

  /** The current state (live; read-only for callers). */
  get current(): Readonly<InputRecord> {
    return this.#record;
  }

  /**
   * Holds button action `name`.
   * @throws EngineError `InvalidConfig` when there is no such button action.
   */
  press(name: string): this {
    return this.setButton(name, true);
  }

  /**
   * Releases button action `name`.
   * @throws EngineError `InvalidConfig` when there is no such button action.
   */
  release(name: string): this {
    return this.setButton(name, false);
  }

  /**
   * Holds (`held = true`) or releases button action `name`.
   * @throws EngineError `InvalidConfig` when there is no such button action.
   */
  setButton(name: string, held: boolean): this {
    const mask = buttonMask(this.#map, name);
    const r = this.#record;
    r.buttons = (held ? r.buttons | mask : r.buttons & ~mask) >>> 0;
    return this;
  }

  /**
   * Sets axis action `name` to `value` (in [-1, 1]; beyond clamps, then quantized to 1/127 steps).
   * @throws EngineError `InvalidConfig` when there is no such axis action;
   *   `InvalidInputRecord` when `value` is not a finite number (the state is unchanged).
   */
  setAxis(name: string, value: number): this {
    const index = axisIndex(this.#map, name);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new EngineError('InvalidInputRecord', `axis '${name}' must be set to a finite number, got ${value}`, { action: name, value });
    }
    this.#record.axes[index] = quantizeAxis(value);
    return this;
  }

  /** Releases every button and centres every axis. */
  clear(): this {
    clearInputRecord(this.#record);
    return this;
  }

  /** Copies the current state into `out` and returns it. The state is kept for the next tick. */
  sample(out: InputRecord): InputRecord {
    return copyInputRecord(this.#record, out);
  }
}
