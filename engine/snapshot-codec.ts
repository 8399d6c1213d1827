/**
 * Encoding of a {@link WorldSnapshot} as one self-contained byte array, to send a world's state
 * to another peer (a late-joining spectator) or to store it. Built on lib0's encoders; the
 * decoder trusts nothing: every length is checked against the bytes that are left and against
 * {@link MAX_ENCODED_SNAPSHOT_BYTES}, and the checksum is recomputed.
 *
 * Layout, version 1 (`varuint`: lib0 variable-length unsigned integer, 7 bits per byte; `u32`
 * little endian; offsets in bytes):
 *
 * | offset | type            | content |
 * |-------:|-----------------|---------|
 * | 0      | u32             | magic `0x53574350` (the bytes "PCWS") |
 * | 4      | u8              | version, {@link SNAPSHOT_CODEC_VERSION} |
 * | 5      | varuint         | tick (0 .. 2^32 - 1) |
 * | ...    | u32             | checksum of the component bytes (`WorldSnapshot.checksum`) |
 * | ...    | varuint + bytes | component bytes (`WorldSnapshot.bytes`, at least 44, starting with the "PCS1" header whose tick equals the tick above) |
 * | ...    | varuint         | extension count E (0 .. {@link MAX_SNAPSHOT_EXTENSIONS}) |
 * | ...    | E times         | `varuint` name length, name (1 .. {@link MAX_EXTENSION_NAME_BYTES} printable ASCII characters, no space), `varuint` length, extension bytes; names strictly ascending |
 * | end - 4| u32             | FNV-1a 32 of every byte before it |
 *
 * The trailing checksum covers the extension bytes too (the snapshot's own checksum covers only
 * its component bytes): any damaged byte is detected. The encoding is canonical: one snapshot
 * has exactly one encoding (extensions in name order), so equal snapshots encode to equal bytes.
 *
 * @example
 * ```ts
 * import { decodeSnapshot, encodeSnapshot, restore, snapshot } from 'peercompute/engine';
 *
 * const bytes = encodeSnapshot(snapshot(world));   // send it, store it
 * // elsewhere, in a world built the same way:
 * restore(otherWorld, decodeSnapshot(bytes));      // EngineError 'MalformedSnapshot' on bad bytes
 * ```
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { EngineError } from './errors.ts';
import { COMPONENT_HEADER_BYTES, COMPONENT_MAGIC, createSnapshot, fnv1a32, type WorldSnapshot } from './snapshot.ts';

/** Magic number at the start of an encoded snapshot: the bytes "PCWS", read as a little-endian u32. */
export const SNAPSHOT_CODEC_MAGIC = 0x53574350;
/** Version byte written by {@link encodeSnapshot}; {@link decodeSnapshot} accepts only this one. */
export const SNAPSHOT_CODEC_VERSION = 1;
/** Largest encoded snapshot, bytes (64 MiB): larger ones are refused by both directions. */
export const MAX_ENCODED_SNAPSHOT_BYTES = 64 * 1024 * 1024;
/** Most snapshot extensions in one encoded snapshot. */
export const MAX_SNAPSHOT_EXTENSIONS = 64;
/** Longest extension name, bytes (printable ASCII, so also characters). */
export const MAX_EXTENSION_NAME_BYTES = 64;

/** Largest tick (the component header stores it as a u32). */
const MAX_TICK = 0xffff_ffff;
/** Most bytes of the fields besides the component and extension bytes: magic 4, version 1, tick <= 5, checksum 4, component length <= 5, extension count 1, trailer 4. */
const FIXED_BYTES_MAX = 24;
/** Bytes of the trailing checksum. */
const TRAILER_BYTES = 4;

/** Whether `name` is a valid extension name on the wire (see the module doc). */
function validName(name: string): boolean {
  if (name.length < 1 || name.length > MAX_EXTENSION_NAME_BYTES) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

function invalid(message: string, data: Record<string, unknown> = {}): never {
  throw new EngineError('InvalidSnapshot', `encodeSnapshot: ${message}`, data);
}

/** Little-endian u32 at `offset` of `bytes` (which has at least `offset + 4` bytes). */
function readU32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
}

