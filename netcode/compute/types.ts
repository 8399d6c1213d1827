/**
 * Types, options and defaults of room compute (`room-compute.ts`).
 */
import type { Clock } from '../transport/clock.ts';
import type { PeerId } from '../transport/types.ts';
import type { ComputeRefusal, ResultMode } from './protocol.ts';

/** Default channel of compute messages. */
export const DEFAULT_COMPUTE_CHANNEL = 'compute';
/** Default silence tolerated from a worker running one of our tasks, ms (see `timeoutMs`). */
export const DEFAULT_COMPUTE_TIMEOUT_MS = 10_000;
/** Default remote runs of one task before giving up on remote peers (see `maxAttempts`). */
export const DEFAULT_MAX_ATTEMPTS = 4;
/** Default verified mismatches after which a peer is excluded (one: a wrong result is never an accident). */
export const DEFAULT_MAX_STRIKES = 1;
/** Default share of remote results recomputed by the requester in `'spot-check'` mode. */
export const DEFAULT_SPOT_CHECK_RATE = 0.1;
/** Default largest task input sent or accepted, bytes (16 MiB). */
export const DEFAULT_MAX_INPUT_BYTES = 16 * 1024 * 1024;
/** Default most runs one requester may have on this worker (receiving, queued or running). */
export const DEFAULT_MAX_TASKS_PER_PEER = 32;
/** Default most input bytes this worker buffers for runs not yet finished, all requesters together (64 MiB). */
export const DEFAULT_MAX_BUFFERED_INPUT_BYTES = 64 * 1024 * 1024;
/** Default largest piece of an input or result, bytes (16 KiB, as late join and WebRTC advice). */
export const DEFAULT_COMPUTE_CHUNK_BYTES = 16 * 1024;
/** Default most bytes of one transfer sent and not acknowledged (256 KiB). */
export const DEFAULT_COMPUTE_WINDOW_BYTES = 256 * 1024;
/** Default shortest interval between two presence broadcasts of a changed load, ms. */
export const DEFAULT_PRESENCE_INTERVAL_MS = 500;
/** Default of {@link RoomComputeOptions.prefetch}: no run queued beyond a remote peer's free slots. */
export const DEFAULT_COMPUTE_PREFETCH = 0;
/** Room left in a transport frame for a `data` message's header, bytes. */
export const DATA_HEADER_BYTES = 32;

/** What a peer offers. */
export interface ComputeCapability {
  /** A WebGPU device is available (kernels run on the GPU). */
  readonly webgpu: boolean;
  /** Adapter description for people and schedulers, at most 128 bytes of UTF-8, e.g. `'SwiftShader'`; `''` without one. */
  readonly adapter: string;
  /** Runs executed at once, integer in [0, 1024]; 0: the peer takes no work from others. */
  readonly slots: number;
}

/** A peer's capability as last advertised, with its load. */
export interface AdvertisedCapability extends ComputeCapability {
  /** Runs it was executing when it advertised (for every requester). */
  readonly running: number;
}

/**
 * How a task's result is verified.
 * - `'none'`: the first result is accepted.
 * - `'replicate'`: two different remote peers run the task (the second returns only a SHA-256
 *   of its output); equal hashes accept the result. On a mismatch the requester computes the
 *   task itself and every peer that disagrees with it gets a strike.
 * - `'spot-check'`: the requester recomputes a seeded share (`spotCheckRate`) of remote
 *   results, and the first result of every peer; a different result gives that peer a strike
 *   and the requester's own result is used.
 * A result computed by the requester itself is always accepted (it is the reference).
 */
export type VerifyMode = 'none' | 'replicate' | 'spot-check';

/**
 * Where the requester's own executor runs its tasks.
 * - `'worker'`: the requester is one of the workers (with its own `slots`), and the last resort.
 * - `'fallback'`: only as the last resort: no capable remote peer, or `maxAttempts` remote runs
 *   of the task failed.
 * - `'verify-only'`: never, except to verify (spot checks, replicate mismatches); a task then
 *   fails with `ComputeFailed` `Attempts` after `maxAttempts` remote runs, or `NoWorker` after
 *   waiting `timeoutMs` with no capable remote peer.
 */
export type LocalRole = 'worker' | 'fallback' | 'verify-only';

/**
 * Runs a kernel: the output bytes of `kernel` on `input`. Must be a pure function of
 * `(kernel, input)` (the CPU twin, the GPU kernel, a worker pool): results are compared byte
 * for byte between peers. Called only after `validate` accepted the input. Should stop early
 * when `signal` aborts (its result is then ignored).
 */
export type ComputeExecutor = (kernel: string, input: Uint8Array, signal: AbortSignal) => Promise<Uint8Array>;

