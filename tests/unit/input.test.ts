import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  addComponent, createWorld, EngineError, Phase, restore, Scheduler, snapshot, spawn,
  type GameWorld,
} from '../../engine/index.ts';
import {
  applyDeadZone, assertSameActionLayout, AXIS_QUANT_MAX, axisIndex, axisValue, boundKeyCodes, buttonMask,
  cloneActionMap, createBrowserInputSampler, createInputRecord, createInputSystem, decodeInputRecord,
  DEFAULT_ACTION_MAP, dequantizeAxis, encodeInputRecord, GamepadDevice, INPUT_RECORD_BYTES, inputRecordsEqual,
  InputSampler, isPressed, isValidInputRecordBytes, KeyboardDevice, LocalPlayer, MouseDevice, PlayerInput,
  quantizeAxis, readInputRecord, ScriptedInputSource, TouchDevice, validateActionMap, writeInputRecord,
  type GamepadLike, type InputRecord, type InputSource,
} from '../../engine/input/index.ts';

// ---------------------------------------------------------------------------------------------
// Helpers

/** mulberry32: small seeded PRNG so "random" cases are the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function record(buttons: number, axes: [number, number, number, number] = [0, 0, 0, 0]): InputRecord {
  return { buttons, axes };
}

function roundTrip(rec: InputRecord): InputRecord {
  const bytes = encodeInputRecord(rec);
  expect(bytes.length).toBe(INPUT_RECORD_BYTES);
  return decodeInputRecord(bytes);
}

/** Runs `fn` and returns the EngineError it throws (fails the test when it does not throw one). */
function engineError(fn: () => unknown): EngineError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error('expected an EngineError, nothing was thrown');
}

function keyEvent(type: 'keydown' | 'keyup', code: string): Event {
  return Object.assign(new Event(type, { cancelable: true }), { code });
}

function mouseEvent(type: string, fields: { button?: number; movementX?: number; movementY?: number }): Event {
  return Object.assign(new Event(type, { cancelable: true }), { button: 0, movementX: 0, movementY: 0, ...fields });
}

function touchEvent(type: string, touches: { identifier: number; clientX: number; clientY: number }[]): Event {
  return Object.assign(new Event(type, { cancelable: true }), { changedTouches: touches });
}

const BOUNDS = { left: 0, top: 0, width: 800, height: 600 };

function pad(axes: number[], pressed: number[] = []): GamepadLike {
  const buttons = Array.from({ length: 17 }, (_, i) => ({ pressed: pressed.includes(i) }));
  return { connected: true, axes, buttons };
}

/** A sampler over all four devices, with fake targets, attached. */
function rig(map = DEFAULT_ACTION_MAP) {
  const target = new EventTarget();
  const pads: (GamepadLike | null)[] = [null];
  const keyboard = new KeyboardDevice({ target });
  const mouse = new MouseDevice({ target });
  const gamepad = new GamepadDevice({ getGamepads: () => pads });
  const touch = new TouchDevice({ target, getBounds: () => BOUNDS });
  const sampler = new InputSampler(map, { keyboard, mouse, gamepad, touch });
  sampler.attach();
  const out = createInputRecord();
  return {
    target, pads, keyboard, mouse, gamepad, touch, sampler, out,
    sample: () => sampler.sample(out),
    key: (type: 'keydown' | 'keyup', code: string) => target.dispatchEvent(keyEvent(type, code)),
  };
}

const BUTTONS = Object.keys(DEFAULT_ACTION_MAP.buttons);
const AXES = Object.keys(DEFAULT_ACTION_MAP.axes);

// ---------------------------------------------------------------------------------------------
// Record encoding

