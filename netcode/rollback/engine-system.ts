/**
 * Carries out a rollback session's requests on an engine world: the seam between
 * `netcode/rollback` (frames, input bytes, checksums) and `engine` (snapshots, the scheduler).
 *
 * {@link attachRollback} registers one system in `Phase.Network` and sets
 * `scheduler.externalSimulation`, so Simulation and Physics run only when the session says
 * `advance`: zero times while stalled, several times after a rollback. Each tick it samples the
 * local input sources once (`localInput` for every local slot, or a slot's own source from
 * `localInputs`), hands the records to the session, and executes the returned requests:
 *
 * - `save`: `snapshot(world)` into a ring of `session.snapshotWindow` reusable snapshots
 *   (no garbage at steady state), then `reportChecksum`. For a sync test, the new snapshot is
 *   compared with the earlier one of the same frame and a field-level diff is attached.
 * - `load`: `restore(world, ring[frame])`.
 * - `advance`: every slot's input is written to its player's `PlayerInput` and its status to
 *   {@link PlayerInputStatus}, then `scheduler.simulateTick()`.
 *
 * Events are drained every tick and passed to `onEvent`. A `waitRecommendation` makes the system
 * skip that many ticks (polling the network only), which is how GGPO keeps peers from running
 * persistently ahead.
 *
 * Three session kinds fit: P2P, sync test and spectator. A spectator has no local slot, never
 * loads and asks for no save (`snapshotWindow` 0); with `recordChecksums` the system saves the
 * state of every frame it reaches anyway (ring of one snapshot), so `snapshotOf(currentFrame)`
 * and `onChecksum` show what it follows, e.g. to compare with the players' checksums.
 *
 * Do not register the engine's input system with a rollback session: re-simulated frames read
 * `PlayerInput` as written here, and local devices are sampled by this system (see pitfalls).
 */
import {
  createInputRecord, createSnapshot, INPUT_RECORD_BYTES, decodeInputRecord, defineComponent, diffSnapshots, encodeInputRecord, hasComponent,
  Phase, PlayerInput, restore, snapshot, storeOf, writeInputRecord,
  type GameWorld, type InputRecord, type InputSource, type Scheduler, type WorldSnapshot, type SnapshotDifference,
} from '../../engine/index.ts';
import { NetcodeError } from '../errors.ts';
import type { AdvanceResult, AdvanceStatus, Frame, InputStatus, SessionEvent } from './types.ts';

/** `PlayerInputStatus.status` values. */
export const INPUT_STATUS_CODE: Readonly<Record<InputStatus, number>> = { confirmed: 0, predicted: 1, disconnected: 2 };

/**
 * The status of the input a player entity was last advanced with: 0 confirmed, 1 predicted,
 * 2 disconnected. Not rolled back and not checksummed: a predicted frame is re-simulated as
 * confirmed later, so game rules may react to `disconnected` (agreed by all peers at the same
 * frame) but must never branch on predicted vs confirmed.
 */
export const PlayerInputStatus = defineComponent('PlayerInputStatus', {
  status: { type: 'u8', doc: '0 confirmed, 1 predicted, 2 disconnected' },
}, { rollback: false, doc: 'Status of the input of the last advanced frame.' });

/** What {@link attachRollback} needs of a session: P2P, sync-test and spectator sessions fit. */
export interface RollbackSessionLike {
  /** Snapshots the session may ask to load (ring size); 0 for a session that never loads (a spectator). */
  readonly snapshotWindow: number;
  /** Slots whose input this peer provides (empty for a spectator). */
  readonly localSlots: readonly number[];
  readonly currentFrame: Frame;
  addLocalInput(slot: number, bytes: Uint8Array): void;
  advanceFrame(): AdvanceResult;
  reportChecksum(frame: Frame, checksum: number): boolean;
  drainEvents(): SessionEvent[];
  /** Network upkeep while skipping ticks (P2P sessions). */
  poll?(): void;
  /** Attaches a field-level diff to a sync-test mismatch. */
  attachDiff?(frame: Frame, differences: readonly SnapshotDifference[]): void;
}

