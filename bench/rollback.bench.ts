/**
 * Rollback benchmarks on the arena demo (issue 4), each beside a baseline measured in the same run.
 *
 * 1. An 8-frame rollback for the arena with 50/200/500/1000 dynamic bodies (4 player balls, the
 *    10 pyramid crates and loose props; the count is read back from Rapier), after 120 ticks of
 *    scripted input. It is carried out as the engine does it: `attachRollback` with a sync-test
 *    session of check distance 8, whose every tick is `save(c), load(c-8)`, 8 x `advance` + 7
 *    `save`, `save(c), advance(c)`: 1 load, 9 advances, 9 saves. The rollback's cost is that
 *    tick minus a plain `scheduler.step()` (1 load + 8 advances + 9 saves: one save more than
 *    the re-simulation alone, which a P2P session pays every frame anyway). Baseline: the same
 *    requests on a raw Rapier copy of the arena's world (`takeSnapshot`, `World.restoreSnapshot`,
 *    `world.step`), no ECS. The four cases (plain and sync-test tick, engine and raw) run on
 *    twin worlds over the same frames, taking turns; `p50` beside each mean. Each figure is also
 *    a share of the 16.7 ms frame at 60 Hz; then extra sizes are measured around the
 *    interpolated limit to bracket the largest body count whose rollback fits the frame (the
 *    summary row). At 50 and 200 bodies most props sleep after settling, so those sizes are
 *    measured again with every body woken first (`awake` at the start and end of the timing).
 * 2. Snapshot save and load of the same arena worlds as the engine's rollback system does them
 *    (`snapshot(world, ringSlot)` into a reused ring, `restore(world, ringSlot)`), against
 *    Rapier's own `takeSnapshot` / `World.restoreSnapshot`, with bytes and microseconds per body.
 * 3. Input traffic: 4 P2P sessions (default settings: input delay 2, prediction 8, checksums
 *    every 60 frames) over the in-memory transport in virtual time, 1200 frames (20 s) of
 *    scripted input, (a) 20 ms one way, no loss and (b) 100 +- 30 ms with 5 % Gilbert-Elliott
 *    loss. Bytes are the transport's payload counters (`stats().peers[].bytesOut`, a broadcast
 *    counted once per member). Baseline: each peer broadcasting its raw 8-byte input every
 *    frame on the same network (8 B x 60 Hz x 3 peers = 1440 B/s up). In these rows `meanMs`
 *    is the CPU time of one peer's frame (session work and network simulation), so "vs
 *    baseline" compares CPU; the byte ratio is `extra['x raw B']`.
 *
 * Budget: 40-50 s on a 2-core machine; figures are wall-clock on this machine, and other load on
 * it shows in the means and p99s (compare with the `p50`s).
 */
import {
  buttonMask, checksum, createInputRecord, createSnapshot, DEFAULT_ACTION_MAP, encodeInputRecord, INPUT_RECORD_BYTES, initPhysics, Phase, restore, Rng,
  snapshot, writeInputRecord,
  type GameWorld, type InputRecord, type InputSource, type Rapier,
} from '../engine/index.ts';
import { rapier } from '../engine/physics/rapier.ts';
import { attachRollback, SessionBuilder, type P2PSession, type SyncTestSession } from '../netcode/rollback/index.ts';
import {
  gilbertElliottLossRate, MemoryNetwork,
  type Channel, type ConditionerOptions, type PeerId, type RoomTransport, type TransportEvents, type TransportStats,
} from '../netcode/transport/index.ts';
import { createArenaGame, type ArenaGame } from '../demos/arena/game.ts';
import { runGroup, type BenchRow } from './harness.ts';

type RapierWorld = InstanceType<Rapier['World']>;
type EventQueue = InstanceType<Rapier['EventQueue']>;

