/**
 * Compute shared across the peers of a room: a peer submits a task (a kernel NAME from the
 * registry every peer shares, and input bytes; never code), room compute runs it on a capable
 * peer (or on the requester), brings the result back over the transport and verifies it.
 * It knows kernels only by name and bytes: the executor, the validator and the output limit
 * are injected (`createNode` wires the shaders registry, a worker pool and the GPU backend).
 *
 * - Presence: every peer tells the others its {@link ComputeCapability} (WebGPU present,
 *   adapter, slots) and how many runs it executes: unicast to every member when it starts (asking
 *   for theirs back) and to each newcomer, and again to every member when its load changes (at
 *   most every `presenceIntervalMs`). Presence goes by reliable `send`, not best-effort
 *   `broadcast`: on the compute channel it stays ordered with results, so a requester never
 *   reads an old load after the result that ended it.
 * - Scheduling: a run goes to the capable peer (presence seen, `slots > 0`, not excluded, has
 *   not refused the kernel as unknown, has not run this task before) with the most free slots
 *   (`slots` minus its estimated load: what others run there plus our runs), ties broken
 *   round-robin in peer id order: deterministic for a given history. With `local: 'worker'` the
 *   requester competes with its own slots. When every capable peer is busy the task waits in
 *   order of submission. The requester is the last resort (see {@link LocalRole}).
 * - Transfer: the input and a result travel in pieces of at most `chunkBytes`, at most
 *   `windowBytes` unacknowledged (`transfer.ts`), so they may exceed one transport frame. Sizes
 *   are checked before anything is allocated: inputs against `maxInputBytes` (and the buffered
 *   total), results against the kernel's `maxOutputBytes`.
 * - Time-outs and reassignment: a run whose worker leaves the room, is silent for `timeoutMs`,
 *   refuses, or sends a malformed result goes to another peer (a `reassigned` event); after
 *   `maxAttempts` remote runs the requester computes the task itself, or the task fails.
 * - Verification ({@link VerifyMode}): SHA-256 of results; `replicate` has a second peer send
 *   the hash of its output, `spot-check` recomputes a seeded share locally. A peer whose result
 *   differs gets a strike (`mismatch`); at `maxStrikes` it is excluded (`excluded`) and its
 *   runs go elsewhere.
 * - Serving: runs from peers are refused with a reason sent back (`refused`, counted) for an
 *   unknown kernel, an oversized input, an input the validator rejects, too many runs from one
 *   peer or too many buffered input bytes; otherwise they wait for a free slot and run. Bad
 *   bytes are counted and reported as `drop`, never thrown.
 *
 * Wire format: `protocol.ts`. Misuse throws `NetcodeError` (`InvalidConfig` for options,
 * `InvalidRequest` for a task the local validator refuses, `Closed` after `close()`); a task
 * that cannot complete rejects with `ComputeFailed` (`data.reason`: `Attempts`, `NoWorker`,
 * `Failed`, `Cancelled`, `Closed`).
 *
 * @example
 * ```ts
 * import { getKernel, prepareKernelTask, runKernel, encodeTerrainChunkInput } from 'peercompute/shaders';
 * const backend = await acquireCompute();
 * const compute = createRoomCompute(room, {
 *   capability: { webgpu: backend.kind === 'webgpu', adapter: backend.kind === 'webgpu' ? backend.adapterName : '', slots: 2 },
 *   execute: (kernel, input) => runKernel(backend, kernel, input),
 *   validate: (kernel, input) => void prepareKernelTask(kernel, input),
 *   maxOutputBytes: (kernel) => getKernel(kernel)?.maxOutputBytes,
 *   verify: 'spot-check',
 * });
 * const bytes = await compute.submit('terrain.chunk', encodeTerrainChunkInput({ seed: 7, chunkX: 3, chunkZ: -1 }));
 * const heights = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
 * ```
 */
import { NetcodeError } from '../errors.ts';
import { RealClock, type Clock } from '../transport/clock.ts';
import { Emitter } from '../transport/emitter.ts';
import type { MessageEvent, PeerId, RoomTransport } from '../transport/types.ts';
import { equalBytes, sha256, spotCheckDraw, toHex } from './hash.ts';
import {
  clipDetail, COMPUTE_PROTOCOL_VERSION, COMPUTE_REFUSALS, decodeComputeMessage, encodeComputeMessage, MAX_ADAPTER_BYTES,
  MAX_COMPUTE_BYTES, MAX_SLOTS,
  type ComputeMessage, type ComputeRefusal, type ResultMode, type TransferPart,
} from './protocol.ts';
import { IncomingTransfer, OutgoingTransfer } from './transfer.ts';
import {
  COMPUTE_DROP_REASONS, DATA_HEADER_BYTES, DEFAULT_COMPUTE_CHANNEL, DEFAULT_COMPUTE_CHUNK_BYTES, DEFAULT_COMPUTE_TIMEOUT_MS,
  DEFAULT_COMPUTE_WINDOW_BYTES, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_BUFFERED_INPUT_BYTES, DEFAULT_MAX_INPUT_BYTES,
  DEFAULT_COMPUTE_PREFETCH, DEFAULT_MAX_STRIKES, DEFAULT_MAX_TASKS_PER_PEER, DEFAULT_PRESENCE_INTERVAL_MS, DEFAULT_SPOT_CHECK_RATE,
  type AdvertisedCapability, type ComputeCapability, type ComputeDropReason, type ComputeExecutor, type ComputePeerInfo,
  type LocalRole, type RoomComputeEvents, type RoomComputeOptions, type RoomComputeStats, type RunFailure, type SubmitOptions,
  type VerifyMode,
} from './types.ts';

/** Why a task failed: `data.reason` of its `ComputeFailed` error. */
export type ComputeFailure = 'Attempts' | 'NoWorker' | 'Failed' | 'Cancelled' | 'Closed';

