/**
 * The action map: named game actions, where each lives in the input record, and which device
 * inputs drive it.
 *
 * Game code reads actions by name (`isPressed(rec, map, 'jump')`); the record stays 8 bytes.
 * An action map has two halves that change at different rates:
 *
 * - the **layout** (button name → `bit`, axis name → `index`) is part of the game's wire
 *   protocol: every peer of a match must use the same one (check with
 *   {@link assertSameActionLayout});
 * - the **bindings** (keys, mouse and gamepad buttons, touch) are per player and may be edited
 *   freely, e.g. in a settings screen: `cloneActionMap(DEFAULT_ACTION_MAP)`, edit the copy,
 *   `validateActionMap(copy)`, then `sampler.setActionMap(copy)`.
 *
 * Action maps are plain JSON-compatible data, so a player's bindings can be saved with
 * `JSON.stringify` and loaded back through {@link validateActionMap}, which accepts `unknown`.
 *
 * Sign conventions for axes: keys give +1 for `positiveKeys`, -1 for `negativeKeys`. Analog
 * sources (gamepad axis, mouse movement, touch stick) report in device convention, x to the right
 * and y **down** positive; `invert: true` negates analog sources (never keys). So an axis where
 * "forward/up is positive" binds a y source with `invert: true`.
 *
 * @example
 * ```ts
 * const map = cloneActionMap(DEFAULT_ACTION_MAP);
 * map.buttons.jump.keys = ['KeyJ'];          // rebind jump
 * validateActionMap(map);                    // throws EngineError 'InvalidConfig' if broken
 * assertSameActionLayout(map, DEFAULT_ACTION_MAP);
 * if (isPressed(record, map, 'jump')) { ... }
 * const forward = axisValue(record, map, 'moveY');   // in [-1, 1]
 * ```
 */
import { EngineError } from '../errors.ts';
import { AXIS_QUANT_MAX, INPUT_AXIS_COUNT, INPUT_BUTTON_COUNT, type InputRecord } from './record.ts';

/** Axis slot in the input record: 0, 1, 2 or 3. */
export type AxisIndex = 0 | 1 | 2 | 3;

/**
 * How a touch screen drives a button: `'tap'` = held while any touch that started on the right
 * half of the touch target is down (and for at least one sample after a quick tap).
 */
export type TouchButtonBinding = 'tap';

/**
 * How a touch screen drives an axis: the virtual stick's x or y deflection (y down positive,
 * like the screen; use `invert: true` for "up is positive").
 */
export type TouchAxisBinding = 'stickX' | 'stickY';

/** Binding of one button action. Every list defaults to empty (the action is not bound to it). */
export interface ButtonBinding {
  /** Bit of `InputRecord.buttons` holding this action: an integer in [0, 31], unique per map. */
  bit: number;
  /** Keyboard keys, as `KeyboardEvent.code` values (layout-independent), e.g. `'Space'`, `'KeyE'`. */
  keys?: string[];
  /** Mouse buttons, as `MouseEvent.button` values: 0 primary, 1 middle, 2 secondary, 3 back, 4 forward (integers in [0, 15]). */
  mouseButtons?: number[];
  /** Gamepad buttons by index in the W3C "standard" mapping (0 = A/cross, 2 = X/square, 7 = right trigger, ...); integers in [0, 63]. */
  gamepadButtons?: number[];
  /** Touch binding; omitted = touch does not press this button. */
  touch?: TouchButtonBinding;
  /** One-line description for settings screens. */
  doc?: string;
}

