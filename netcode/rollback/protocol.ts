/**
 * Wire protocol of the rollback sessions: pure functions over lib0 encoders and decoders that
 * know nothing of rooms, peers or sockets (the sessions route; y-protocols `src/sync.js` is the
 * model). Every message is one transport payload on the session's channel (default
 * `'rollback'`) and starts with a one-byte type.
 *
 * Layouts (`varuint`/`varint`: lib0 variable-length integers, 7 bits per byte; `u32` little
 * endian; `f64` big endian as lib0 writes it; a frame `f >= -1` travels as `varuint f + 1`):
 *
 * | type | message          | fields after the type byte |
 * |-----:|------------------|----------------------------|
 * | 1 | sync request    | `u8 version` `u32 nonce` `u8 role (0 player, 1 spectator)` `u8 numPlayers` `varuint inputSize` `u32 configHash` |
 * | 2 | sync reply      | `u32 nonce` `u8 accepted (0/1)` |
 * | 3 | input           | `varuint startFrame` `varuint senderFrame` `varuint frameCount` `varuint inputSize` `u8 slotCount` `u8 slot`×slotCount `u8 statusCount` `varuint status`×statusCount, then the input tokens to the end |
 * | 4 | input ack       | `varuint ackFrame+1` |
 * | 5 | quality report  | `varint frameAdvantage` `f64 pingMs` |
 * | 6 | quality reply   | `f64 pongMs` |
 * | 7 | checksum report | `varuint frame` `u32 checksum` |
 * | 8 | keep-alive      | (nothing) |
 * | 9 | snapshot request| `varuint frame` |
 * | 10| snapshot chunk  | `varuint frame` `varuint totalBytes` `varuint offset` `varuint length` `bytes` |
 *
 * Input message: `status[i]` is the sender's view of player slot `i`: `(lastFrame + 1) * 2 +
 * disconnected`, where `lastFrame` is the newest frame of slot `i` it holds without a gap (for
 * remote slots this is the acknowledgement; for its own slots, its newest local input). The
 * inputs are `frameCount` frames starting at `startFrame`, each `slotCount` inputs of
 * `inputSize` bytes in `slots` order (frame-major). They are XOR-delta coded against the same
 * slot's previous frame in the packet (the first frame against zeros), so held buttons become
 * zero bytes, then run-length coded as tokens `varuint zeroRun` `varuint literalLength`
 * `literal bytes` covering exactly `frameCount * slotCount * inputSize` bytes (GGRS
 * `network/compression.rs` does XOR + RLE the same way). A packet carries every input the
 * receivers have not acknowledged, so a lost packet is covered by the next one.
 *
 * {@link decodeMessage} never throws: bytes that are not a valid message (truncated, trailing
 * bytes, counts or frames out of range) give `{ type: 'malformed', detail }`.
 *
 * @example
 * ```ts
 * const bytes = encodeMessage({ type: 'checksumReport', frame: 120, checksum: 0xdeadbeef });
 * decodeMessage(bytes); // { type: 'checksumReport', frame: 120, checksum: 3735928559 }
 * ```
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { decodeWhole, f64, fail, fieldChecks, need, u32, u8, varint, varuint } from './wire-checks.ts';

/** Version byte of the sync request; peers with another version refuse the handshake. */
export const PROTOCOL_VERSION = 1;
/** Most player slots a session has. */
export const MAX_PLAYERS = 8;
/** Largest input, bytes per slot per frame. */
export const MAX_INPUT_SIZE = 128;
/** Most frames of inputs in one input message (the receiver needs the oldest first; the rest follow). */
export const MAX_FRAMES_PER_PACKET = 128;
/** Largest frame number on the wire (2^31 - 1: ~414 days at 60 Hz). */
export const MAX_WIRE_FRAME = 0x7fff_ffff;

/** Message type bytes. */
export const MessageType = {
  SyncRequest: 1,
  SyncReply: 2,
  Input: 3,
  InputAck: 4,
  QualityReport: 5,
  QualityReply: 6,
  ChecksumReport: 7,
  KeepAlive: 8,
  SnapshotRequest: 9,
  SnapshotChunk: 10,
} as const;