/** Options of {@link attachRollback}. */
export interface RollbackSystemOptions {
  /** Entity of each player slot (index = slot). Each must have `PlayerInput`. */
  readonly players: readonly number[];
  /**
   * Source of this peer's input, sampled once per tick (a browser sampler, a bot script) and
   * given to every local slot that has no source in `localInputs`. Required unless every local
   * slot has one there (a spectator has no local slot and needs neither).
   */
  readonly localInput?: InputSource;
  /**
   * Per-slot sources (slot -> source), used instead of `localInput` for those slots: two players
   * on one peer (couch co-op), or a sync test feeding each slot its own script. Each is sampled
   * once per tick, into its own record, before the session advances. Every key must be a local
   * slot of the session.
   */
  readonly localInputs?: Readonly<Record<number, InputSource>>;
  /**
   * For a session that asks for no saves (`snapshotWindow` 0, a spectator): save the state of
   * every frame it reaches, the start frame at attach time and frame `f + 1` after each
   * `advance` of `f`, into a ring of one snapshot, calling `onChecksum` for each. Costs one
   * snapshot per simulated frame. Default `false`.
   * @throws NetcodeError `InvalidConfig` (from `attachRollback`) with a session that saves itself.
   */
  readonly recordChecksums?: boolean;
  /**
   * Called after every save the system makes with the frame and the checksum of its state
   * (`WorldSnapshot.checksum`). A frame saved again after a rollback is reported again: the last
   * call for a frame holds its state as last simulated.
   */
  readonly onChecksum?: (frame: Frame, checksum: number) => void;
  /** Called with every session event, in order. */
  readonly onEvent?: (event: SessionEvent) => void;
}

/** Counters of a {@link RollbackSystem}. */
export interface RollbackSystemStats {
  /** Ticks of the scheduler seen by the system. */
  ticks: number;
  /** `load` requests carried out. */
  rollbacks: number;
  /** Frames simulated by `advance` requests after a `load` in the same tick. */
  resimulatedFrames: number;
  /** Frames simulated in total. */
  advancedFrames: number;
  /** Ticks skipped on a wait recommendation. */
  skippedTicks: number;
  /** Status of the last `advanceFrame`. */
  lastStatus: AdvanceStatus | 'skipped' | undefined;
}

/** The attached system: its counters and how to detach it. */
export interface RollbackSystem {
  readonly stats: RollbackSystemStats;
  /**
   * The snapshot ring (slot = frame modulo its length), for desync diffs and tools:
   * `session.snapshotWindow` snapshots, at least one.
   */
  readonly ring: readonly WorldSnapshot[];
  /** The snapshot saved for `frame`, if the ring still holds it. */
  snapshotOf(frame: Frame): WorldSnapshot | undefined;
  /** Unregisters the system and gives the simulation back to `scheduler.step()`. */
  dispose(): void;
}

/**
 * Attaches `session` to `world` and `scheduler` (see the module docs).
 * @throws NetcodeError `InvalidConfig` when a player entity lacks `PlayerInput`, the world's
 *   tick is not the session's current frame, a local slot has no input source (neither
 *   `localInput` nor an entry of `localInputs`), a key of `localInputs` is not a local slot, or
 *   `recordChecksums` is set for a session that saves itself (`snapshotWindow` > 0).
 * @throws NetcodeError `InvalidRequest` (from the system, at a tick) when a `save` request's
 *   frame differs from the world's tick: the engine and the session disagree, a programming error.
 */
