/**
 * Wire protocol of room compute (`room-compute.ts`): pure functions over lib0 encoders and
 * decoders that know nothing of rooms, kernels or executors. Every message is one transport
 * payload on the compute channel (default `'compute'`) and starts with a one-byte type. Checked
 * reads come from `rollback/wire-checks.ts`.
 *
 * Layouts (`varuint`: lib0 variable-length unsigned integer; `u32` little endian; `string`: a
 * varuint byte length then UTF-8; `bytes`: a varuint length then the bytes):
 *
 * | type | message  | direction            | fields after the type byte |
 * |-----:|----------|----------------------|----------------------------|
 * | 1    | presence | anyone -> anyone     | `u8 version` `u8 flags (bit 0 webgpu, bit 1 reply wanted)` `string adapter` `varuint slots` `varuint running` |
 * | 2    | task     | requester -> worker  | `u32 runId` `string kernel` `u8 mode (0 bytes, 1 hash)` `varuint inputBytes` |
 * | 3    | data     | both                 | `u32 runId` `u8 part (0 input, 1 result)` `varuint offset` `bytes` |
 * | 4    | ack      | both                 | `u32 runId` `u8 part` `varuint received` |
 * | 5    | result   | worker -> requester  | `u32 runId` `u8 mode`, then mode 0: `varuint outputBytes`; mode 1: 32 bytes of SHA-256 |
 * | 6    | refuse   | worker -> requester  | `u32 runId` `u8 reason` `string detail` |
 * | 7    | cancel   | requester -> worker  | `u32 runId` |
 *
 * A run is one execution of a task on one worker; its `runId` is chosen by the requester and
 * never reused by it, so the worker keys runs by (authenticated sender, runId). The input
 * follows a `task` in `data` messages of part 0, in order; a `bytes`-mode result follows its
 * `result` header in `data` messages of part 1. The receiver acknowledges each piece with the
 * total received so far; the sender keeps a bounded window unacknowledged.
 *
 * Refusal reasons: 1 `UnknownKernel`, 2 `Oversized`, 3 `Invalid`, 4 `Busy`, 5 `Failed`,
 * 6 `Closed`; an unknown code decodes as `Unknown`.
 *
 * {@link decodeComputeMessage} never throws: bytes that are not exactly one valid message give
 * `{ type: 'malformed', detail }`.
 *
 * @example
 * ```ts
 * const bytes = encodeComputeMessage({ type: 'task', runId: 7, kernel: 'terrain.chunk', mode: 'bytes', inputBytes: 20 });
 * decodeComputeMessage(bytes); // { type: 'task', runId: 7, kernel: 'terrain.chunk', mode: 'bytes', inputBytes: 20 }
 * ```
 */
import type * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { bytesField, decodeWhole, fail, fieldChecks, need, stringField, u32, u8, varuint } from '../rollback/wire-checks.ts';

/** Version byte of presence messages; presence of another version is dropped `Malformed`. */
export const COMPUTE_PROTOCOL_VERSION = 1;
/** Longest adapter description, bytes of UTF-8. */
export const MAX_ADAPTER_BYTES = 128;
/** Longest kernel name, bytes of UTF-8. */
export const MAX_KERNEL_NAME_BYTES = 128;
/** Longest refusal detail, bytes of UTF-8. */
export const MAX_REFUSAL_DETAIL_BYTES = 256;
/** Most execution slots a peer may advertise. */
export const MAX_SLOTS = 1024;
/** Largest running count a presence may carry. */
export const MAX_RUNNING = 1_000_000;
/** Largest input or result on the wire, bytes (256 MiB; each side applies its own, smaller limit). */
export const MAX_COMPUTE_BYTES = 256 * 1024 * 1024;
/** Bytes of a SHA-256 digest. */
export const HASH_BYTES = 32;

/** Message type bytes. */
export const ComputeMessageType = {
  Presence: 1,
  Task: 2,
  Data: 3,
  Ack: 4,
  Result: 5,
  Refuse: 6,
  Cancel: 7,
} as const;