/** Compute shared across a room's peers (see the module doc). */
export interface RoomCompute {
  readonly localPeerId: PeerId;
  /**
   * Runs `kernel` on `input` somewhere in the room and resolves with its output (a fresh array
   * owned by the caller), verified as `options.verify` says.
   * @throws NetcodeError `InvalidRequest` (synchronously) when the local validator refuses the
   *   task or the input exceeds `maxInputBytes`; `Closed` after `close()`.
   * @returns rejects with NetcodeError `ComputeFailed` (`data.reason` a {@link ComputeFailure},
   *   `data.taskId`, `data.kernel`) when the task cannot complete.
   */
  submit(kernel: string, input: Uint8Array, options?: SubmitOptions): Promise<Uint8Array>;
  /** Every remote peer we know of, sorted by id: members now, and excluded peers that left. */
  peers(): readonly ComputePeerInfo[];
  /** Our own advertised capability, with our current load. */
  capability(): AdvertisedCapability;
  /**
   * Changes what we offer (e.g. `slots` when the page goes to the background) and tells the
   * room. @throws NetcodeError `InvalidConfig` for an invalid value.
   */
  setCapability(change: Partial<ComputeCapability>): void;
  stats(): RoomComputeStats;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof RoomComputeEvents>(event: K, handler: (e: RoomComputeEvents[K]) => void): () => void;
  /**
   * Stops: pending tasks reject `ComputeFailed` `Closed`, our remote runs are cancelled, runs of
   * others are refused `Closed` and aborted, and we advertise 0 slots. The transport stays open.
   * Idempotent.
   */
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// State

interface Result {
  readonly peer: PeerId;
  readonly local: boolean;
  /** The output (bytes-mode runs). */
  readonly bytes: Uint8Array | undefined;
  /** SHA-256 of the output; undefined when no verification needs it. */
  readonly hash: Uint8Array | undefined;
}

interface Task {
  readonly id: number;
  readonly kernel: string;
  readonly input: Uint8Array;
  readonly verify: VerifyMode;
  readonly maxOutputBytes: number;
  /** Selected by the seeded draw for a spot check. */
  readonly spot: boolean;
  readonly resolve: (bytes: Uint8Array) => void;
  readonly reject: (error: NetcodeError) => void;
  /** Runs in progress (checks included). */
  readonly runs: Set<Run>;
  /** Peers (and our own id) that got a run of this task: a task never runs twice on one peer. */
  readonly tried: Set<PeerId>;
  readonly results: Result[];
  /** Remote runs started. */
  attempts: number;
  /** A local check run was started (spot check or mismatch decider). */
  checking: boolean;
  /** The peer whose first result this task's check verifies (it gets no other work meanwhile). */
  probation: PeerId | undefined;
  /** Since when the task waits with no capable peer at all (`local: 'verify-only'`), ms; NaN when not. */
  waitingSince: number;
  done: boolean;
  detachSignal: () => void;
}

interface Run {
  readonly id: number;
  readonly task: Task;
  readonly peer: PeerId;
  readonly local: boolean;
  readonly mode: ResultMode;
  /** A local recomputation for verification (no slot, no attempt). */
  readonly check: boolean;
  phase: 'sending' | 'waiting' | 'receiving' | 'hashing';
  input: OutgoingTransfer | undefined;
  result: IncomingTransfer | undefined;
  /** Clock time after which a silent remote run times out, ms. */
  deadline: number;
  abort: AbortController | undefined;
}

interface RemotePeer {
  readonly id: PeerId;
  present: boolean;
  capability: AdvertisedCapability | undefined;
  /** Load of other requesters on it, estimated at its last presence. */
  othersLoad: number;
  /** Our remote runs on it now (checks excluded: they are local). */
  outstanding: number;
  completed: number;
  strikes: number;
  excluded: boolean;
  /** It already had a result spot-checked (`spotCheckFirst`). */
  checked: boolean;
  /** Its first result is being checked: no new work until it passed. */
  probation: boolean;
  /** Kernels it refused as unknown. */
  readonly lacks: Set<string>;
}

/** A run a peer asked of us. */
interface Served {
  readonly from: PeerId;
  readonly runId: number;
  readonly kernel: string;
  readonly mode: ResultMode;
  readonly maxOutputBytes: number;
  phase: 'receiving' | 'queued' | 'running' | 'sending';
  input: IncomingTransfer | undefined;
  output: OutgoingTransfer | undefined;
  /** Clock time after which a silent requester's run is abandoned, ms. */
  deadline: number;
  abort: AbortController | undefined;
}

/** Runs remembered after they ended, per side, so late messages about them are ignored, not dropped. */
const RECENT_RUNS = 4096;

const key = (peer: PeerId, runId: number): string => `${peer}\u0000${runId}`;

function zeroed<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

const RUN_FAILURES: readonly RunFailure[] = ['left', 'timeout', 'refused', 'excluded', 'malformed', 'failed'];

function errorDetail(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------
// Options

interface Resolved {
  readonly channel: string;
  readonly verify: VerifyMode;
  readonly local: LocalRole;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly maxStrikes: number;
  readonly spotCheckRate: number;
  readonly spotCheckFirst: boolean;
  readonly seed: number;
  readonly maxInputBytes: number;
  readonly maxTasksPerPeer: number;
  readonly maxBufferedInputBytes: number;
  readonly chunkBytes: number;
  readonly windowBytes: number;
  readonly presenceIntervalMs: number;
  readonly prefetch: number;
  readonly clock: Clock;
}

const VERIFY_MODES: readonly VerifyMode[] = ['none', 'replicate', 'spot-check'];
const LOCAL_ROLES: readonly LocalRole[] = ['worker', 'fallback', 'verify-only'];

function invalid(field: string, value: unknown, want: string): never {
  throw new NetcodeError('InvalidConfig', `createRoomCompute: ${field} must be ${want}, got ${String(value)}`, { field, value });
}

function checkCapability(c: ComputeCapability, field: string): ComputeCapability {
  if (typeof c !== 'object' || c === null) invalid(field, c, 'an object { webgpu, adapter, slots }');
  if (typeof c.webgpu !== 'boolean') invalid(`${field}.webgpu`, c.webgpu, 'a boolean');
  if (typeof c.adapter !== 'string' || new TextEncoder().encode(c.adapter).length > MAX_ADAPTER_BYTES) invalid(`${field}.adapter`, c.adapter, `a string of at most ${MAX_ADAPTER_BYTES} UTF-8 bytes`);
  if (!Number.isInteger(c.slots) || c.slots < 0 || c.slots > MAX_SLOTS) invalid(`${field}.slots`, c.slots, `an integer in [0, ${MAX_SLOTS}]`);
  return { webgpu: c.webgpu, adapter: c.adapter, slots: c.slots };
}

function resolveOptions(transport: RoomTransport, o: RoomComputeOptions): Resolved {
  const int = (field: string, v: unknown, min: number, max: number): number => {
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) invalid(field, v, `an integer in [${min}, ${max}]`);
    return v as number;
  };
  const ms = (field: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) invalid(field, v, 'a finite number of ms > 0');
    return v;
  };
  for (const f of ['execute', 'validate', 'maxOutputBytes'] as const) if (typeof o[f] !== 'function') invalid(f, o[f], 'a function');
  const channel = o.channel ?? DEFAULT_COMPUTE_CHANNEL;
  if (typeof channel !== 'string' || channel === '') invalid('channel', channel, 'a non-empty string');
  const verify = o.verify ?? 'spot-check';
  if (!VERIFY_MODES.includes(verify)) invalid('verify', verify, `one of ${VERIFY_MODES.join(', ')}`);
  const local = o.local ?? 'worker';
  if (!LOCAL_ROLES.includes(local)) invalid('local', local, `one of ${LOCAL_ROLES.join(', ')}`);
  const spotCheckRate = o.spotCheckRate ?? DEFAULT_SPOT_CHECK_RATE;
  if (typeof spotCheckRate !== 'number' || !(spotCheckRate >= 0 && spotCheckRate <= 1)) invalid('spotCheckRate', spotCheckRate, 'a number in [0, 1]');
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) invalid('seed', seed, 'an integer');
  const maxChunk = transport.maxFrameBytes - DATA_HEADER_BYTES;
  if (maxChunk < 256) invalid('transport.maxFrameBytes', transport.maxFrameBytes, `at least ${256 + DATA_HEADER_BYTES}`);
  const chunkBytes = int('chunkBytes', o.chunkBytes ?? Math.min(DEFAULT_COMPUTE_CHUNK_BYTES, maxChunk), 1, maxChunk);
  const windowBytes = int('windowBytes', o.windowBytes ?? Math.max(DEFAULT_COMPUTE_WINDOW_BYTES, chunkBytes), chunkBytes, MAX_COMPUTE_BYTES);
  return {
    channel, verify, local, spotCheckRate, seed, chunkBytes, windowBytes,
    timeoutMs: ms('timeoutMs', o.timeoutMs ?? DEFAULT_COMPUTE_TIMEOUT_MS),
    maxAttempts: int('maxAttempts', o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, 1, 64),
    maxStrikes: int('maxStrikes', o.maxStrikes ?? DEFAULT_MAX_STRIKES, 1, 1_000_000),
    spotCheckFirst: o.spotCheckFirst ?? true,
    maxInputBytes: int('maxInputBytes', o.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES, 0, MAX_COMPUTE_BYTES),
    maxTasksPerPeer: int('maxTasksPerPeer', o.maxTasksPerPeer ?? DEFAULT_MAX_TASKS_PER_PEER, 1, 1_000_000),
    maxBufferedInputBytes: int('maxBufferedInputBytes', o.maxBufferedInputBytes ?? DEFAULT_MAX_BUFFERED_INPUT_BYTES, 0, Number.MAX_SAFE_INTEGER),
    presenceIntervalMs: ms('presenceIntervalMs', o.presenceIntervalMs ?? DEFAULT_PRESENCE_INTERVAL_MS),
    prefetch: int('prefetch', o.prefetch ?? DEFAULT_COMPUTE_PREFETCH, 0, 64),
    clock: o.clock ?? new RealClock(),
  };
}

