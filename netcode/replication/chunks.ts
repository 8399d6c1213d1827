/**
 * Chunking of replication messages larger than the transport's frame limit (`maxFrameBytes`,
 * 64 KiB by default): a big sync step 2 (a late joiner's whole document) or a big update is cut
 * into chunks sent on their own channel and put back together by the receiver, whose memory for
 * unfinished messages is bounded.
 *
 * Chunk layout (lib0 varuints, 7 bits per byte):
 *
 * | field | type | meaning |
 * |---|---|---|
 * | kind | varuint | what the whole message is: 0 a sync message (`yjs/sync`), 1 an awareness update (`yjs/awareness`) |
 * | id | varuint | message id, per sender, counting up from 0 (wraps at 2^32) |
 * | index | varuint | chunk number, 0 .. count - 1 |
 * | count | varuint | chunks in the message, >= 1 |
 * | total | varuint | bytes of the whole message |
 * | data | rest | this chunk's bytes (at least 1) |
 *
 * The header takes at most {@link CHUNK_HEADER_MAX_BYTES}. Chunks are sent with the transport's
 * reliable `send`, so they arrive in order, but the receiver accepts any order.
 *
 * @example
 * ```ts
 * const chunks = encodeChunks(CHUNK_KIND_SYNC, 7, bigMessage, room.maxFrameBytes);
 * for (const c of chunks) room.send(peer, 'yjs/chunk', c);
 * // receiver
 * const r = reassembler.accept(from, bytes); // { kind: 'complete', message } once all arrived
 * ```
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type { Clock } from '../transport/clock.ts';
import type { PeerId } from '../transport/types.ts';

/** Most bytes a chunk header takes: five varuints of at most 5 bytes each, rounded up. */
export const CHUNK_HEADER_MAX_BYTES = 32;
/** Chunk kind: the reassembled bytes are a y-protocols sync message. */
export const CHUNK_KIND_SYNC = 0;
/** Chunk kind: the reassembled bytes are a y-protocols awareness update. */
export const CHUNK_KIND_AWARENESS = 1;

/** Kind of a chunked message: {@link CHUNK_KIND_SYNC} or {@link CHUNK_KIND_AWARENESS}. */
export type ChunkKind = typeof CHUNK_KIND_SYNC | typeof CHUNK_KIND_AWARENESS;

/** A decoded chunk. */
export interface Chunk {
  readonly kind: ChunkKind;
  readonly id: number;
  readonly index: number;
  readonly count: number;
  readonly total: number;
  /** This chunk's bytes (a view into the received message). */
  readonly data: Uint8Array;
}

/**
 * Cuts `message` into chunks of at most `maxFrameBytes` bytes each, header included.
 * @param id message id (u32), unique among the sender's chunked messages in flight.
 * @throws RangeError when `maxFrameBytes` leaves no room for data after the header.
 */
export function encodeChunks(kind: ChunkKind, id: number, message: Uint8Array, maxFrameBytes: number): Uint8Array[] {
  const room = maxFrameBytes - CHUNK_HEADER_MAX_BYTES;
  if (!(room >= 1)) throw new RangeError(`maxFrameBytes ${maxFrameBytes} is too small for chunks (header up to ${CHUNK_HEADER_MAX_BYTES} bytes)`);
  const count = Math.max(1, Math.ceil(message.length / room));
  const chunks: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, kind);
    encoding.writeVarUint(encoder, id >>> 0);
    encoding.writeVarUint(encoder, index);
    encoding.writeVarUint(encoder, count);
    encoding.writeVarUint(encoder, message.length);
    encoding.writeUint8Array(encoder, message.subarray(index * room, Math.min(message.length, (index + 1) * room)));
    chunks.push(encoding.toUint8Array(encoder));
  }
  return chunks;
}

