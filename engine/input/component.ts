/**
 * Components holding input in the world, and moving records in and out of them.
 *
 * - {@link PlayerInput}: the input record of one player for the current tick. Game state
 *   (`rollback: true`): simulation systems read it, snapshots carry it, and rollback overwrites
 *   it with confirmed or predicted records before re-simulating a tick.
 * - {@link LocalPlayer}: a tag on the entities this peer's devices drive. Not game state
 *   (`rollback: false`): every peer tags a different entity, so it must stay out of snapshots and
 *   checksums, and a restore must not remove it.
 *
 * @example
 * ```ts
 * const me = spawn(world);
 * addComponent(world, me, PlayerInput);
 * addComponent(world, me, LocalPlayer);
 * // each tick the input system fills PlayerInput of `me`; game code then reads:
 * const rec = readInputRecord(world, me, scratch);
 * if (isPressed(rec, DEFAULT_ACTION_MAP, 'jump')) { ... }
 * ```
 */
import { defineComponent } from '../components.ts';
import { EngineError } from '../errors.ts';
import { hasComponent, storeOf, type GameWorld } from '../world.ts';
import { assertValidInputRecord, createInputRecord, type InputRecord } from './record.ts';

/**
 * One player's input record for the current tick, field for field the wire record
 * (see `record.ts`): `buttons` u32 bitfield, `axis0..axis3` i8 quantized axes in [-127, 127]
 * (value × 127). All zero = nothing held.
 */
export const PlayerInput = defineComponent('PlayerInput', {
  buttons: { type: 'u32', doc: 'button bitfield: bit i set = button i held (bits from the action map)' },
  axis0: { type: 'i8', unit: '1/127', doc: 'axis 0, quantized: value × 127 in [-127, 127]' },
  axis1: { type: 'i8', unit: '1/127', doc: 'axis 1, quantized' },
  axis2: { type: 'i8', unit: '1/127', doc: 'axis 2, quantized' },
  axis3: { type: 'i8', unit: '1/127', doc: 'axis 3, quantized' },
}, { rollback: true, doc: 'Input record of one player for the current tick.' });

/** Tag: this peer's local devices drive the entity's `PlayerInput`. Local, not rolled back. */
export const LocalPlayer = defineComponent('LocalPlayer', {}, {
  rollback: false,
  doc: 'Entity driven by this peer\'s local input devices (differs per peer; not game state).',
});

function requirePlayerInput(world: GameWorld, eid: number, what: string): void {
  if (!hasComponent(world, eid, PlayerInput)) {
    throw new EngineError('UnknownEntity', `${what}: entity ${eid} has no PlayerInput component`, { eid, component: PlayerInput.name });
  }
}

/**
 * Reads entity `eid`'s `PlayerInput` into `out` (a new record when omitted; no allocation when
 * given) and returns it.
 *
 * @throws EngineError `UnknownEntity` when `eid` is not alive or lacks `PlayerInput`.
 */
export function readInputRecord(world: GameWorld, eid: number, out: InputRecord = createInputRecord()): InputRecord {
  requirePlayerInput(world, eid, 'readInputRecord');
  const s = storeOf(world, PlayerInput);
  out.buttons = s.buttons[eid];
  const a = out.axes;
  a[0] = s.axis0[eid];
  a[1] = s.axis1[eid];
  a[2] = s.axis2[eid];
  a[3] = s.axis3[eid];
  return out;
}

/**
 * Writes `record` into entity `eid`'s `PlayerInput` (rollback uses this to apply remote or
 * predicted inputs before simulating a tick).
 *
 * @throws EngineError `UnknownEntity` when `eid` is not alive or lacks `PlayerInput`;
 *   `InvalidInputRecord` when the record holds a non-canonical value (nothing is written then).
 */
export function writeInputRecord(world: GameWorld, eid: number, record: Readonly<InputRecord>): void {
  requirePlayerInput(world, eid, 'writeInputRecord');
  assertValidInputRecord(record);
  writeUnchecked(world, eid, record);
}

/** Writes without checks; for callers that already validated (the input system). */
export function writeUnchecked(world: GameWorld, eid: number, record: Readonly<InputRecord>): void {
  const s = storeOf(world, PlayerInput);
  s.buttons[eid] = record.buttons;
  const a = record.axes;
  s.axis0[eid] = a[0];
  s.axis1[eid] = a[1];
  s.axis2[eid] = a[2];
  s.axis3[eid] = a[3];
}