// ---------------------------------------------------------------------------------------------

/**
 * Starts room compute on `transport` (see the module doc): it answers peers' tasks and lets
 * this peer submit its own.
 * @throws NetcodeError `InvalidConfig` naming the option: a missing function, a capability out
 *   of range, a non-positive time, counts out of range, `chunkBytes` above the transport's
 *   `maxFrameBytes` minus {@link DATA_HEADER_BYTES}, `windowBytes` below `chunkBytes`.
 */
export function createRoomCompute(transport: RoomTransport, options: RoomComputeOptions): RoomCompute {
  const o = resolveOptions(transport, options);
  const { execute, validate, maxOutputBytes } = options as { execute: ComputeExecutor } & RoomComputeOptions;
  return new RoomComputeImpl(transport, o, checkCapability(options.capability, 'capability'), execute, validate, maxOutputBytes);
}

class RoomComputeImpl implements RoomCompute {
  readonly localPeerId: PeerId;
  private readonly events = new Emitter<RoomComputeEvents>();
  private cap: ComputeCapability;
  private closed = false;
  private readonly unsubscribe: (() => void)[] = [];

  // Requester side.
  private readonly tasks: Task[] = [];
  private readonly runs = new Map<number, Run>();
  private readonly remotes = new Map<PeerId, RemotePeer>();
  private nextTaskId = 1;
  /**
   * Next run id. Starts at a random u32: a worker remembers recent run ids per requester, and a
   * room compute recreated on the same transport must not reuse its predecessor's ids.
   */
  private nextRunId = (globalThis.crypto.getRandomValues(new Uint32Array(1))[0]! % 0xffff_0000) + 1;
  private lastPicked: PeerId = '';
  private localRuns = 0;

  // Worker side.
  private readonly served = new Map<string, Served>();
  private readonly servedQueue: Served[] = [];
  private bufferedInputBytes = 0;
  /** Executions on our executor now (own runs, checks and served runs). */
  private running = 0;
  /** Executions counted against our slots (own non-check runs and served runs). */
  private slotsUsed = 0;

  /** Our remote runs that ended, and peers' runs we served or refused: late messages about them are ignored. */
  private readonly recentRuns = new Set<string>();
  private readonly recentServed = new Set<string>();
  private pumping = false;
  private pumpAgain = false;
  private sweepCancel: (() => void) | undefined;
  private presenceCancel: (() => void) | undefined;
  private lastPresenceAt = -Infinity;
  private readonly counts = {
    submitted: 0, completed: 0, failed: 0, remoteRuns: 0, localRuns: 0, checks: 0, verified: 0, mismatches: 0,
    served: 0, abandoned: 0, late: 0,
  };
  private readonly reassignedCounts = zeroed(RUN_FAILURES);
  private readonly refusedCounts = zeroed<ComputeRefusal>([...COMPUTE_REFUSALS, 'Unknown']);
  private readonly dropCounts = zeroed(COMPUTE_DROP_REASONS);

  constructor(
    private readonly transport: RoomTransport,
    private readonly o: Resolved,
    capability: ComputeCapability,
    private readonly execute: ComputeExecutor,
    private readonly validate: (kernel: string, input: Uint8Array) => void,
    private readonly maxOutputBytes: (kernel: string) => number | undefined,
  ) {
    this.localPeerId = transport.localPeerId;
    this.cap = capability;
    this.unsubscribe.push(
      transport.on('message', (m) => this.onMessage(m)),
      transport.on('peer:join', ({ peerId }) => this.onJoin(peerId)),
      transport.on('peer:leave', ({ peerId }) => this.onLeave(peerId)),
    );
    for (const peer of transport.peers()) {
      this.remote(peer).present = true;
      this.sendPresence(peer, true);
    }
  }

  // ----- public API ---------------------------------------------------------------------------

  submit(kernel: string, input: Uint8Array, options: SubmitOptions = {}): Promise<Uint8Array> {
    if (this.closed) throw new NetcodeError('Closed', 'room compute is closed');
    const verify = options.verify ?? this.o.verify;
    if (!VERIFY_MODES.includes(verify)) throw new NetcodeError('InvalidRequest', `submit: verify must be one of ${VERIFY_MODES.join(', ')}, got ${String(verify)}`, { field: 'verify' });
    if (typeof kernel !== 'string' || !(input instanceof Uint8Array)) throw new NetcodeError('InvalidRequest', 'submit: kernel must be a string and input a Uint8Array', { kernel });
    if (input.length > this.o.maxInputBytes) {
      throw new NetcodeError('InvalidRequest', `submit: input of ${input.length} bytes for ${kernel} exceeds maxInputBytes ${this.o.maxInputBytes}`, { kernel, bytes: input.length });
    }
    const maxOut = this.maxOutputBytes(kernel);
    try {
      if (maxOut === undefined) throw new Error(`no kernel named ${kernel} is known here`);
      this.validate(kernel, input);
    } catch (error) {
      throw new NetcodeError('InvalidRequest', `submit: task ${kernel} refused by the local validator: ${errorDetail(error)}`, { kernel, cause: error });
    }
    const id = this.nextTaskId++;
    this.counts.submitted++;
    return new Promise<Uint8Array>((resolve, reject) => {
      const task: Task = {
        id, kernel, input: input.slice(), verify, maxOutputBytes: maxOut!,
        spot: verify === 'spot-check' && spotCheckDraw(this.o.seed, id) < this.o.spotCheckRate,
        resolve, reject, runs: new Set(), tried: new Set(), results: [], attempts: 0, checking: false, probation: undefined,
        waitingSince: Number.NaN, done: false, detachSignal: () => {},
      };
      const signal = options.signal;
      if (signal !== undefined) {
        if (signal.aborted) return this.failTask(task, 'Cancelled', 'aborted before it started');
        const onAbort = (): void => this.failTask(task, 'Cancelled', 'aborted by its signal');
        signal.addEventListener('abort', onAbort, { once: true });
        task.detachSignal = () => signal.removeEventListener('abort', onAbort);
      }
      this.tasks.push(task);
      this.pump();
    });
  }