describe('input record encode/decode', () => {
  it('has the documented 8-byte little-endian layout', () => {
    const bytes = encodeInputRecord(record(0x04030201 + 0x80000000, [127, -127, 1, -1]));
    expect([...bytes]).toEqual([0x01, 0x02, 0x03, 0x84, 127, 0x81, 1, 0xff]);
    expect(INPUT_RECORD_BYTES).toBe(8);
  });

  it.each(BUTTONS)('round-trips button action %s alone', (name) => {
    const rec = record(buttonMask(DEFAULT_ACTION_MAP, name));
    const back = roundTrip(rec);
    expect(inputRecordsEqual(back, rec)).toBe(true);
    for (const other of BUTTONS) expect(isPressed(back, DEFAULT_ACTION_MAP, other)).toBe(other === name);
  });

  it('round-trips all button actions together', () => {
    let buttons = 0;
    for (const name of BUTTONS) buttons = (buttons | buttonMask(DEFAULT_ACTION_MAP, name)) >>> 0;
    const back = roundTrip(record(buttons));
    for (const name of BUTTONS) expect(isPressed(back, DEFAULT_ACTION_MAP, name)).toBe(true);
    expect(back.buttons).toBe(buttons);
  });

  it.each(AXES)('round-trips axis action %s at -1, 0 and 1', (name) => {
    for (const v of [-1, 0, 1]) {
      const rec = createInputRecord();
      rec.axes[axisIndex(DEFAULT_ACTION_MAP, name)] = quantizeAxis(v);
      const back = roundTrip(rec);
      expect(axisValue(back, DEFAULT_ACTION_MAP, name)).toBe(v);
      for (const other of AXES) if (other !== name) expect(axisValue(back, DEFAULT_ACTION_MAP, other)).toBe(0);
    }
  });

  it('round-trips every action at once, every bit and the extremes', () => {
    const all = record(0xffffffff, [127, -127, 127, -127]);
    expect(inputRecordsEqual(roundTrip(all), all)).toBe(true);
    const bit31 = record(0x80000000);
    expect(roundTrip(bit31).buttons).toBe(0x80000000);
    for (let bit = 0; bit < 32; bit++) expect(roundTrip(record(2 ** bit)).buttons).toBe(2 ** bit);
  });

  it('round-trips seeded random records, also at offsets in a shared buffer, into a reused record', () => {
    const rnd = mulberry32(0xc0ffee);
    const buf = new Uint8Array(INPUT_RECORD_BYTES * 64 + 3);
    const out = createInputRecord();
    for (let i = 0; i < 2000; i++) {
      const rec = record(Math.floor(rnd() * 2 ** 32), [0, 1, 2, 3].map(() => quantizeAxis(rnd() * 2.2 - 1.1)) as InputRecord['axes']);
      const offset = 3 + INPUT_RECORD_BYTES * (i % 64);
      expect(encodeInputRecord(rec, buf, offset)).toBe(buf);
      expect(isValidInputRecordBytes(buf, offset)).toBe(true);
      expect(decodeInputRecord(buf, offset, out)).toBe(out);
      expect(out).toEqual(rec);
    }
  });

  it('round-trips arbitrary canonical records (fast-check, fixed seed)', () => {
    const axis = fc.integer({ min: -127, max: 127 });
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), axis, axis, axis, axis, (buttons, a, b, c, d) => {
        const rec = record(buttons, [a, b, c, d]);
        const back = roundTrip(rec);
        return inputRecordsEqual(back, rec) && Object.is(back.axes[0], a) && encodeInputRecord(back).every((x, i) => x === encodeInputRecord(rec)[i]);
      }),
      { seed: 20240601, numRuns: 500 },
    );
  });

  it('rejects short buffers and bad offsets on decode without touching out', () => {
    const out = record(7, [1, 2, 3, 4]);
    for (const [bytes, offset] of [[new Uint8Array(7), 0], [new Uint8Array(8), 1], [new Uint8Array(16), 9], [new Uint8Array(8), -1], [new Uint8Array(8), 0.5]] as const) {
      const err = engineError(() => decodeInputRecord(bytes, offset, out));
      expect(err.code).toBe('InvalidInputRecord');
      expect(err.message).toMatch(/needs 8 bytes/);
      expect(isValidInputRecordBytes(bytes, offset)).toBe(false);
    }
    expect(out).toEqual(record(7, [1, 2, 3, 4]));
  });

  it('rejects the axis byte -128 (never produced) on decode', () => {
    for (let i = 0; i < 4; i++) {
      const bytes = new Uint8Array(8);
      bytes[4 + i] = 0x80;
      const err = engineError(() => decodeInputRecord(bytes));
      expect(err.code).toBe('InvalidInputRecord');
      expect(err.message).toContain(`axis ${i}`);
      expect(err.data).toMatchObject({ field: `axes[${i}]` });
      expect(isValidInputRecordBytes(bytes)).toBe(false);
    }
  });

  it('rejects non-canonical records and short buffers on encode, writing nothing', () => {
    const bad: [InputRecord, string][] = [
      [record(-1), 'buttons'],
      [record(1 << 31), 'buttons'],
      [record(2 ** 32), 'buttons'],
      [record(1.5), 'buttons'],
      [record(Number.NaN), 'buttons'],
      [record(0, [128, 0, 0, 0]), 'axes[0]'],
      [record(0, [0, -128, 0, 0]), 'axes[1]'],
      [record(0, [0, 0, 0.5, 0]), 'axes[2]'],
      [record(0, [0, 0, 0, Number.NaN]), 'axes[3]'],
    ];
    for (const [rec, field] of bad) {
      const out = new Uint8Array(8).fill(0xaa);
      const err = engineError(() => encodeInputRecord(rec, out));
      expect(err.code).toBe('InvalidInputRecord');
      expect(err.data).toMatchObject({ field });
      expect(out.every((b) => b === 0xaa)).toBe(true);
    }
    expect(engineError(() => encodeInputRecord(record(1 << 31))).message).toMatch(/>>> 0/);
    const err = engineError(() => encodeInputRecord(record(0), new Uint8Array(10), 3));
    expect(err.code).toBe('InvalidInputRecord');
    expect(err.data).toMatchObject({ offset: 3, length: 10, needed: 8 });
  });
});