/** Dynamic body counts measured: 4 players + {@link PYRAMID_CRATES} crates + loose props. */
const SIZES = [50, 200, 500, 1000] as const;
/** Sizes measured again with every dynamic body woken (most sleep there after settling). */
const WOKEN_SIZES = [50, 200] as const;
const PLAYERS = 4;
/** Dynamic crates of the arena's pyramid (4 + 3 + 2 + 1), created besides the `props`. */
const PYRAMID_CRATES = 10;
const ARENA_SEED = 4;
/** Ticks of scripted input before measuring, so bodies have fallen, collided and moved. */
const SETTLE_TICKS = 120;
/** Rollback depth, frames (the default prediction window). */
const CHECK_DISTANCE = 8;
/** One frame at 60 Hz, ms. */
const FRAME_MS = 1000 / 60;
/** Untimed ticks of each case before timing (the sync test's history fills after 8). */
const TICK_WARMUP = CHECK_DISTANCE + 2;
/** Timed ticks per case: as many as fit {@link TICK_BUDGET_MS} for the four cases, within these bounds. */
const TICK_ITERATIONS_MIN = 12;
const TICK_ITERATIONS_MAX = 80;
/** Time given to the four tick cases of one size, ms. */
const TICK_BUDGET_MS = 3000;
/** Sync-test ticks on a small arena before anything is timed, so the snapshot code is optimised. */
const JIT_WARMUP_TICKS = 200;
/** Smallest arena: the player balls and the pyramid, no loose props. */
const MIN_BODIES = PLAYERS + PYRAMID_CRATES;
/** Extra sizes measured in 10 % steps beyond the interpolated limit. */
const LIMIT_STEPS = 3;
/** Largest size tried when looking for the limit. */
const MAX_BODIES = 4000;

const TRAFFIC_FRAMES = 1200;
const TRAFFIC_PEERS = 4;
/** Raw input traffic of one peer, B/s: one 8-byte record per frame to each other peer. */
const RAW_INPUT_BPS = INPUT_RECORD_BYTES * 60 * (TRAFFIC_PEERS - 1);

const JUMP = buttonMask(DEFAULT_ACTION_MAP, 'jump');

/**
 * A scripted player: holds a stick direction (jump pressed one time in four) for 4 to 8 ticks,
 * then picks another, from a seeded {@link Rng}.
 */
class BotInput implements InputSource {
  readonly #rng: Rng;
  readonly #held = createInputRecord();
  #left = 0;

  constructor(seed: number) {
    this.#rng = new Rng(seed);
  }