/** Binding of one axis action. Every source is optional; with several, the strongest wins. */
export interface AxisBinding {
  /** Slot in `InputRecord.axes`: 0..3, unique per map. */
  index: AxisIndex;
  /** Keys giving +1 while held (`KeyboardEvent.code`). Both directions held gives 0. */
  positiveKeys?: string[];
  /** Keys giving -1 while held (`KeyboardEvent.code`). Must not overlap `positiveKeys`. */
  negativeKeys?: string[];
  /** Gamepad axis index in the standard mapping (0 left x, 1 left y, 2 right x, 3 right y; y down positive); integer in [0, 15]. */
  gamepadAxis?: number;
  /** Negate analog sources (gamepad axis, mouse, touch stick); keys are not affected. Default `false`. */
  invert?: boolean;
  /** Mouse movement direction feeding this axis (movement since the previous sample, y down positive). */
  mouse?: 'x' | 'y';
  /**
   * Axis value per CSS pixel of mouse movement within one tick: finite, > 0. Default
   * {@link DEFAULT_MOUSE_SCALE} (0.05, so 20 px in one tick is full deflection; at 60 Hz that is
   * 1200 px/s). Movement beyond full deflection in one tick is clamped away.
   */
  mouseScale?: number;
  /** Touch virtual-stick direction feeding this axis. */
  touch?: TouchAxisBinding;
  /**
   * Dead zone of analog sticks (gamepad axis and touch stick), as a fraction of full deflection
   * in [0, 1). Default {@link DEFAULT_DEAD_ZONE} (0.15). Magnitudes up to it read 0; larger ones
   * are rescaled linearly so the output still spans (0, 1]. Mouse and keys are not affected.
   */
  deadZone?: number;
  /** One-line description for settings screens. */
  doc?: string;
}

/**
 * A complete action map: button actions and axis actions by name. Names are unique across both
 * halves and match `/^[A-Za-z_][A-Za-z0-9_]*$/`. At most 32 buttons and 4 axes.
 */
export interface ActionMap {
  buttons: Record<string, ButtonBinding>;
  axes: Record<string, AxisBinding>;
}

type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/**
 * A read-only view of an {@link ActionMap} (every level `readonly`). All functions here accept
 * it; a mutable `ActionMap` is assignable to it. {@link DEFAULT_ACTION_MAP} has this type.
 */
export type ReadonlyActionMap = DeepReadonly<ActionMap>;

/** Default {@link AxisBinding.deadZone}: 0.15 of full deflection. */
export const DEFAULT_DEAD_ZONE = 0.15;
/** Default {@link AxisBinding.mouseScale}: 0.05 axis units per CSS pixel per tick. */
export const DEFAULT_MOUSE_SCALE = 0.05;

/**
 * Default map for a third- or first-person 3D action game (keyboard+mouse, standard gamepad,
 * touch). Layout: buttons `jump` bit 0, `sprint` bit 1, `fire` bit 2, `interact` bit 3; axes
 * `moveX` 0 (right +), `moveY` 1 (forward +), `lookX` 2 (right +), `lookY` 3 (up +).
 * Deeply frozen: clone it with {@link cloneActionMap} to edit.
 */
export const DEFAULT_ACTION_MAP: ReadonlyActionMap = deepFreeze({
  buttons: {
    jump: { bit: 0, keys: ['Space'], gamepadButtons: [0], touch: 'tap', doc: 'Jump' },
    sprint: { bit: 1, keys: ['ShiftLeft', 'ShiftRight'], gamepadButtons: [10], doc: 'Sprint while held' },
    fire: { bit: 2, mouseButtons: [0], gamepadButtons: [7], doc: 'Primary attack / fire' },
    interact: { bit: 3, keys: ['KeyE'], mouseButtons: [2], gamepadButtons: [2], doc: 'Use / interact' },
  },
  axes: {
    moveX: {
      index: 0,
      positiveKeys: ['KeyD', 'ArrowRight'],
      negativeKeys: ['KeyA', 'ArrowLeft'],
      gamepadAxis: 0,
      touch: 'stickX',
      doc: 'Strafe, right positive',
    },
    moveY: {
      index: 1,
      positiveKeys: ['KeyW', 'ArrowUp'],
      negativeKeys: ['KeyS', 'ArrowDown'],
      gamepadAxis: 1,
      touch: 'stickY',
      invert: true,
      doc: 'Walk, forward positive',
    },
    lookX: { index: 2, mouse: 'x', mouseScale: DEFAULT_MOUSE_SCALE, gamepadAxis: 2, doc: 'Turn, right positive' },
    lookY: { index: 3, mouse: 'y', mouseScale: DEFAULT_MOUSE_SCALE, gamepadAxis: 3, invert: true, doc: 'Look, up positive' },
  },
} satisfies ActionMap);

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function cloneList<T>(list: readonly T[] | undefined): T[] | undefined {
  return list === undefined ? undefined : list.slice();
}