/** A sender's view of one player slot. */
export interface SlotStatus {
  /** Newest frame of the slot held without a gap; -1 for none. */
  readonly lastFrame: number;
  /** Whether the sender considers the slot's owner disconnected (from `lastFrame + 1` on). */
  readonly disconnected: boolean;
}

/** Inputs of some slots for consecutive frames, plus the sender's view of every slot. */
export interface InputMessage {
  readonly type: 'input';
  /** Frame of the first input in `inputs`. */
  readonly startFrame: number;
  /** The frame the sender was at when sending (for frame-advantage estimates). */
  readonly senderFrame: number;
  /** Frames in `inputs` (0..{@link MAX_FRAMES_PER_PACKET}). */
  readonly frameCount: number;
  /** Bytes per input (1..{@link MAX_INPUT_SIZE}). */
  readonly inputSize: number;
  /** Player slots whose inputs follow, distinct, each < {@link MAX_PLAYERS}. */
  readonly slots: readonly number[];
  /** The sender's view of each player slot 0..n-1 (n <= {@link MAX_PLAYERS}). */
  readonly status: readonly SlotStatus[];
  /** `frameCount × slots.length × inputSize` bytes, frame-major, plain (not delta coded). */
  readonly inputs: Uint8Array;
}

/** A decoded rollback message. */
export type RollbackMessage =
  | {
    readonly type: 'syncRequest';
    /** Random value echoed by the reply (u32). */
    readonly nonce: number;
    readonly role: 'player' | 'spectator';
    readonly numPlayers: number;
    readonly inputSize: number;
    /** Hash of the settings players must share (see `configHash` in the sessions); 0 from spectators. */
    readonly configHash: number;
    /** Protocol version of the sender ({@link PROTOCOL_VERSION}). */
    readonly version: number;
  }
  | { readonly type: 'syncReply'; readonly nonce: number; readonly accepted: boolean }
  | InputMessage
  | { readonly type: 'inputAck'; readonly ackFrame: number }
  | { readonly type: 'qualityReport'; readonly frameAdvantage: number; readonly pingMs: number }
  | { readonly type: 'qualityReply'; readonly pongMs: number }
  | { readonly type: 'checksumReport'; readonly frame: number; readonly checksum: number }
  | { readonly type: 'keepAlive' }
  | { readonly type: 'snapshotRequest'; readonly frame: number }
  | {
    readonly type: 'snapshotChunk';
    readonly frame: number;
    /** Size of the whole snapshot, bytes. */
    readonly totalBytes: number;
    /** Offset of `bytes` in the snapshot. */
    readonly offset: number;
    readonly bytes: Uint8Array;
  };

/** Result of {@link decodeMessage} for bytes that are not a message. */
export interface MalformedMessage {
  readonly type: 'malformed';
  readonly detail: string;
}

/** Limit for frame advantages on the wire (an i16 in GGPO's quality report). */
const MAX_ADVANTAGE = 0x7fff;

const { bad, checkInt } = fieldChecks('rollback protocol');

function writeFrame(enc: encoding.Encoder, field: string, frame: number): void {
  checkInt(field, frame, -1, MAX_WIRE_FRAME);
  encoding.writeVarUint(enc, frame + 1);
}

/**
 * XOR-delta + run-length codes `raw` (`frames` rows of `stride` bytes) into `enc`.
 * Row `i` is XORed with row `i - 1` (row 0 with zeros).
 */
function writeInputTokens(enc: encoding.Encoder, raw: Uint8Array, stride: number): void {
  const total = raw.length;
  const delta = new Uint8Array(total);
  for (let i = 0; i < total; i++) delta[i] = i >= stride ? raw[i]! ^ raw[i - stride]! : raw[i]!;
  let i = 0;
  while (i < total) {
    let z = i;
    while (z < total && delta[z] === 0) z++;
    let l = z;
    while (l < total && delta[l] !== 0) l++;
    encoding.writeVarUint(enc, z - i);
    encoding.writeVarUint(enc, l - z);
    if (l > z) encoding.writeUint8Array(enc, delta.subarray(z, l));
    i = l;
  }
}

