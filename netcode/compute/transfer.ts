/**
 * Chunked, acknowledged transfer of one byte buffer over a reliable ordered channel: the sender
 * keeps at most `windowBytes` unacknowledged and sends pieces of at most `chunkBytes`; the
 * receiver allocates the announced size once (its caller checks the size against its limit
 * first), accepts pieces only in order and within bounds, and acknowledges the total received.
 * Pure state: the caller sends the messages (room compute's `data` and `ack`).
 *
 * @example
 * ```ts
 * const out = new OutgoingTransfer(bytes, 16 * 1024, 256 * 1024);
 * for (const piece of out.take()) send({ type: 'data', offset: piece.offset, bytes: piece.bytes });
 * // on each ack: out.ack(received) === undefined, then out.take() again
 * const inc = new IncomingTransfer(total);
 * inc.add(offset, bytes); // undefined, or why the piece is wrong
 * ```
 */

/** One piece to send: `bytes` is a view of the sender's buffer at `offset`. */
export interface TransferPiece {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/** Sending side of one transfer. */
export class OutgoingTransfer {
  /** Bytes handed out by {@link take}. */
  sent = 0;
  /** Bytes the receiver acknowledged. */
  acked = 0;

  /**
   * @param bytes what to send (not copied: keep it unchanged until done).
   * @param chunkBytes largest piece, bytes, integer >= 1.
   * @param windowBytes most bytes sent and not acknowledged, integer >= chunkBytes.
   */
  constructor(readonly bytes: Uint8Array, readonly chunkBytes: number, readonly windowBytes: number) {}

  /** Whether every byte was acknowledged. */
  get done(): boolean {
    return this.acked === this.bytes.length;
  }

  /** The pieces the window allows now, in order (marks them sent). */
  take(): TransferPiece[] {
    const out: TransferPiece[] = [];
    while (this.sent < this.bytes.length && this.sent - this.acked < this.windowBytes) {
      const end = Math.min(this.bytes.length, this.sent + this.chunkBytes, this.acked + this.windowBytes);
      out.push({ offset: this.sent, bytes: this.bytes.subarray(this.sent, end) });
      this.sent = end;
    }
    return out;
  }

  /**
   * Records an acknowledgement of `received` bytes in all.
   * @returns undefined, or why it is impossible (fewer than already acknowledged, more than sent).
   */
  ack(received: number): string | undefined {
    if (received < this.acked || received > this.sent) return `acknowledges ${received} bytes, ${this.acked} were acknowledged and ${this.sent} sent`;
    this.acked = received;
    return undefined;
  }
}

/** Receiving side of one transfer: the whole buffer, allocated once. */
export class IncomingTransfer {
  readonly buffer: Uint8Array;
  received = 0;

  /** @param total announced size, bytes; the caller checked it against its limit. */
  constructor(total: number) {
    this.buffer = new Uint8Array(total);
  }

  /** Whether every byte arrived. */
  get complete(): boolean {
    return this.received === this.buffer.length;
  }

  /**
   * Adds the piece `bytes` at `offset`.
   * @returns undefined, or why the piece is wrong (not at the next offset, empty, past the end).
   */
  add(offset: number, bytes: Uint8Array): string | undefined {
    if (offset !== this.received) return `piece at offset ${offset}, expected ${this.received}`;
    if (bytes.length === 0) return `empty piece at offset ${offset}`;
    if (offset + bytes.length > this.buffer.length) return `piece ends at ${offset + bytes.length}, past the announced ${this.buffer.length} bytes`;
    this.buffer.set(bytes, offset);
    this.received += bytes.length;
    return undefined;
  }
}