/**
 * Why a worker refused a run.
 * - `UnknownKernel`: no kernel of that name is registered there.
 * - `Oversized`: the input is larger than the worker accepts.
 * - `Invalid`: the input does not decode or has values out of range (the kernel's validator).
 * - `Busy`: too many runs from this requester, or too many input bytes buffered.
 * - `Failed`: the executor threw or produced more than the kernel's `maxOutputBytes`.
 * - `Closed`: the worker is shutting down.
 * - `Unknown`: a code this peer does not know (a newer peer).
 */
export type ComputeRefusal = 'UnknownKernel' | 'Oversized' | 'Invalid' | 'Busy' | 'Failed' | 'Closed' | 'Unknown';

/** Every {@link ComputeRefusal} but `Unknown`, in code order (code = index + 1). */
export const COMPUTE_REFUSALS: readonly ComputeRefusal[] = ['UnknownKernel', 'Oversized', 'Invalid', 'Busy', 'Failed', 'Closed'];

/** What a run sends back: the output itself, or only its SHA-256 (the second replica of a task). */
export type ResultMode = 'bytes' | 'hash';

/** Which transfer a `data`/`ack` message belongs to. */
export type TransferPart = 'input' | 'result';

/** A decoded compute message (see the module doc for each field's range). */
export type ComputeMessage =
  | {
    readonly type: 'presence';
    readonly version: number;
    readonly webgpu: boolean;
    /** Adapter description, e.g. `'nvidia ampere'`, `'swiftshader'`, `''` without a GPU. */
    readonly adapter: string;
    /** Runs the peer executes at once; 0: it accepts no work. */
    readonly slots: number;
    /** Runs it executes now (for every requester). */
    readonly running: number;
    /** The sender wants our presence back (it just started). */
    readonly reply: boolean;
  }
  | { readonly type: 'task'; readonly runId: number; readonly kernel: string; readonly mode: ResultMode; readonly inputBytes: number }
  | { readonly type: 'data'; readonly runId: number; readonly part: TransferPart; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly type: 'ack'; readonly runId: number; readonly part: TransferPart; readonly received: number }
  | { readonly type: 'result'; readonly runId: number; readonly mode: 'bytes'; readonly outputBytes: number }
  | { readonly type: 'result'; readonly runId: number; readonly mode: 'hash'; readonly hash: Uint8Array }
  | { readonly type: 'refuse'; readonly runId: number; readonly reason: ComputeRefusal; readonly detail: string }
  | { readonly type: 'cancel'; readonly runId: number };

/** Result of {@link decodeComputeMessage} for bytes that are not a message. */
export interface MalformedComputeMessage {
  readonly type: 'malformed';
  readonly detail: string;
}

const textEncoder = new TextEncoder();
const { bad, checkInt, checkString } = fieldChecks('compute protocol');

const partCode = (p: TransferPart): number => (p === 'input' ? 0 : p === 'result' ? 1 : bad('part', p, "'input' or 'result'"));
const modeCode = (m: ResultMode): number => (m === 'bytes' ? 0 : m === 'hash' ? 1 : bad('mode', m, "'bytes' or 'hash'"));

/**
 * Encodes a compute message. Validates every field first.
 * @throws NetcodeError `InvalidRequest` naming the field when a value is out of range (a bug in
 *   the caller, never peer data).
 */