/** Options of {@link createRoomCompute}. */
export interface RoomComputeOptions {
  /** Channel of compute messages. Default {@link DEFAULT_COMPUTE_CHANNEL}. */
  readonly channel?: string;
  /** What this peer offers to others (and to itself with `local: 'worker'`). */
  readonly capability: ComputeCapability;
  /** The local executor (see {@link ComputeExecutor}). Never receives code: only registered kernel names. */
  readonly execute: ComputeExecutor;
  /**
   * Checks a task before anything runs or is sent: the kernel is known and the input decodes.
   * Throws to refuse; an error whose `code` is `'UnknownKernel'` is refused as such, any other
   * as `Invalid`, with the error's message as detail. (`prepareKernelTask` of the shaders
   * registry does exactly this.)
   */
  readonly validate: (kernel: string, input: Uint8Array) => void;
  /** Largest output of `kernel`, bytes, or `undefined` when no such kernel is known here. Results larger than this are dropped. */
  readonly maxOutputBytes: (kernel: string) => number | undefined;
  /** Default verification of {@link RoomCompute.submit}. Default `'spot-check'`. */
  readonly verify?: VerifyMode;
  /** Where our own executor runs our tasks. Default `'worker'`. */
  readonly local?: LocalRole;
  /**
   * Longest silence of a worker running one of our tasks, ms: from the assignment, and again
   * from every acknowledgement or piece of result it sends. Then the run is cancelled and the
   * task goes to another peer. Also the longest wait of a half-received input or an
   * unacknowledged result on the worker side. Default {@link DEFAULT_COMPUTE_TIMEOUT_MS}.
   * Size it for the slowest kernel you submit.
   */
  readonly timeoutMs?: number;
  /** Remote runs of one task (reassignments included) before the last resort, integer in [1, 64]. Default {@link DEFAULT_MAX_ATTEMPTS}; replicate tasks get at least 2. */
  readonly maxAttempts?: number;
  /** Mismatches after which a peer is excluded from scheduling, integer >= 1. Default {@link DEFAULT_MAX_STRIKES}. */
  readonly maxStrikes?: number;
  /** Share of remote results checked in `'spot-check'` mode, in [0, 1]. Default {@link DEFAULT_SPOT_CHECK_RATE}. */
  readonly spotCheckRate?: number;
  /** Also check the first result of every peer in `'spot-check'` mode. Default true. */
  readonly spotCheckFirst?: boolean;
  /** Seed of the spot-check draw (integer, low 32 bits). Default 0. */
  readonly seed?: number;
  /** Largest task input sent (by `submit`) or accepted (from peers), bytes. Default {@link DEFAULT_MAX_INPUT_BYTES}. */
  readonly maxInputBytes?: number;
  /** Most runs one requester may have here at once. Default {@link DEFAULT_MAX_TASKS_PER_PEER}. */
  readonly maxTasksPerPeer?: number;
  /** Most input bytes buffered for peers' runs at once. Default {@link DEFAULT_MAX_BUFFERED_INPUT_BYTES}. */
  readonly maxBufferedInputBytes?: number;
  /** Largest piece of an input or result, bytes; at most the transport's `maxFrameBytes` minus {@link DATA_HEADER_BYTES}. Default {@link DEFAULT_COMPUTE_CHUNK_BYTES} (or that maximum if smaller). */
  readonly chunkBytes?: number;
  /** Most bytes of one transfer unacknowledged, >= `chunkBytes`. Default {@link DEFAULT_COMPUTE_WINDOW_BYTES}. */
  readonly windowBytes?: number;
  /**
   * Runs a remote peer may hold beyond its free slots, integer in [0, 64]: they wait there, so
   * the next input travels while the current run computes and a result's transfer does not
   * leave the peer idle. Default {@link DEFAULT_COMPUTE_PREFETCH}. Queued time counts toward
   * `timeoutMs`.
   */
  readonly prefetch?: number;
  /** Shortest interval between presence broadcasts of a changed load, ms. Default {@link DEFAULT_PRESENCE_INTERVAL_MS}. */
  readonly presenceIntervalMs?: number;
  /** Clock of the time-outs (the network's `ManualClock` in tests). Default a `RealClock`. */
  readonly clock?: Clock;
}

/** Options of {@link RoomCompute.submit}. */
export interface SubmitOptions {
  /** Verification of this task. Default the room compute's `verify`. */
  readonly verify?: VerifyMode;
  /** Aborting cancels the task: its runs are cancelled and the promise rejects `ComputeFailed` `Cancelled`. */
  readonly signal?: AbortSignal;
}

/** What we know of a remote peer. */
export interface ComputePeerInfo {
  readonly peerId: PeerId;
  /** A member of the room now. */
  readonly present: boolean;
  /** Its last presence, or undefined before the first one (it runs no room compute, or not yet). */
  readonly capability: AdvertisedCapability | undefined;
  /** Our runs on it now. */
  readonly outstanding: number;
  /** Its runs whose results we accepted or compared. */
  readonly completed: number;
  /** Mismatches found in its results. */
  readonly strikes: number;
  /** Excluded from scheduling (strikes reached `maxStrikes`); kept for this room compute's life, across rejoins. */
  readonly excluded: boolean;
}

