/**
 * Messages of the replication layer: pure functions over lib0 encoders and decoders that know
 * nothing of rooms or sockets (the provider routes them).
 *
 * Two standard message kinds, byte for byte what y-protocols writes, so a stock y-protocols
 * client speaking over the same channels can sync with us:
 *
 * | channel (default) | bytes | source |
 * |---|---|---|
 * | `yjs/sync` | `[varuint type][varuint length][payload]`, type 0 sync step 1 (payload: encoded state vector), 1 sync step 2 (payload: update, V1 encoding), 2 update (payload: update) | y-protocols `sync.js` (`writeSyncStep1`, `writeSyncStep2`, `writeUpdate`) |
 * | `yjs/awareness` | `[varuint count]` then per client `[varuint clientID][varuint clock][varstring JSON state or "null"]` | y-protocols `awareness.js` (`encodeAwarenessUpdate`) |
 *
 * A sync message is exactly one y-protocols message per transport message: nothing follows it
 * (trailing bytes make it malformed). A message larger than the transport's frame limit travels
 * in chunks on a third channel, see `chunks.ts`; that framing is ours, not y-protocols'.
 *
 * @example
 * ```ts
 * const bytes = encodeSyncStep1(Y.encodeStateVector(doc));
 * const msg = decodeSyncMessage(bytes); // { type: 'step1', payload: <state vector> }
 * ```
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { messageYjsSyncStep1, messageYjsSyncStep2, messageYjsUpdate } from 'y-protocols/sync';

/** A decoded sync message. `payload` is a copy (safe to keep). */
export type SyncMessage =
  /** Sync step 1: the sender's encoded state vector; answer with step 2. */
  | { readonly type: 'step1'; readonly payload: Uint8Array }
  /** Sync step 2: everything the receiver lacked (a V1 update), answering our step 1. */
  | { readonly type: 'step2'; readonly payload: Uint8Array }
  /** An incremental update (V1) broadcast after a local transaction. */
  | { readonly type: 'update'; readonly payload: Uint8Array };

/** Result of a decoder for bytes that are not a valid message. */
export interface MalformedReplicationMessage {
  readonly type: 'malformed';
  /** What was wrong, for logs and drop events. */
  readonly detail: string;
}

/** Encodes sync step 1 carrying `stateVector` (from `Y.encodeStateVector`). y-protocols `writeSyncStep1`. */
export function encodeSyncStep1(stateVector: Uint8Array): Uint8Array {
  return encodeSync(messageYjsSyncStep1, stateVector);
}

/** Encodes sync step 2 carrying `update` (from `Y.encodeStateAsUpdate(doc, theirStateVector)`). y-protocols `writeSyncStep2`. */
export function encodeSyncStep2(update: Uint8Array): Uint8Array {
  return encodeSync(messageYjsSyncStep2, update);
}

/** Encodes an update message carrying `update` (a doc `'update'` event's bytes). y-protocols `writeUpdate`. */
export function encodeSyncUpdate(update: Uint8Array): Uint8Array {
  return encodeSync(messageYjsUpdate, update);
}

function encodeSync(type: number, payload: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, type);
  encoding.writeVarUint8Array(encoder, payload);
  return encoding.toUint8Array(encoder);
}

/**
 * Decodes one y-protocols sync message. Never throws: bad bytes (empty, unknown type, a
 * length running past the end, trailing bytes) give a {@link MalformedReplicationMessage}. The payload
 * itself (state vector or update) is not checked here.
 */
export function decodeSyncMessage(bytes: Uint8Array): SyncMessage | MalformedReplicationMessage {
  if (bytes.length === 0) return { type: 'malformed', detail: 'empty sync message' };
  try {
    const decoder = decoding.createDecoder(bytes);
    const type = decoding.readVarUint(decoder);
    if (type !== messageYjsSyncStep1 && type !== messageYjsSyncStep2 && type !== messageYjsUpdate) {
      return { type: 'malformed', detail: `unknown sync message type ${type}` };
    }
    const length = decoding.readVarUint(decoder);
    if (length > bytes.length - decoder.pos) {
      return { type: 'malformed', detail: `sync payload of ${length} bytes runs past the end of a ${bytes.length}-byte message` };
    }
    const payload = bytes.slice(decoder.pos, decoder.pos + length);
    decoder.pos += length;
    if (decoding.hasContent(decoder)) return { type: 'malformed', detail: `${bytes.length - decoder.pos} trailing bytes after the sync message` };
    return { type: type === messageYjsSyncStep1 ? 'step1' : type === messageYjsSyncStep2 ? 'step2' : 'update', payload };
  } catch (err) {
    return { type: 'malformed', detail: `sync message does not decode: ${(err as Error).message}` };
  }
}

/** One entry of an awareness update. */
export interface AwarenessEntry {
  /** The Yjs client id the state belongs to (`doc.clientID` of its owner). */
  readonly clientID: number;
  /** Logical clock of that client's state; a higher clock replaces a lower one. */
  readonly clock: number;
  /** The state (any JSON), or `null` when the client went away. */
  readonly state: unknown;
}

/**
 * Decodes an awareness update (y-protocols `awareness.js` layout) without applying it, to check
 * it before `applyAwarenessUpdate`. Never throws: bad bytes (truncated, not JSON, trailing
 * bytes, more than `maxEntries` entries) give a {@link MalformedReplicationMessage}.
 */
export function decodeAwarenessUpdate(bytes: Uint8Array, maxEntries = 1024): readonly AwarenessEntry[] | MalformedReplicationMessage {
  try {
    const decoder = decoding.createDecoder(bytes);
    const count = decoding.readVarUint(decoder);
    if (count > maxEntries) return { type: 'malformed', detail: `awareness update of ${count} entries, more than ${maxEntries}` };
    const entries: AwarenessEntry[] = [];
    for (let i = 0; i < count; i++) {
      const clientID = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      const json = decoding.readVarString(decoder);
      let state: unknown;
      try {
        state = JSON.parse(json);
      } catch {
        return { type: 'malformed', detail: `awareness state of client ${clientID} is not JSON` };
      }
      entries.push({ clientID, clock, state });
    }
    if (decoding.hasContent(decoder)) return { type: 'malformed', detail: 'trailing bytes after the awareness update' };
    return entries;
  } catch (err) {
    return { type: 'malformed', detail: `awareness update does not decode: ${(err as Error).message}` };
  }
}