export function encodeComputeMessage(msg: ComputeMessage): Uint8Array {
  const enc = encoding.createEncoder();
  if (msg.type !== 'presence') checkInt('runId', msg.runId, 0, 0xffff_ffff);
  switch (msg.type) {
    case 'presence':
      checkInt('version', msg.version, 0, 255);
      checkString('adapter', msg.adapter, 0, MAX_ADAPTER_BYTES);
      checkInt('slots', msg.slots, 0, MAX_SLOTS);
      checkInt('running', msg.running, 0, MAX_RUNNING);
      encoding.writeUint8(enc, ComputeMessageType.Presence);
      encoding.writeUint8(enc, msg.version);
      encoding.writeUint8(enc, (msg.webgpu ? 1 : 0) | (msg.reply ? 2 : 0));
      encoding.writeVarString(enc, msg.adapter);
      encoding.writeVarUint(enc, msg.slots);
      encoding.writeVarUint(enc, msg.running);
      break;
    case 'task':
      checkString('kernel', msg.kernel, 1, MAX_KERNEL_NAME_BYTES);
      checkInt('inputBytes', msg.inputBytes, 0, MAX_COMPUTE_BYTES);
      encoding.writeUint8(enc, ComputeMessageType.Task);
      encoding.writeUint32(enc, msg.runId);
      encoding.writeVarString(enc, msg.kernel);
      encoding.writeUint8(enc, modeCode(msg.mode));
      encoding.writeVarUint(enc, msg.inputBytes);
      break;
    case 'data':
      checkInt('offset', msg.offset, 0, MAX_COMPUTE_BYTES);
      if (!(msg.bytes instanceof Uint8Array)) bad('bytes', msg.bytes, 'a Uint8Array');
      checkInt('offset + bytes.length', msg.offset + msg.bytes.length, 0, MAX_COMPUTE_BYTES);
      encoding.writeUint8(enc, ComputeMessageType.Data);
      encoding.writeUint32(enc, msg.runId);
      encoding.writeUint8(enc, partCode(msg.part));
      encoding.writeVarUint(enc, msg.offset);
      encoding.writeVarUint8Array(enc, msg.bytes);
      break;
    case 'ack':
      checkInt('received', msg.received, 0, MAX_COMPUTE_BYTES);
      encoding.writeUint8(enc, ComputeMessageType.Ack);
      encoding.writeUint32(enc, msg.runId);
      encoding.writeUint8(enc, partCode(msg.part));
      encoding.writeVarUint(enc, msg.received);
      break;
    case 'result':
      encoding.writeUint8(enc, ComputeMessageType.Result);
      encoding.writeUint32(enc, msg.runId);
      encoding.writeUint8(enc, modeCode(msg.mode));
      if (msg.mode === 'bytes') {
        checkInt('outputBytes', msg.outputBytes, 0, MAX_COMPUTE_BYTES);
        encoding.writeVarUint(enc, msg.outputBytes);
      } else {
        if (!(msg.hash instanceof Uint8Array) || msg.hash.length !== HASH_BYTES) bad('hash', msg.hash, `${HASH_BYTES} bytes`);
        encoding.writeUint8Array(enc, msg.hash);
      }
      break;
    case 'refuse': {
      const code = COMPUTE_REFUSALS.indexOf(msg.reason) + 1;
      if (code === 0) bad('reason', msg.reason, `one of ${COMPUTE_REFUSALS.join(', ')}`);
      checkString('detail', msg.detail, 0, MAX_REFUSAL_DETAIL_BYTES);
      encoding.writeUint8(enc, ComputeMessageType.Refuse);
      encoding.writeUint32(enc, msg.runId);
      encoding.writeUint8(enc, code);
      encoding.writeVarString(enc, msg.detail);
      break;
    }
    case 'cancel':
      encoding.writeUint8(enc, ComputeMessageType.Cancel);
      encoding.writeUint32(enc, msg.runId);
      break;
    default:
      bad('type', (msg as { type: unknown }).type, 'a compute message type');
  }
  return encoding.toUint8Array(enc);
}

/**
 * Cuts `detail` to at most {@link MAX_REFUSAL_DETAIL_BYTES} bytes of UTF-8 (on a character
 * boundary), so any error message can go into a refusal.
 */
export function clipDetail(detail: string): string {
  let s = detail.slice(0, MAX_REFUSAL_DETAIL_BYTES);
  while (textEncoder.encode(s).length > MAX_REFUSAL_DETAIL_BYTES) s = s.slice(0, -1);
  return s;
}