/** Decodes a chunk's header. Never throws: bad bytes give `{ kind: 'malformed', detail }`. */
export function decodeChunk(bytes: Uint8Array): Chunk | { readonly kind: 'malformed'; readonly detail: string } {
  try {
    const decoder = decoding.createDecoder(bytes);
    const kind = decoding.readVarUint(decoder);
    const id = decoding.readVarUint(decoder);
    const index = decoding.readVarUint(decoder);
    const count = decoding.readVarUint(decoder);
    const total = decoding.readVarUint(decoder);
    if (kind !== CHUNK_KIND_SYNC && kind !== CHUNK_KIND_AWARENESS) return { kind: 'malformed', detail: `unknown chunk kind ${kind}` };
    if (id > 0xffffffff) return { kind: 'malformed', detail: `chunk message id ${id} is not a u32` };
    if (count < 1 || index >= count) return { kind: 'malformed', detail: `chunk ${index} of ${count}` };
    if (total < count) return { kind: 'malformed', detail: `${count} chunks cannot carry ${total} bytes (each carries at least 1)` };
    const data = bytes.subarray(decoder.pos);
    if (data.length === 0) return { kind: 'malformed', detail: 'empty chunk' };
    return { kind: kind as ChunkKind, id, index, count, total, data };
  } catch (err) {
    return { kind: 'malformed', detail: `chunk header does not decode: ${(err as Error).message}` };
  }
}

/** Limits of a {@link Reassembler}. */
export interface ReassemblyLimits {
  /** Largest whole message, bytes. A chunk announcing more is dropped `Oversized`. */
  readonly maxMessageBytes: number;
  /** Most unfinished messages from one peer at once; more are dropped `ChunkLimit`. */
  readonly maxMessagesPerPeer: number;
  /**
   * Most bytes reserved by unfinished messages of all peers together (each reserves its
   * announced `total` at its first chunk); a message that does not fit is dropped `ChunkLimit`.
   */
  readonly maxTotalBytes: number;
  /** An unfinished message is discarded this long after its first chunk, ms (dropped `ChunkExpired`). */
  readonly timeoutMs: number;
}

/** What {@link Reassembler.accept} made of a chunk. */
export type ReassemblyResult =
  | { readonly kind: 'pending' }
  | { readonly kind: 'complete'; readonly chunkKind: ChunkKind; readonly message: Uint8Array }
  | { readonly kind: 'drop'; readonly reason: 'Malformed' | 'Oversized' | 'ChunkLimit' | 'Duplicate'; readonly detail: string };

interface Unfinished {
  readonly from: PeerId;
  readonly kind: ChunkKind;
  readonly count: number;
  readonly total: number;
  readonly parts: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
  readonly cancelTimer: () => void;
}

/**
 * Puts chunked messages back together, per sender, within {@link ReassemblyLimits}. Memory is
 * bounded by reserving each message's announced size up front: at most `maxTotalBytes` in all,
 * `maxMessagesPerPeer` messages per peer, each at most `maxMessageBytes`. A message whose
 * chunks disagree (kind, count or total), overflow the announced total, or fall short of it is
 * discarded whole and dropped `Malformed`.
 */
export class Reassembler {
  private readonly partials = new Map<string, Unfinished>();
  private readonly perPeer = new Map<PeerId, number>();
  private reserved = 0;

  /**
   * @param onExpired called when an unfinished message times out (with its sender and reserved bytes).
   */
  constructor(
    private readonly limits: ReassemblyLimits,
    private readonly clock: Clock,
    private readonly onExpired: (from: PeerId, total: number, detail: string) => void,
  ) {}

  /** Bytes reserved by unfinished messages now. */
  get reservedBytes(): number {
    return this.reserved;
  }

  /** Unfinished messages now. */
  get pending(): number {
    return this.partials.size;
  }

