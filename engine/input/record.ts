/**
 * The per-tick input record: what one player's devices said during one tick, in 8 bytes.
 *
 * The record is the unit that rollback stores per frame and sends to peers, so it is small,
 * fixed-size and canonical: two records are equal exactly when their encodings are equal.
 *
 * Byte layout (all multi-byte values little-endian, {@link INPUT_RECORD_BYTES} = 8):
 *
 * | offset | size | type | field      | meaning                                              |
 * |--------|------|------|------------|------------------------------------------------------|
 * | 0      | 4    | u32  | `buttons`  | bit i set = button i held (bit 0 is the low bit of byte 0) |
 * | 4      | 1    | i8   | `axes[0]`  | axis 0, quantized: value × 127, in [-127, 127]       |
 * | 5      | 1    | i8   | `axes[1]`  | axis 1, same encoding                                |
 * | 6      | 1    | i8   | `axes[2]`  | axis 2, same encoding                                |
 * | 7      | 1    | i8   | `axes[3]`  | axis 3, same encoding                                |
 *
 * Axis bytes are two's complement. The byte 0x80 (-128) is never produced by
 * {@link quantizeAxis}, so the decoder rejects it: it can only come from corrupt or forged bytes.
 * Every u32 is a valid `buttons` value; bits that the game's action map does not name are carried
 * through unchanged (a game may reject them itself).
 *
 * Which button bit and axis index mean what is decided by the game's action map
 * (see `actions.ts`), not by this module.
 *
 * @example
 * ```ts
 * const rec = createInputRecord();
 * rec.buttons = 0b101;              // buttons 0 and 2 held
 * rec.axes[1] = quantizeAxis(1);   // axis 1 fully positive (127)
 * const bytes = encodeInputRecord(rec);          // Uint8Array(8) [5, 0, 0, 0, 0, 127, 0, 0]
 * const back = decodeInputRecord(bytes);
 * inputRecordsEqual(rec, back);                  // true
 * ```
 */
import { EngineError } from '../errors.ts';

/** Size of one encoded input record, in bytes. */
export const INPUT_RECORD_BYTES = 8;
/** Number of button bits in a record (bits 0..31 of `buttons`). */
export const INPUT_BUTTON_COUNT = 32;
/** Number of axes in a record (indices 0..3). */
export const INPUT_AXIS_COUNT = 4;
/** Largest quantized axis magnitude: a quantized axis is an integer in [-127, 127]; 127 means 1.0. */
export const AXIS_QUANT_MAX = 127;

/** Largest value of `buttons` (all 32 bits set), 2^32 - 1. */
const BUTTONS_MAX = 0xffff_ffff;

/**
 * One tick of one player's input, in quantized form.
 *
 * - `buttons`: unsigned 32-bit bitfield, an integer in [0, 2^32 - 1]; bit i set = button i held.
 *   Keep it unsigned: after bit operations write `(x | mask) >>> 0`, since `1 << 31` is negative
 *   in JavaScript and is rejected by {@link encodeInputRecord}.
 * - `axes`: four quantized axes, each an integer in [-127, 127] standing for a value in [-1, 1]
 *   (see {@link quantizeAxis} / {@link dequantizeAxis}).
 *
 * Records are plain mutable objects so hot paths can reuse one instead of allocating.
 */
export interface InputRecord {
  buttons: number;
  axes: [number, number, number, number];
}

/** A new record with no button held and all axes at 0. */
export function createInputRecord(): InputRecord {
  return { buttons: 0, axes: [0, 0, 0, 0] };
}

/** Resets `record` to no buttons and centred axes, in place, and returns it. */
export function clearInputRecord(record: InputRecord): InputRecord {
  record.buttons = 0;
  const a = record.axes;
  a[0] = 0;
  a[1] = 0;
  a[2] = 0;
  a[3] = 0;
  return record;
}

/**
 * Copies `from` into `to` (or into a new record when `to` is omitted) and returns the copy.
 * Does not validate; allocates only when `to` is omitted.
 */
