/**
 * The sync-test session (GGPO `backends/synctest.cpp`, GGRS `sessions/sync_test_session.rs`):
 * runs the game locally, every slot local, and from frame `startFrame + checkDistance` on makes
 * every call roll back `checkDistance` frames and re-simulate them. Each re-simulated state's
 * checksum is compared with the first one of the same frame: any difference means the game's
 * frame step is not a pure function of the saved state and the inputs (state outside
 * components, `Math.random`, wall-clock time, iteration order of a Set built elsewhere...).
 *
 * Requests of call `c` once `c - checkDistance >= startFrame` (otherwise `save(c), advance(c)`):
 *
 *     save(c)                                  the state as first simulated
 *     load(c - d), advance(c - d),
 *     save(c - d + 1), advance(c - d + 1), ... re-simulation, saving each state again
 *     save(c), advance(c)                      state c re-simulated, then the new frame
 *
 * so every state is saved once as first simulated and `checkDistance` more times re-simulated.
 * Comparisons happen inside {@link SyncTestSession.reportChecksum}, which returns `false` for a
 * state that differs: the engine still holds the first snapshot of that frame at that moment
 * and can diff the two (`diffSnapshots`) and hand the result to {@link SyncTestSession.attachDiff}
 * before storing the new one. {@link SyncTestSession.report} names the first bad frame and the
 * components that differ.
 *
 * @example
 * ```ts
 * const test = new SessionBuilder().withNumPlayers(2).startSyncTestSession(2);
 * for (let i = 0; i < 300; i++) {
 *   test.addLocalInput(0, bytesA); test.addLocalInput(1, bytesB);
 *   for (const r of test.advanceFrame().requests) {
 *     if (r.kind === 'save') {
 *       const snap = snapshot(world, scratch);
 *       if (!test.reportChecksum(r.frame, snap.checksum)) test.attachDiff(r.frame, diffSnapshots(world, ring.get(r.frame), snap));
 *       ring.put(r.frame, snap);
 *     } else if (r.kind === 'load') restore(world, ring.get(r.frame));
 *     else { applyInputs(world, r.inputs); scheduler.simulateTick(); }
 *   }
 * }
 * const report = test.report(); // report.ok, report.firstMismatch?.frame, .components
 * ```
 */
import type { SnapshotDifference } from '../../engine/index.ts';
import { NetcodeError } from '../errors.ts';
import { InputLog } from './input-log.ts';
import { MAX_INPUT_DELAY } from './p2p-session.ts';
import {
  MAX_EVENT_QUEUE,
  type AdvanceResult, type Frame, type PlayerInput, type SessionEvent, type SessionRequest, type SyncTestMismatch,
} from './types.ts';

/** Resolved settings of a sync-test session. */
export interface SyncTestSessionConfig {
  readonly numPlayers: number;
  readonly inputSize: number;
  readonly inputDelay: number;
  readonly startFrame: Frame;
  /** Frames rolled back on every call, >= 1. */
  readonly checkDistance: number;
}

/** What a sync test found so far. */
export interface SyncTestReport {
  /** No re-simulated state differed. */
  readonly ok: boolean;
  /** Re-simulated states compared with their first simulation. */
  readonly statesCompared: number;
  /** The earliest frame whose state differed, with its details. */
  readonly firstMismatch: SyncTestMismatch | undefined;
  /** Every frame that differed (first difference per frame), by frame. */
  readonly mismatches: readonly SyncTestMismatch[];
  /** One line for logs: `"ok: 1200 states compared"` or where and what differs. */
  readonly summary: string;
}

interface MutableMismatch {
  frame: Frame;
  firstChecksum: number;
  resimulatedChecksum: number;
  differences: readonly SnapshotDifference[] | undefined;
  components: readonly string[];
}

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/** A local session that rolls back every frame to catch non-determinism. Create it with `SessionBuilder.startSyncTestSession`. */
export class SyncTestSession {
  readonly numPlayers: number;
  readonly inputSize: number;
  readonly checkDistance: number;
  readonly startFrame: Frame;
  /** Saved frames the engine must keep for loads: `checkDistance + 2`. */
  readonly snapshotWindow: number;
  private frame: Frame;
  private readonly logs: InputLog[];
  private readonly delays: number[];
  private readonly pending: (Uint8Array | undefined)[];
  private readonly first = new Map<Frame, number>();
  private readonly found = new Map<Frame, MutableMismatch>();
  private readonly queue: SessionEvent[] = [];
  private compared = 0;
  private readonly zero: Uint8Array;