/**
 * Why a run of ours ended without a usable result (the task then goes elsewhere).
 * - `left`: the worker left the room. `timeout`: it was silent for `timeoutMs`.
 * - `refused`: it refused (see `refusal`). `excluded`: it was excluded meanwhile.
 * - `malformed`: its result broke the protocol (declared larger than `maxOutputBytes`, bad pieces).
 * - `failed`: our own executor threw (local runs).
 */
export type RunFailure = 'left' | 'timeout' | 'refused' | 'excluded' | 'malformed' | 'failed';

/**
 * Why a compute message from a peer was dropped (counted and reported, never thrown).
 * - `Malformed`: bytes that do not decode, or a message that breaks the protocol (a piece at
 *   the wrong offset, an acknowledgement of bytes never sent, a result in the wrong mode).
 * - `Oversized`: a result announced larger than the kernel's `maxOutputBytes`.
 * - `Unsolicited`: a message about a run this peer does not have with us (a result for a task
 *   never assigned to it, data for an unknown run).
 */
export type ComputeDropReason = 'Malformed' | 'Oversized' | 'Unsolicited';

/** Every {@link ComputeDropReason}, in a stable order. */
export const COMPUTE_DROP_REASONS: readonly ComputeDropReason[] = ['Malformed', 'Oversized', 'Unsolicited'];

/** A dropped compute message. */
export interface ComputeDrop {
  readonly reason: ComputeDropReason;
  /** Authenticated sender. */
  readonly from: PeerId;
  /** Size of the message, bytes. */
  readonly bytes: number;
  readonly detail: string;
}

/** Events of a {@link RoomCompute}; handlers run synchronously. */
export interface RoomComputeEvents {
  /** A peer advertised its capability (first time or changed). */
  presence: { readonly peerId: PeerId; readonly capability: AdvertisedCapability };
  /** A run of a task started on `peerId` (our own id for local runs). */
  assigned: { readonly taskId: number; readonly runId: number; readonly kernel: string; readonly peerId: PeerId; readonly mode: ResultMode; readonly check: boolean };
  /** A run ended without a usable result; the task is scheduled again. */
  reassigned: {
    readonly taskId: number; readonly runId: number; readonly kernel: string; readonly peerId: PeerId;
    readonly reason: RunFailure; readonly refusal?: ComputeRefusal; readonly detail: string;
  };
  /**
   * A remote result was verified: by a second peer's equal hash (`replicate`) or by our own
   * computation (`spot-check`; `local` after a replicate mismatch). `peers` agreed with the
   * accepted result.
   */
  verified: { readonly taskId: number; readonly kernel: string; readonly method: 'replicate' | 'spot-check' | 'local'; readonly peers: readonly PeerId[] };
  /** `peerId` returned a result whose SHA-256 differs from the reference; it got a strike. Hashes in hex. */
  mismatch: { readonly taskId: number; readonly kernel: string; readonly peerId: PeerId; readonly expected: string; readonly got: string };
  /** `peerId` reached `maxStrikes` and gets no more work from us. */
  excluded: { readonly peerId: PeerId; readonly strikes: number };
  /** We refused a run a peer asked of us. */
  refused: { readonly peerId: PeerId; readonly runId: number; readonly kernel: string; readonly reason: ComputeRefusal; readonly detail: string };
  /** A message was dropped. */
  drop: ComputeDrop;
}

/** Counters of a {@link RoomCompute}. */
export interface RoomComputeStats {
  /** Tasks submitted (accepted by `submit`). */
  readonly submitted: number;
  readonly completed: number;
  readonly failed: number;
  /** Tasks not finished. */
  readonly pending: number;
  /** Our runs started on remote peers / on our own executor (checks excluded). */
  readonly remoteRuns: number;
  readonly localRuns: number;
  /** Local recomputations for verification (spot checks, replicate mismatches). */
  readonly checks: number;
  /** Runs that ended without a usable result, by cause. */
  readonly reassigned: Readonly<Record<RunFailure, number>>;
  /** Remote results verified (`verified` events). */
  readonly verified: number;
  /** Remote results that differed from the reference (`mismatch` events). */
  readonly mismatches: number;
  /** Runs executed for other peers (finished, result sent). */
  readonly served: number;
  /** Runs of other peers refused, by reason. */
  readonly refused: Readonly<Record<ComputeRefusal, number>>;
  /** Runs of other peers abandoned: cancelled by them, or their side silent for `timeoutMs`, or they left. */
  readonly abandoned: number;
  /** Messages about runs that had just ended (a result crossing a cancel): ignored, not drops. */
  readonly late: number;
  /** Dropped messages by reason. */
  readonly drops: Readonly<Record<ComputeDropReason, number>>;
  /** Runs executing on our executor now (ours and others'). */
  readonly running: number;
}