export function attachRollback(world: GameWorld, scheduler: Scheduler, session: RollbackSessionLike, options: RollbackSystemOptions): RollbackSystem {
  const { players, localInput, localInputs = {}, recordChecksums = false, onChecksum, onEvent } = options;
  players.forEach((eid, slot) => {
    if (!hasComponent(world, eid, PlayerInput)) {
      throw new NetcodeError('InvalidConfig', `player entity ${eid} of slot ${slot} has no PlayerInput component`, { eid, slot });
    }
  });
  if (world.time.tick !== session.currentFrame) {
    throw new NetcodeError('InvalidConfig', `world is at tick ${world.time.tick} but the session starts at frame ${session.currentFrame}`, {
      tick: world.time.tick, frame: session.currentFrame,
    });
  }
  // Per-slot sources, each with its own record and encoded bytes (arrays: nothing allocated per tick).
  const perSlot: { source: InputSource; record: InputRecord; bytes: Uint8Array }[] = [];
  const slotBytes: (Uint8Array | undefined)[] = [];
  for (const key of Object.keys(localInputs)) {
    const slot = Number(key);
    if (!session.localSlots.includes(slot)) {
      throw new NetcodeError('InvalidConfig', `localInputs has a source for slot ${key}, which is not a local slot (local: ${session.localSlots.join(', ') || 'none'})`, { slot: key });
    }
    const entry = { source: localInputs[slot]!, record: createInputRecord(), bytes: new Uint8Array(INPUT_RECORD_BYTES) };
    perSlot.push(entry);
    slotBytes[slot] = entry.bytes;
  }
  for (const slot of session.localSlots) {
    if (localInput === undefined && slotBytes[slot] === undefined) {
      throw new NetcodeError('InvalidConfig', `local slot ${slot} has no input source: pass localInput or localInputs[${slot}]`, { slot });
    }
  }
  if (recordChecksums && session.snapshotWindow > 0) {
    throw new NetcodeError('InvalidConfig', `recordChecksums is for sessions that ask for no saves (a spectator); this one saves itself (snapshotWindow ${session.snapshotWindow})`, {
      snapshotWindow: session.snapshotWindow,
    });
  }
  storeOf(world, PlayerInputStatus);
  const ring: WorldSnapshot[] = Array.from({ length: Math.max(1, session.snapshotWindow) }, () => createSnapshot());
  const saved = new Int32Array(ring.length).fill(-1);
  let scratch = createSnapshot();
  const record: InputRecord = createInputRecord();
  const decoded: InputRecord = createInputRecord();
  const bytes = new Uint8Array(INPUT_RECORD_BYTES);
  const stats: RollbackSystemStats = { ticks: 0, rollbacks: 0, resimulatedFrames: 0, advancedFrames: 0, skippedTicks: 0, lastStatus: undefined };
  let skip = 0;
  const status = storeOf(world, PlayerInputStatus).status;

  /** Saves the world's current state (the state of frame `world.time.tick`) for `recordChecksums`. */
  const recordState = (w: GameWorld): void => {
    const f = w.time.tick;
    const i = f % ring.length;
    const sum = snapshot(w, ring[i]).checksum;
    saved[i] = f;
    session.reportChecksum(f, sum);
    onChecksum?.(f, sum);
  };
  if (recordChecksums) recordState(world);

  const emit = (): void => {
    for (const e of session.drainEvents()) {
      if (e.kind === 'waitRecommendation') skip = Math.max(skip, e.skipFrames);
      onEvent?.(e);
    }
  };

  function rollbackSystem(w: GameWorld): void {
    stats.ticks++;
    localInput?.sample(record);
    for (let k = 0; k < perSlot.length; k++) perSlot[k]!.source.sample(perSlot[k]!.record);
    if (skip > 0) {
      skip--;
      stats.skippedTicks++;
      stats.lastStatus = 'skipped';
      session.poll?.();
      emit();
      return;
    }
    if (localInput !== undefined) encodeInputRecord(record, bytes);
    for (let k = 0; k < perSlot.length; k++) encodeInputRecord(perSlot[k]!.record, perSlot[k]!.bytes);
    for (const slot of session.localSlots) session.addLocalInput(slot, slotBytes[slot] ?? bytes);
    const result = session.advanceFrame();
    stats.lastStatus = result.status;
    let loaded = false;
    for (const r of result.requests) {
      const i = r.frame % ring.length;
      if (r.kind === 'save') {
        if (w.time.tick !== r.frame) {
          throw new NetcodeError('InvalidRequest', `save of frame ${r.frame} while the world is at tick ${w.time.tick}`, { frame: r.frame, tick: w.time.tick });
        }
        if (session.attachDiff && saved[i] === r.frame) {
          // Sync test: keep the earlier snapshot of this frame to diff against.
          snapshot(w, scratch);
          if (!session.reportChecksum(r.frame, scratch.checksum)) session.attachDiff(r.frame, diffSnapshots(w, ring[i]!, scratch));
          const previous = ring[i]!;
          ring[i] = scratch;
          scratch = previous;
        } else {
          session.reportChecksum(r.frame, snapshot(w, ring[i]).checksum);
        }
        saved[i] = r.frame;
        onChecksum?.(r.frame, ring[i]!.checksum);
      } else if (r.kind === 'load') {
        if (saved[i] !== r.frame) {
          throw new NetcodeError('InvalidRequest', `load of frame ${r.frame}, which the snapshot ring no longer holds`, { frame: r.frame });
        }
        restore(w, ring[i]!);
        stats.rollbacks++;
        loaded = true;
      } else {
        r.inputs.forEach((input, slot) => {
          const eid = players[slot]!;
          writeInputRecord(w, eid, decodeInputRecord(input.bytes, 0, decoded));
          status[eid] = INPUT_STATUS_CODE[input.status];
        });
        scheduler.simulateTick();
        stats.advancedFrames++;
        if (loaded) stats.resimulatedFrames++;
        if (recordChecksums) recordState(w);
      }
    }
    emit();
  }

  const previousExternal = scheduler.externalSimulation;
  scheduler.externalSimulation = true;
  const unregister = scheduler.addSystem(Phase.Network, rollbackSystem);
  return {
    stats,
    get ring() {
      return ring;
    },
    snapshotOf(frame: Frame): WorldSnapshot | undefined {
      const i = frame % ring.length;
      return saved[i] === frame ? ring[i] : undefined;
    },
    dispose(): void {
      unregister();
      scheduler.externalSimulation = previousExternal;
    },
  };
}