  peers(): readonly ComputePeerInfo[] {
    return [...this.remotes.values()]
      .filter((r) => r.present || r.excluded || r.strikes > 0)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((r) => ({
        peerId: r.id, present: r.present, capability: r.capability, outstanding: r.outstanding,
        completed: r.completed, strikes: r.strikes, excluded: r.excluded,
      }));
  }

  capability(): AdvertisedCapability {
    return { ...this.cap, running: this.running };
  }

  setCapability(change: Partial<ComputeCapability>): void {
    if (this.closed) throw new NetcodeError('Closed', 'room compute is closed');
    this.cap = checkCapability({ ...this.cap, ...change }, 'setCapability');
    this.presenceChanged();
    this.startQueued();
    this.pump();
  }

  stats(): RoomComputeStats {
    return {
      ...this.counts,
      pending: this.tasks.length,
      reassigned: { ...this.reassignedCounts },
      refused: { ...this.refusedCounts },
      drops: { ...this.dropCounts },
      running: this.running,
    };
  }

  on<K extends keyof RoomComputeEvents>(event: K, handler: (e: RoomComputeEvents[K]) => void): () => void {
    return this.events.on(event, handler);
  }

  close(): void {
    if (this.closed) return;
    for (const task of [...this.tasks]) this.failTask(task, 'Closed', 'room compute closed');
    for (const s of [...this.served.values()]) {
      this.refuse(s.from, s.runId, s.kernel, 'Closed', 'the worker closed its room compute');
      this.endServed(s);
    }
    this.cap = { ...this.cap, slots: 0 };
    this.presenceCancel?.();
    for (const peer of this.transport.peers()) this.sendPresence(peer, false);
    this.closed = true;
    this.sweepCancel?.();
    this.sweepCancel = undefined;
    for (const u of this.unsubscribe) u();
    this.events.clear();
  }

  // ----- sending --------------------------------------------------------------------------------

  /** Sends one message; false when the peer is gone or the transport closed (never throws). */
  private send(peer: PeerId, msg: ComputeMessage): boolean {
    if (!this.transport.peers().includes(peer)) return false;
    try {
      this.transport.send(peer, this.o.channel, encodeComputeMessage(msg));
      return true;
    } catch (error) {
      if (error instanceof NetcodeError && (error.code === 'UnknownPeer' || error.code === 'Closed')) return false;
      throw error;
    }
  }

  private sendPresence(peer: PeerId, reply: boolean): void {
    this.send(peer, { type: 'presence', version: COMPUTE_PROTOCOL_VERSION, ...this.cap, running: this.running, reply });
  }

  /** Our load or capability changed: tell every member, at most every `presenceIntervalMs`. */
  private presenceChanged(): void {
    if (this.closed || this.presenceCancel !== undefined) return;
    const at = Math.max(this.o.clock.now(), this.lastPresenceAt + this.o.presenceIntervalMs);
    this.presenceCancel = this.o.clock.schedule(at, () => {
      this.presenceCancel = undefined;
      if (this.closed) return;
      this.lastPresenceAt = this.o.clock.now();
      for (const peer of this.transport.peers()) this.sendPresence(peer, false);
    });
  }

  private sendPieces(peer: PeerId, runId: number, part: TransferPart, t: OutgoingTransfer): boolean {
    for (const piece of t.take()) if (!this.send(peer, { type: 'data', runId, part, offset: piece.offset, bytes: piece.bytes })) return false;
    return true;
  }

  private drop(reason: ComputeDropReason, from: PeerId, bytes: number, detail: string): void {
    this.dropCounts[reason]++;
    this.events.emit('drop', { reason, from, bytes, detail });
  }

  private remember(recent: Set<string>, peer: PeerId, runId: number): void {
    recent.add(key(peer, runId));
    if (recent.size > RECENT_RUNS) recent.delete(recent.values().next().value!);
  }

  /** A message about an unknown run: ignored when the run just ended, else dropped `Unsolicited`. */
  private unknownRun(recent: Set<string>, from: PeerId, runId: number, size: number, what: string): void {
    if (recent.has(key(from, runId))) this.counts.late++;
    else this.drop('Unsolicited', from, size, `${what} for run ${runId}, which ${from} does not have with ${this.localPeerId}`);
  }

  // ----- membership -----------------------------------------------------------------------------

  private remote(peer: PeerId): RemotePeer {
    let r = this.remotes.get(peer);
    if (r === undefined) {
      r = {
        id: peer, present: false, capability: undefined, othersLoad: 0, outstanding: 0, completed: 0, strikes: 0,
        excluded: false, checked: false, probation: false, lacks: new Set(),
      };
      this.remotes.set(peer, r);
    }
    return r;
  }

  private onJoin(peer: PeerId): void {
    this.remote(peer).present = true;
    this.sendPresence(peer, false);
  }

  private onLeave(peer: PeerId): void {
    const r = this.remote(peer);
    r.present = false;
    r.capability = undefined;
    r.lacks.clear();
    for (const run of [...this.runs.values()]) if (run.peer === peer && !run.local) this.failRun(run, 'left', `${peer} left the room`, undefined, false);
    for (const s of [...this.served.values()]) {
      if (s.from !== peer) continue;
      this.counts.abandoned++;
      this.endServed(s);
    }
    if (!r.excluded && r.strikes === 0) this.remotes.delete(peer);
    this.pump();
  }

  // ----- messages -------------------------------------------------------------------------------

  private onMessage(m: MessageEvent): void {
    if (m.channel !== this.o.channel || this.closed) return;
    const msg = decodeComputeMessage(m.data);
    const size = m.data.length;
    switch (msg.type) {
      case 'malformed':
        return this.drop('Malformed', m.from, size, msg.detail);
      case 'presence':
        return this.onPresence(m.from, msg);
      case 'task':
        return this.onTask(m.from, msg, size);
      case 'data':
        return msg.part === 'input' ? this.onInputData(m.from, msg, size) : this.onResultData(m.from, msg, size);
      case 'ack':
        return msg.part === 'input' ? this.onInputAck(m.from, msg, size) : this.onResultAck(m.from, msg, size);
      case 'result':
        return this.onResult(m.from, msg, size);
      case 'refuse':
        return this.onRefuse(m.from, msg, size);
      case 'cancel':
        return this.onCancel(m.from, msg.runId, size);
    }
  }

