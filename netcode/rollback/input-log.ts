/**
 * The inputs of one player slot: consecutive frames without gaps, oldest pruned once no one
 * needs them. Inputs arrive in frame order (local ones as they are sampled, remote ones as their
 * packets are decoded), so a log is an array plus the frame of its first element.
 */
import type { Frame } from './types.ts';

/** Consecutive inputs of one slot, frames `first .. last`. */
export class InputLog {
  private items: Uint8Array[] = [];
  /** Frame of `items[0]`. */
  private first: Frame;
  /** The newest input, kept across pruning (it is the prediction for later frames). */
  private newest: Uint8Array | undefined;

  /** @param startFrame the frame the first input will be for. */
  constructor(startFrame: Frame) {
    this.first = startFrame;
  }

  /** Newest frame held, or `startFrame - 1` (-1 for start 0) before any input. */
  get lastFrame(): Frame {
    return this.first + this.items.length - 1;
  }

  /** Oldest frame still held (`lastFrame + 1` when empty). */
  get firstFrame(): Frame {
    return this.first;
  }

  /** The newest input, or `undefined` before any. */
  get lastBytes(): Uint8Array | undefined {
    return this.newest;
  }

  /** Whether frame `f` is held. */
  has(f: Frame): boolean {
    return f >= this.first && f <= this.lastFrame;
  }

  /** The input of frame `f`, or `undefined` when not held. */
  get(f: Frame): Uint8Array | undefined {
    return f >= this.first && f <= this.lastFrame ? this.items[f - this.first] : undefined;
  }

  /** Appends the input of frame `lastFrame + 1` (kept by reference: never mutate it afterwards). */
  push(bytes: Uint8Array): void {
    this.items.push(bytes);
    this.newest = bytes;
  }

  /** Forgets frames older than `frame`, keeping at least the newest input. */
  prune(frame: Frame): void {
    const drop = Math.min(frame - this.first, this.items.length - 1);
    if (drop <= 0) return;
    this.items.splice(0, drop);
    this.first += drop;
  }
}