export function copyInputRecord(from: Readonly<InputRecord>, to: InputRecord = createInputRecord()): InputRecord {
  to.buttons = from.buttons;
  const s = from.axes;
  const d = to.axes;
  d[0] = s[0];
  d[1] = s[1];
  d[2] = s[2];
  d[3] = s[3];
  return to;
}

/** Whether two records hold the same buttons and quantized axes (same as equal encodings). */
export function inputRecordsEqual(a: Readonly<InputRecord>, b: Readonly<InputRecord>): boolean {
  const x = a.axes;
  const y = b.axes;
  return a.buttons === b.buttons && x[0] === y[0] && x[1] === y[1] && x[2] === y[2] && x[3] === y[3];
}

/**
 * Quantizes an axis value to the record's integer form.
 *
 * @param v axis value, nominally in [-1, 1] (dimensionless fraction of full deflection).
 * @returns an integer in [-127, 127]: `v × 127` rounded to nearest, halves away from zero (so
 *   `quantizeAxis(-v) === -quantizeAxis(v)`); values beyond ±1 (including ±Infinity) clamp to
 *   ±127; `NaN` gives 0. Never returns -128 and never returns -0.
 */
export function quantizeAxis(v: number): number {
  if (v !== v) return 0; // NaN
  if (v >= 1) return AXIS_QUANT_MAX;
  if (v <= -1) return -AXIS_QUANT_MAX;
  const q = Math.round(Math.abs(v) * AXIS_QUANT_MAX);
  return q === 0 ? 0 : v < 0 ? -q : q;
}

/**
 * The axis value a quantized axis stands for: `q / 127`, in [-1, 1].
 * Deterministic (one IEEE division), so simulation code may use it.
 *
 * @param q integer in [-127, 127].
 * @throws EngineError `InvalidInputRecord` when `q` is not an integer in [-127, 127].
 */
export function dequantizeAxis(q: number): number {
  if (!Number.isInteger(q) || q < -AXIS_QUANT_MAX || q > AXIS_QUANT_MAX) {
    throw new EngineError('InvalidInputRecord', `quantized axis must be an integer in [-127, 127], got ${q}`, { value: q });
  }
  return q / AXIS_QUANT_MAX;
}

/**
 * Checks that `record` holds canonical values: `buttons` an integer in [0, 2^32 - 1] and each
 * axis an integer in [-127, 127].
 *
 * @throws EngineError `InvalidInputRecord` naming the offending field and value.
 */
export function assertValidInputRecord(record: Readonly<InputRecord>): void {
  const b = record.buttons;
  if (!Number.isInteger(b) || b < 0 || b > BUTTONS_MAX) {
    throw new EngineError(
      'InvalidInputRecord',
      `input record buttons must be an integer in [0, 4294967295], got ${b}${Number.isInteger(b) && b < 0 ? ' (use `>>> 0` to make a bitfield unsigned)' : ''}`,
      { field: 'buttons', value: b },
    );
  }
  const axes = record.axes;
  if (axes == null || axes.length !== INPUT_AXIS_COUNT) {
    throw new EngineError('InvalidInputRecord', `input record must have exactly ${INPUT_AXIS_COUNT} axes, got ${axes == null ? axes : axes.length}`, {
      field: 'axes',
    });
  }
  for (let i = 0; i < INPUT_AXIS_COUNT; i++) {
    const q = axes[i];
    if (!Number.isInteger(q) || q < -AXIS_QUANT_MAX || q > AXIS_QUANT_MAX) {
      throw new EngineError('InvalidInputRecord', `input record axis ${i} must be an integer in [-127, 127], got ${q}`, {
        field: `axes[${i}]`,
        value: q,
      });
    }
  }
}

function checkRange(bytes: Uint8Array, offset: number, what: 'encode' | 'decode'): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + INPUT_RECORD_BYTES > bytes.length) {
    throw new EngineError(
      'InvalidInputRecord',
      `cannot ${what} an input record at offset ${offset}: it needs ${INPUT_RECORD_BYTES} bytes, the buffer has ${bytes.length}`,
      { offset, length: bytes.length, needed: INPUT_RECORD_BYTES },
    );
  }
}