  private onPresence(from: PeerId, msg: Extract<ComputeMessage, { type: 'presence' }>): void {
    const r = this.remote(from);
    r.present = true;
    const capability: AdvertisedCapability = { webgpu: msg.webgpu, adapter: msg.adapter, slots: msg.slots, running: msg.running };
    r.capability = capability;
    r.othersLoad = Math.max(0, msg.running - r.outstanding);
    if (msg.reply) this.sendPresence(from, false);
    this.events.emit('presence', { peerId: from, capability });
    this.pump();
  }

  // ----- worker side ----------------------------------------------------------------------------

  private refuse(peer: PeerId, runId: number, kernel: string, reason: ComputeRefusal, detail: string): void {
    const clipped = clipDetail(detail);
    this.refusedCounts[reason]++;
    this.remember(this.recentServed, peer, runId);
    this.send(peer, { type: 'refuse', runId, reason: reason === 'Unknown' ? 'Failed' : reason, detail: clipped });
    this.events.emit('refused', { peerId: peer, runId, kernel, reason, detail: clipped });
  }

  private onTask(from: PeerId, msg: Extract<ComputeMessage, { type: 'task' }>, size: number): void {
    const k = key(from, msg.runId);
    if (this.served.has(k) || this.recentServed.has(k)) return this.drop('Malformed', from, size, `run ${msg.runId} of ${from} already exists`);
    const kernel = msg.kernel;
    const maxOut = this.maxOutputBytes(kernel);
    let perPeer = 0;
    for (const s of this.served.values()) if (s.from === from) perPeer++;
    if (this.cap.slots === 0) return this.refuse(from, msg.runId, kernel, 'Busy', 'this peer takes no work (0 slots)');
    if (maxOut === undefined) return this.refuse(from, msg.runId, kernel, 'UnknownKernel', `no kernel named ${kernel.slice(0, 80)} is known here`);
    if (msg.inputBytes > this.o.maxInputBytes) return this.refuse(from, msg.runId, kernel, 'Oversized', `input of ${msg.inputBytes} bytes exceeds maxInputBytes ${this.o.maxInputBytes}`);
    if (perPeer >= this.o.maxTasksPerPeer) return this.refuse(from, msg.runId, kernel, 'Busy', `${perPeer} runs of ${from} already here (maxTasksPerPeer ${this.o.maxTasksPerPeer})`);
    if (this.bufferedInputBytes + msg.inputBytes > this.o.maxBufferedInputBytes) {
      return this.refuse(from, msg.runId, kernel, 'Busy', `${this.bufferedInputBytes} input bytes buffered, ${msg.inputBytes} more exceed maxBufferedInputBytes ${this.o.maxBufferedInputBytes}`);
    }
    const s: Served = {
      from, runId: msg.runId, kernel, mode: msg.mode, maxOutputBytes: maxOut, phase: 'receiving',
      input: new IncomingTransfer(msg.inputBytes), output: undefined, deadline: this.o.clock.now() + this.o.timeoutMs, abort: undefined,
    };
    this.bufferedInputBytes += msg.inputBytes;
    this.served.set(k, s);
    this.armSweep();
    if (msg.inputBytes === 0) this.inputComplete(s);
  }

  private onInputData(from: PeerId, msg: Extract<ComputeMessage, { type: 'data' }>, size: number): void {
    const s = this.served.get(key(from, msg.runId));
    if (s === undefined) return this.unknownRun(this.recentServed, from, msg.runId, size, 'input data');
    if (s.phase !== 'receiving' || s.input === undefined) return this.drop('Malformed', from, size, `input data for run ${msg.runId} after its input was complete`);
    const error = s.input.add(msg.offset, msg.bytes);
    if (error !== undefined) {
      this.drop('Malformed', from, size, `run ${msg.runId}: ${error}`);
      this.refuse(from, s.runId, s.kernel, 'Invalid', `input transfer broken: ${error}`);
      return this.endServed(s);
    }
    s.deadline = this.o.clock.now() + this.o.timeoutMs;
    this.send(from, { type: 'ack', runId: s.runId, part: 'input', received: s.input.received });
    if (s.input.complete) this.inputComplete(s);
  }

  private inputComplete(s: Served): void {
    const input = s.input!.buffer;
    try {
      this.validate(s.kernel, input);
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      this.refuse(s.from, s.runId, s.kernel, code === 'UnknownKernel' ? 'UnknownKernel' : 'Invalid', errorDetail(error));
      return this.endServed(s);
    }
    s.phase = 'queued';
    this.servedQueue.push(s);
    this.startQueued();
  }

  /** Starts queued runs of others while we have free slots. */
  private startQueued(): void {
    while (this.servedQueue.length > 0 && this.slotsUsed < this.cap.slots && !this.closed) {
      const s = this.servedQueue.shift()!;
      if (this.served.get(key(s.from, s.runId)) !== s) continue;
      this.runServed(s);
    }
  }

  private runServed(s: Served): void {
    s.phase = 'running';
    const abort = new AbortController();
    s.abort = abort;
    const input = s.input!.buffer;
    this.bufferedInputBytes -= input.length;
    s.input = undefined;
    this.startExecution(true);
    this.executeLater(s.kernel, input, abort.signal).then(
      async (output) => {
        this.endExecution(true);
        if (abort.signal.aborted || this.served.get(key(s.from, s.runId)) !== s) return;
        if (!(output instanceof Uint8Array) || output.length > s.maxOutputBytes) {
          this.refuse(s.from, s.runId, s.kernel, 'Failed', `the executor returned ${output instanceof Uint8Array ? `${output.length} bytes, more than maxOutputBytes ${s.maxOutputBytes}` : 'no Uint8Array'}`);
          return this.endServed(s);
        }
        if (s.mode === 'hash') {
          const hash = await sha256(output);
          if (abort.signal.aborted || this.served.get(key(s.from, s.runId)) !== s) return;
          this.send(s.from, { type: 'result', runId: s.runId, mode: 'hash', hash });
          this.counts.served++;
          return this.endServed(s);
        }
        s.phase = 'sending';
        s.output = new OutgoingTransfer(output, this.o.chunkBytes, this.o.windowBytes);
        s.deadline = this.o.clock.now() + this.o.timeoutMs;
        this.send(s.from, { type: 'result', runId: s.runId, mode: 'bytes', outputBytes: output.length });
        if (output.length === 0) {
          this.counts.served++;
          return this.endServed(s);
        }
        this.sendPieces(s.from, s.runId, 'result', s.output);
      },
      (error: unknown) => {
        this.endExecution(true);
        if (abort.signal.aborted || this.served.get(key(s.from, s.runId)) !== s) return;
        this.refuse(s.from, s.runId, s.kernel, 'Failed', `the executor failed: ${errorDetail(error)}`);
        this.endServed(s);
      },
    ).catch((error: unknown) => {
      // Only a failing hash (no WebCrypto) gets here: refuse rather than leave the requester waiting.
      if (this.served.get(key(s.from, s.runId)) !== s) return;
      this.refuse(s.from, s.runId, s.kernel, 'Failed', errorDetail(error));
      this.endServed(s);
    });
  }