function partField(d: decoding.Decoder): TransferPart {
  const p = u8(d, 'part');
  if (p > 1) fail(`part ${p} is neither 0 (input) nor 1 (result)`);
  return p === 0 ? 'input' : 'result';
}

function modeField(d: decoding.Decoder): ResultMode {
  const m = u8(d, 'mode');
  if (m > 1) fail(`mode ${m} is neither 0 (bytes) nor 1 (hash)`);
  return m === 0 ? 'bytes' : 'hash';
}

function decodeBody(d: decoding.Decoder): ComputeMessage {
  const type = u8(d, 'type');
  switch (type) {
    case ComputeMessageType.Presence: {
      const version = u8(d, 'version');
      if (version !== COMPUTE_PROTOCOL_VERSION) fail(`presence version ${version}, expected ${COMPUTE_PROTOCOL_VERSION}`);
      const flags = u8(d, 'flags');
      if (flags > 3) fail(`presence flags ${flags} has unknown bits`);
      const adapter = stringField(d, 'adapter', 0, MAX_ADAPTER_BYTES);
      const slots = varuint(d, 'slots', 0, MAX_SLOTS);
      const running = varuint(d, 'running', 0, MAX_RUNNING);
      return { type: 'presence', version, webgpu: (flags & 1) !== 0, adapter, slots, running, reply: (flags & 2) !== 0 };
    }
    case ComputeMessageType.Task: {
      const runId = u32(d, 'runId');
      const kernel = stringField(d, 'kernel', 1, MAX_KERNEL_NAME_BYTES);
      const mode = modeField(d);
      return { type: 'task', runId, kernel, mode, inputBytes: varuint(d, 'inputBytes', 0, MAX_COMPUTE_BYTES) };
    }
    case ComputeMessageType.Data: {
      const runId = u32(d, 'runId');
      const part = partField(d);
      const offset = varuint(d, 'offset', 0, MAX_COMPUTE_BYTES);
      const bytes = bytesField(d, 'data', MAX_COMPUTE_BYTES - offset);
      return { type: 'data', runId, part, offset, bytes };
    }
    case ComputeMessageType.Ack: {
      const runId = u32(d, 'runId');
      const part = partField(d);
      return { type: 'ack', runId, part, received: varuint(d, 'received', 0, MAX_COMPUTE_BYTES) };
    }
    case ComputeMessageType.Result: {
      const runId = u32(d, 'runId');
      const mode = modeField(d);
      if (mode === 'bytes') return { type: 'result', runId, mode, outputBytes: varuint(d, 'outputBytes', 0, MAX_COMPUTE_BYTES) };
      need(d, HASH_BYTES, 'hash');
      const hash = d.arr.slice(d.pos, d.pos + HASH_BYTES);
      d.pos += HASH_BYTES;
      return { type: 'result', runId, mode, hash };
    }
    case ComputeMessageType.Refuse: {
      const runId = u32(d, 'runId');
      const code = u8(d, 'reason');
      const detail = stringField(d, 'detail', 0, MAX_REFUSAL_DETAIL_BYTES);
      return { type: 'refuse', runId, reason: COMPUTE_REFUSALS[code - 1] ?? 'Unknown', detail };
    }
    case ComputeMessageType.Cancel:
      return { type: 'cancel', runId: u32(d, 'runId') };
    default:
      return fail(`unknown message type ${type}`);
  }
}

/**
 * Decodes one compute message. Never throws: anything that is not exactly one valid message
 * (unknown type, truncated, trailing bytes, a value out of range, text that is not UTF-8, a
 * presence of another version) gives a {@link MalformedComputeMessage} with a readable
 * `detail`. Returned byte arrays are fresh copies.
 */
export function decodeComputeMessage(bytes: Uint8Array): ComputeMessage | MalformedComputeMessage {
  return decodeWhole(bytes, decodeBody);
}