/**
 * Encodes a message. Validates every field first.
 * @throws NetcodeError `InvalidRequest` naming the field when a value is out of range (a bug in
 *   the caller, never peer data).
 */
export function encodeMessage(msg: RollbackMessage): Uint8Array {
  const enc = encoding.createEncoder();
  switch (msg.type) {
    case 'syncRequest':
      checkInt('nonce', msg.nonce, 0, 0xffff_ffff);
      checkInt('numPlayers', msg.numPlayers, 1, MAX_PLAYERS);
      checkInt('inputSize', msg.inputSize, 1, MAX_INPUT_SIZE);
      checkInt('configHash', msg.configHash, 0, 0xffff_ffff);
      checkInt('version', msg.version, 0, 255);
      encoding.writeUint8(enc, MessageType.SyncRequest);
      encoding.writeUint8(enc, msg.version);
      encoding.writeUint32(enc, msg.nonce);
      encoding.writeUint8(enc, msg.role === 'player' ? 0 : 1);
      encoding.writeUint8(enc, msg.numPlayers);
      encoding.writeVarUint(enc, msg.inputSize);
      encoding.writeUint32(enc, msg.configHash);
      break;
    case 'syncReply':
      checkInt('nonce', msg.nonce, 0, 0xffff_ffff);
      encoding.writeUint8(enc, MessageType.SyncReply);
      encoding.writeUint32(enc, msg.nonce);
      encoding.writeUint8(enc, msg.accepted ? 1 : 0);
      break;
    case 'input': {
      checkInt('startFrame', msg.startFrame, 0, MAX_WIRE_FRAME);
      checkInt('senderFrame', msg.senderFrame, 0, MAX_WIRE_FRAME);
      checkInt('frameCount', msg.frameCount, 0, MAX_FRAMES_PER_PACKET);
      checkInt('startFrame + frameCount', msg.startFrame + msg.frameCount, 0, MAX_WIRE_FRAME);
      checkInt('inputSize', msg.inputSize, 1, MAX_INPUT_SIZE);
      checkInt('slots.length', msg.slots.length, 0, MAX_PLAYERS);
      checkInt('status.length', msg.status.length, 0, MAX_PLAYERS);
      const seen = new Set<number>();
      for (const s of msg.slots) {
        checkInt('slot', s, 0, MAX_PLAYERS - 1);
        if (seen.has(s)) bad('slots', msg.slots.join(','), 'distinct');
        seen.add(s);
      }
      const stride = msg.slots.length * msg.inputSize;
      if (msg.inputs.length !== msg.frameCount * stride) bad('inputs.length', msg.inputs.length, `frameCount × slots × inputSize = ${msg.frameCount * stride}`);
      encoding.writeUint8(enc, MessageType.Input);
      encoding.writeVarUint(enc, msg.startFrame);
      encoding.writeVarUint(enc, msg.senderFrame);
      encoding.writeVarUint(enc, msg.frameCount);
      encoding.writeVarUint(enc, msg.inputSize);
      encoding.writeUint8(enc, msg.slots.length);
      for (const s of msg.slots) encoding.writeUint8(enc, s);
      encoding.writeUint8(enc, msg.status.length);
      for (const st of msg.status) {
        checkInt('status.lastFrame', st.lastFrame, -1, MAX_WIRE_FRAME);
        encoding.writeVarUint(enc, (st.lastFrame + 1) * 2 + (st.disconnected ? 1 : 0));
      }
      if (stride > 0) writeInputTokens(enc, msg.inputs, stride);
      break;
    }
    case 'inputAck':
      encoding.writeUint8(enc, MessageType.InputAck);
      writeFrame(enc, 'ackFrame', msg.ackFrame);
      break;
    case 'qualityReport':
      checkInt('frameAdvantage', msg.frameAdvantage, -MAX_ADVANTAGE, MAX_ADVANTAGE);
      if (!Number.isFinite(msg.pingMs)) bad('pingMs', msg.pingMs, 'finite');
      encoding.writeUint8(enc, MessageType.QualityReport);
      encoding.writeVarInt(enc, msg.frameAdvantage);
      encoding.writeFloat64(enc, msg.pingMs);
      break;
    case 'qualityReply':
      if (!Number.isFinite(msg.pongMs)) bad('pongMs', msg.pongMs, 'finite');
      encoding.writeUint8(enc, MessageType.QualityReply);
      encoding.writeFloat64(enc, msg.pongMs);
      break;
    case 'checksumReport':
      checkInt('frame', msg.frame, 0, MAX_WIRE_FRAME);
      checkInt('checksum', msg.checksum, 0, 0xffff_ffff);
      encoding.writeUint8(enc, MessageType.ChecksumReport);
      encoding.writeVarUint(enc, msg.frame);
      encoding.writeUint32(enc, msg.checksum);
      break;
    case 'keepAlive':
      encoding.writeUint8(enc, MessageType.KeepAlive);
      break;
    case 'snapshotRequest':
      checkInt('frame', msg.frame, 0, MAX_WIRE_FRAME);
      encoding.writeUint8(enc, MessageType.SnapshotRequest);
      encoding.writeVarUint(enc, msg.frame);
      break;
    case 'snapshotChunk':
      checkInt('frame', msg.frame, 0, MAX_WIRE_FRAME);
      checkInt('totalBytes', msg.totalBytes, 0, Number.MAX_SAFE_INTEGER);
      checkInt('offset', msg.offset, 0, msg.totalBytes);
      checkInt('bytes.length', msg.bytes.length, 0, msg.totalBytes - msg.offset);
      encoding.writeUint8(enc, MessageType.SnapshotChunk);
      encoding.writeVarUint(enc, msg.frame);
      encoding.writeVarUint(enc, msg.totalBytes);
      encoding.writeVarUint(enc, msg.offset);
      encoding.writeVarUint8Array(enc, msg.bytes);
      break;
    default:
      bad('type', (msg as { type: unknown }).type, 'a rollback message type');
  }
  return encoding.toUint8Array(enc);
}