  private onResultAck(from: PeerId, msg: Extract<ComputeMessage, { type: 'ack' }>, size: number): void {
    const s = this.served.get(key(from, msg.runId));
    if (s === undefined) return this.unknownRun(this.recentServed, from, msg.runId, size, 'result ack');
    if (s.phase !== 'sending' || s.output === undefined) return this.drop('Malformed', from, size, `result ack for run ${msg.runId} before its result`);
    const error = s.output.ack(msg.received);
    if (error !== undefined) return this.drop('Malformed', from, size, `run ${msg.runId}: ${error}`);
    s.deadline = this.o.clock.now() + this.o.timeoutMs;
    if (s.output.done) {
      this.counts.served++;
      return this.endServed(s);
    }
    this.sendPieces(from, s.runId, 'result', s.output);
  }

  private onCancel(from: PeerId, runId: number, size: number): void {
    const s = this.served.get(key(from, runId));
    if (s === undefined) return this.unknownRun(this.recentServed, from, runId, size, 'cancel');
    this.counts.abandoned++;
    this.endServed(s);
  }

  /** Forgets a served run: aborts its execution, frees its buffered input. */
  private endServed(s: Served): void {
    const k = key(s.from, s.runId);
    if (this.served.get(k) !== s) return;
    this.served.delete(k);
    this.remember(this.recentServed, s.from, s.runId);
    if (s.input !== undefined) this.bufferedInputBytes -= s.input.buffer.length;
    s.input = undefined;
    s.output = undefined;
    s.abort?.abort();
  }

