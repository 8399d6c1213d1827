/**
 * Messages from peers that are not (yet) members of the room. A member's first frames can
 * overtake its presence announcement (they travel different paths), so they wait here for up
 * to `graceMs`; if the sender's presence arrives they are delivered in order after its
 * `peer:join`, otherwise they are dropped as `NotInRoom`. Bounded per sender and in senders.
 */

/** One held message. */
export interface PendingMessage {
  readonly channel: string;
  readonly data: Uint8Array;
  readonly broadcast: boolean;
  /** When it arrived, ms (the clock given to {@link PendingMessages.add}). */
  readonly at: number;
}

/** Most bytes held for one sender. */
export const MAX_PENDING_BYTES_PER_PEER = 1024 * 1024;
/** Most senders held at once. */
export const MAX_PENDING_PEERS = 64;

export class PendingMessages {
  private readonly byPeer = new Map<string, { messages: PendingMessage[]; bytes: number }>();

  /** @param graceMs How long a message may wait for its sender to become a member, ms. */
  constructor(private readonly graceMs: number) {}

  /**
   * Holds a message from non-member `from`.
   * @returns false when it cannot be held (limits): the caller drops it as `NotInRoom`.
   */
  add(from: string, message: PendingMessage): boolean {
    let entry = this.byPeer.get(from);
    if (entry === undefined) {
      if (this.byPeer.size >= MAX_PENDING_PEERS) return false;
      entry = { messages: [], bytes: 0 };
      this.byPeer.set(from, entry);
    }
    if (entry.bytes + message.data.length > MAX_PENDING_BYTES_PER_PEER) return false;
    entry.messages.push(message);
    entry.bytes += message.data.length;
    return true;
  }

  /** Removes and returns everything held for `from`, oldest first. */
  take(from: string): PendingMessage[] {
    const entry = this.byPeer.get(from);
    this.byPeer.delete(from);
    return entry?.messages ?? [];
  }

  /** Removes and returns messages older than the grace period at time `now` (ms). */
  expire(now: number): Array<{ from: string; message: PendingMessage }> {
    const out: Array<{ from: string; message: PendingMessage }> = [];
    for (const [from, entry] of this.byPeer) {
      while (entry.messages.length > 0 && now - entry.messages[0].at > this.graceMs) {
        const message = entry.messages.shift()!;
        entry.bytes -= message.data.length;
        out.push({ from, message });
      }
      if (entry.messages.length === 0) this.byPeer.delete(from);
    }
    return out;
  }

  /** Forgets everything. */
  clear(): void {
    this.byPeer.clear();
  }
}
