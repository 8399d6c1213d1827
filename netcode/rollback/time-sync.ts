/**
 * Frame-advantage averaging for time synchronization (GGPO `src/lib/ggpo/timesync.cpp`, GGRS
 * `src/time_sync.rs`).
 *
 * Per remote peer, every frame records two estimates, in frames:
 * - local advantage: how far the peer is ahead of this peer (its last reported frame, projected
 *   forward by half the round trip, minus our frame). Negative when we are ahead.
 * - remote advantage: the same figure as the peer computed it about us (from its quality
 *   reports). Positive when we are ahead.
 *
 * Averaged over the last {@link FRAME_WINDOW_SIZE} frames, `(remote - local) / 2` is how many
 * frames we are ahead of that peer; the two peers "meet in the middle". Example: we run 6 frames
 * ahead, so local = -6 and remote = +6, and the average advantage is 6: if we skip 6 frames
 * (or slow down), the two peers are level again.
 */

/** Frames averaged (GGPO timesync.h `FRAME_WINDOW_SIZE`; GGRS uses 30). */
export const FRAME_WINDOW_SIZE = 40;
/** Smallest advantage worth a wait recommendation, frames (GGPO `MIN_FRAME_ADVANTAGE`, GGRS `MIN_RECOMMENDATION`). */
export const MIN_FRAME_ADVANTAGE = 3;
/** Largest wait recommended at once, frames (GGPO `MAX_FRAME_ADVANTAGE`). */
export const MAX_FRAME_ADVANTAGE = 9;

/** The averaging window of one remote peer. */
export class TimeSync {
  private readonly local = new Int32Array(FRAME_WINDOW_SIZE);
  private readonly remote = new Int32Array(FRAME_WINDOW_SIZE);

  /** Records the two estimates for `frame` (a frame recorded twice keeps the later values). */
  record(frame: number, localAdvantage: number, remoteAdvantage: number): void {
    const i = ((frame % FRAME_WINDOW_SIZE) + FRAME_WINDOW_SIZE) % FRAME_WINDOW_SIZE;
    this.local[i] = localAdvantage;
    this.remote[i] = remoteAdvantage;
  }

  /** Frames we are ahead of the peer, averaged over the window, truncated toward zero. */
  averageFrameAdvantage(): number {
    let l = 0, r = 0;
    for (let i = 0; i < FRAME_WINDOW_SIZE; i++) {
      l += this.local[i]!;
      r += this.remote[i]!;
    }
    return Math.trunc((r / FRAME_WINDOW_SIZE - l / FRAME_WINDOW_SIZE) / 2);
  }
}