/**
 * Encodes `snap` (layout in the module doc). The result is a fresh array that shares nothing
 * with `snap`.
 * @throws EngineError `InvalidSnapshot` when `snap` is not a taken snapshot: a tick that is not an
 *   integer in [0, 2^32 - 1], component bytes that do not start with a snapshot header of that
 *   tick, a checksum that does not match them, an extension name that is not 1 to
 *   {@link MAX_EXTENSION_NAME_BYTES} printable ASCII characters, more than
 *   {@link MAX_SNAPSHOT_EXTENSIONS} extensions, or more than {@link MAX_ENCODED_SNAPSHOT_BYTES}
 *   bytes in all.
 */
export function encodeSnapshot(snap: WorldSnapshot): Uint8Array {
  const { tick, bytes, extensions, checksum } = snap;
  if (!Number.isInteger(tick) || tick < 0 || tick > MAX_TICK) invalid(`tick must be an integer in [0, ${MAX_TICK}], got ${tick}`, { tick });
  if (!(bytes instanceof Uint8Array)) invalid('bytes must be a Uint8Array');
  if (bytes.byteLength < COMPONENT_HEADER_BYTES || readU32(bytes, 0) !== COMPONENT_MAGIC) {
    invalid(`component bytes (${bytes.byteLength}) are not a world snapshot: take it with snapshot(world)`, { byteLength: bytes.byteLength });
  }
  if (readU32(bytes, 8) !== tick) invalid(`tick ${tick} differs from the tick in the component bytes (${readU32(bytes, 8)})`, { tick });
  if (fnv1a32(bytes) !== checksum >>> 0 || !Number.isInteger(checksum)) {
    invalid(`checksum ${checksum} does not match the component bytes (${fnv1a32(bytes)})`, { checksum });
  }
  if (extensions.size > MAX_SNAPSHOT_EXTENSIONS) invalid(`${extensions.size} extensions, at most ${MAX_SNAPSHOT_EXTENSIONS}`, { count: extensions.size });
  let total = FIXED_BYTES_MAX + bytes.byteLength;
  const names = [...extensions.keys()].sort();
  for (const name of names) {
    if (!validName(name)) invalid(`extension name ${JSON.stringify(name)} must be 1 to ${MAX_EXTENSION_NAME_BYTES} printable ASCII characters without spaces`, { extension: name });
    const ext = extensions.get(name);
    if (!(ext instanceof Uint8Array)) invalid(`extension ${name} is not a Uint8Array`, { extension: name });
    total += 1 + name.length + 5 + ext.byteLength;
  }
  if (total > MAX_ENCODED_SNAPSHOT_BYTES) invalid(`up to ${total} bytes, more than ${MAX_ENCODED_SNAPSHOT_BYTES}`, { bytes: total });

  const enc = encoding.createEncoder();
  encoding.writeUint32(enc, SNAPSHOT_CODEC_MAGIC);
  encoding.writeUint8(enc, SNAPSHOT_CODEC_VERSION);
  encoding.writeVarUint(enc, tick);
  encoding.writeUint32(enc, checksum >>> 0);
  encoding.writeVarUint8Array(enc, bytes);
  encoding.writeVarUint(enc, names.length);
  for (const name of names) {
    encoding.writeVarString(enc, name);
    encoding.writeVarUint8Array(enc, extensions.get(name)!);
  }
  const body = encoding.toUint8Array(enc);
  const out = new Uint8Array(body.length + TRAILER_BYTES);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, fnv1a32(body), true);
  return out;
}

