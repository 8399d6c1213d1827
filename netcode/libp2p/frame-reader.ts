/**
 * Reads it-length-prefixed frames from a libp2p 3 stream and says how the stream ended. A
 * length prefix over the limit cannot be skipped without reading the frame, so it ends the
 * stream (the caller aborts it and drops the frame as `Oversized`).
 */
import * as lp from 'it-length-prefixed';
import type { Stream } from '@libp2p/interface';

/** How {@link readFrames} finished. */
export type ReadEnd =
  /** The remote closed its side cleanly. */
  | { readonly kind: 'end' }
  /**
   * Bad framing: the stream is out of sync and must be aborted. `bytes`: the declared length
   * of the offending frame when known, else the bytes seen of it (at least 1).
   */
  | { readonly kind: 'bad'; readonly reason: 'Oversized' | 'Malformed'; readonly detail: string; readonly bytes: number }
  /** The stream or its connection failed (reset, closed, aborted): not the remote's bytes' fault. */
  | { readonly kind: 'failed'; readonly error: unknown };

/**
 * Calls `onFrame` with each frame's bytes (a view valid during the call) until the stream ends.
 * @param maxDataLength Largest frame accepted, bytes (payload plus envelope).
 */
export async function readFrames(stream: Stream, maxDataLength: number, onFrame: (frame: Uint8Array) => void): Promise<ReadEnd> {
  let declared = 0;
  try {
    const frames = lp.decode(stream, { maxDataLength, onLength: (length) => { declared = length; } });
    for await (const frame of frames) onFrame(frame.subarray());
    return { kind: 'end' };
  } catch (err) {
    const name = (err as { name?: unknown }).name;
    const bytes = Math.max(1, declared);
    if (name === 'InvalidDataLengthError') {
      return { kind: 'bad', reason: 'Oversized', detail: `frame of ${declared} bytes > ${maxDataLength}`, bytes };
    }
    if (name === 'InvalidDataLengthLengthError' || name === 'InvalidMessageLengthError') {
      return { kind: 'bad', reason: 'Malformed', detail: 'invalid length prefix', bytes };
    }
    if (name === 'UnexpectedEOFError') return { kind: 'bad', reason: 'Malformed', detail: 'stream ended inside a frame', bytes };
    return { kind: 'failed', error: err };
  }
}

/** Length-prefixes one frame for `stream.send`. */
export function frameBytes(frame: Uint8Array): Uint8Array {
  return lp.encode.single(frame).subarray();
}
