/**
 * Wire protocol of late join (`late-join.ts`): pure functions over lib0 encoders and decoders
 * that know nothing of rooms or sessions (y-protocols `src/sync.js` is the model). Every message
 * is one transport payload on the join channel (default `'rollback/join'`) and starts with a
 * one-byte type.
 *
 * Layouts (`varuint`: lib0 variable-length unsigned integer; `u32` little endian; `string`:
 * lib0 `varString`, a varuint byte length then UTF-8):
 *
 * | type | message   | direction           | fields after the type byte |
 * |-----:|-----------|---------------------|----------------------------|
 * | 1    | watch     | spectator -> host   | `u8 version` `u32 requestId` |
 * | 2    | refuse    | host -> spectator   | `u32 requestId` `u8 reason` `string detail` (at most {@link MAX_JOIN_DETAIL_BYTES}) |
 * | 3    | accept    | host -> spectator   | `u32 requestId` `varuint frame` `u8 numPlayers` `varuint inputSize` `varuint fps` `string channel` `varuint stateBytes` `u32 stateChecksum` `varuint appLength` `app bytes` |
 * | 4    | chunk     | host -> spectator   | `u32 requestId` `varuint offset` `varuint length` `bytes` |
 * | 5    | chunk ack | spectator -> host   | `u32 requestId` `varuint receivedBytes` |
 * | 6    | cancel    | spectator -> host   | `u32 requestId` |
 *
 * `requestId` is a random u32 chosen by the spectator for one request; every answer repeats it,
 * so answers to an abandoned request are recognised. `stateChecksum` is FNV-1a 32 of the whole
 * state; the state follows in `chunk`s, in order, each acknowledged with the total received.
 * Refusal reasons: 1 `NotRunning`, 2 `TooManySpectators`, 3 `AlreadyInSession`,
 * 4 `StateUnavailable`, 5 `Version`; an unknown code decodes as `Unknown`.
 *
 * {@link decodeJoinMessage} never throws: bytes that are not exactly one valid message give
 * `{ type: 'malformed', detail }`.
 *
 * @example
 * ```ts
 * const bytes = encodeJoinMessage({ type: 'watch', version: LATE_JOIN_VERSION, requestId: 7 });
 * decodeJoinMessage(bytes); // { type: 'watch', version: 1, requestId: 7 }
 * ```
 */
import type * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { bytesField, decodeWhole, fail, fieldChecks, stringField, u32, u8, varuint } from './wire-checks.ts';
import { MAX_INPUT_SIZE, MAX_PLAYERS, MAX_WIRE_FRAME } from './protocol.ts';

/** Version byte of a watch request; a host speaking another version refuses with `Version`. */
export const LATE_JOIN_VERSION = 1;
/** Largest application blob in an accept message, bytes (16 KiB: it travels in one transport frame). */
export const MAX_JOIN_APP_BYTES = 16 * 1024;
/** Largest world state a late join carries, bytes (64 MiB, the snapshot codec's limit). */
export const MAX_JOIN_STATE_BYTES = 64 * 1024 * 1024;
/** Longest refusal detail, bytes of UTF-8. */
export const MAX_JOIN_DETAIL_BYTES = 512;
/** Longest session channel name in an accept message, bytes of UTF-8 (the transport's limit). */
export const MAX_JOIN_CHANNEL_BYTES = 255;
/** Largest frame rate in an accept message (the session builder's limit). */
const MAX_FPS = 1000;

/**
 * Why a host refused a late join.
 * - `NotRunning`: its session is not running (still synchronizing, or closed).
 * - `TooManySpectators`: it already serves its `maxSpectators`.
 * - `AlreadyInSession`: the asking peer plays in the session.
 * - `StateUnavailable`: it no longer holds the state of the start frame (sparse saving), or
 *   could not encode it. Asking again usually succeeds.
 * - `Version`: the request's protocol version differs from the host's.
 * - `Unknown`: a reason code this peer does not know (a newer host).
 */
export type JoinRefusal = 'NotRunning' | 'TooManySpectators' | 'AlreadyInSession' | 'StateUnavailable' | 'Version' | 'Unknown';

/** Every {@link JoinRefusal} but `Unknown`, in code order (code = index + 1). */
export const JOIN_REFUSALS: readonly JoinRefusal[] = ['NotRunning', 'TooManySpectators', 'AlreadyInSession', 'StateUnavailable', 'Version'];