/**
 * A deep, mutable copy of `map` (e.g. of the frozen {@link DEFAULT_ACTION_MAP}) for editing.
 * Does not validate. Fields that are `undefined` are omitted from the copy.
 */
export function cloneActionMap(map: ReadonlyActionMap): ActionMap {
  const out: ActionMap = { buttons: {}, axes: {} };
  for (const [name, b] of Object.entries(map.buttons)) {
    const c: ButtonBinding = { bit: b.bit };
    if (b.keys !== undefined) c.keys = cloneList(b.keys);
    if (b.mouseButtons !== undefined) c.mouseButtons = cloneList(b.mouseButtons);
    if (b.gamepadButtons !== undefined) c.gamepadButtons = cloneList(b.gamepadButtons);
    if (b.touch !== undefined) c.touch = b.touch;
    if (b.doc !== undefined) c.doc = b.doc;
    out.buttons[name] = c;
  }
  for (const [name, a] of Object.entries(map.axes)) {
    const c: AxisBinding = { index: a.index };
    if (a.positiveKeys !== undefined) c.positiveKeys = cloneList(a.positiveKeys);
    if (a.negativeKeys !== undefined) c.negativeKeys = cloneList(a.negativeKeys);
    if (a.gamepadAxis !== undefined) c.gamepadAxis = a.gamepadAxis;
    if (a.invert !== undefined) c.invert = a.invert;
    if (a.mouse !== undefined) c.mouse = a.mouse;
    if (a.mouseScale !== undefined) c.mouseScale = a.mouseScale;
    if (a.touch !== undefined) c.touch = a.touch;
    if (a.deadZone !== undefined) c.deadZone = a.deadZone;
    if (a.doc !== undefined) c.doc = a.doc;
    out.axes[name] = c;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Validation

const ACTION_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAP_FIELDS: ReadonlySet<string> = new Set(['buttons', 'axes']);
const BUTTON_FIELDS: ReadonlySet<string> = new Set(['bit', 'keys', 'mouseButtons', 'gamepadButtons', 'touch', 'doc']);
const AXIS_FIELDS: ReadonlySet<string> = new Set([
  'index', 'positiveKeys', 'negativeKeys', 'gamepadAxis', 'invert', 'mouse', 'mouseScale', 'touch', 'deadZone', 'doc',
]);
const MAX_MOUSE_BUTTON = 15;
const MAX_GAMEPAD_BUTTON = 63;
const MAX_GAMEPAD_AXIS = 15;

function configError(message: string, data: Record<string, unknown>): EngineError {
  return new EngineError('InvalidConfig', `action map: ${message}`, data);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkFields(obj: Record<string, unknown>, allowed: ReadonlySet<string>, where: string, data: Record<string, unknown>): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) {
      throw configError(`${where} has unknown field '${key}' (allowed: ${[...allowed].join(', ')})`, { ...data, field: key });
    }
  }
}

function checkKeyList(v: unknown, where: string, field: string, data: Record<string, unknown>): void {
  if (v === undefined) return;
  if (!Array.isArray(v) || !v.every((k) => typeof k === 'string' && k.length > 0)) {
    throw configError(`${where}.${field} must be an array of KeyboardEvent.code strings, got ${JSON.stringify(v)}`, { ...data, field, value: v });
  }
}

function checkIntList(v: unknown, max: number, where: string, field: string, data: Record<string, unknown>): void {
  if (v === undefined) return;
  if (!Array.isArray(v) || !v.every((n) => Number.isInteger(n) && n >= 0 && n <= max)) {
    throw configError(`${where}.${field} must be an array of integers in [0, ${max}], got ${JSON.stringify(v)}`, { ...data, field, value: v });
  }
}

function checkName(name: string, kind: 'button' | 'axis'): void {
  if (!ACTION_NAME.test(name)) {
    throw configError(`${kind} name ${JSON.stringify(name)} is invalid: use letters, digits and _ (not starting with a digit)`, { action: name });
  }
}