/**
 * Why {@link decodeSnapshot} refused bytes: `EngineError.data.reason` of its `MalformedSnapshot`
 * errors. `NotBytes`: not a `Uint8Array`; `Oversized`: more than
 * {@link MAX_ENCODED_SNAPSHOT_BYTES}; `Truncated`: a field runs past the end; `BadMagic`: not an
 * encoded snapshot; `UnsupportedVersion`: another codec version; `Corrupt`: the trailing
 * checksum does not match (damaged or cut-off bytes); `BadTick`: tick above 2^32 - 1;
 * `BadComponents`: component bytes without a snapshot header of that tick; `ChecksumMismatch`:
 * the snapshot checksum does not match its component bytes; `BadExtension`: too many
 * extensions, or a name that is invalid, repeated or out of order; `TrailingBytes`: bytes left
 * after the last extension.
 */
export type SnapshotDecodeFailure =
  | 'NotBytes'
  | 'Oversized'
  | 'Truncated'
  | 'BadMagic'
  | 'UnsupportedVersion'
  | 'Corrupt'
  | 'BadTick'
  | 'BadComponents'
  | 'ChecksumMismatch'
  | 'BadExtension'
  | 'TrailingBytes';

function malformed(reason: SnapshotDecodeFailure, message: string, data: Record<string, unknown> = {}): never {
  throw new EngineError('MalformedSnapshot', `decodeSnapshot: ${message}`, { reason, ...data });
}

function need(d: decoding.Decoder, bytes: number, what: string): void {
  const left = d.arr.length - d.pos;
  if (left < bytes) malformed('Truncated', `truncated ${what}: needs ${bytes} bytes, ${left} left`, { at: d.pos });
}

/** A varuint no larger than `max` (lib0 throws on overlong encodings: turned into `Truncated`). */
function varuint(d: decoding.Decoder, what: string, max: number, tooLarge: SnapshotDecodeFailure): number {
  need(d, 1, what);
  let v: number;
  try {
    v = decoding.readVarUint(d);
  } catch {
    malformed('Truncated', `truncated or overlong ${what}`, { at: d.pos });
  }
  if (!Number.isSafeInteger(v) || v > max) malformed(tooLarge, `${what} ${v} is larger than ${max}`, { at: d.pos });
  return v;
}

/** Reads a length-prefixed byte string, no longer than what is left (and `max`). A view into `d.arr`. */
function lengthPrefixed(d: decoding.Decoder, what: string, max: number, tooLarge: SnapshotDecodeFailure): Uint8Array {
  const length = varuint(d, `${what} length`, max, tooLarge);
  need(d, length, what);
  return decoding.readUint8Array(d, length);
}

/**
 * A copy of `src`, written into `target`'s buffer when `target` starts at offset 0 of an
 * `ArrayBuffer` large enough (a snapshot's own reusable buffer), else into a new array.
 */
function copyInto(target: Uint8Array | undefined, src: Uint8Array): Uint8Array {
  if (target !== undefined && target.byteOffset === 0 && target.buffer instanceof ArrayBuffer && target.buffer.byteLength >= src.byteLength) {
    const out = target.byteLength === src.byteLength ? target : new Uint8Array(target.buffer, 0, src.byteLength);
    out.set(src);
    return out;
  }
  return src.slice();
}

/**
 * Decodes bytes made by {@link encodeSnapshot}. The snapshot holds copies: `bytes` may be reused
 * once this returns. With `into`, the snapshot is written there (the buffer of its component
 * bytes is overwritten and reused when large enough, its extensions are replaced) and returned;
 * `into` is left unchanged when decoding fails. The result can be given to `restore`, which
 * checks that it fits the world's layout and is consistent.
 * @throws EngineError `MalformedSnapshot` for anything but one valid encoded snapshot, with
 *   `data.reason` a {@link SnapshotDecodeFailure}: not a `Uint8Array`, more than
 *   {@link MAX_ENCODED_SNAPSHOT_BYTES}, truncated, wrong magic or version, a trailing checksum
 *   that does not match (damaged or cut-off bytes), a tick out of range, component bytes
 *   without a snapshot header of that tick, a checksum that does not match them,
 *   too many extensions, a bad, duplicate or unordered extension name, or trailing bytes.
 */
