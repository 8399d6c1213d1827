/**
 * Input: keyboard, mouse, gamepad and touch mapped through an editable action map to a compact
 * per-tick input record (u32 button bitfield + four i8 quantized axes, 8 bytes), sampled once
 * per tick so the same record can be sent to peers and replayed by rollback.
 *
 * @example
 * ```ts
 * import {
 *   createBrowserInputSampler, createInputSystem, PlayerInput, LocalPlayer,
 *   readInputRecord, isPressed, axisValue, DEFAULT_ACTION_MAP, createInputRecord,
 * } from './input/index.ts';
 *
 * const sampler = createBrowserInputSampler({ target: canvas });
 * sampler.attach();
 * scheduler.addSystem(Phase.Input, createInputSystem(sampler));
 * const me = spawn(world);
 * addComponent(world, me, PlayerInput);
 * addComponent(world, me, LocalPlayer);
 *
 * // in a Simulation-phase system, for every player entity:
 * const rec = readInputRecord(world, eid, scratch);
 * if (isPressed(rec, DEFAULT_ACTION_MAP, 'jump')) { ... }
 * const forward = axisValue(rec, DEFAULT_ACTION_MAP, 'moveY');  // [-1, 1]
 * ```
 */
export {
  INPUT_RECORD_BYTES, INPUT_BUTTON_COUNT, INPUT_AXIS_COUNT, AXIS_QUANT_MAX,
  createInputRecord, clearInputRecord, copyInputRecord, inputRecordsEqual,
  quantizeAxis, dequantizeAxis, assertValidInputRecord,
  encodeInputRecord, decodeInputRecord, isValidInputRecordBytes,
} from './record.ts';
export type { InputRecord } from './record.ts';

export {
  DEFAULT_ACTION_MAP, DEFAULT_DEAD_ZONE, DEFAULT_MOUSE_SCALE,
  cloneActionMap, validateActionMap, assertSameActionLayout,
  buttonMask, axisIndex, isPressed, axisValue, boundKeyCodes,
} from './actions.ts';
export type {
  ActionMap, ReadonlyActionMap, ButtonBinding, AxisBinding, AxisIndex, TouchButtonBinding, TouchAxisBinding,
} from './actions.ts';

export type { InputDevice } from './device.ts';
export { KeyboardDevice } from './keyboard.ts';
export type { KeyboardDeviceOptions } from './keyboard.ts';
export { MouseDevice } from './mouse.ts';
export type { MouseDeviceOptions } from './mouse.ts';
export { GamepadDevice } from './gamepad.ts';
export type { GamepadDeviceOptions, GamepadLike } from './gamepad.ts';
export { TouchDevice, DEFAULT_TOUCH_STICK_RADIUS } from './touch.ts';
export type { TouchDeviceOptions, TouchBounds } from './touch.ts';

export { InputSampler, ScriptedInputSource, createBrowserInputSampler, applyDeadZone } from './sampler.ts';
export type { InputSource, InputDevices, BrowserInputSamplerOptions } from './sampler.ts';

export { PlayerInput, LocalPlayer, readInputRecord, writeInputRecord } from './component.ts';
export { createInputSystem } from './inputSystem.ts';