/**
 * Checks that `map` is a well-formed {@link ActionMap}; accepts `unknown` so maps loaded from
 * storage or JSON can be checked before use.
 *
 * Rejected, each with an error naming the offending action (in the message and in
 * `error.data.action`) and field (`error.data.field`):
 * - `map` not an object with exactly the fields `buttons` and `axes` (both objects);
 * - an action name not matching `/^[A-Za-z_][A-Za-z0-9_]*$/`, or used both as button and axis;
 * - unknown fields in a binding (catches typos such as `key` for `keys`);
 * - a button `bit` that is not an integer in [0, 31], or two buttons sharing a bit;
 * - an axis `index` that is not 0..3, or two axes sharing an index;
 * - key lists that are not arrays of non-empty strings; a key in both `positiveKeys` and
 *   `negativeKeys` of one axis;
 * - mouse buttons outside [0, 15], gamepad buttons outside [0, 63], gamepad axes outside [0, 15];
 * - `touch` other than `'tap'` (buttons) or `'stickX' | 'stickY'` (axes), `mouse` other than
 *   `'x' | 'y'`, `invert` not boolean, `mouseScale` not finite and > 0, `deadZone` not in [0, 1),
 *   `doc` not a string.
 *
 * @throws EngineError `InvalidConfig` on the first problem found.
 */