/**
 * Writes `record` in the 8-byte layout documented at the top of this module.
 *
 * @param record the record to encode; validated first (see {@link assertValidInputRecord}).
 * @param out buffer to write into; a new `Uint8Array(8)` when omitted. With `out` given no
 *   memory is allocated.
 * @param offset byte offset in `out` where the record starts. Default 0.
 * @returns `out` (or the new buffer).
 * @throws EngineError `InvalidInputRecord` when the record holds a non-canonical value, or when
 *   `offset` is not an integer with `offset + 8 <= out.length`. Nothing is written then.
 */
export function encodeInputRecord(record: Readonly<InputRecord>, out?: Uint8Array, offset = 0): Uint8Array {
  assertValidInputRecord(record);
  const bytes = out ?? new Uint8Array(INPUT_RECORD_BYTES);
  checkRange(bytes, offset, 'encode');
  const b = record.buttons;
  bytes[offset] = b & 0xff;
  bytes[offset + 1] = (b >>> 8) & 0xff;
  bytes[offset + 2] = (b >>> 16) & 0xff;
  bytes[offset + 3] = (b >>> 24) & 0xff;
  const a = record.axes;
  bytes[offset + 4] = a[0] & 0xff;
  bytes[offset + 5] = a[1] & 0xff;
  bytes[offset + 6] = a[2] & 0xff;
  bytes[offset + 7] = a[3] & 0xff;
  return bytes;
}

/**
 * Whether `bytes[offset .. offset+8)` is a well-formed encoded record (enough bytes, no axis byte
 * 0x80). Never throws for a `Uint8Array`; lets network code count and drop bad peer data without
 * try/catch.
 */
export function isValidInputRecordBytes(bytes: Uint8Array, offset = 0): boolean {
  if (!Number.isInteger(offset) || offset < 0 || offset + INPUT_RECORD_BYTES > bytes.length) return false;
  return bytes[offset + 4] !== 0x80 && bytes[offset + 5] !== 0x80 && bytes[offset + 6] !== 0x80 && bytes[offset + 7] !== 0x80;
}

/**
 * Reads a record written by {@link encodeInputRecord}.
 *
 * @param bytes buffer holding the record.
 * @param offset byte offset where the record starts. Default 0.
 * @param out record to fill in place; a new record when omitted. With `out` given no memory is
 *   allocated.
 * @returns `out` (or the new record).
 * @throws EngineError `InvalidInputRecord` when fewer than 8 bytes follow `offset` (or `offset`
 *   is not a non-negative integer), or an axis byte is 0x80 (-128, never produced by the
 *   encoder). `out` is left untouched then. Network code that must not throw on peer bytes
 *   checks with {@link isValidInputRecordBytes} first.
 */
export function decodeInputRecord(bytes: Uint8Array, offset = 0, out?: InputRecord): InputRecord {
  checkRange(bytes, offset, 'decode');
  for (let i = 0; i < INPUT_AXIS_COUNT; i++) {
    if (bytes[offset + 4 + i] === 0x80) {
      throw new EngineError(
        'InvalidInputRecord',
        `input record axis ${i} (byte ${offset + 4 + i}) is -128, which no encoder produces; quantized axes are in [-127, 127]`,
        { field: `axes[${i}]`, offset: offset + 4 + i, value: -128 },
      );
    }
  }
  const rec = out ?? createInputRecord();
  rec.buttons = (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) | (bytes[offset + 3] << 24)) >>> 0;
  const a = rec.axes;
  a[0] = (bytes[offset + 4] << 24) >> 24;
  a[1] = (bytes[offset + 5] << 24) >> 24;
  a[2] = (bytes[offset + 6] << 24) >> 24;
  a[3] = (bytes[offset + 7] << 24) >> 24;
  return rec;
}