/** Join message type bytes. */
export const JoinMessageType = {
  Watch: 1,
  Refuse: 2,
  Accept: 3,
  Chunk: 4,
  ChunkAck: 5,
  Cancel: 6,
} as const;

/** A decoded late-join message (see the module doc for each field's range). */
export type JoinMessage =
  | { readonly type: 'watch'; readonly version: number; readonly requestId: number }
  | { readonly type: 'refuse'; readonly requestId: number; readonly reason: JoinRefusal; readonly detail: string }
  | {
    readonly type: 'accept';
    readonly requestId: number;
    /** Frame of the state; the spectator session starts there. */
    readonly frame: number;
    readonly numPlayers: number;
    /** Bytes per slot per frame. */
    readonly inputSize: number;
    /** The host session's frames per second. */
    readonly fps: number;
    /** The rollback channel of the host session. */
    readonly channel: string;
    /** Size of the state, bytes. */
    readonly stateBytes: number;
    /** FNV-1a 32 of the state. */
    readonly stateChecksum: number;
    /** Application blob (match settings the spectator needs to build its world). */
    readonly app: Uint8Array;
  }
  | { readonly type: 'chunk'; readonly requestId: number; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly type: 'chunkAck'; readonly requestId: number; readonly received: number }
  | { readonly type: 'cancel'; readonly requestId: number };

/** Result of {@link decodeJoinMessage} for bytes that are not a message. */
export interface MalformedJoinMessage {
  readonly type: 'malformed';
  readonly detail: string;
}

const { bad, checkInt, checkString } = fieldChecks('late-join protocol');

/**
 * Encodes a join message. Validates every field first.
 * @throws NetcodeError `InvalidRequest` naming the field when a value is out of range (a bug in
 *   the caller, never peer data).
 */
export function encodeJoinMessage(msg: JoinMessage): Uint8Array {
  const enc = encoding.createEncoder();
  checkInt('requestId', msg.requestId, 0, 0xffff_ffff);
  switch (msg.type) {
    case 'watch':
      checkInt('version', msg.version, 0, 255);
      encoding.writeUint8(enc, JoinMessageType.Watch);
      encoding.writeUint8(enc, msg.version);
      encoding.writeUint32(enc, msg.requestId);
      break;
    case 'refuse': {
      const code = JOIN_REFUSALS.indexOf(msg.reason) + 1;
      if (code === 0) bad('reason', msg.reason, `one of ${JOIN_REFUSALS.join(', ')}`);
      checkString('detail', msg.detail, 0, MAX_JOIN_DETAIL_BYTES);
      encoding.writeUint8(enc, JoinMessageType.Refuse);
      encoding.writeUint32(enc, msg.requestId);
      encoding.writeUint8(enc, code);
      encoding.writeVarString(enc, msg.detail);
      break;
    }
    case 'accept':
      checkInt('frame', msg.frame, 0, MAX_WIRE_FRAME);
      checkInt('numPlayers', msg.numPlayers, 1, MAX_PLAYERS);
      checkInt('inputSize', msg.inputSize, 1, MAX_INPUT_SIZE);
      checkInt('fps', msg.fps, 1, MAX_FPS);
      checkString('channel', msg.channel, 1, MAX_JOIN_CHANNEL_BYTES);
      checkInt('stateBytes', msg.stateBytes, 0, MAX_JOIN_STATE_BYTES);
      checkInt('stateChecksum', msg.stateChecksum, 0, 0xffff_ffff);
      if (!(msg.app instanceof Uint8Array) || msg.app.length > MAX_JOIN_APP_BYTES) bad('app', msg.app?.length, `a Uint8Array of at most ${MAX_JOIN_APP_BYTES} bytes`);
      encoding.writeUint8(enc, JoinMessageType.Accept);
      encoding.writeUint32(enc, msg.requestId);
      encoding.writeVarUint(enc, msg.frame);
      encoding.writeUint8(enc, msg.numPlayers);
      encoding.writeVarUint(enc, msg.inputSize);
      encoding.writeVarUint(enc, msg.fps);
      encoding.writeVarString(enc, msg.channel);
      encoding.writeVarUint(enc, msg.stateBytes);
      encoding.writeUint32(enc, msg.stateChecksum);
      encoding.writeVarUint8Array(enc, msg.app);
      break;
    case 'chunk':
      checkInt('offset', msg.offset, 0, MAX_JOIN_STATE_BYTES);
      if (!(msg.bytes instanceof Uint8Array)) bad('bytes', msg.bytes, 'a Uint8Array');
      checkInt('offset + bytes.length', msg.offset + msg.bytes.length, 0, MAX_JOIN_STATE_BYTES);
      encoding.writeUint8(enc, JoinMessageType.Chunk);
      encoding.writeUint32(enc, msg.requestId);
      encoding.writeVarUint(enc, msg.offset);
      encoding.writeVarUint8Array(enc, msg.bytes);
      break;
    case 'chunkAck':
      checkInt('received', msg.received, 0, MAX_JOIN_STATE_BYTES);
      encoding.writeUint8(enc, JoinMessageType.ChunkAck);
      encoding.writeUint32(enc, msg.requestId);
      encoding.writeVarUint(enc, msg.received);
      break;
    case 'cancel':
      encoding.writeUint8(enc, JoinMessageType.Cancel);
      encoding.writeUint32(enc, msg.requestId);
      break;
    default:
      bad('type', (msg as { type: unknown }).type, 'a late-join message type');
  }
  return encoding.toUint8Array(enc);
}