export function decodeSnapshot(bytes: Uint8Array, into?: WorldSnapshot): WorldSnapshot {
  if (!(bytes instanceof Uint8Array)) malformed('NotBytes', 'expected a Uint8Array');
  if (bytes.byteLength > MAX_ENCODED_SNAPSHOT_BYTES) malformed('Oversized', `${bytes.byteLength} bytes, more than ${MAX_ENCODED_SNAPSHOT_BYTES}`, { byteLength: bytes.byteLength });
  if (bytes.byteLength < 4) malformed('Truncated', `${bytes.byteLength} bytes is too short for a header`);
  const magic = readU32(bytes, 0);
  if (magic !== SNAPSHOT_CODEC_MAGIC) malformed('BadMagic', `bad magic 0x${magic.toString(16)}: not an encoded world snapshot`, { magic });
  if (bytes.byteLength < 5 + TRAILER_BYTES) malformed('Truncated', `${bytes.byteLength} bytes is too short for a header`);
  const version = bytes[4]!;
  if (version !== SNAPSHOT_CODEC_VERSION) {
    malformed('UnsupportedVersion', `version ${version}, this peer reads version ${SNAPSHOT_CODEC_VERSION}`, { version });
  }
  const end = bytes.byteLength - TRAILER_BYTES;
  const trailer = readU32(bytes, end);
  const whole = fnv1a32(bytes, end);
  if (trailer !== whole) malformed('Corrupt', `checksum 0x${trailer.toString(16)} of the encoding does not match its bytes (0x${whole.toString(16)}): damaged or cut off`, { checksum: trailer, actual: whole });
  const d = decoding.createDecoder(bytes.subarray(0, end));
  d.pos = 5;
  const tick = varuint(d, 'tick', MAX_TICK, 'BadTick');
  need(d, 4, 'checksum');
  const checksum = decoding.readUint32(d) >>> 0;
  const components = lengthPrefixed(d, 'component bytes', MAX_ENCODED_SNAPSHOT_BYTES, 'Truncated');
  if (components.byteLength < COMPONENT_HEADER_BYTES || readU32(components, 0) !== COMPONENT_MAGIC) {
    malformed('BadComponents', `component bytes (${components.byteLength}) do not start with a world snapshot header`, { byteLength: components.byteLength });
  }
  if (readU32(components, 8) !== tick) malformed('BadComponents', `component bytes are of tick ${readU32(components, 8)}, the header says ${tick}`, { tick });
  const actual = fnv1a32(components);
  if (actual !== checksum) malformed('ChecksumMismatch', `checksum 0x${checksum.toString(16)} does not match the component bytes (0x${actual.toString(16)})`, { checksum, actual });
  const count = varuint(d, 'extension count', MAX_SNAPSHOT_EXTENSIONS, 'BadExtension');
  const extensions: [string, Uint8Array][] = [];
  let previous = '';
  for (let i = 0; i < count; i++) {
    const raw = lengthPrefixed(d, 'extension name', MAX_EXTENSION_NAME_BYTES, 'BadExtension');
    const name = String.fromCharCode(...raw);
    if (!validName(name)) malformed('BadExtension', `extension name ${JSON.stringify(name)} is not 1 to ${MAX_EXTENSION_NAME_BYTES} printable ASCII characters`, { index: i });
    if (i > 0 && name <= previous) malformed('BadExtension', `extension ${name} after ${previous}: names must be distinct and ascending`, { extension: name });
    previous = name;
    extensions.push([name, lengthPrefixed(d, `extension ${name}`, MAX_ENCODED_SNAPSHOT_BYTES, 'Truncated')]);
  }
  if (d.pos !== end) malformed('TrailingBytes', `${end - d.pos} bytes between the last extension and the trailing checksum`, { trailing: end - d.pos });

  // Valid: only now touch `into`. Extension bytes are always fresh copies: an extension may hand
  // out a buffer it reuses (see SnapshotExtension.save), which must not be written here.
  const snap = into ?? createSnapshot();
  snap.tick = tick;
  snap.checksum = checksum;
  snap.bytes = copyInto(into?.bytes, components);
  snap.extensions.clear();
  for (const [name, ext] of extensions) snap.extensions.set(name, ext.slice());
  return snap;
}