export function validateActionMap(map: unknown): asserts map is ActionMap {
  if (!isPlainObject(map)) throw configError(`expected an object with 'buttons' and 'axes', got ${map === null ? 'null' : typeof map}`, {});
  checkFields(map, MAP_FIELDS, 'map', {});
  const { buttons, axes } = map;
  if (!isPlainObject(buttons)) throw configError(`'buttons' must be an object of button bindings`, { field: 'buttons' });
  if (!isPlainObject(axes)) throw configError(`'axes' must be an object of axis bindings`, { field: 'axes' });

  const bitOwner = new Map<number, string>();
  for (const [name, b] of Object.entries(buttons)) {
    checkName(name, 'button');
    const where = `button '${name}'`;
    const data = { action: name };
    if (!isPlainObject(b)) throw configError(`${where} must be an object`, data);
    checkFields(b, BUTTON_FIELDS, where, data);
    const bit = b.bit;
    if (typeof bit !== 'number' || !Number.isInteger(bit) || bit < 0 || bit >= INPUT_BUTTON_COUNT) {
      throw configError(`${where} has bit ${JSON.stringify(bit)}; bits must be integers in [0, ${INPUT_BUTTON_COUNT - 1}]`, { ...data, field: 'bit', value: bit });
    }
    const other = bitOwner.get(bit);
    if (other !== undefined) {
      throw configError(`${where} uses bit ${bit}, already used by button '${other}'`, { ...data, field: 'bit', value: bit, other });
    }
    bitOwner.set(bit, name);
    checkKeyList(b.keys, where, 'keys', data);
    checkIntList(b.mouseButtons, MAX_MOUSE_BUTTON, where, 'mouseButtons', data);
    checkIntList(b.gamepadButtons, MAX_GAMEPAD_BUTTON, where, 'gamepadButtons', data);
    if (b.touch !== undefined && b.touch !== 'tap') {
      throw configError(`${where} has touch ${JSON.stringify(b.touch)}; the only button touch binding is 'tap'`, { ...data, field: 'touch', value: b.touch });
    }
    if (b.doc !== undefined && typeof b.doc !== 'string') throw configError(`${where}.doc must be a string`, { ...data, field: 'doc' });
  }

  const indexOwner = new Map<number, string>();
  for (const [name, a] of Object.entries(axes)) {
    checkName(name, 'axis');
    const where = `axis '${name}'`;
    const data = { action: name };
    if (Object.hasOwn(buttons, name)) {
      throw configError(`'${name}' is both a button and an axis; action names must be unique`, { ...data, field: 'name' });
    }
    if (!isPlainObject(a)) throw configError(`${where} must be an object`, data);
    checkFields(a, AXIS_FIELDS, where, data);
    const index = a.index;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= INPUT_AXIS_COUNT) {
      throw configError(`${where} has index ${JSON.stringify(index)}; axis indices are 0..${INPUT_AXIS_COUNT - 1}`, { ...data, field: 'index', value: index });
    }
    const other = indexOwner.get(index);
    if (other !== undefined) {
      throw configError(`${where} uses axis index ${index}, already used by axis '${other}'`, { ...data, field: 'index', value: index, other });
    }
    indexOwner.set(index, name);
    checkKeyList(a.positiveKeys, where, 'positiveKeys', data);
    checkKeyList(a.negativeKeys, where, 'negativeKeys', data);
    if (Array.isArray(a.positiveKeys) && Array.isArray(a.negativeKeys)) {
      const both = (a.positiveKeys as string[]).find((k) => (a.negativeKeys as string[]).includes(k));
      if (both !== undefined) {
        throw configError(`${where} has key '${both}' in both positiveKeys and negativeKeys`, { ...data, field: 'negativeKeys', value: both });
      }
    }
    if (a.gamepadAxis !== undefined && !(Number.isInteger(a.gamepadAxis) && (a.gamepadAxis as number) >= 0 && (a.gamepadAxis as number) <= MAX_GAMEPAD_AXIS)) {
      throw configError(`${where} has gamepadAxis ${JSON.stringify(a.gamepadAxis)}; expected an integer in [0, ${MAX_GAMEPAD_AXIS}]`, { ...data, field: 'gamepadAxis', value: a.gamepadAxis });
    }
    if (a.invert !== undefined && typeof a.invert !== 'boolean') {
      throw configError(`${where}.invert must be a boolean, got ${JSON.stringify(a.invert)}`, { ...data, field: 'invert', value: a.invert });
    }
    if (a.mouse !== undefined && a.mouse !== 'x' && a.mouse !== 'y') {
      throw configError(`${where} has mouse ${JSON.stringify(a.mouse)}; expected 'x' or 'y'`, { ...data, field: 'mouse', value: a.mouse });
    }
    if (a.mouseScale !== undefined && !(typeof a.mouseScale === 'number' && Number.isFinite(a.mouseScale) && a.mouseScale > 0)) {
      throw configError(`${where} has mouseScale ${JSON.stringify(a.mouseScale)}; expected a finite number > 0 (axis units per CSS px per tick)`, { ...data, field: 'mouseScale', value: a.mouseScale });
    }
    if (a.touch !== undefined && a.touch !== 'stickX' && a.touch !== 'stickY') {
      throw configError(`${where} has touch ${JSON.stringify(a.touch)}; expected 'stickX' or 'stickY'`, { ...data, field: 'touch', value: a.touch });
    }
    if (a.deadZone !== undefined && !(typeof a.deadZone === 'number' && a.deadZone >= 0 && a.deadZone < 1)) {
      throw configError(`${where} has deadZone ${JSON.stringify(a.deadZone)}; expected a number in [0, 1)`, { ...data, field: 'deadZone', value: a.deadZone });
    }
    if (a.doc !== undefined && typeof a.doc !== 'string') throw configError(`${where}.doc must be a string`, { ...data, field: 'doc' });
  }
}

/**
 * Checks that `map` has exactly the same layout as `reference`: the same button names with the
 * same bits and the same axis names with the same indices (bindings may differ). Use it when
 * loading a player's edited bindings, or to check that peers agree on the wire layout.
 *
 * @throws EngineError `InvalidConfig` naming the first action that is missing, extra, or moved.
 */
