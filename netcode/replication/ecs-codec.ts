/**
 * Wire and document formats of the ECS binding (`ecs.ts`): per-field quantization, the entity
 * blob stored in a writer's map, network ids, and the ownership messages on channel `repl/own`.
 * Pure functions over lib0 encoders and decoders (they know nothing of rooms or documents).
 * Decoders never throw on bad bytes: they return `undefined` and the caller counts the drop.
 *
 * Entity blob (value of `e:<peer>` → `g` → `<netId>`), lib0 encoding:
 *
 * | field | encoding | meaning |
 * |---|---|---|
 * | version | varuint | {@link ENTITY_BLOB_VERSION} (1); other versions are rejected |
 * | epoch | varuint | ownership epoch: +1 at every grant or adoption (resolves copies in several maps) |
 * | tick | varuint | writer's network tick when written (timeline of snapshot interpolation) |
 * | adoptedFrom | varstring | peer the entity was adopted from on its disconnect, `''` otherwise |
 * | mask | varuint | bit i set: owner component of ordinal i present (ordinals < 31) |
 * | fields | per component in ordinal order, its fields in declaration order | see {@link Quantization} |
 *
 * A blob for 3 position fields quantized at 1 mm, tick < 16384: about 5 bytes of header and 2-4
 * bytes per field.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type { ComponentDef, FieldType } from '../../engine/index.ts';

/** Version byte of entity blobs. */
export const ENTITY_BLOB_VERSION = 1;
/** Most owner components a replicated set may declare (the header mask is 31 bits). */
export const MAX_REPLICATED_COMPONENTS = 31;
/** Longest network id, characters. */
export const MAX_NET_ID_LENGTH = 200;

/**
 * How one field travels and is stored:
 * - `{ kind: 'float', step }`: `round(value / step)` as a zig-zag varint (1 byte up to |v| < 64
 *   steps, 2 bytes < 8192, 3 bytes < 2^20...). `step` in the field's unit (e.g. 0.001 for mm on
 *   a field in metres). Values beyond ±2^48 steps are clamped. Interpolated linearly.
 * - `{ kind: 'f32' }` / `{ kind: 'f64' }`: IEEE float, 4 / 8 bytes. Interpolated linearly.
 * - `{ kind: 'int' }`: the integer as a zig-zag varint. Not interpolated (the newest state
 *   at or before render time is shown: nearest-previous).
 *
 * Default from the field type: `f32` → `{ kind: 'f32' }`, `f64` → `{ kind: 'f64' }`, integer
 * types → `{ kind: 'int' }`. Decoded values outside an integer field's type range are rejected.
 */
export type Quantization =
  | { readonly kind: 'float'; readonly step: number }
  | { readonly kind: 'f32' }
  | { readonly kind: 'f64' }
  | { readonly kind: 'int' };

/** A field with its resolved quantization, as the codec needs it. */
export interface QuantizedField {
  readonly name: string;
  readonly type: FieldType;
  readonly q: Quantization;
  /** Whether interpolation blends it linearly (float kinds) or steps it (int). */
  readonly linear: boolean;
}

/** The default quantization of a field type. */
export function defaultQuantization(type: FieldType): Quantization {
  return type === 'f32' ? { kind: 'f32' } : type === 'f64' ? { kind: 'f64' } : { kind: 'int' };
}

const INT_RANGE: Readonly<Record<FieldType, readonly [number, number]>> = {
  i8: [-128, 127], u8: [0, 255], i16: [-32768, 32767], u16: [0, 65535],
  i32: [-2147483648, 2147483647], u32: [0, 4294967295],
  f32: [-Infinity, Infinity], f64: [-Infinity, Infinity],
};
const MAX_STEPS = 2 ** 48;

/** Writes one value (as the local store holds it) with its quantization. */
export function writeField(enc: encoding.Encoder, f: QuantizedField, value: number): void {
  switch (f.q.kind) {
    case 'float': {
      const n = Number.isFinite(value) ? Math.round(value / f.q.step) : 0;
      encoding.writeVarInt(enc, Math.max(-MAX_STEPS, Math.min(MAX_STEPS, n)));
      return;
    }
    case 'f32': encoding.writeFloat32(enc, value); return;
    case 'f64': encoding.writeFloat64(enc, value); return;
    case 'int': encoding.writeVarInt(enc, Math.trunc(Number.isFinite(value) ? value : 0)); return;
  }
}

/** Reads one value; `undefined` when it is not finite or outside the field type's range. Throws on truncated input (callers catch). */
export function readField(dec: decoding.Decoder, f: QuantizedField): number | undefined {
  let v: number;
  switch (f.q.kind) {
    case 'float': v = decoding.readVarInt(dec) * f.q.step; break;
    case 'f32': v = decoding.readFloat32(dec); break;
    case 'f64': v = decoding.readFloat64(dec); break;
    case 'int': v = decoding.readVarInt(dec); break;
  }
  if (!Number.isFinite(v)) return undefined;
  const [lo, hi] = INT_RANGE[f.type];
  if (f.q.kind === 'int' && (v < lo || v > hi)) return undefined;
  return v;
}

/** Resolved layout of the owner components of a replicated set, in ordinal order. */
export interface BlobLayout {
  /** Owner components by ordinal (index = bit of the mask). */
  readonly components: readonly { readonly def: ComponentDef; readonly fields: readonly QuantizedField[] }[];
}

/** The header of an entity blob. */
export interface BlobHeader {
  readonly epoch: number;
  readonly tick: number;
  /** Peer the entity was adopted from after it left, `''` when none. */
  readonly adoptedFrom: string;
}

/** A decoded entity blob: header, component mask and the values, flat in ordinal then field order. */
export interface DecodedBlob extends BlobHeader {
  readonly mask: number;
  readonly values: Float64Array;
}