  /**
   * Calls the executor from a clock callback, never inside the caller: an executor that
   * computes synchronously (a CPU twin on this thread) would otherwise chain run after run in
   * promise callbacks and starve the transport, which then delivers nothing until the chain
   * ends (measured: the requester computed 62 of 64 chunks while 2 helpers waited).
   */
  private executeLater(kernel: string, input: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      this.o.clock.schedule(this.o.clock.now(), () => {
        if (signal.aborted) return reject(new Error('aborted before it started'));
        try {
          this.execute(kernel, input, signal).then(resolve, reject);
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  private startExecution(slot: boolean): void {
    this.running++;
    if (slot) this.slotsUsed++;
    this.presenceChanged();
  }

  private endExecution(slot: boolean): void {
    this.running--;
    if (slot) this.slotsUsed--;
    this.presenceChanged();
    this.startQueued();
    this.pump();
  }

  // ----- requester side: scheduling -------------------------------------------------------------

  /** Runs a task still needs besides those in progress (checks aside). */
  private missing(task: Task): number {
    if (task.done || task.checking || task.results.some((r) => r.local)) return 0;
    const required = task.verify === 'replicate' ? 2 : 1;
    let active = 0;
    for (const run of task.runs) {
      if (run.check) continue;
      if (run.local) return 0; // our own result needs no second opinion
      active++;
    }
    return Math.max(0, required - task.results.length - active);
  }

  /** Free slots of a remote peer as we estimate them, plus the runs it may queue (`prefetch`). */
  private free(r: RemotePeer): number {
    return (r.capability?.slots ?? 0) + this.o.prefetch - r.othersLoad - r.outstanding;
  }

  /**
   * Where the next run of `task` goes: a peer id (ours for a local run), `'wait'` (capable peers
   * exist but are busy), or `'none'` (nobody may run it).
   */
  private pick(task: Task): PeerId | 'wait' | 'none' {
    const self = this.localPeerId;
    const maxAttempts = task.verify === 'replicate' ? Math.max(2, this.o.maxAttempts) : this.o.maxAttempts;
    const candidates: { id: PeerId; free: number }[] = [];
    if (task.attempts < maxAttempts) {
      for (const r of this.remotes.values()) {
        if (!r.present || r.excluded || r.probation || r.capability === undefined || r.capability.slots === 0 || r.lacks.has(task.kernel) || task.tried.has(r.id)) continue;
        candidates.push({ id: r.id, free: this.free(r) });
      }
    }
    const localFree = this.cap.slots - this.slotsUsed;
    const localOk = !task.tried.has(self) && this.o.local !== 'verify-only';
    if (localOk && this.o.local === 'worker') candidates.push({ id: self, free: localFree });
    if (candidates.length === 0) {
      // While a run is in progress or a result waits for its second opinion, wait for them
      // (`schedule` then has our own computation decide).
      if (task.runs.size > 0 || task.results.length > 0) return 'none';
      // The last resort: our own executor, even with 0 slots (it waits for none of them).
      if (localOk) return localFree > 0 || this.cap.slots === 0 || this.slotsUsed === 0 ? self : 'wait';
      return 'none';
    }
    let best = -Infinity;
    for (const c of candidates) best = Math.max(best, c.free);
    if (best <= 0) return 'wait';
    const ties = candidates.filter((c) => c.free === best).map((c) => c.id).sort();
    return ties.find((id) => id > this.lastPicked) ?? ties[0]!;
  }

  /** Assigns runs to waiting tasks, in submission order, while peers have room. */
  private pump(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        for (const task of [...this.tasks]) this.schedule(task);
      } while (this.pumpAgain && !this.closed);
    } finally {
      this.pumping = false;
    }
  }

  /** Starts the runs `task` misses, while peers have room (each start adds a peer to `tried`). */
  private schedule(task: Task): void {
    while (!task.done && this.missing(task) > 0) {
      const where = this.pick(task);
      if (where === 'wait') {
        task.waitingSince = Number.NaN;
        break;
      }
      if (where === 'none') {
        if (task.runs.size > 0) break;
        if (task.results.length > 0) {
          // Replicate with nobody left for the second run: our own computation decides.
          this.startCheck(task);
          break;
        }
        const maxAttempts = task.verify === 'replicate' ? Math.max(2, this.o.maxAttempts) : this.o.maxAttempts;
        if (task.attempts >= maxAttempts) {
          this.failTask(task, this.o.local === 'verify-only' ? 'Attempts' : 'Failed', `${task.attempts} remote runs${task.tried.has(this.localPeerId) ? ' and a local run' : ''} gave no result`);
        } else if (Number.isNaN(task.waitingSince)) {
          task.waitingSince = this.o.clock.now();
          this.armSweep();
        }
        break;
      }
      task.waitingSince = Number.NaN;
      this.lastPicked = where;
      this.startRun(task, where, false);
    }
  }

  private startRun(task: Task, peer: PeerId, check: boolean): void {
    const local = peer === this.localPeerId;
    const hasBytes = task.results.some((r) => r.bytes !== undefined) || [...task.runs].some((r) => r.mode === 'bytes');
    const mode: ResultMode = local || !hasBytes ? 'bytes' : 'hash';
    const run: Run = {
      id: this.nextRunId++, task, peer, local, mode, check, phase: 'sending', input: undefined, result: undefined,
      deadline: this.o.clock.now() + this.o.timeoutMs, abort: undefined,
    };
    if (this.nextRunId > 0xffff_ffff) this.nextRunId = 1;
    task.runs.add(run);
    this.runs.set(run.id, run);
    if (!check) task.tried.add(peer);
    this.events.emit('assigned', { taskId: task.id, runId: run.id, kernel: task.kernel, peerId: peer, mode, check });
    if (local) return this.runLocal(run);
    task.attempts++;
    this.counts.remoteRuns++;
    this.remote(peer).outstanding++;
    run.input = new OutgoingTransfer(task.input, this.o.chunkBytes, this.o.windowBytes);
    const sent = this.send(peer, { type: 'task', runId: run.id, kernel: task.kernel, mode, inputBytes: task.input.length })
      && this.sendPieces(peer, run.id, 'input', run.input);
    if (!sent) return this.failRun(run, 'left', `${peer} is not a member any more`, undefined, true);
    if (task.input.length === 0) run.phase = 'waiting';
    this.armSweep();
  }

  private runLocal(run: Run): void {
    const task = run.task;
    if (run.check) this.counts.checks++;
    else this.counts.localRuns++;
    const abort = new AbortController();
    run.abort = abort;
    run.phase = 'waiting';
    this.startExecution(!run.check);
    this.executeLater(task.kernel, task.input, abort.signal).then(
      async (bytes) => {
        this.endExecution(!run.check);
        if (abort.signal.aborted || this.runs.get(run.id) !== run) return;
        if (!(bytes instanceof Uint8Array)) throw new Error('the executor returned no Uint8Array');
        run.phase = 'hashing';
        const needsHash = task.verify !== 'none' || task.results.length > 0;
        const hash = needsHash ? await sha256(bytes) : undefined;
        if (this.runs.get(run.id) !== run) return;
        this.runDone(run, { peer: run.peer, local: true, bytes, hash });
      },
      (error: unknown) => {
        this.endExecution(!run.check);
        throw error;
      },
    ).catch((error: unknown) => {
      if (abort.signal.aborted || this.runs.get(run.id) !== run) return;
      if (run.check) {
        // Without our own result nothing can be verified: the task fails rather than accept an unchecked one.
        this.endRun(run);
        return this.failTask(task, 'Failed', `the local verification run failed: ${errorDetail(error)}`);
      }
      this.failRun(run, 'failed', `the local executor failed: ${errorDetail(error)}`, undefined, false);
    });
  }

  /** Removes a run from the books (no event). */
  private endRun(run: Run): void {
    if (this.runs.get(run.id) !== run) return;
    this.runs.delete(run.id);
    run.task.runs.delete(run);
    run.abort?.abort();
    if (!run.local) {
      const r = this.remotes.get(run.peer);
      if (r !== undefined) r.outstanding--;
      this.remember(this.recentRuns, run.peer, run.id);
    }
  }

  /** A run ended without a usable result: cancel it on the worker if asked, schedule the task again. */
  private failRun(run: Run, reason: RunFailure, detail: string, refusal: ComputeRefusal | undefined, cancel: boolean): void {
    if (this.runs.get(run.id) !== run) return;
    this.endRun(run);
    if (cancel && !run.local) this.send(run.peer, { type: 'cancel', runId: run.id });
    this.reassignedCounts[reason]++;
    const task = run.task;
    this.events.emit('reassigned', {
      taskId: task.id, runId: run.id, kernel: task.kernel, peerId: run.peer, reason, detail,
      ...(refusal === undefined ? {} : { refusal }),
    });
    this.pump();
  }

  // ----- requester side: messages ---------------------------------------------------------------

  /** Our remote run `runId` on `from`, or undefined (dropped or ignored as late). */
  private runOf(from: PeerId, runId: number, size: number, what: string): Run | undefined {
    const run = this.runs.get(runId);
    if (run === undefined || run.local || run.peer !== from) {
      this.unknownRun(this.recentRuns, from, runId, size, what);
      return undefined;
    }
    return run;
  }

  private onInputAck(from: PeerId, msg: Extract<ComputeMessage, { type: 'ack' }>, size: number): void {
    const run = this.runOf(from, msg.runId, size, 'input ack');
    if (run === undefined) return;
    if (run.phase !== 'sending' || run.input === undefined) return this.drop('Malformed', from, size, `input ack for run ${msg.runId} after its input was complete`);
    const error = run.input.ack(msg.received);
    if (error !== undefined) return this.drop('Malformed', from, size, `run ${msg.runId}: ${error}`);
    run.deadline = this.o.clock.now() + this.o.timeoutMs;
    if (run.input.done) {
      run.phase = 'waiting';
      run.input = undefined;
    } else if (!this.sendPieces(from, run.id, 'input', run.input)) {
      this.failRun(run, 'left', `${from} is not a member any more`, undefined, false);
    }
  }

  private onResult(from: PeerId, msg: Extract<ComputeMessage, { type: 'result' }>, size: number): void {
    const run = this.runOf(from, msg.runId, size, 'result');
    if (run === undefined) return;
    const task = run.task;
    if (run.phase !== 'waiting') {
      this.drop('Malformed', from, size, `result of run ${run.id} while ${run.phase === 'sending' ? 'its input was still being sent' : 'its result was already arriving'}`);
      return this.failRun(run, 'malformed', 'result out of order', undefined, true);
    }
    if (msg.mode !== run.mode) {
      this.drop('Malformed', from, size, `result of run ${run.id} in mode ${msg.mode}, ${run.mode} was asked`);
      return this.failRun(run, 'malformed', `result in mode ${msg.mode}`, undefined, true);
    }
    run.deadline = this.o.clock.now() + this.o.timeoutMs;
    if (msg.mode === 'hash') {
      return this.runDone(run, { peer: from, local: false, bytes: undefined, hash: msg.hash });
    }
    if (msg.outputBytes > task.maxOutputBytes) {
      this.drop('Oversized', from, size, `result of ${msg.outputBytes} bytes for ${task.kernel} exceeds its maxOutputBytes ${task.maxOutputBytes}`);
      return this.failRun(run, 'malformed', `result of ${msg.outputBytes} bytes announced`, undefined, true);
    }
    run.phase = 'receiving';
    run.result = new IncomingTransfer(msg.outputBytes);
    if (msg.outputBytes === 0) this.remoteBytesDone(run);
  }

  private onResultData(from: PeerId, msg: Extract<ComputeMessage, { type: 'data' }>, size: number): void {
    const run = this.runOf(from, msg.runId, size, 'result data');
    if (run === undefined) return;
    if (run.phase !== 'receiving' || run.result === undefined) {
      this.drop('Malformed', from, size, `result data for run ${run.id} without a result header`);
      return this.failRun(run, 'malformed', 'result data without a header', undefined, true);
    }
    const error = run.result.add(msg.offset, msg.bytes);
    if (error !== undefined) {
      this.drop('Malformed', from, size, `run ${run.id}: ${error}`);
      return this.failRun(run, 'malformed', error, undefined, true);
    }
    run.deadline = this.o.clock.now() + this.o.timeoutMs;
    this.send(from, { type: 'ack', runId: run.id, part: 'result', received: run.result.received });
    if (run.result.complete) this.remoteBytesDone(run);
  }

  private remoteBytesDone(run: Run): void {
    const bytes = run.result!.buffer;
    run.result = undefined;
    const task = run.task;
    if (task.verify === 'none') return this.runDone(run, { peer: run.peer, local: false, bytes, hash: undefined });
    // The run keeps its place (and the worker's slot in our books) until its result is judged,
    // so a peer whose first result is under suspicion gets no second task meanwhile.
    run.phase = 'hashing';
    sha256(bytes).then(
      (hash) => {
        if (this.runs.get(run.id) === run) this.runDone(run, { peer: run.peer, local: false, bytes, hash });
      },
      (error: unknown) => {
        if (this.runs.get(run.id) !== run) return;
        this.endRun(run);
        this.failTask(task, 'Failed', `hashing the result failed: ${errorDetail(error)}`);
      },
    );
  }

  private onRefuse(from: PeerId, msg: Extract<ComputeMessage, { type: 'refuse' }>, size: number): void {
    const run = this.runOf(from, msg.runId, size, 'refusal');
    if (run === undefined) return;
    if (msg.reason === 'UnknownKernel') this.remote(from).lacks.add(run.task.kernel);
    this.failRun(run, 'refused', `${from} refused: ${msg.reason}: ${msg.detail}`, msg.reason, false);
  }

  // ----- requester side: verification -----------------------------------------------------------

  /** A run produced `result` (the run is off the books already or is removed here). */
  private runDone(run: Run, result: Result): void {
    this.endRun(run);
    const task = run.task;
    if (task.done) return;
    if (run.check) task.checking = false;
    if (!result.local) this.remote(result.peer).completed++;
    task.results.push(result);
    this.decide(task);
    this.pump();
  }

  /** Accepts, rejects or asks for more runs, from the results so far. */
  private decide(task: Task): void {
    if (task.done) return;
    const local = task.results.find((r) => r.local);
    if (local !== undefined) {
      const agreed: PeerId[] = [];
      for (const r of task.results) {
        if (r.local) continue;
        const same = r.bytes !== undefined ? equalBytes(r.bytes, local.bytes!) : equalBytes(r.hash!, local.hash!);
        if (same) agreed.push(r.peer);
        else this.strike(task, r, local);
      }
      if (agreed.length > 0) {
        this.counts.verified += agreed.length;
        this.events.emit('verified', { taskId: task.id, kernel: task.kernel, method: task.verify === 'replicate' ? 'local' : 'spot-check', peers: agreed });
      }
      return this.finish(task, local.bytes!);
    }
    const remote = task.results;
    if (task.verify === 'none') return this.finish(task, remote[0]!.bytes!);
    if (task.verify === 'spot-check') {
      const r = remote[0]!;
      const peer = this.remote(r.peer);
      if (task.spot || (this.o.spotCheckFirst && !peer.checked)) {
        if (!peer.checked) {
          peer.checked = true;
          peer.probation = true;
          task.probation = r.peer;
        }
        return this.startCheck(task);
      }
      return this.finish(task, r.bytes!);
    }
    if (remote.length < 2) return; // replicate: the second run is on its way (pump schedules it)
    const [a, b] = remote as [Result, Result];
    if (equalBytes(a.hash!, b.hash!)) {
      this.counts.verified += 2;
      this.events.emit('verified', { taskId: task.id, kernel: task.kernel, method: 'replicate', peers: [a.peer, b.peer] });
      return this.finish(task, (a.bytes ?? b.bytes)!);
    }
    this.startCheck(task);
  }

  private startCheck(task: Task): void {
    if (task.checking) return;
    task.checking = true;
    this.startRun(task, this.localPeerId, true);
  }

  private strike(task: Task, r: Result, reference: Result): void {
    this.counts.mismatches++;
    const peer = this.remote(r.peer);
    peer.strikes++;
    this.events.emit('mismatch', { taskId: task.id, kernel: task.kernel, peerId: r.peer, expected: toHex(reference.hash!), got: toHex(r.hash!) });
    if (peer.excluded || peer.strikes < this.o.maxStrikes) return;
    peer.excluded = true;
    this.events.emit('excluded', { peerId: r.peer, strikes: peer.strikes });
    for (const run of [...this.runs.values()]) {
      if (run.peer === r.peer && !run.local) this.failRun(run, 'excluded', `${r.peer} was excluded`, undefined, true);
    }
  }

  private finish(task: Task, bytes: Uint8Array): void {
    this.settle(task);
    this.counts.completed++;
    task.resolve(bytes);
  }

  private failure(task: Task, reason: ComputeFailure, detail: string): NetcodeError {
    return new NetcodeError('ComputeFailed', `task ${task.id} (${task.kernel}) failed: ${reason}: ${detail}`, {
      reason, taskId: task.id, kernel: task.kernel, attempts: task.attempts,
    });
  }

  private failTask(task: Task, reason: ComputeFailure, detail: string): void {
    if (task.done) return;
    this.settle(task);
    this.counts.failed++;
    task.reject(this.failure(task, reason, detail));
  }

  /** Marks a task done and cancels what still runs for it. */
  private settle(task: Task): void {
    task.done = true;
    task.detachSignal();
    if (task.probation !== undefined) {
      const peer = this.remotes.get(task.probation);
      if (peer !== undefined) peer.probation = false;
    }
    const i = this.tasks.indexOf(task);
    if (i >= 0) this.tasks.splice(i, 1);
    for (const run of [...task.runs]) {
      const remote = !run.local && run.phase !== 'hashing' && this.runs.get(run.id) === run;
      this.endRun(run);
      task.runs.delete(run);
      if (remote) this.send(run.peer, { type: 'cancel', runId: run.id });
    }
    queueMicrotask(() => this.pump());
  }

  // ----- time-outs ------------------------------------------------------------------------------

  private armSweep(): void {
    if (this.sweepCancel !== undefined || this.closed) return;
    const every = Math.max(10, Math.min(1000, this.o.timeoutMs / 4));
    this.sweepCancel = this.o.clock.schedule(this.o.clock.now() + every, () => {
      this.sweepCancel = undefined;
      if (this.closed) return;
      this.sweep();
      const busy = this.served.size > 0 || [...this.runs.values()].some((r) => !r.local) || this.tasks.some((t) => !Number.isNaN(t.waitingSince));
      if (busy) this.armSweep();
    });
  }

  private sweep(): void {
    const now = this.o.clock.now();
    for (const run of [...this.runs.values()]) {
      if (run.local || run.phase === 'hashing' || now < run.deadline) continue;
      this.failRun(run, 'timeout', `${run.peer} was silent for ${this.o.timeoutMs} ms`, undefined, true);
    }
    for (const s of [...this.served.values()]) {
      if ((s.phase === 'receiving' || s.phase === 'sending') && now >= s.deadline) {
        this.counts.abandoned++;
        this.endServed(s);
      }
    }
    for (const task of [...this.tasks]) {
      if (!Number.isNaN(task.waitingSince) && now - task.waitingSince >= this.o.timeoutMs && task.runs.size === 0) {
        this.failTask(task, 'NoWorker', `no capable peer for ${this.o.timeoutMs} ms`);
      }
    }
  }
}