export function assertSameActionLayout(map: ReadonlyActionMap, reference: ReadonlyActionMap): void {
  for (const [name, ref] of Object.entries(reference.buttons)) {
    const b = map.buttons[name];
    if (b === undefined || !Object.hasOwn(map.buttons, name)) throw configError(`button '${name}' is missing`, { action: name });
    if (b.bit !== ref.bit) throw configError(`button '${name}' has bit ${b.bit}, expected ${ref.bit}`, { action: name, field: 'bit', value: b.bit, expected: ref.bit });
  }
  for (const name of Object.keys(map.buttons)) {
    if (!Object.hasOwn(reference.buttons, name)) throw configError(`button '${name}' is not in the reference layout`, { action: name });
  }
  for (const [name, ref] of Object.entries(reference.axes)) {
    const a = map.axes[name];
    if (a === undefined || !Object.hasOwn(map.axes, name)) throw configError(`axis '${name}' is missing`, { action: name });
    if (a.index !== ref.index) throw configError(`axis '${name}' has index ${a.index}, expected ${ref.index}`, { action: name, field: 'index', value: a.index, expected: ref.index });
  }
  for (const name of Object.keys(map.axes)) {
    if (!Object.hasOwn(reference.axes, name)) throw configError(`axis '${name}' is not in the reference layout`, { action: name });
  }
}

// ---------------------------------------------------------------------------------------------
// Reading actions by name

function buttonBinding(map: ReadonlyActionMap, name: string): ReadonlyActionMap['buttons'][string] {
  const b = Object.hasOwn(map.buttons, name) ? map.buttons[name] : undefined;
  if (b === undefined) {
    throw configError(`no button action named '${name}' (known: ${Object.keys(map.buttons).join(', ') || 'none'})`, { action: name });
  }
  return b;
}

function axisBinding(map: ReadonlyActionMap, name: string): ReadonlyActionMap['axes'][string] {
  const a = Object.hasOwn(map.axes, name) ? map.axes[name] : undefined;
  if (a === undefined) {
    throw configError(`no axis action named '${name}' (known: ${Object.keys(map.axes).join(', ') || 'none'})`, { action: name });
  }
  return a;
}

/**
 * The bit mask of button action `name`: `2^bit` as an unsigned integer (bit 31 gives 2147483648,
 * not a negative number), ready for `(record.buttons | mask) >>> 0`.
 *
 * @throws EngineError `InvalidConfig` when `map` has no button named `name`.
 */
export function buttonMask(map: ReadonlyActionMap, name: string): number {
  return (1 << buttonBinding(map, name).bit) >>> 0;
}

/**
 * The record slot (0..3) of axis action `name`.
 * @throws EngineError `InvalidConfig` when `map` has no axis named `name`.
 */
export function axisIndex(map: ReadonlyActionMap, name: string): AxisIndex {
  return axisBinding(map, name).index;
}

/**
 * Whether button action `name` is held in `record`.
 * @throws EngineError `InvalidConfig` when `map` has no button named `name`.
 */
export function isPressed(record: Readonly<Pick<InputRecord, 'buttons'>>, map: ReadonlyActionMap, name: string): boolean {
  return (record.buttons & (1 << buttonBinding(map, name).bit)) !== 0;
}

/**
 * The value of axis action `name` in `record`: the dequantized axis `q / 127`, in [-1, 1]
 * (dimensionless fraction of full deflection; deterministic).
 *
 * @throws EngineError `InvalidConfig` when `map` has no axis named `name`;
 *   `InvalidInputRecord` when the stored axis is not an integer in [-127, 127].
 */
export function axisValue(record: Readonly<Pick<InputRecord, 'axes'>>, map: ReadonlyActionMap, name: string): number {
  const i = axisBinding(map, name).index;
  const q = record.axes[i];
  if (!Number.isInteger(q) || q < -AXIS_QUANT_MAX || q > AXIS_QUANT_MAX) {
    throw new EngineError('InvalidInputRecord', `axis '${name}' (index ${i}) holds ${q}, not an integer in [-127, 127]`, { action: name, index: i, value: q });
  }
  return q / AXIS_QUANT_MAX;
}

/** Every distinct `KeyboardEvent.code` bound anywhere in `map`, sorted (for preventDefault lists and settings screens). */
export function boundKeyCodes(map: ReadonlyActionMap): string[] {
  const codes = new Set<string>();
  for (const b of Object.values(map.buttons)) for (const k of b.keys ?? []) codes.add(k);
  for (const a of Object.values(map.axes)) {
    for (const k of a.positiveKeys ?? []) codes.add(k);
    for (const k of a.negativeKeys ?? []) codes.add(k);
  }
  return [...codes].sort();
}