  /** @internal Use `SessionBuilder.startSyncTestSession`. */
  constructor(config: SyncTestSessionConfig) {
    this.numPlayers = config.numPlayers;
    this.inputSize = config.inputSize;
    this.checkDistance = config.checkDistance;
    this.startFrame = config.startFrame;
    this.snapshotWindow = config.checkDistance + 2;
    this.frame = config.startFrame;
    this.logs = Array.from({ length: config.numPlayers }, () => new InputLog(config.startFrame));
    this.delays = Array.from({ length: config.numPlayers }, () => config.inputDelay);
    this.pending = Array.from({ length: config.numPlayers }, () => undefined);
    this.zero = new Uint8Array(config.inputSize);
  }

  /** The next frame to advance. */
  get currentFrame(): Frame {
    return this.frame;
  }

  /** Every slot is local in a sync test: 0 .. numPlayers-1. */
  get localSlots(): readonly number[] {
    return this.logs.map((_, s) => s);
  }

  /**
   * Sets the input of `slot` for the next `advanceFrame` (used `inputDelay` frames later).
   * @throws NetcodeError `InvalidRequest` for a slot outside 0..numPlayers-1 or bytes that are not `inputSize` long.
   */
  addLocalInput(slot: number, bytes: Uint8Array): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.numPlayers) {
      throw new NetcodeError('InvalidRequest', `addLocalInput: slot ${slot} is not in 0..${this.numPlayers - 1}`, { slot });
    }
    if (!(bytes instanceof Uint8Array) || bytes.length !== this.inputSize) {
      throw new NetcodeError('InvalidRequest', `addLocalInput: slot ${slot} input must be a Uint8Array of ${this.inputSize} bytes`, { slot });
    }
    this.pending[slot] = bytes.slice();
  }

  /** Changes the input delay of one slot or all, frames (same rules as the P2P session). @throws NetcodeError `InvalidRequest`. */
  setInputDelay(frames: number, slot?: number): void {
    if (!Number.isInteger(frames) || frames < 0 || frames > MAX_INPUT_DELAY) {
      throw new NetcodeError('InvalidRequest', `setInputDelay: frames must be an integer in [0, ${MAX_INPUT_DELAY}], got ${frames}`, { frames });
    }
    if (slot !== undefined && (!Number.isInteger(slot) || slot < 0 || slot >= this.numPlayers)) {
      throw new NetcodeError('InvalidRequest', `setInputDelay: slot ${slot} is not in 0..${this.numPlayers - 1}`, { slot });
    }
    for (let s = 0; s < this.numPlayers; s++) if (slot === undefined || s === slot) this.delays[s] = frames;
  }

  /**
   * Returns the requests of one frame (see the module doc). Always `'advanced'`.
   * @throws NetcodeError `InvalidRequest` when a slot has no input.
   */
  advanceFrame(localInputs?: Readonly<Record<number, Uint8Array>>): AdvanceResult {
    if (localInputs !== undefined) for (const key of Object.keys(localInputs)) this.addLocalInput(Number(key), localInputs[Number(key)]!);
    for (let s = 0; s < this.numPlayers; s++) {
      if (this.pending[s] === undefined) {
        throw new NetcodeError('InvalidRequest', `advanceFrame: no input for slot ${s} at frame ${this.frame} (a sync test needs every slot's input)`, { slot: s, frame: this.frame });
      }
    }
    for (let s = 0; s < this.numPlayers; s++) {
      const log = this.logs[s]!;
      const target = this.frame + this.delays[s]!;
      if (target > log.lastFrame) {
        while (log.lastFrame + 1 < target) log.push(log.lastBytes ?? this.zero);
        log.push(this.pending[s]!);
      }
    }
    this.pending.fill(undefined);
    const c = this.frame;
    const d = this.checkDistance;
    const requests: SessionRequest[] = [];
    if (c - d >= this.startFrame) {
      requests.push({ kind: 'save', frame: c });
      requests.push({ kind: 'load', frame: c - d });
      for (let f = c - d; f < c; f++) {
        if (f > c - d) requests.push({ kind: 'save', frame: f });
        requests.push({ kind: 'advance', frame: f, inputs: this.inputsFor(f) });
      }
    }
    requests.push({ kind: 'save', frame: c });
    requests.push({ kind: 'advance', frame: c, inputs: this.inputsFor(c) });
    this.frame++;
    const keep = this.frame - d - 1;
    for (const log of this.logs) log.prune(keep);
    for (const f of this.first.keys()) if (f < keep) this.first.delete(f);
    return { status: 'advanced', requests, frame: this.frame };
  }

  /**
   * Reports the checksum of a state just saved. The first report of a frame is its reference;
   * later ones are compared with it.
   * @returns `false` when this state differs from the first simulation of `frame` (recorded as a
   *   mismatch and queued as a `syncTestMismatch` event), else `true`.
   */
  reportChecksum(frame: Frame, checksum: number): boolean {
    const c = checksum >>> 0;
    const ref = this.first.get(frame);
    if (ref === undefined) {
      this.first.set(frame, c);
      return true;
    }
    this.compared++;
    if (ref === c) return true;
    if (!this.found.has(frame)) {
      const m: MutableMismatch = { frame, firstChecksum: ref, resimulatedChecksum: c, differences: undefined, components: [] };
      this.found.set(frame, m);
      this.queue.push({ kind: 'syncTestMismatch', mismatch: m });
      if (this.queue.length > MAX_EVENT_QUEUE) this.queue.shift();
    }
    return false;
  }

  /**
   * Attaches field-level differences (e.g. `diffSnapshots(world, first, resimulated)`) to the
   * mismatch of `frame`, so the report names the components. Ignored for a frame without a
   * mismatch, and for a frame that already has a diff (the first one is kept).
   */
  attachDiff(frame: Frame, differences: readonly SnapshotDifference[]): void {
    const m = this.found.get(frame);
    // Keep the first diff: later re-simulations of a frame are compared with states that may
    // already be re-simulated themselves, so only the first names what differs from the reference.
    if (m === undefined || m.differences !== undefined) return;
    m.differences = differences;
    m.components = [...new Set(differences.map((d) => d.component))].sort();
  }

  /** The findings so far. */
  report(): SyncTestReport {
    const mismatches = [...this.found.values()].sort((a, b) => a.frame - b.frame).map((m) => ({ ...m }) as SyncTestMismatch);
    const firstMismatch = mismatches[0];
    let summary = `ok: ${this.compared} re-simulated states matched their first simulation`;
    if (firstMismatch !== undefined) {
      const where = firstMismatch.components.length > 0 ? `; differing: ${firstMismatch.components.join(', ')}` : '';
      const fields = (firstMismatch.differences ?? []).slice(0, 5).map((x) => `${x.component}.${x.field}[${x.eid}] ${x.a} vs ${x.b}`).join('; ');
      summary = `non-deterministic: the state of frame ${firstMismatch.frame} (after advancing frame ${firstMismatch.frame - 1}) differs on re-simulation `
        + `(${hex(firstMismatch.firstChecksum)} first, ${hex(firstMismatch.resimulatedChecksum)} re-simulated)${where}${fields ? ` (${fields})` : ''}; `
        + `${mismatches.length} frame(s) differ`;
    }
    return { ok: mismatches.length === 0, statesCompared: this.compared, firstMismatch, mismatches, summary };
  }

  /** Returns and clears the queued events (`syncTestMismatch`). */
  drainEvents(): SessionEvent[] {
    return this.queue.splice(0, this.queue.length);
  }

  private inputsFor(f: Frame): PlayerInput[] {
    return this.logs.map((log) => ({ bytes: log.get(f) ?? this.zero, status: 'confirmed' as const }));
  }
}