describe('axis quantization', () => {
  it('maps [-1, 1] to [-127, 127] and clamps beyond', () => {
    expect(quantizeAxis(1)).toBe(127);
    expect(quantizeAxis(-1)).toBe(-127);
    expect(quantizeAxis(0)).toBe(0);
    expect(quantizeAxis(5)).toBe(127);
    expect(quantizeAxis(-5)).toBe(-127);
    expect(quantizeAxis(Infinity)).toBe(127);
    expect(quantizeAxis(-Infinity)).toBe(-127);
    expect(quantizeAxis(Number.NaN)).toBe(0);
    expect(Object.is(quantizeAxis(-0), 0)).toBe(true);
    expect(Object.is(quantizeAxis(-0.001), 0)).toBe(true);
    expect(AXIS_QUANT_MAX).toBe(127);
  });

  it('rounds to nearest with halves away from zero, symmetrically', () => {
    expect(quantizeAxis(0.5)).toBe(64); // 63.5 -> 64
    expect(quantizeAxis(-0.5)).toBe(-64);
    expect(quantizeAxis(0.49 / 127)).toBe(0);
    expect(quantizeAxis(0.51 / 127)).toBe(1);
    expect(quantizeAxis(-0.51 / 127)).toBe(-1);
    const rnd = mulberry32(7);
    for (let i = 0; i < 5000; i++) {
      const v = rnd() * 2 - 1;
      const q = quantizeAxis(v);
      expect(Number.isInteger(q)).toBe(true);
      expect(q).toBeGreaterThanOrEqual(-127);
      expect(q).toBeLessThanOrEqual(127);
      expect(quantizeAxis(-v)).toBe(-q || 0);
      expect(Math.abs(dequantizeAxis(q) - v)).toBeLessThanOrEqual(0.5 / 127 + 1e-12);
    }
  });

  it('is exact on the grid: quantize(dequantize(q)) === q for every q', () => {
    for (let q = -127; q <= 127; q++) expect(quantizeAxis(dequantizeAxis(q))).toBe(q);
  });

  it('dequantizeAxis rejects values outside [-127, 127] and fractions', () => {
    for (const q of [128, -128, 0.5, Number.NaN]) expect(engineError(() => dequantizeAxis(q)).code).toBe('InvalidInputRecord');
  });
});

// ---------------------------------------------------------------------------------------------
// Action map