function decodeBody(d: decoding.Decoder): JoinMessage {
  const type = u8(d, 'type');
  switch (type) {
    case JoinMessageType.Watch: {
      const version = u8(d, 'version');
      return { type: 'watch', version, requestId: u32(d, 'requestId') };
    }
    case JoinMessageType.Refuse: {
      const requestId = u32(d, 'requestId');
      const code = u8(d, 'reason');
      const detail = stringField(d, 'detail', 0, MAX_JOIN_DETAIL_BYTES);
      return { type: 'refuse', requestId, reason: JOIN_REFUSALS[code - 1] ?? 'Unknown', detail };
    }
    case JoinMessageType.Accept: {
      const requestId = u32(d, 'requestId');
      const frame = varuint(d, 'frame', 0, MAX_WIRE_FRAME);
      const numPlayers = u8(d, 'numPlayers');
      if (numPlayers < 1 || numPlayers > MAX_PLAYERS) fail(`numPlayers ${numPlayers} out of [1, ${MAX_PLAYERS}]`);
      const inputSize = varuint(d, 'inputSize', 1, MAX_INPUT_SIZE);
      const fps = varuint(d, 'fps', 1, MAX_FPS);
      const channel = stringField(d, 'channel', 1, MAX_JOIN_CHANNEL_BYTES);
      const stateBytes = varuint(d, 'stateBytes', 0, MAX_JOIN_STATE_BYTES);
      const stateChecksum = u32(d, 'stateChecksum');
      const app = bytesField(d, 'app', MAX_JOIN_APP_BYTES);
      return { type: 'accept', requestId, frame, numPlayers, inputSize, fps, channel, stateBytes, stateChecksum, app };
    }
    case JoinMessageType.Chunk: {
      const requestId = u32(d, 'requestId');
      const offset = varuint(d, 'offset', 0, MAX_JOIN_STATE_BYTES);
      const bytes = bytesField(d, 'chunk', MAX_JOIN_STATE_BYTES - offset);
      return { type: 'chunk', requestId, offset, bytes };
    }
    case JoinMessageType.ChunkAck: {
      const requestId = u32(d, 'requestId');
      return { type: 'chunkAck', requestId, received: varuint(d, 'received', 0, MAX_JOIN_STATE_BYTES) };
    }
    case JoinMessageType.Cancel:
      return { type: 'cancel', requestId: u32(d, 'requestId') };
    default:
      return fail(`unknown message type ${type}`);
  }
}

/**
 * Decodes one join message. Never throws: anything that is not exactly one valid message (unknown
 * type, truncated, trailing bytes, a count out of range, text that is not UTF-8) gives a
 * {@link MalformedJoinMessage} with a human-readable `detail`. Returned byte arrays are fresh copies.
 */
export function decodeJoinMessage(bytes: Uint8Array): JoinMessage | MalformedJoinMessage {
  return decodeWhole(bytes, decodeBody);
}