/**
 * Encodes the body of a blob (mask and fields) from flat values (ordinal order, fields in
 * declaration order, only the components of `mask`). Separate from the header so a writer can
 * tell whether anything but the tick changed.
 */
export function encodeBlobBody(layout: BlobLayout, mask: number, values: ArrayLike<number>): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, mask);
  let k = 0;
  for (let i = 0; i < layout.components.length; i++) {
    if ((mask & (1 << i)) === 0) continue;
    for (const f of layout.components[i]!.fields) writeField(enc, f, values[k++]!);
  }
  return encoding.toUint8Array(enc);
}

/** Prefixes an encoded body with a header: the stored blob. */
export function encodeBlob(header: BlobHeader, body: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, ENTITY_BLOB_VERSION);
  encoding.writeVarUint(enc, header.epoch);
  encoding.writeVarUint(enc, header.tick);
  encoding.writeVarString(enc, header.adoptedFrom);
  encoding.writeUint8Array(enc, body);
  return encoding.toUint8Array(enc);
}

/** Number of flat values of the components in `mask`. */
export function valueCount(layout: BlobLayout, mask: number): number {
  let n = 0;
  for (let i = 0; i < layout.components.length; i++) if ((mask & (1 << i)) !== 0) n += layout.components[i]!.fields.length;
  return n;
}

/**
 * Decodes a blob; `undefined` when it is not a `Uint8Array`, has another version, a mask naming
 * an unknown ordinal, a value out of range, is truncated or has trailing bytes.
 */
export function decodeBlob(layout: BlobLayout, bytes: unknown): DecodedBlob | undefined {
  if (!(bytes instanceof Uint8Array)) return undefined;
  try {
    const dec = decoding.createDecoder(bytes);
    if (decoding.readVarUint(dec) !== ENTITY_BLOB_VERSION) return undefined;
    const epoch = decoding.readVarUint(dec);
    const tick = decoding.readVarUint(dec);
    const adoptedFrom = decoding.readVarString(dec);
    const mask = decoding.readVarUint(dec);
    if (mask >= 2 ** layout.components.length || adoptedFrom.length > MAX_NET_ID_LENGTH) return undefined;
    const values = new Float64Array(valueCount(layout, mask));
    let k = 0;
    for (let i = 0; i < layout.components.length; i++) {
      if ((mask & (1 << i)) === 0) continue;
      for (const f of layout.components[i]!.fields) {
        const v = readField(dec, f);
        if (v === undefined) return undefined;
        values[k++] = v;
      }
    }
    if (decoding.hasContent(dec)) return undefined;
    return { epoch, tick, adoptedFrom, mask, values };
  } catch {
    return undefined;
  }
}

const NET_ID = /^[A-Za-z0-9._:@-]{1,160}\/[0-9a-z]{1,12}$/;

/** Formats a network id: `<peerId>/<counter in base 36>`, e.g. `alice/1z`. */
export function formatNetId(peerId: string, counter: number): string {
  return `${peerId}/${counter.toString(36)}`;
}

/**
 * Whether `s` is a valid network id: `<peer>/<counter>`, peer of `[A-Za-z0-9._:@-]` (1-160
 * characters), counter base-36 lower case (1-12 characters). The peer part is the spawner, not
 * necessarily the current owner.
 */
export function isNetId(s: unknown): s is string {
  return typeof s === 'string' && s.length <= MAX_NET_ID_LENGTH && NET_ID.test(s);
}

/** Kinds of message on the ownership channel. */
export const OWN_REQUEST = 1;
export const OWN_GRANT = 2;
export const OWN_DECLINE = 3;

/**
 * A message on the ownership channel (`repl/own`): `[kind varuint][netId varstring]` and, for a
 * grant, `[epoch varuint][blob varUint8Array]` (the latest state, so the new owner continues
 * from it); for a decline (a grant the receiver did not take, e.g. it no longer asked for it or
 * saw a newer owner meanwhile), `[epoch varuint]` of that grant, so the granter takes it back.
 */
export type OwnershipMessage =
  | { readonly kind: 'request'; readonly netId: string }
  | { readonly kind: 'grant'; readonly netId: string; readonly epoch: number; readonly blob: Uint8Array }
  | { readonly kind: 'decline'; readonly netId: string; readonly epoch: number };

/** Encodes an ownership message. */
export function encodeOwnership(m: OwnershipMessage): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, m.kind === 'request' ? OWN_REQUEST : m.kind === 'grant' ? OWN_GRANT : OWN_DECLINE);
  encoding.writeVarString(enc, m.netId);
  if (m.kind !== 'request') encoding.writeVarUint(enc, m.epoch);
  if (m.kind === 'grant') encoding.writeVarUint8Array(enc, m.blob);
  return encoding.toUint8Array(enc);
}

/** Decodes an ownership message; `undefined` when malformed (unknown kind, bad id, truncated, trailing bytes). */
export function decodeOwnership(bytes: Uint8Array): OwnershipMessage | undefined {
  try {
    const dec = decoding.createDecoder(bytes);
    const kind = decoding.readVarUint(dec);
    const netId = decoding.readVarString(dec);
    if (!isNetId(netId)) return undefined;
    let m: OwnershipMessage;
    if (kind === OWN_REQUEST) m = { kind: 'request', netId };
    else if (kind === OWN_GRANT) m = { kind: 'grant', netId, epoch: decoding.readVarUint(dec), blob: decoding.readVarUint8Array(dec) };
    else if (kind === OWN_DECLINE) m = { kind: 'decline', netId, epoch: decoding.readVarUint(dec) };
    else return undefined;
    return decoding.hasContent(dec) ? undefined : m;
  } catch {
    return undefined;
  }
}