function frameField(d: decoding.Decoder, what: string): number {
  return varuint(d, what, 0, MAX_WIRE_FRAME + 1) - 1;
}

function readInputTokens(d: decoding.Decoder, total: number, stride: number): Uint8Array {
  const out = new Uint8Array(total);
  let pos = 0;
  while (pos < total) {
    const z = varuint(d, 'zero run', 0, total - pos);
    pos += z;
    const l = varuint(d, 'literal length', 0, total - pos);
    if (z === 0 && l === 0) fail('empty input token');
    need(d, l, 'input literal');
    out.set(decoding.readUint8Array(d, l), pos);
    pos += l;
  }
  for (let i = stride; i < total; i++) out[i] ^= out[i - stride]!;
  return out;
}

function decodeBody(d: decoding.Decoder): RollbackMessage {
  const type = u8(d, 'type');
  switch (type) {
    case MessageType.SyncRequest: {
      const version = u8(d, 'version');
      const nonce = u32(d, 'nonce');
      const role = u8(d, 'role');
      if (role > 1) fail(`unknown role ${role}`);
      const numPlayers = u8(d, 'numPlayers');
      if (numPlayers < 1 || numPlayers > MAX_PLAYERS) fail(`numPlayers ${numPlayers} out of [1, ${MAX_PLAYERS}]`);
      const inputSize = varuint(d, 'inputSize', 0, MAX_INPUT_SIZE);
      if (inputSize < 1) fail('inputSize 0');
      const configHash = u32(d, 'configHash');
      return { type: 'syncRequest', version, nonce, role: role === 0 ? 'player' : 'spectator', numPlayers, inputSize, configHash };
    }
    case MessageType.SyncReply: {
      const nonce = u32(d, 'nonce');
      const accepted = u8(d, 'accepted');
      if (accepted > 1) fail(`accepted flag ${accepted}`);
      return { type: 'syncReply', nonce, accepted: accepted === 1 };
    }
    case MessageType.Input: {
      const startFrame = varuint(d, 'startFrame', 0, MAX_WIRE_FRAME);
      const senderFrame = varuint(d, 'senderFrame', 0, MAX_WIRE_FRAME);
      const frameCount = varuint(d, 'frameCount', 0, MAX_FRAMES_PER_PACKET);
      if (startFrame + frameCount > MAX_WIRE_FRAME) fail('startFrame + frameCount out of range');
      const inputSize = varuint(d, 'inputSize', 0, MAX_INPUT_SIZE);
      if (inputSize < 1) fail('inputSize 0');
      const slotCount = u8(d, 'slotCount');
      if (slotCount > MAX_PLAYERS) fail(`slotCount ${slotCount} > ${MAX_PLAYERS}`);
      const slots: number[] = [];
      for (let i = 0; i < slotCount; i++) {
        const s = u8(d, 'slot');
        if (s >= MAX_PLAYERS) fail(`slot ${s} >= ${MAX_PLAYERS}`);
        if (slots.includes(s)) fail(`slot ${s} listed twice`);
        slots.push(s);
      }
      const statusCount = u8(d, 'statusCount');
      if (statusCount > MAX_PLAYERS) fail(`statusCount ${statusCount} > ${MAX_PLAYERS}`);
      const status: SlotStatus[] = [];
      for (let i = 0; i < statusCount; i++) {
        const v = varuint(d, 'status', 0, (MAX_WIRE_FRAME + 1) * 2 + 1);
        status.push({ lastFrame: Math.floor(v / 2) - 1, disconnected: v % 2 === 1 });
      }
      const stride = slotCount * inputSize;
      const inputs = stride > 0 ? readInputTokens(d, frameCount * stride, stride) : new Uint8Array(0);
      return { type: 'input', startFrame, senderFrame, frameCount, inputSize, slots, status, inputs };
    }
    case MessageType.InputAck:
      return { type: 'inputAck', ackFrame: frameField(d, 'ackFrame') };
    case MessageType.QualityReport: {
      const frameAdvantage = varint(d, 'frameAdvantage', MAX_ADVANTAGE);
      const pingMs = f64(d, 'pingMs');
      return { type: 'qualityReport', frameAdvantage, pingMs };
    }
    case MessageType.QualityReply:
      return { type: 'qualityReply', pongMs: f64(d, 'pongMs') };
    case MessageType.ChecksumReport: {
      const frame = varuint(d, 'frame', 0, MAX_WIRE_FRAME);
      const checksum = u32(d, 'checksum');
      return { type: 'checksumReport', frame, checksum };
    }
    case MessageType.KeepAlive:
      return { type: 'keepAlive' };
    case MessageType.SnapshotRequest:
      return { type: 'snapshotRequest', frame: varuint(d, 'frame', 0, MAX_WIRE_FRAME) };
    case MessageType.SnapshotChunk: {
      const frame = varuint(d, 'frame', 0, MAX_WIRE_FRAME);
      const totalBytes = varuint(d, 'totalBytes', 0, Number.MAX_SAFE_INTEGER);
      const offset = varuint(d, 'offset', 0, totalBytes);
      const length = varuint(d, 'chunk length', 0, totalBytes - offset);
      need(d, length, 'chunk');
      const bytes = decoding.readUint8Array(d, length).slice();
      return { type: 'snapshotChunk', frame, totalBytes, offset, bytes };
    }
    default:
      fail(`unknown message type ${type}`);
  }
}

/**
 * Decodes one message. Never throws: anything that is not exactly one valid message (unknown
 * type, truncated, trailing bytes, a count or frame out of range) gives a
 * {@link MalformedMessage} with a human-readable `detail`. Returned byte arrays are fresh copies.
 */
export function decodeMessage(bytes: Uint8Array): RollbackMessage | MalformedMessage {
  return decodeWhole(bytes, decodeBody);
}

/** The input bytes of `slotIndex` (index into `msg.slots`) at `frameIndex` frames after `msg.startFrame`: a view into `msg.inputs`. */
export function inputAt(msg: InputMessage, frameIndex: number, slotIndex: number): Uint8Array {
  const at = (frameIndex * msg.slots.length + slotIndex) * msg.inputSize;
  return msg.inputs.subarray(at, at + msg.inputSize);
}
