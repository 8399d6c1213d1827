/**
 * Byte layouts of the libp2p room transport: pure encoders and decoders, knowing nothing of
 * streams, rooms or peers. Decoders never throw on bad input: they return a {@link WireError}.
 *
 * Stream frames (the payload of one it-length-prefixed frame on a room stream):
 * ```
 * DATA  [0x01][channel length u8][channel UTF-8][payload]   sender -> receiver
 * PING  [0x02][nonce u32 BE]                                 sender -> receiver
 * PONG  [0x03][nonce u32 BE]                                 receiver -> sender, same stream
 * ```
 * Gossip messages (the data of one gossipsub message on a room topic):
 * ```
 * [version u8 = 1][kind u8] then
 *   kind 1 PRESENCE [state u8: 1 hello, 2 alive, 3 bye][session 8 bytes][seq u32 BE]
 *                   [address count u8]{[length u16 BE][multiaddr bytes]}*
 *   kind 2 DATA     [channel length u8][channel UTF-8][payload]
 * ```
 */
import type { DropReason } from '../errors.ts';

/** Version byte that opens every gossip message. */
export const WIRE_VERSION = 1;
/** Longest channel name, in UTF-8 bytes. */
export const MAX_CHANNEL_BYTES = 255;
/** Bytes a DATA stream frame adds to its payload at most (kind, length, channel). */
export const MAX_FRAME_OVERHEAD = 2 + MAX_CHANNEL_BYTES;
/** Most multiaddrs one presence message carries. */
export const MAX_PRESENCE_ADDRS = 16;
/** Length of a presence session id, bytes. */
export const SESSION_BYTES = 8;

const FRAME_DATA = 0x01;
const FRAME_PING = 0x02;
const FRAME_PONG = 0x03;
const GOSSIP_PRESENCE = 1;
const GOSSIP_DATA = 2;

/** A decoded stream frame. `data` is a copy the caller owns. */
export type StreamFrame =
  | { readonly kind: 'data'; readonly channel: string; readonly data: Uint8Array }
  | { readonly kind: 'ping'; readonly nonce: number }
  | { readonly kind: 'pong'; readonly nonce: number };

/** Presence states: `hello` on joining, `alive` as a heartbeat, `bye` on leaving. */
export type PresenceState = 'hello' | 'alive' | 'bye';

/** A member's announcement on the room topic. */
export interface Presence {
  readonly state: PresenceState;
  /** Hex of 8 random bytes, new for every `joinRoom`: a restarted peer has a new session. */
  readonly session: string;
  /** Increments with every presence message of the session. */
  readonly seq: number;
  /** The announcing peer's multiaddrs, binary (`Multiaddr.bytes`); at most {@link MAX_PRESENCE_ADDRS}. */
  readonly addrs: readonly Uint8Array[];
}

/** A decoded gossip message. */
export type GossipMessage =
  | ({ readonly kind: 'presence' } & Presence)
  | { readonly kind: 'data'; readonly channel: string; readonly data: Uint8Array };

/** Why bytes did not decode. */
export interface WireError {
  readonly kind: 'error';
  readonly reason: Extract<DropReason, 'Malformed' | 'Oversized'>;
  readonly detail: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const channelCache = new Map<string, Uint8Array>();

/**
 * UTF-8 bytes of a channel name (cached for the first 256 names seen).
 * @returns undefined when the name is longer than {@link MAX_CHANNEL_BYTES} bytes.
 */
export function channelBytes(channel: string): Uint8Array | undefined {
  let bytes = channelCache.get(channel);
  if (bytes === undefined) {
    bytes = encoder.encode(channel);
    if (bytes.length > MAX_CHANNEL_BYTES) return undefined;
    if (channelCache.size < 256) channelCache.set(channel, bytes);
  }
  return bytes;
}

/** DATA frame for a stream. `channel` must come from {@link channelBytes}. */
export function encodeDataFrame(channel: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + channel.length + data.length);
  out[0] = FRAME_DATA;
  out[1] = channel.length;
  out.set(channel, 2);
  out.set(data, 2 + channel.length);
  return out;
}

/** PING or PONG frame carrying `nonce` (u32). */
export function encodePingFrame(kind: 'ping' | 'pong', nonce: number): Uint8Array {
  const out = new Uint8Array(5);
  out[0] = kind === 'ping' ? FRAME_PING : FRAME_PONG;
  new DataView(out.buffer).setUint32(1, nonce >>> 0);
  return out;
}

/**
 * Decodes one stream frame.
 * @param maxFrameBytes Largest payload accepted; a longer DATA payload is `Oversized`.
 */
export function decodeStreamFrame(bytes: Uint8Array, maxFrameBytes: number): StreamFrame | WireError {
  if (bytes.length === 0) return malformed('empty frame');
  const kind = bytes[0];
  if (kind === FRAME_PING || kind === FRAME_PONG) {
    if (bytes.length !== 5) return malformed(`ping/pong frame of ${bytes.length} bytes`);
    const nonce = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
    return { kind: kind === FRAME_PING ? 'ping' : 'pong', nonce };
  }
  if (kind !== FRAME_DATA) return malformed(`unknown frame kind ${kind}`);
  const body = decodeChannelAndPayload(bytes, 1, maxFrameBytes);
  return 'reason' in body ? body : { kind: 'data', ...body };
}