  /** Takes one chunk's bytes from `from`. Never throws. */
  accept(from: PeerId, bytes: Uint8Array): ReassemblyResult {
    const chunk = decodeChunk(bytes);
    if (chunk.kind === 'malformed') return { kind: 'drop', reason: 'Malformed', detail: chunk.detail };
    if (chunk.total > this.limits.maxMessageBytes) {
      return { kind: 'drop', reason: 'Oversized', detail: `chunked message of ${chunk.total} bytes exceeds maxMessageBytes ${this.limits.maxMessageBytes}` };
    }
    const key = `${from}\u0000${chunk.kind}\u0000${chunk.id}`;
    let p = this.partials.get(key);
    if (p === undefined) {
      if (chunk.count === 1) {
        if (chunk.data.length !== chunk.total) return { kind: 'drop', reason: 'Malformed', detail: `single chunk of ${chunk.data.length} bytes announces ${chunk.total}` };
        return { kind: 'complete', chunkKind: chunk.kind, message: chunk.data.slice() };
      }
      const mine = this.perPeer.get(from) ?? 0;
      if (mine >= this.limits.maxMessagesPerPeer) {
        return { kind: 'drop', reason: 'ChunkLimit', detail: `${from} already has ${mine} chunked messages in flight (max ${this.limits.maxMessagesPerPeer})` };
      }
      if (this.reserved + chunk.total > this.limits.maxTotalBytes) {
        return { kind: 'drop', reason: 'ChunkLimit', detail: `reassembly budget full: ${this.reserved} + ${chunk.total} bytes > ${this.limits.maxTotalBytes}` };
      }
      const cancelTimer = this.clock.schedule(this.clock.now() + this.limits.timeoutMs, () => {
        if (this.partials.get(key) !== p) return;
        this.discard(key);
        this.onExpired(from, p!.total, `chunked message ${chunk.id} from ${from} unfinished after ${this.limits.timeoutMs} ms (${p!.received}/${p!.count} chunks)`);
      });
      p = { from, kind: chunk.kind, count: chunk.count, total: chunk.total, parts: new Array(chunk.count), received: 0, bytes: 0, cancelTimer };
      this.partials.set(key, p);
      this.perPeer.set(from, mine + 1);
      this.reserved += chunk.total;
    }
    if (chunk.count !== p.count || chunk.total !== p.total) {
      this.discard(key);
      return { kind: 'drop', reason: 'Malformed', detail: `chunk ${chunk.index} of message ${chunk.id} disagrees with its first chunk (count/total)` };
    }
    if (p.parts[chunk.index] !== undefined) return { kind: 'drop', reason: 'Duplicate', detail: `chunk ${chunk.index} of message ${chunk.id} from ${from} again` };
    if (p.bytes + chunk.data.length > p.total) {
      this.discard(key);
      return { kind: 'drop', reason: 'Malformed', detail: `chunks of message ${chunk.id} exceed its announced ${p.total} bytes` };
    }
    p.parts[chunk.index] = chunk.data.slice();
    p.received++;
    p.bytes += chunk.data.length;
    if (p.received < p.count) return { kind: 'pending' };
    this.discard(key);
    if (p.bytes !== p.total) return { kind: 'drop', reason: 'Malformed', detail: `message ${chunk.id} has ${p.bytes} bytes, announced ${p.total}` };
    const message = new Uint8Array(p.total);
    let at = 0;
    for (const part of p.parts) {
      message.set(part!, at);
      at += part!.length;
    }
    return { kind: 'complete', chunkKind: p.kind, message };
  }

  /** Discards every unfinished message of `from` (it left). */
  dropPeer(from: PeerId): void {
    for (const [key, p] of [...this.partials]) if (p.from === from) this.discard(key);
  }

  /** Discards everything. */
  clear(): void {
    for (const key of [...this.partials.keys()]) this.discard(key);
  }

  private discard(key: string): void {
    const p = this.partials.get(key);
    if (p === undefined) return;
    this.partials.delete(key);
    p.cancelTimer();
    this.reserved -= p.total;
    const left = (this.perPeer.get(p.from) ?? 1) - 1;
    if (left <= 0) this.perPeer.delete(p.from);
    else this.perPeer.set(p.from, left);
  }
}
