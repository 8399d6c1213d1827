/**
 * Checked reading and writing for the rollback area's lib0 wire formats (`protocol.ts`,
 * `late-join-protocol.ts`): every read first checks that the bytes are there and the value is in
 * range, and throws {@link WireMalformed} otherwise; {@link decodeWhole} turns that into a
 * `{ type: 'malformed', detail }` result, so peer bytes never throw out of a decoder. The
 * encoder side ({@link fieldChecks}) throws `NetcodeError` `InvalidRequest`: a bad value there is
 * a bug of the caller, never peer data.
 */
import * as decoding from 'lib0/decoding';
import { NetcodeError } from '../errors.ts';

/** Thrown inside decoders only; {@link decodeWhole} turns it into a malformed result. */
export class WireMalformed extends Error {}

/** A message that is not exactly one valid message; `detail` says why. */
export interface WireMalformedResult {
  readonly type: 'malformed';
  readonly detail: string;
}

/** Stops decoding with `detail`. @throws WireMalformed always. */
export function fail(detail: string): never {
  throw new WireMalformed(detail);
}

/** @throws WireMalformed when fewer than `bytes` bytes are left. */
export function need(d: decoding.Decoder, bytes: number, what: string): void {
  if (d.arr.length - d.pos < bytes) fail(`truncated ${what}: needs ${bytes} more bytes, ${d.arr.length - d.pos} left`);
}

/** One byte. */
export function u8(d: decoding.Decoder, what: string): number {
  need(d, 1, what);
  return decoding.readUint8(d);
}

/** A little-endian u32. */
export function u32(d: decoding.Decoder, what: string): number {
  need(d, 4, what);
  return decoding.readUint32(d) >>> 0;
}

/** A lib0 varuint that must be a safe integer in `[min, max]`. */
export function varuint(d: decoding.Decoder, what: string, min: number, max: number): number {
  need(d, 1, what);
  let v: number;
  try {
    v = decoding.readVarUint(d);
  } catch {
    fail(`truncated or overlong ${what}`);
  }
  if (!Number.isSafeInteger(v) || v < min || v > max) fail(`${what} ${v} is out of [${min}, ${max}]`);
  return v;
}

/** A lib0 varint that must be a safe integer in `[-limit, limit]`. */
export function varint(d: decoding.Decoder, what: string, limit: number): number {
  need(d, 1, what);
  let v: number;
  try {
    v = decoding.readVarInt(d);
  } catch {
    fail(`truncated or overlong ${what}`);
  }
  if (!Number.isSafeInteger(v) || Math.abs(v) > limit) fail(`${what} ${v} is out of [-${limit}, ${limit}]`);
  return v;
}

/** A finite f64. */
export function f64(d: decoding.Decoder, what: string): number {
  need(d, 8, what);
  const v = decoding.readFloat64(d);
  if (!Number.isFinite(v)) fail(`${what} is not finite`);
  return v;
}

/** A varuint length (at most `max`) and that many bytes, copied. */
export function bytesField(d: decoding.Decoder, what: string, max: number): Uint8Array {
  const length = varuint(d, `${what} length`, 0, max);
  need(d, length, what);
  return decoding.readUint8Array(d, length).slice();
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A varuint length and that many bytes of valid UTF-8, between `minBytes` and `maxBytes` long. */
export function stringField(d: decoding.Decoder, what: string, minBytes: number, maxBytes: number): string {
  const raw = bytesField(d, what, maxBytes);
  if (raw.length < minBytes) fail(`${what} is empty`);
  try {
    return strictUtf8.decode(raw);
  } catch {
    return fail(`${what} is not UTF-8`);
  }
}

/**
 * Decodes exactly one message from `bytes` with `decodeBody`. Never throws: a non-`Uint8Array`,
 * empty input, a {@link WireMalformed} (or any other error) from `decodeBody`, or trailing bytes
 * give a {@link WireMalformedResult}.
 */
export function decodeWhole<T extends { readonly type: string }>(bytes: Uint8Array, decodeBody: (d: decoding.Decoder) => T): T | WireMalformedResult {
  if (!(bytes instanceof Uint8Array)) return { type: 'malformed', detail: 'not a Uint8Array' };
  if (bytes.length === 0) return { type: 'malformed', detail: 'empty message' };
  const d = decoding.createDecoder(bytes);
  try {
    const msg = decodeBody(d);
    if (d.pos !== bytes.length) fail(`${bytes.length - d.pos} trailing bytes after a ${msg.type} message`);
    return msg;
  } catch (err) {
    if (err instanceof WireMalformed) return { type: 'malformed', detail: err.message };
    return { type: 'malformed', detail: `undecodable: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Encoder-side checks whose errors name the protocol (e.g. `'rollback protocol'`). */
export interface FieldChecks {
  /** @throws NetcodeError `InvalidRequest`: "`<protocol>`: `field` must be `want`, got `value`". */
  bad(field: string, value: unknown, want: string): never;
  /** @throws NetcodeError `InvalidRequest` unless `v` is an integer in `[min, max]`. */
  checkInt(field: string, v: number, min: number, max: number): void;
  /** @throws NetcodeError `InvalidRequest` unless `v` is a string of `minBytes` to `maxBytes` UTF-8 bytes. */
  checkString(field: string, v: string, minBytes: number, maxBytes: number): void;
}

const textEncoder = new TextEncoder();

/** The encoder-side checks of one protocol. */
export function fieldChecks(protocol: string): FieldChecks {
  const bad = (field: string, value: unknown, want: string): never => {
    throw new NetcodeError('InvalidRequest', `${protocol}: ${field} must be ${want}, got ${String(value)}`, { field, value });
  };
  return {
    bad,
    checkInt(field, v, min, max) {
      if (!Number.isInteger(v) || v < min || v > max) bad(field, v, `an integer in [${min}, ${max}]`);
    },
    checkString(field, v, minBytes, maxBytes) {
      const n = typeof v === 'string' ? textEncoder.encode(v).length : -1;
      if (n < minBytes || n > maxBytes) bad(field, v, `a string of ${minBytes} to ${maxBytes} UTF-8 bytes`);
    },
  };
}