/** Gossip DATA message. `channel` must come from {@link channelBytes}. */
export function encodeGossipData(channel: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(3 + channel.length + data.length);
  out[0] = WIRE_VERSION;
  out[1] = GOSSIP_DATA;
  out[2] = channel.length;
  out.set(channel, 3);
  out.set(data, 3 + channel.length);
  return out;
}

/**
 * Gossip PRESENCE message. Keeps the first {@link MAX_PRESENCE_ADDRS} addresses.
 * @param presence `session` must be 16 hex digits.
 */
export function encodePresence(presence: Presence): Uint8Array {
  const addrs = presence.addrs.slice(0, MAX_PRESENCE_ADDRS).filter((a) => a.length <= 0xffff);
  const size = 3 + SESSION_BYTES + 4 + 1 + addrs.reduce((n, a) => n + 2 + a.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = WIRE_VERSION;
  out[1] = GOSSIP_PRESENCE;
  out[2] = presence.state === 'hello' ? 1 : presence.state === 'alive' ? 2 : 3;
  for (let i = 0; i < SESSION_BYTES; i++) out[3 + i] = parseInt(presence.session.slice(2 * i, 2 * i + 2), 16);
  let at = 3 + SESSION_BYTES;
  view.setUint32(at, presence.seq >>> 0);
  at += 4;
  out[at++] = addrs.length;
  for (const addr of addrs) {
    view.setUint16(at, addr.length);
    out.set(addr, at + 2);
    at += 2 + addr.length;
  }
  return out;
}

/**
 * Decodes one gossip message.
 * @param maxFrameBytes Largest DATA payload accepted; longer is `Oversized`.
 */
export function decodeGossip(bytes: Uint8Array, maxFrameBytes: number): GossipMessage | WireError {
  if (bytes.length < 2) return malformed(`gossip message of ${bytes.length} bytes`);
  if (bytes[0] !== WIRE_VERSION) return malformed(`unknown wire version ${bytes[0]}`);
  if (bytes[1] === GOSSIP_DATA) {
    const body = decodeChannelAndPayload(bytes, 2, maxFrameBytes);
    return 'reason' in body ? body : { kind: 'data', ...body };
  }
  if (bytes[1] !== GOSSIP_PRESENCE) return malformed(`unknown gossip kind ${bytes[1]}`);
  const fixed = 3 + SESSION_BYTES + 4 + 1;
  if (bytes.length < fixed) return malformed('truncated presence');
  const stateByte = bytes[2];
  const state: PresenceState | undefined = stateByte === 1 ? 'hello' : stateByte === 2 ? 'alive' : stateByte === 3 ? 'bye' : undefined;
  if (state === undefined) return malformed(`unknown presence state ${stateByte}`);
  let session = '';
  for (let i = 0; i < SESSION_BYTES; i++) session += bytes[3 + i].toString(16).padStart(2, '0');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const seq = view.getUint32(3 + SESSION_BYTES);
  const count = bytes[fixed - 1];
  if (count > MAX_PRESENCE_ADDRS) return malformed(`presence with ${count} addresses`);
  const addrs: Uint8Array[] = [];
  let at = fixed;
  for (let i = 0; i < count; i++) {
    if (at + 2 > bytes.length) return malformed('truncated presence address');
    const length = view.getUint16(at);
    if (at + 2 + length > bytes.length) return malformed('truncated presence address');
    addrs.push(bytes.slice(at + 2, at + 2 + length));
    at += 2 + length;
  }
  if (at !== bytes.length) return malformed(`${bytes.length - at} trailing bytes after presence`);
  return { kind: 'presence', state, session, seq, addrs };
}

/** 16 hex digits from 8 random bytes (WebCrypto, available in browsers and Node 20). */
export function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SESSION_BYTES));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function decodeChannelAndPayload(
  bytes: Uint8Array,
  at: number,
  maxFrameBytes: number,
): { channel: string; data: Uint8Array } | WireError {
  if (bytes.length < at + 1) return malformed('missing channel length');
  const length = bytes[at];
  if (bytes.length < at + 1 + length) return malformed('truncated channel name');
  let channel: string;
  try {
    channel = decoder.decode(bytes.subarray(at + 1, at + 1 + length));
  } catch {
    return malformed('channel name is not UTF-8');
  }
  const payloadBytes = bytes.length - (at + 1 + length);
  if (payloadBytes > maxFrameBytes) {
    return { kind: 'error', reason: 'Oversized', detail: `payload of ${payloadBytes} bytes > ${maxFrameBytes}` };
  }
  return { channel, data: bytes.slice(at + 1 + length) };
}

function malformed(detail: string): WireError {
  return { kind: 'error', reason: 'Malformed', detail };
}