describe('action map', () => {
  it('DEFAULT_ACTION_MAP is valid, deeply frozen, and clones into an independent editable copy', () => {
    expect(() => validateActionMap(DEFAULT_ACTION_MAP)).not.toThrow();
    expect(Object.isFrozen(DEFAULT_ACTION_MAP.buttons.jump!.keys)).toBe(true);
    const copy = cloneActionMap(DEFAULT_ACTION_MAP);
    copy.buttons.jump!.keys!.push('KeyJ');
    expect(DEFAULT_ACTION_MAP.buttons.jump!.keys).toEqual(['Space']);
    expect(() => validateActionMap(copy)).not.toThrow();
    expect(() => assertSameActionLayout(copy, DEFAULT_ACTION_MAP)).not.toThrow();
    expect(JSON.parse(JSON.stringify(copy))).toEqual(copy);
  });

  it('has the documented layout', () => {
    expect(BUTTONS.map((n) => [n, DEFAULT_ACTION_MAP.buttons[n]!.bit])).toEqual([['jump', 0], ['sprint', 1], ['fire', 2], ['interact', 3]]);
    expect(AXES.map((n) => [n, DEFAULT_ACTION_MAP.axes[n]!.index])).toEqual([['moveX', 0], ['moveY', 1], ['lookX', 2], ['lookY', 3]]);
  });

  const cases: [string, (m: ReturnType<typeof cloneActionMap>) => void, string | undefined, RegExp][] = [
    ['duplicate bit', (m) => { m.buttons.sprint!.bit = 0; }, 'sprint', /bit 0, already used by button 'jump'/],
    ['bit 32', (m) => { m.buttons.fire!.bit = 32; }, 'fire', /bits must be integers in \[0, 31\]/],
    ['negative bit', (m) => { m.buttons.fire!.bit = -1; }, 'fire', /bit -1/],
    ['fractional bit', (m) => { m.buttons.fire!.bit = 1.5; }, 'fire', /bit 1.5/],
    ['axis index 4', (m) => { (m.axes.lookY as { index: number }).index = 4; }, 'lookY', /indices are 0..3/],
    ['shared axis index', (m) => { m.axes.lookY!.index = 0; }, 'lookY', /already used by axis 'moveX'/],
    ['unknown binding field', (m) => { (m.buttons.jump as unknown as Record<string, unknown>).key = ['KeyJ']; }, 'jump', /unknown field 'key'/],
    ['unknown axis field', (m) => { (m.axes.moveX as unknown as Record<string, unknown>).gamepadAxes = 0; }, 'moveX', /unknown field 'gamepadAxes'/],
    ['bad action name', (m) => { m.buttons['jump now'] = { bit: 9 }; }, 'jump now', /name "jump now" is invalid/],
    ['name both button and axis', (m) => { m.axes.jump = { index: 3 }; delete m.axes.lookY; }, 'jump', /both a button and an axis/],
    ['touch swipe', (m) => { (m.buttons.jump as { touch: string }).touch = 'swipe'; }, 'jump', /only button touch binding is 'tap'/],
    ['mouse z', (m) => { (m.axes.lookX as { mouse: string }).mouse = 'z'; }, 'lookX', /expected 'x' or 'y'/],
    ['dead zone 1', (m) => { m.axes.moveX!.deadZone = 1; }, 'moveX', /deadZone 1/],
    ['mouse scale 0', (m) => { m.axes.lookX!.mouseScale = 0; }, 'lookX', /mouseScale 0/],
    ['key on both sides', (m) => { m.axes.moveX!.negativeKeys!.push('KeyD'); }, 'moveX', /'KeyD' in both/],
    ['gamepad button -1', (m) => { m.buttons.jump!.gamepadButtons = [-1]; }, 'jump', /gamepadButtons must be an array of integers/],
    ['keys not strings', (m) => { (m.buttons.jump as unknown as { keys: unknown }).keys = 'Space'; }, 'jump', /keys must be an array/],
    ['invert not boolean', (m) => { (m.axes.moveY as unknown as { invert: unknown }).invert = 'yes'; }, 'moveY', /invert must be a boolean/],
  ];

  it.each(cases)('validateActionMap rejects %s, naming the action', (_, edit, action, message) => {
    const m = cloneActionMap(DEFAULT_ACTION_MAP);
    edit(m);
    const err = engineError(() => validateActionMap(m));
    expect(err.code).toBe('InvalidConfig');
    expect(err.message).toMatch(message);
    expect(err.data.action).toBe(action);
    if (action) expect(err.message).toContain(action);
  });

  it('validateActionMap rejects non-maps', () => {
    for (const bad of [null, 3, [], {}, { buttons: {} }, { buttons: {}, axes: {}, extra: 1 }, { buttons: [], axes: {} }]) {
      expect(engineError(() => validateActionMap(bad)).code).toBe('InvalidConfig');
    }
    expect(() => validateActionMap({ buttons: {}, axes: {} })).not.toThrow();
  });

  it('assertSameActionLayout names the first moved, missing or extra action', () => {
    const moved = cloneActionMap(DEFAULT_ACTION_MAP);
    moved.buttons.jump!.bit = 9;
    expect(engineError(() => assertSameActionLayout(moved, DEFAULT_ACTION_MAP)).message).toMatch(/button 'jump' has bit 9, expected 0/);
    const missing = cloneActionMap(DEFAULT_ACTION_MAP);
    delete missing.axes.lookY;
    expect(engineError(() => assertSameActionLayout(missing, DEFAULT_ACTION_MAP)).message).toMatch(/axis 'lookY' is missing/);
    const extra = cloneActionMap(DEFAULT_ACTION_MAP);
    extra.buttons.crouch = { bit: 4, keys: ['KeyC'] };
    expect(engineError(() => assertSameActionLayout(extra, DEFAULT_ACTION_MAP)).data.action).toBe('crouch');
  });

  it('helpers read actions by name and reject unknown names', () => {
    const m = cloneActionMap(DEFAULT_ACTION_MAP);
    m.buttons.last = { bit: 31 };
    expect(buttonMask(m, 'last')).toBe(2147483648);
    expect(isPressed(record(0x80000000), m, 'last')).toBe(true);
    expect(isPressed(record(0x7fffffff), m, 'last')).toBe(false);
    expect(axisValue(record(0, [0, 64, 0, 0]), m, 'moveY')).toBeCloseTo(64 / 127, 12);
    for (const fn of [() => buttonMask(m, 'dash'), () => isPressed(record(0), m, 'moveX'), () => axisValue(record(0), m, 'jump'), () => axisIndex(m, 'toString')]) {
      const err = engineError(fn);
      expect(err.code).toBe('InvalidConfig');
      expect(err.message).toMatch(/no (button|axis) action named/);
    }
    expect(engineError(() => axisValue(record(0, [0, 200, 0, 0]), m, 'moveY')).code).toBe('InvalidInputRecord');
  });

  it('boundKeyCodes lists every bound key once', () => {
    expect(boundKeyCodes(DEFAULT_ACTION_MAP)).toEqual(
      ['ArrowDown', 'ArrowLeft', 'ArrowRight', 'ArrowUp', 'KeyA', 'KeyD', 'KeyE', 'KeyS', 'KeyW', 'ShiftLeft', 'ShiftRight', 'Space'],
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Devices

describe('devices', () => {
  it('attach without a target throws in Node; construction and dispose touch no DOM', () => {
    expect(typeof window).toBe('undefined');
    for (const device of [new KeyboardDevice(), new MouseDevice(), new TouchDevice()]) {
      const err = engineError(() => device.attach());
      expect(err.code).toBe('InvalidConfig');
      expect(err.message).toMatch(/no event target/);
      expect(device.attached).toBe(false);
      device.dispose();
      device.dispose();
    }
    const sampler = createBrowserInputSampler();
    expect(sampler.sample(createInputRecord())).toEqual(createInputRecord());
    sampler.dispose();
  });

  it('keyboard: tracks codes, latches quick taps, clears on blur, attach/dispose are idempotent', () => {
    const target = new EventTarget();
    const kb = new KeyboardDevice({ target, preventDefaultCodes: ['Space'] });
    kb.attach();
    kb.attach(); // second attach must not double-register
    const down = keyEvent('keydown', 'Space');
    target.dispatchEvent(down);
    expect(down.defaultPrevented).toBe(true);
    const other = keyEvent('keydown', 'KeyQ');
    target.dispatchEvent(other);
    expect(other.defaultPrevented).toBe(false);
    expect([...kb.heldCodes].sort()).toEqual(['KeyQ', 'Space']);
    target.dispatchEvent(keyEvent('keyup', 'Space'));
    expect(kb.isDown('Space')).toBe(false);
    expect(kb.isActive('Space')).toBe(true); // pressed since the last sample
    kb.endSample();
    expect(kb.isActive('Space')).toBe(false);
    expect(kb.isActive('KeyQ')).toBe(true);
    target.dispatchEvent(new Event('blur'));
    expect(kb.isActive('KeyQ')).toBe(false);
    kb.dispose();
    kb.dispose();
    target.dispatchEvent(keyEvent('keydown', 'KeyW'));
    expect(kb.isActive('KeyW')).toBe(false);
    kb.attach(); // re-attach after dispose works
    target.dispatchEvent(keyEvent('keydown', 'KeyW'));
    expect(kb.isDown('KeyW')).toBe(true);
    kb.dispose();
  });

  it('keyboard: ignores presses typed into text fields, releases everything on Meta up', () => {
    const target = new EventTarget();
    const kb = new KeyboardDevice({ target });
    kb.attach();
    const typed = keyEvent('keydown', 'KeyW');
    Object.defineProperty(typed, 'target', { value: { tagName: 'INPUT' } });
    target.dispatchEvent(typed);
    expect(kb.isActive('KeyW')).toBe(false);
    kb.keyDown('MetaLeft');
    kb.keyDown('KeyC');
    kb.keyUp('MetaLeft');
    expect(kb.isDown('KeyC')).toBe(false);
    kb.dispose();
  });

  it('mouse: buttons, accumulated movement reset per sample, blur clears', () => {
    const target = new EventTarget();
    const mouse = new MouseDevice({ target });
    mouse.attach();
    mouse.attach();
    target.dispatchEvent(mouseEvent('mousemove', { movementX: 3, movementY: -2 }));
    target.dispatchEvent(mouseEvent('mousemove', { movementX: 4, movementY: -1 }));
    expect([mouse.movementX, mouse.movementY]).toEqual([7, -3]);
    target.dispatchEvent(mouseEvent('mousedown', { button: 2 }));
    target.dispatchEvent(mouseEvent('mouseup', { button: 2 }));
    expect(mouse.heldMask).toBe(0);
    expect(mouse.isActive(2)).toBe(true);
    mouse.endSample();
    expect([mouse.movementX, mouse.movementY, mouse.activeMask]).toEqual([0, 0, 0]);
    target.dispatchEvent(mouseEvent('mousedown', { button: 0 }));
    const menu = new Event('contextmenu', { cancelable: true });
    target.dispatchEvent(menu);
    expect(menu.defaultPrevented).toBe(true);
    target.dispatchEvent(new Event('blur'));
    expect(mouse.activeMask).toBe(0);
    mouse.dispose();
    mouse.dispose();
    target.dispatchEvent(mouseEvent('mousemove', { movementX: 5 }));
    expect(mouse.movementX).toBe(0);
  });

  it('gamepad: polls the first connected pad or a fixed index, only while attached', () => {
    const pads: (GamepadLike | null)[] = [null, { ...pad([0.5, Number.NaN, 3]), connected: false }, pad([0.25, -0.5], [0])];
    const first = new GamepadDevice({ getGamepads: () => pads });
    first.poll();
    expect(first.current).toBeNull();
    first.attach();
    first.attach();
    first.poll();
    expect(first.current).toBe(pads[2]);
    expect([first.axis(0), first.axis(1), first.axis(9)]).toEqual([0.25, -0.5, 0]);
    expect([first.isPressed(0), first.isPressed(1), first.isPressed(99)]).toEqual([true, false, false]);
    const fixed = new GamepadDevice({ index: 1, getGamepads: () => pads });
    fixed.attach();
    fixed.poll();
    expect(fixed.current).toBeNull(); // index 1 is disconnected
    pads[1] = pad([Number.NaN, 3, -3]);
    fixed.poll();
    expect([fixed.axis(0), fixed.axis(1), fixed.axis(2)]).toEqual([0, 1, -1]);
    first.dispose();
    first.dispose();
    expect(first.current).toBeNull();
    expect(new GamepadDevice().attached).toBe(false); // no navigator in Node: reads nothing
  });

  it('touch: left-half stick from its start point, clamped to the radius; right-half taps', () => {
    const target = new EventTarget();
    const touch = new TouchDevice({ target, radius: 50, getBounds: () => BOUNDS });
    touch.attach();
    touch.attach();
    const start = touchEvent('touchstart', [{ identifier: 1, clientX: 100, clientY: 400 }]);
    target.dispatchEvent(start);
    expect(start.defaultPrevented).toBe(true);
    expect([touch.stickActive, touch.stickX, touch.stickY]).toEqual([true, 0, 0]);
    target.dispatchEvent(touchEvent('touchmove', [{ identifier: 1, clientX: 125, clientY: 390 }]));
    expect(touch.stickX).toBeCloseTo(0.5, 12);
    expect(touch.stickY).toBeCloseTo(-0.2, 12);
    target.dispatchEvent(touchEvent('touchmove', [{ identifier: 1, clientX: 100, clientY: 100 }]));
    expect([touch.stickX, touch.stickY]).toEqual([0, -1]); // clamped to the unit circle
    // A second left-half touch does not steal the stick.
    target.dispatchEvent(touchEvent('touchstart', [{ identifier: 2, clientX: 50, clientY: 50 }]));
    target.dispatchEvent(touchEvent('touchmove', [{ identifier: 2, clientX: 300, clientY: 300 }]));
    expect(touch.stickY).toBe(-1);
    expect(touch.tapActive).toBe(false);
    // Right half: tap; quick tap survives until the sample ends.
    target.dispatchEvent(touchEvent('touchstart', [{ identifier: 3, clientX: 700, clientY: 300 }]));
    target.dispatchEvent(touchEvent('touchend', [{ identifier: 3, clientX: 700, clientY: 300 }]));
    expect(touch.tapActive).toBe(true);
    touch.endSample();
    expect(touch.tapActive).toBe(false);
    target.dispatchEvent(touchEvent('touchcancel', [{ identifier: 1, clientX: 0, clientY: 0 }]));
    expect([touch.stickActive, touch.stickX, touch.stickY]).toEqual([false, 0, 0]);
    touch.dispose();
    touch.dispose();
    expect(engineError(() => new TouchDevice({ radius: 0 })).code).toBe('InvalidConfig');
  });
});

// ---------------------------------------------------------------------------------------------
// Sampler

describe('InputSampler', () => {
  it('maps keys to buttons and axes; opposite keys cancel', () => {
    const r = rig();
    r.key('keydown', 'KeyW');
    r.key('keydown', 'ShiftLeft');
    expect(r.sample()).toEqual(record(0b10, [0, 127, 0, 0]));
    r.key('keydown', 'KeyS');
    r.key('keydown', 'KeyA');
    expect(r.sample()).toEqual(record(0b10, [-127, 0, 0, 0]));
    r.key('keydown', 'ArrowRight'); // A and ArrowRight: opposite directions
    expect(r.sample().axes[0]).toBe(0);
    r.key('keyup', 'KeyS');
    r.key('keyup', 'KeyW');
    r.key('keyup', 'KeyA');
    r.key('keyup', 'ShiftLeft');
    expect(r.sample()).toEqual(record(0, [127, 0, 0, 0]));
  });

  it('applies the gamepad dead zone and invert, and combines with keys by larger magnitude', () => {
    const r = rig();
    r.pads[0] = pad([0.1, -0.5, 0, 0]);
    const s = r.sample();
    expect(s.axes[0]).toBe(0); // inside the 0.15 dead zone
    expect(s.axes[1]).toBe(quantizeAxis((0.5 - 0.15) / 0.85)); // stick up = forward, rescaled
    expect(s.axes[1]).toBe(52);
    // Key D (+1) against stick left -0.6: the key is stronger.
    r.pads[0] = pad([-0.6, 0, 0, 0]);
    r.key('keydown', 'KeyD');
    expect(r.sample().axes[0]).toBe(127);
    // Full stick left (-1) ties with the key: keys win ties.
    r.pads[0] = pad([-1, 0, 0, 0]);
    expect(r.sample().axes[0]).toBe(127);
    r.key('keyup', 'KeyD');
    expect(r.sample().axes[0]).toBe(-127);
    // Weak key-less direction: gamepad alone.
    r.pads[0] = pad([0, 0, 0.6, 1]);
    const look = r.sample();
    expect(look.axes[2]).toBe(67); // (0.6-0.15)/0.85 = 0.529 -> 67.2
    expect(look.axes[3]).toBe(-127); // right stick down = look down (lookY is up-positive)
  });

  it('gamepad, mouse and keyboard buttons press the bound actions', () => {
    const r = rig();
    r.pads[0] = pad([0, 0, 0, 0], [0, 7]);
    expect(r.sample().buttons).toBe(buttonMask(DEFAULT_ACTION_MAP, 'jump') | buttonMask(DEFAULT_ACTION_MAP, 'fire'));
    r.pads[0] = null;
    r.target.dispatchEvent(mouseEvent('mousedown', { button: 2 }));
    expect(isPressed(r.sample(), DEFAULT_ACTION_MAP, 'interact')).toBe(true);
    r.target.dispatchEvent(mouseEvent('mouseup', { button: 2 }));
    r.key('keydown', 'KeyE');
    expect(r.sample().buttons).toBe(buttonMask(DEFAULT_ACTION_MAP, 'interact'));
  });

  it('turns mouse movement into look axes per tick, scaled and clamped, reset after each sample', () => {
    const r = rig();
    r.target.dispatchEvent(mouseEvent('mousemove', { movementX: 6, movementY: 4 }));
    r.target.dispatchEvent(mouseEvent('mousemove', { movementX: 4, movementY: 6 }));
    const s = r.sample();
    expect(s.axes[2]).toBe(64); // 10 px * 0.05 = 0.5
    expect(s.axes[3]).toBe(-64); // mouse down = look down
    expect(r.sample().axes.slice(2)).toEqual([0, 0]);
    r.target.dispatchEvent(mouseEvent('mousemove', { movementX: -500 }));
    expect(r.sample().axes[2]).toBe(-127);
  });

  it('drives move axes with the touch stick and jump with a tap', () => {
    const r = rig();
    r.touch.touchStart(1, 100, 300, BOUNDS);
    r.touch.touchMove(1, 100 + 30, 300 - 30); // up and right, 42 px of 60
    r.touch.touchStart(2, 600, 300, BOUNDS);
    const s = r.sample();
    const expected = applyDeadZone(30 / 60, 0.15);
    expect(s.buttons).toBe(buttonMask(DEFAULT_ACTION_MAP, 'jump'));
    expect(s.axes[0]).toBe(quantizeAxis(expected));
    expect(s.axes[1]).toBe(quantizeAxis(expected)); // screen up = forward
    r.touch.touchEnd(2);
    expect(r.sample().buttons).toBe(0);
  });

  it('keeps a press released between two samples for exactly one sample', () => {
    const r = rig();
    r.key('keydown', 'Space');
    r.key('keyup', 'Space');
    r.target.dispatchEvent(mouseEvent('mousedown', { button: 0 }));
    r.target.dispatchEvent(mouseEvent('mouseup', { button: 0 }));
    expect(r.sample().buttons).toBe(buttonMask(DEFAULT_ACTION_MAP, 'jump') | buttonMask(DEFAULT_ACTION_MAP, 'fire'));
    expect(r.sample().buttons).toBe(0);
  });

  it('applies rebinding through setActionMap, keeps the old map when the new one is invalid', () => {
    const r = rig();
    expect(r.keyboard.preventDefaultCodes.has('Space')).toBe(true);
    const map = cloneActionMap(DEFAULT_ACTION_MAP);
    map.buttons.jump!.keys = ['KeyJ'];
    r.sampler.setActionMap(map);
    expect(r.sampler.actionMap).toBe(map);
    expect(r.keyboard.preventDefaultCodes.has('Space')).toBe(false);
    r.key('keydown', 'Space');
    expect(r.sample().buttons).toBe(0);
    r.key('keydown', 'KeyJ');
    expect(r.sample().buttons).toBe(1);
    const broken = cloneActionMap(map);
    broken.buttons.sprint!.bit = 0;
    expect(engineError(() => r.sampler.setActionMap(broken)).code).toBe('InvalidConfig');
    expect(r.sampler.actionMap).toBe(map);
    expect(r.sample().buttons).toBe(1);
  });

  it('leaves unbound axes and unnamed bits at zero, overwriting what out held', () => {
    const map = { buttons: { go: { bit: 5, keys: ['KeyG'] } }, axes: { steer: { index: 2 as const, positiveKeys: ['KeyL'] } } };
    const keyboard = new KeyboardDevice();
    const sampler = new InputSampler(map, { keyboard });
    keyboard.keyDown('KeyG');
    keyboard.keyDown('KeyL');
    const out = record(0xffffffff, [9, 9, 9, 9]);
    expect(sampler.sample(out)).toBe(out);
    expect(out).toEqual(record(32, [0, 0, 127, 0]));
  });

  it('rejects an invalid map at construction', () => {
    const err = engineError(() => new InputSampler({ buttons: { a: { bit: 40 } }, axes: {} }));
    expect(err.code).toBe('InvalidConfig');
    expect(err.data.action).toBe('a');
  });

  it('attach and dispose reach every device and are idempotent', () => {
    const r = rig();
    r.sampler.attach();
    expect([r.keyboard.attached, r.mouse.attached, r.gamepad.attached, r.touch.attached]).toEqual([true, true, true, true]);
    r.key('keydown', 'KeyW');
    r.sampler.dispose();
    r.sampler.dispose();
    expect([r.keyboard.attached, r.mouse.attached, r.gamepad.attached, r.touch.attached]).toEqual([false, false, false, false]);
    r.key('keydown', 'KeyA');
    expect(r.sample()).toEqual(createInputRecord());
  });
});

describe('ScriptedInputSource', () => {
  it('sets buttons and axes by action name; state persists until changed', () => {
    const bot = new ScriptedInputSource();
    const out = createInputRecord();
    bot.press('jump').press('fire').setAxis('moveY', 1).setAxis('lookX', -0.5);
    expect(bot.sample(out)).toEqual(record(0b101, [0, 127, -64, 0]));
    expect(bot.sample(createInputRecord())).toEqual(out);
    bot.release('jump').setButton('sprint', true).setAxis('moveY', 3);
    expect(bot.sample(out)).toEqual(record(0b110, [0, 127, -64, 0]));
    bot.clear();
    expect(bot.sample(out)).toEqual(createInputRecord());
    const m = cloneActionMap(DEFAULT_ACTION_MAP);
    m.buttons.top = { bit: 31 };
    expect(new ScriptedInputSource(m).press('top').current.buttons).toBe(0x80000000);
  });

  it('rejects unknown names and non-finite axis values', () => {
    const bot = new ScriptedInputSource();
    expect(engineError(() => bot.press('dash')).data.action).toBe('dash');
    expect(engineError(() => bot.setAxis('jump', 1)).code).toBe('InvalidConfig');
    const err = engineError(() => bot.setAxis('moveX', Number.NaN));
    expect(err.code).toBe('InvalidInputRecord');
    expect(bot.current).toEqual(createInputRecord());
  });

  it('every action survives the full bot -> wire -> decode path', () => {
    const bot = new ScriptedInputSource();
    const out = createInputRecord();
    for (const name of BUTTONS) {
      bot.clear().press(name);
      const back = decodeInputRecord(encodeInputRecord(bot.sample(out)));
      for (const other of BUTTONS) expect(isPressed(back, DEFAULT_ACTION_MAP, other)).toBe(other === name);
    }
    for (const name of AXES) {
      for (const v of [-1, -0.25, 0, 0.25, 1]) {
        bot.clear().setAxis(name, v);
        const back = decodeInputRecord(encodeInputRecord(bot.sample(out)));
        expect(axisValue(back, DEFAULT_ACTION_MAP, name)).toBe(quantizeAxis(v) / 127);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// World integration

describe('input system and PlayerInput', () => {
  function setup() {
    const world = createWorld({ seed: 1 });
    const local = spawn(world);
    addComponent(world, local, PlayerInput);
    addComponent(world, local, LocalPlayer);
    const remote = spawn(world);
    addComponent(world, remote, PlayerInput);
    return { world, local, remote };
  }

  function counting(source: InputSource): { source: InputSource; calls: () => number } {
    let n = 0;
    return { source: { sample: (out) => (n++, source.sample(out)) }, calls: () => n };
  }

  it('declares PlayerInput as rolled-back game state and LocalPlayer as local', () => {
    expect(PlayerInput.rollback).toBe(true);
    expect(PlayerInput.fields.map((f) => `${f.name}:${f.type}`)).toEqual(['buttons:u32', 'axis0:i8', 'axis1:i8', 'axis2:i8', 'axis3:i8']);
    expect(LocalPlayer.rollback).toBe(false);
    expect(LocalPlayer.fields).toEqual([]);
  });

  it('samples once per tick in Phase.Input and writes only local players', () => {
    const { world, local, remote } = setup();
    const bot = new ScriptedInputSource();
    const { source, calls } = counting(bot);
    const scheduler = new Scheduler(world);
    const system = createInputSystem(source);
    expect(system.name).toBe('inputSystem');
    scheduler.addSystem(Phase.Input, system);
    const seen: InputRecord[] = [];
    scheduler.addSystem(Phase.Simulation, function readInput(w: GameWorld) {
      seen.push(readInputRecord(w, local));
    });
    bot.press('jump').setAxis('moveX', -1);
    scheduler.step();
    expect(calls()).toBe(1);
    expect(seen).toEqual([record(1, [-127, 0, 0, 0])]);
    expect(readInputRecord(world, remote)).toEqual(createInputRecord());
    bot.clear().press('sprint');
    scheduler.step();
    scheduler.step();
    expect(calls()).toBe(3);
    expect(seen.map((r) => r.buttons)).toEqual([1, 2, 2]);
  });

  it('samples even without local players (device deltas do not pile up)', () => {
    const world = createWorld();
    const { source, calls } = counting(new ScriptedInputSource());
    createInputSystem(source)(world);
    expect(calls()).toBe(1);
  });

  it('rejects a custom source producing a non-canonical record', () => {
    const { world } = setup();
    const bad: InputSource = { sample: (out) => ((out.buttons = -1), out) };
    expect(engineError(() => createInputSystem(bad)(world)).code).toBe('InvalidInputRecord');
  });

  it('moves records between components and the wire exactly', () => {
    const { world, local, remote } = setup();
    const rnd = mulberry32(99);
    const bytes = new Uint8Array(INPUT_RECORD_BYTES);
    const scratch = createInputRecord();
    for (let i = 0; i < 200; i++) {
      const rec = record(Math.floor(rnd() * 2 ** 32), [0, 1, 2, 3].map(() => quantizeAxis(rnd() * 2 - 1)) as InputRecord['axes']);
      writeInputRecord(world, local, rec);
      encodeInputRecord(readInputRecord(world, local, scratch), bytes);
      writeInputRecord(world, remote, decodeInputRecord(bytes, 0, scratch));
      expect(readInputRecord(world, remote)).toEqual(rec);
    }
  });

  it('read/write reject entities without PlayerInput and bad records', () => {
    const { world, local } = setup();
    const bare = spawn(world);
    for (const fn of [() => readInputRecord(world, bare), () => writeInputRecord(world, bare, createInputRecord()), () => readInputRecord(world, 9999)]) {
      const err = engineError(fn);
      expect(err.code).toBe('UnknownEntity');
      expect(err.message).toMatch(/entity (\d+) has no PlayerInput/);
    }
    writeInputRecord(world, local, record(5, [1, 2, 3, 4]));
    expect(engineError(() => writeInputRecord(world, local, record(0, [0, 0, 0, 300]))).code).toBe('InvalidInputRecord');
    expect(readInputRecord(world, local)).toEqual(record(5, [1, 2, 3, 4]));
  });

  it('rollback restores PlayerInput but keeps LocalPlayer', () => {
    const { world, local } = setup();
    writeInputRecord(world, local, record(0x80000001, [127, -127, 5, -5]));
    const snap = snapshot(world);
    writeInputRecord(world, local, record(0, [0, 0, 0, 0]));
    restore(world, snap);
    expect(readInputRecord(world, local)).toEqual(record(0x80000001, [127, -127, 5, -5]));
    const { source, calls } = counting(new ScriptedInputSource().press('fire'));
    createInputSystem(source)(world);
    expect(calls()).toBe(1);
    expect(readInputRecord(world, local).buttons).toBe(4); // still a local player after restore
  });
});