  sample(out: InputRecord): InputRecord {
    if (this.#left === 0) {
      this.#left = 4 + this.#rng.nextInt(5);
      this.#held.axes[0] = this.#rng.nextInt(255) - 127;
      this.#held.axes[1] = this.#rng.nextInt(255) - 127;
      this.#held.buttons = this.#rng.nextInt(4) === 0 ? JUMP : 0;
    }
    this.#left--;
    out.buttons = this.#held.buttons;
    for (let i = 0; i < 4; i++) out.axes[i] = this.#held.axes[i]!;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Rollback

interface BodyCount {
  readonly dynamic: number;
  readonly awake: number;
}

function countBodies(world: RapierWorld): BodyCount {
  let dynamic = 0, awake = 0;
  world.forEachRigidBody((b) => {
    if (!b.isDynamic()) return;
    dynamic++;
    if (!b.isSleeping()) awake++;
  });
  return { dynamic, awake };
}

/**
 * The arena with `bodies` dynamic bodies after {@link SETTLE_TICKS} plain ticks, every player
 * driven by `input` through a Phase.Input system (removed by `removeInput`).
 */
function settledArena(bodies: number, input: BotInput, wake: boolean): { game: ArenaGame; removeInput: () => void } {
  const game = createArenaGame({ seed: ARENA_SEED, players: PLAYERS, props: bodies - PLAYERS - PYRAMID_CRATES });
  const record = createInputRecord();
  const removeInput = game.scheduler.addSystem(Phase.Input, function benchInputSystem(w: GameWorld) {
    input.sample(record);
    for (const eid of game.players) writeInputRecord(w, eid, record);
  });
  for (let i = 0; i < SETTLE_TICKS; i++) game.scheduler.step();
  if (wake) {
    game.physics.rapierWorld.forEachRigidBody((b) => {
      if (b.isDynamic()) b.wakeUp();
    });
  }
  return { game, removeInput };
}

/** A sync-test session of {@link CHECK_DISTANCE} over 4 local slots, starting at the world's tick. */
function syncTest(world: GameWorld): SyncTestSession {
  let builder = new SessionBuilder().withNumPlayers(PLAYERS).withInputDelay(0).withStartFrame(world.time.tick);
  for (let slot = 0; slot < PLAYERS; slot++) builder = builder.addPlayer({ kind: 'local' }, slot);
  return builder.startSyncTestSession(CHECK_DISTANCE);
}

/**
 * A raw Rapier copy of a world, stepped and rolled back with no ECS, request for request as
 * the engine carries out a sync test: a ring of `CHECK_DISTANCE + 2` Rapier snapshots by frame.
 */
class RawRollback {
  world: RapierWorld;
  readonly #queue: EventQueue;
  readonly #ring: Uint8Array[] = [];
  #frame = 0;

  constructor(source: RapierWorld) {
    this.world = rapier().World.restoreSnapshot(source.takeSnapshot());
    this.#queue = new (rapier().EventQueue)(true);
  }

  /** One `world.step` (collision events cleared, as the engine drains them). */
  step(): void {
    this.world.step(this.#queue);
    this.#queue.clear();
  }

  /** `save(c)`, `load(c - 8)`, 8 x (`step`, `save`), `step`: 9 saves, 1 load, 9 steps once 8 frames are saved. */
  syncTestTick(): void {
    const n = CHECK_DISTANCE + 2;
    const c = this.#frame;
    this.#ring[c % n] = this.world.takeSnapshot();
    if (c >= CHECK_DISTANCE) {
      const next = rapier().World.restoreSnapshot(this.#ring[(c - CHECK_DISTANCE) % n]!);
      this.world.free();
      this.world = next;
      for (let f = c - CHECK_DISTANCE; f < c; f++) {
        this.step();
        this.#ring[(f + 1) % n] = this.world.takeSnapshot();
      }
    }
    this.step();
    this.#frame++;
  }

  free(): void {
    this.#queue.free();
    this.world.free();
  }
}

/** One measured size: the costs the limit search interpolates. */
interface FitPoint {
  readonly bodies: number;
  /** Engine 8-frame rollback (sync-test tick - plain tick), ms: difference of the means. */
  readonly rollbackMs: number;
  /** The same from the medians (less sensitive to other processes' load, blind to rare GC pauses), ms. */
  readonly rollbackP50Ms: number;
  /** Engine sync-test tick (the whole tick of a peer rolling back 8 frames), ms. */
  readonly tickMs: number;
  /** Raw Rapier 8-frame rollback, ms. */
  readonly rawMs: number;
}

const RAW_STEP = 'raw Rapier world.step';
const ENGINE_STEP = 'engine plain tick (step, no session)';
const RAW_SYNC = 'raw Rapier sync-test tick (1 restore + 9 step + 9 take)';
const ENGINE_SYNC = 'engine sync-test tick d=8 (1 load + 9 adv + 9 save)';
const RAW_ROLLBACK = 'raw Rapier 8-frame rollback (sync tick - step)';
const ENGINE_ROLLBACK = 'engine 8-frame rollback (sync tick - plain tick)';

function frameShare(ms: number): number {
  return (100 * ms) / FRAME_MS;
}

/** Per-call durations of one case, ms. */
interface Timing {
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly samples: number;
}

/**
 * Times `iterations` rounds of calls, one call of each case per round, case after case. Used
 * instead of tinybench for ticks, whose every call advances a world: tinybench's warm-up (at
 * least 250 ms) would run thousands of cheap ticks, so the cases would not see the same frames;
 * and taking turns spreads a burst of load from other processes over every case alike.
 */
function timeRounds(cases: readonly (() => void)[], iterations: number): Timing[] {
  const ms = cases.map(() => [] as number[]);
  for (let i = 0; i < iterations; i++) {
    cases.forEach((fn, c) => {
      const t0 = performance.now();
      fn();
      ms[c]!.push(performance.now() - t0);
    });
  }
  return ms.map((m) => {
    m.sort((a, b) => a - b);
    const at = (p: number) => m[Math.min(m.length - 1, Math.floor(p * m.length))]!;
    return { meanMs: m.reduce((a, b) => a + b, 0) / m.length, p50Ms: at(0.5), p99Ms: at(0.99), samples: m.length };
  });
}

/**
 * Measures the arena with `bodies` dynamic bodies. Two identical arenas (same seed, same
 * scripted input) settle for {@link SETTLE_TICKS}; one goes on with plain ticks, the other with
 * the sync test attached, and two raw Rapier copies of the settled world with plain steps and
 * with the sync test's requests. After {@link TICK_WARMUP} untimed ticks each, all four are timed
 * over the same frames; whether the two arenas end with equal checksums is reported. Then, unless
 * `snapshots` is false, the snapshot group on the plain arena. Returns the rows and the point
 * for the limit search.
 */
async function measureArena(bodies: number, wake: boolean, snapshots: boolean): Promise<{ rows: BenchRow[]; point: FitPoint }> {
  const plain = settledArena(bodies, new BotInput(bodies), wake);
  const input = new BotInput(bodies);
  const synced = settledArena(bodies, input, wake);
  synced.removeInput();
  const session = syncTest(synced.game.world);
  const rollback = attachRollback(synced.game.world, synced.game.scheduler, session, { players: synced.game.players, localInput: input });
  const rawPlain = new RawRollback(plain.game.physics.rapierWorld);
  const rawSynced = new RawRollback(plain.game.physics.rapierWorld);
  const start = countBodies(plain.game.physics.rapierWorld);
  const group = `8-frame rollback, arena ${start.dynamic} bodies${wake ? ', all woken' : ''}`;
  try {
    const cases: [string, () => void][] = [
      [RAW_STEP, () => rawPlain.step()],
      [ENGINE_STEP, () => plain.game.scheduler.step()],
      [RAW_SYNC, () => rawSynced.syncTestTick()],
      [ENGINE_SYNC, () => synced.game.scheduler.step()],
    ];
    const t0 = performance.now();
    for (const [, fn] of cases) for (let i = 0; i < TICK_WARMUP; i++) fn();
    const perRound = (performance.now() - t0) / TICK_WARMUP;
    const iterations = Math.max(TICK_ITERATIONS_MIN, Math.min(TICK_ITERATIONS_MAX, Math.round(TICK_BUDGET_MS / perRound)));
    const timings = timeRounds(cases.map(([, fn]) => fn), iterations);
    const t = new Map(cases.map(([name], i) => [name, timings[i]!]));
    const end = countBodies(plain.game.physics.rapierWorld);

    const report = session.report();
    if (!report.ok) throw new Error(`bench rollback: the arena sync test failed at ${bodies} bodies: ${report.summary}`);
    if (rollback.stats.resimulatedFrames !== rollback.stats.rollbacks * (CHECK_DISTANCE + 1)) {
      throw new Error(`bench rollback: expected ${CHECK_DISTANCE + 1} advances per rollback, got ${JSON.stringify(rollback.stats)}`);
    }
    const same = checksum(plain.game.world) === checksum(synced.game.world);
    if (!same) process.stderr.write(`bench rollback: at ${bodies} bodies the rolled-back arena differs from the plain one at tick ${plain.game.world.time.tick}\n`);

    const measured = (name: string, baseline?: string, extra: Record<string, number | string> = {}): BenchRow => {
      const x = t.get(name)!;
      const base = baseline === undefined ? undefined : t.get(baseline)!;
      return {
        group, name, meanMs: x.meanMs, p99Ms: x.p99Ms, samples: x.samples, baseline,
        ratio: base && x.meanMs / base.meanMs, extra: { p50: x.p50Ms, ...extra },
      };
    };
    const rawRollbackMs = t.get(RAW_SYNC)!.meanMs - t.get(RAW_STEP)!.meanMs;
    const tickMs = t.get(ENGINE_SYNC)!.meanMs;
    const rollbackMs = tickMs - t.get(ENGINE_STEP)!.meanMs;
    const rollbackP50Ms = t.get(ENGINE_SYNC)!.p50Ms - t.get(ENGINE_STEP)!.p50Ms;
    const samples = iterations;
    const rows: BenchRow[] = [
      measured(RAW_STEP),
      measured(ENGINE_STEP, RAW_STEP),
      measured(RAW_SYNC),
      measured(ENGINE_SYNC, RAW_SYNC, { '% of frame': frameShare(tickMs) }),
      {
        group, name: RAW_ROLLBACK, meanMs: rawRollbackMs, p99Ms: Number.NaN, samples,
        extra: { p50: t.get(RAW_SYNC)!.p50Ms - t.get(RAW_STEP)!.p50Ms, '% of frame': frameShare(rawRollbackMs) },
      },
      {
        group, name: ENGINE_ROLLBACK, meanMs: rollbackMs, p99Ms: Number.NaN, samples, baseline: RAW_ROLLBACK, ratio: rollbackMs / rawRollbackMs,
        extra: {
          p50: rollbackP50Ms, '% of frame': frameShare(rollbackMs), fits: rollbackMs <= FRAME_MS ? 'yes' : 'no',
          'awake at start': start.awake, 'awake at end': end.awake, 'same state as plain run': same ? 'yes' : 'NO',
        },
      },
    ];
    if (snapshots) rows.push(...await measureSnapshots(plain.game, start.dynamic));
    return { rows, point: { bodies: start.dynamic, rollbackMs, rollbackP50Ms, tickMs, rawMs: rawRollbackMs } };
  } finally {
    rollback.dispose();
    rawPlain.free();
    rawSynced.free();
    plain.game.physics.dispose();
    synced.game.physics.dispose();
  }
}

/**
 * Body count at which `cost` crosses {@link FRAME_MS}, by linear interpolation between the
 * measured points (sorted by bodies); `undefined` when no point fits or every point fits.
 */
function interpolateLimit(points: readonly FitPoint[], cost: (p: FitPoint) => number): number | undefined {
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!, b = points[i]!;
    if (cost(a) <= FRAME_MS && cost(b) > FRAME_MS) return a.bodies + ((FRAME_MS - cost(a)) * (b.bodies - a.bodies)) / (cost(b) - cost(a));
  }
  return undefined;
}

function limitText(points: readonly FitPoint[], cost: (p: FitPoint) => number): number | string {
  const n = interpolateLimit(points, cost);
  if (n !== undefined) return Math.round(n);
  const last = points[points.length - 1]!;
  return cost(points[0]!) > FRAME_MS ? `< ${points[0]!.bodies}` : `> ${last.bodies}`;
}

/** Rows of the limit search: extra sizes around the interpolated limit, then the summary row. */
async function findLimit(points: FitPoint[]): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const sorted = () => points.sort((a, b) => a.bodies - b.bodies);
  const tryAt = async (bodies: number): Promise<FitPoint | undefined> => {
    const n = Math.max(MIN_BODIES, Math.min(MAX_BODIES, Math.round(bodies / 10) * 10));
    if (points.some((p) => p.bodies === n)) return undefined;
    const m = await measureArena(n, false, false);
    rows.push(...m.rows);
    points.push(m.point);
    sorted();
    return m.point;
  };
  sorted();
  // Every size fits: grow until one does not (bounded by MAX_BODIES).
  while (points[points.length - 1]!.rollbackMs <= FRAME_MS && points[points.length - 1]!.bodies < MAX_BODIES) {
    await tryAt(points[points.length - 1]!.bodies * 1.5);
  }
  // No size fits: shrink towards the smallest arena (players and crates only).
  while (points[0]!.rollbackMs > FRAME_MS && points[0]!.bodies > MIN_BODIES) {
    await tryAt(points[0]!.bodies / 2);
  }
  // Measure at the interpolated limit, then in 10 % steps away from it (up if it fits, down if
  // not) until the answer flips, at most LIMIT_STEPS more sizes.
  const estimate = interpolateLimit(points, (p) => p.rollbackMs);
  let at = estimate === undefined ? undefined : await tryAt(estimate);
  const fitsAt = at !== undefined && at.rollbackMs <= FRAME_MS;
  for (let k = 0; at !== undefined && k < LIMIT_STEPS; k++) {
    at = await tryAt(at.bodies * (fitsAt ? 1.1 : 0.9));
    if (at !== undefined && at.rollbackMs <= FRAME_MS !== fitsAt) break;
  }
  const fitting = points.filter((p) => p.rollbackMs <= FRAME_MS);
  const over = points.filter((p) => p.rollbackMs > FRAME_MS);
  const best = fitting[fitting.length - 1];
  rows.push({
    group: `largest arena whose 8-frame rollback fits ${FRAME_MS.toFixed(1)} ms`,
    name: best ? `engine rollback at ${best.bodies} bodies` : `engine rollback at ${points[0]!.bodies} bodies (none fits)`,
    meanMs: (best ?? points[0]!).rollbackMs,
    p99Ms: Number.NaN,
    samples: points.length,
    extra: {
      'largest measured N that fits': best ? best.bodies : 'none',
      'smallest measured N over': over.length > 0 ? over[0]!.bodies : 'none',
      'interpolated N (rollback)': limitText(points, (p) => p.rollbackMs),
      'interpolated N (rollback, p50)': limitText(points, (p) => p.rollbackP50Ms),
      'interpolated N (whole sync tick)': limitText(points, (p) => p.tickMs),
      'raw Rapier interpolated N': limitText(points, (p) => p.rawMs),
    },
  });
  return rows;
}

/** Runs sync-test ticks on a small arena so V8 has optimised the snapshot and restore paths before timing. */
function warmUp(): void {
  const input = new BotInput(1);
  const { game, removeInput } = settledArena(SIZES[0], input, true);
  removeInput();
  const rollback = attachRollback(game.world, game.scheduler, syncTest(game.world), { players: game.players, localInput: input });
  for (let i = 0; i < JIT_WARMUP_TICKS; i++) game.scheduler.step();
  rollback.dispose();
  game.physics.dispose();
}

// ---------------------------------------------------------------------------------------------
// 2. Snapshots

/** Save and load of `game`'s world the way the rollback system does it, against Rapier's own. */
async function measureSnapshots(game: ArenaGame, bodies: number): Promise<BenchRow[]> {
  const R = rapier();
  const { world } = game;
  const ring = Array.from({ length: CHECK_DISTANCE + 2 }, () => createSnapshot());
  for (const s of ring) snapshot(world, s);
  let slot = 0;
  const next = () => ring[slot++ % ring.length]!;
  const ecsBytes = ring[0]!.bytes.byteLength;
  const physicsBytes = ring[0]!.extensions.get('physics')!.byteLength;
  const rapierBytes = game.physics.rapierWorld.takeSnapshot();
  let copy = R.World.restoreSnapshot(rapierBytes);
  const perBody = (b: number) => b / bodies;
  try {
    const rows = await runGroup(`arena snapshot, ${bodies} bodies`, [
      // physics.rapierWorld is replaced by every restore: read it each time.
      { name: 'Rapier takeSnapshot', fn: () => void game.physics.rapierWorld.takeSnapshot(), extra: { 'B/body': perBody(rapierBytes.byteLength) } },
      {
        name: 'engine snapshot(world, ring slot)', fn: () => void snapshot(world, next()), baseline: 'Rapier takeSnapshot',
        extra: { 'B/body': perBody(ecsBytes + physicsBytes), 'ECS B/body': perBody(ecsBytes), 'physics B/body': perBody(physicsBytes) },
      },
      {
        name: 'Rapier World.restoreSnapshot',
        fn: () => {
          const w = R.World.restoreSnapshot(rapierBytes);
          copy.free();
          copy = w;
        },
      },
      { name: 'engine restore(world, ring slot)', fn: () => restore(world, next()), baseline: 'Rapier World.restoreSnapshot' },
    ], { time: 150, iterations: 20 });
    return rows.map((r) => ({ ...r, extra: { ...r.extra, 'us/body': (1000 * r.meanMs) / bodies } }));
  } finally {
    copy.free();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Input traffic

/** Payload bytes sent through a transport by rollback message type (first byte), a broadcast once per member. */
class CountingTransport implements RoomTransport {
  readonly byType = new Map<number, number>();

  constructor(readonly inner: RoomTransport) {}

  get localPeerId(): PeerId {
    return this.inner.localPeerId;
  }

  get roomId(): string {
    return this.inner.roomId;
  }

  get maxFrameBytes(): number {
    return this.inner.maxFrameBytes;
  }

  peers(): readonly PeerId[] {
    return this.inner.peers();
  }

  send(peerId: PeerId, channel: Channel, data: Uint8Array): void {
    this.inner.send(peerId, channel, data);
    this.#count(data, 1);
  }

  broadcast(channel: Channel, data: Uint8Array): void {
    const members = this.inner.peers().length;
    this.inner.broadcast(channel, data);
    this.#count(data, members);
  }

  on<K extends keyof TransportEvents>(event: K, handler: (e: TransportEvents[K]) => void): () => void {
    return this.inner.on(event, handler);
  }

  stats(): TransportStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  #count(data: Uint8Array, copies: number): void {
    const type = data[0] ?? 0;
    this.byType.set(type, (this.byType.get(type) ?? 0) + data.length * copies);
  }
}

interface TrafficPeer {
  readonly id: PeerId;
  readonly transport: RoomTransport;
  /** Bytes and messages sent so far, summed over members. */
  sent(): { bytes: number; messages: number };
}

function sentBy(transport: RoomTransport): { bytes: number; messages: number } {
  let bytes = 0, messages = 0;
  for (const p of transport.stats().peers) {
    bytes += p.bytesOut;
    messages += p.messagesOut;
  }
  return { bytes, messages };
}

/** Figures of one traffic run, per peer (mean over the peers). */
interface TrafficResult {
  readonly bytesPerSecond: number;
  readonly messagesPerSecond: number;
  /** Bytes sent per frame the peer advanced. */
  readonly bytesPerFrame: number;
  /** CPU of one peer's frame, ms. */
  readonly cpuMsPerFrame: number;
  readonly frames: number;
  readonly extra: Record<string, number | string>;
}

/** Ticks `peers` for `TRAFFIC_FRAMES` frames of virtual time after they all joined, counting what they send. */
function measureTraffic(net: MemoryNetwork, peers: readonly TrafficPeer[], tick: () => number): TrafficResult {
  const before = peers.map((p) => p.sent());
  let advanced = 0;
  const t0 = performance.now();
  for (let i = 0; i < TRAFFIC_FRAMES; i++) {
    net.advance(FRAME_MS);
    advanced += tick();
  }
  const cpu = performance.now() - t0;
  let bytes = 0, messages = 0;
  peers.forEach((p, i) => {
    const now = p.sent();
    if (p.transport.peers().length !== TRAFFIC_PEERS - 1) throw new Error(`bench traffic: ${p.id} lost a member (counters reset)`);
    bytes += now.bytes - before[i]!.bytes;
    messages += now.messages - before[i]!.messages;
  });
  const seconds = (TRAFFIC_FRAMES * FRAME_MS) / 1000;
  return {
    bytesPerSecond: bytes / peers.length / seconds,
    messagesPerSecond: messages / peers.length / seconds,
    bytesPerFrame: bytes / advanced,
    cpuMsPerFrame: cpu / (TRAFFIC_FRAMES * peers.length),
    frames: advanced / peers.length,
    extra: {},
  };
}

async function joinAll(net: MemoryNetwork, ids: readonly PeerId[]): Promise<RoomTransport[]> {
  const rooms: RoomTransport[] = [];
  for (const id of ids) rooms.push(await net.join('match', id));
  net.advance(1000); // handshakes: every member sees the others
  return rooms;
}

/** Baseline: each peer broadcasts its raw 8-byte input once per frame, nothing else. */
async function rawTraffic(conditioner: ConditionerOptions, seed: number): Promise<TrafficResult> {
  const net = new MemoryNetwork({ seed, clock: 'manual', conditioner });
  const ids = Array.from({ length: TRAFFIC_PEERS }, (_, i) => `p${i}`);
  const rooms = await joinAll(net, ids);
  const inputs = ids.map((_, i) => new BotInput(100 + i));
  const record = createInputRecord();
  const bytes = new Uint8Array(INPUT_RECORD_BYTES);
  const peers = rooms.map((r) => ({ id: r.localPeerId, transport: r, sent: () => sentBy(r) }));
  const result = measureTraffic(net, peers, () => {
    rooms.forEach((r, i) => r.broadcast('raw', encodeInputRecord(inputs[i]!.sample(record), bytes)));
    return rooms.length;
  });
  await net.close();
  return result;
}

/** 4 P2P sessions with default settings, inputs from {@link BotInput}; waits obeyed, saves' checksums reported. */
async function sessionTraffic(conditioner: ConditionerOptions, seed: number): Promise<TrafficResult> {
  const net = new MemoryNetwork({ seed, clock: 'manual', conditioner });
  const ids = Array.from({ length: TRAFFIC_PEERS }, (_, i) => `p${i}`);
  const rooms = (await joinAll(net, ids)).map((r) => new CountingTransport(r));
  const sessions: P2PSession[] = rooms.map((room, i) => {
    let b = new SessionBuilder().withNumPlayers(TRAFFIC_PEERS);
    ids.forEach((id, slot) => (b = b.addPlayer(slot === i ? { kind: 'local' } : { kind: 'remote', peerId: id }, slot)));
    return b.startP2PSession(room, net.clock);
  });
  const inputs = ids.map((_, i) => new BotInput(200 + i));
  const record = createInputRecord();
  const skip = sessions.map(() => 0);
  let desyncs = 0, rollbacks = 0;
  const tick = (): number => {
    let advanced = 0;
    sessions.forEach((s, i) => {
      if (skip[i]! > 0) {
        skip[i]!--;
        s.poll();
      } else {
        s.addLocalInput(i, encodeInputRecord(inputs[i]!.sample(record)));
        const result = s.advanceFrame();
        for (const r of result.requests) {
          if (r.kind === 'save') s.reportChecksum(r.frame, Math.imul(r.frame, 0x9e3779b1) >>> 0);
          else if (r.kind === 'load') rollbacks++;
        }
        if (result.status === 'advanced') advanced++;
      }
      for (const e of s.drainEvents()) {
        if (e.kind === 'waitRecommendation') skip[i] = Math.max(skip[i]!, e.skipFrames);
        if (e.kind === 'desync') desyncs++;
      }
    });
    return advanced;
  };
  for (let i = 0; i < 600 && sessions.some((s) => s.state !== 'running'); i++) {
    net.advance(FRAME_MS);
    tick();
  }
  if (sessions.some((s) => s.state !== 'running')) throw new Error('bench traffic: sessions did not synchronize');
  const before = rooms.map((r) => new Map(r.byType));
  const peers = rooms.map((r) => ({ id: r.localPeerId, transport: r, sent: () => sentBy(r.inner) }));
  const result = measureTraffic(net, peers, tick);
  if (desyncs > 0) throw new Error(`bench traffic: ${desyncs} desync events`);
  // Input messages (type 3) against everything else (acks, quality reports, checksums, keep-alives).
  let inputBytes = 0, otherBytes = 0;
  rooms.forEach((r, i) => {
    for (const [type, n] of r.byType) {
      const d = n - (before[i]!.get(type) ?? 0);
      if (type === 3) inputBytes += d;
      else otherBytes += d;
    }
  });
  const seconds = (TRAFFIC_FRAMES * FRAME_MS) / 1000;
  await Promise.all(sessions.map((s) => s.close()));
  await net.close();
  return {
    ...result,
    extra: {
      'input msg B/s': inputBytes / TRAFFIC_PEERS / seconds,
      'other msg B/s': otherBytes / TRAFFIC_PEERS / seconds,
      'rollbacks/s': rollbacks / TRAFFIC_PEERS / seconds,
    },
  };
}

/** Traffic rows for both network conditions. */
async function benchTraffic(): Promise<BenchRow[]> {
  const burst = 0.5;
  const loss = { p: (0.05 * burst) / (1 - 0.05), r: burst };
  const scenarios: { name: string; conditioner: ConditionerOptions }[] = [
    { name: '20 ms, no loss', conditioner: { latencyMs: 20 } },
    { name: `100 +- 30 ms, ${(100 * gilbertElliottLossRate(loss)).toFixed(0)} % GE loss`, conditioner: { latencyMs: 100, jitterMs: 30, loss } },
  ];
  const rows: BenchRow[] = [];
  for (const [i, s] of scenarios.entries()) {
    const group = `input traffic per peer, ${TRAFFIC_PEERS} players, 60 Hz, ${s.name}`;
    const raw = await rawTraffic(s.conditioner, 10 + i);
    const session = await sessionTraffic(s.conditioner, 10 + i);
    const figures = (r: TrafficResult) => ({ 'B/s up': r.bytesPerSecond, 'B/frame': r.bytesPerFrame, 'msgs/s': r.messagesPerSecond, frames: r.frames });
    const rawName = `raw 8 B inputs, broadcast each frame (${RAW_INPUT_BPS} B/s)`;
    rows.push(
      { group, name: rawName, meanMs: raw.cpuMsPerFrame, p99Ms: Number.NaN, samples: TRAFFIC_FRAMES, extra: figures(raw) },
      {
        group, name: 'P2P session (input delay 2, prediction 8)', meanMs: session.cpuMsPerFrame, p99Ms: Number.NaN, samples: TRAFFIC_FRAMES,
        baseline: rawName, ratio: session.cpuMsPerFrame / raw.cpuMsPerFrame,
        extra: { ...figures(session), 'x raw B': session.bytesPerSecond / RAW_INPUT_BPS, ...session.extra },
      },
    );
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------

/**
 * The `rollback` group (see the module doc): rows of the 8-frame rollback per arena size
 * (ms per tick, `% of frame` of 16.7 ms), the limit search and its summary, the arena snapshot
 * save/load (ms, `B/body`, `us/body`) and the input traffic (`B/s up` per peer, `B/frame`).
 */
export async function benchRollback(): Promise<BenchRow[]> {
  await initPhysics();
  warmUp();
  const rows: BenchRow[] = [];
  const points: FitPoint[] = [];
  for (const n of SIZES) {
    const m = await measureArena(n, false, true);
    rows.push(...m.rows);
    points.push(m.point);
  }
  for (const n of WOKEN_SIZES) rows.push(...(await measureArena(n, true, false)).rows);
  rows.push(...await findLimit(points));
  rows.push(...await benchTraffic());
  return rows;
}
