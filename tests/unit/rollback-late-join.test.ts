/**
 * Late join as a spectator (netcode/rollback/late-join.ts) on the real arena game, in virtual
 * time over the in-memory transport: players (arena worlds driven by `attachRollback`, bots
 * whose inputs are a pure function of slot and frame) play; a peer arriving mid-match asks
 * player p0 to watch, receives the world state of the start frame in chunks, restores it into
 * an arena built from the application blob, and follows the match with a spectator session
 * attached with `recordChecksums`. Its checksums must equal the players' at every frame it
 * reaches, and the players must not stall because of it.
 *
 * Also: refusals (not running, too many spectators, a player asking), time-outs on both sides,
 * cancel and leave, garbage on the join channel, the wire format, and a 400-prop arena whose
 * state (~800 KB) is far beyond one 64 KiB transport frame.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  axisIndex, buttonMask, checksum, decodeSnapshot, DEFAULT_ACTION_MAP, initPhysics, restore, storeOf, Transform,
  type InputRecord, type InputSource,
} from '../../engine/index.ts';
import {
  attachRollback, decodeJoinMessage, DEFAULT_JOIN_CHANNEL, DEFAULT_MAX_FRAME_BYTES, encodeJoinMessage, JOIN_CHUNK_BYTES, LATE_JOIN_VERSION,
  lateJoinSessionBuilder, MemoryNetwork, NetcodeError, requestLateJoin, rollbackStateAt, serveLateJoins, SessionBuilder,
  type ConditionerOptions, type JoinMessage, type LateJoin, type LateJoinDrop, type LateJoinHost, type MemoryRoomTransport,
  type P2PSession, type RollbackSystem, type SessionEvent, type SpectatorSession,
} from '../../netcode/index.ts';
import { createArenaGame, type ArenaGame } from '../../demos/arena/game.ts';

const ARENA_SEED = 777;
const TICK_MS = 1000 / 60;
const MOVE_X = axisIndex(DEFAULT_ACTION_MAP, 'moveX');
const MOVE_Y = axisIndex(DEFAULT_ACTION_MAP, 'moveY');
const JUMP = buttonMask(DEFAULT_ACTION_MAP, 'jump');

/** A bot: stick direction from a hash of (slot, frame / 20), a jump now and then. Pure in (slot, frame). */
function botInput(slot: number, frame: number, out: InputRecord): InputRecord {
  let h = Math.imul((slot + 1) * 0x9e3779b1 + Math.floor(frame / 20), 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  out.buttons = frame % 20 === 0 && (h & 3) === 0 ? JUMP : 0;
  out.axes.fill(0);
  out.axes[MOVE_X] = [-127, 0, 127, 64][h & 3]!;
  out.axes[MOVE_Y] = [127, -127, 0, -64][(h >>> 2) & 3]!;
  return out;
}

/** The bot of `slot`, for the frame the session will use a sample at. */
function botSource(session: P2PSession, slot: number): InputSource {
  return { sample: (out) => botInput(slot, session.currentFrame + session.inputDelay(slot), out) };
}

/** The application blob of this test's matches: what a newcomer needs to build the same arena. */
interface ArenaSetup {
  readonly players: number;
  readonly props: number;
}
const encodeSetup = (s: ArenaSetup): Uint8Array => new TextEncoder().encode(JSON.stringify(s));
const decodeSetup = (b: Uint8Array): ArenaSetup => JSON.parse(new TextDecoder().decode(b)) as ArenaSetup;

interface Player {
  readonly id: string;
  readonly room: MemoryRoomTransport;
  readonly game: ArenaGame;
  readonly session: P2PSession;
  readonly rollback: RollbackSystem;
  /** Checksum of the latest save of each frame. */
  readonly checksums: Map<number, number>;
  readonly events: SessionEvent[];
  /** `rollback.stats.lastStatus` of every tick. */
  readonly statuses: string[];
}

interface Watcher {
  readonly id: string;
  readonly join: LateJoin;
  readonly game: ArenaGame;
  readonly session: SpectatorSession;
  readonly checksums: Map<number, number>;
  readonly events: SessionEvent[];
}

interface Match {
  readonly net: MemoryNetwork;
  readonly players: Player[];
  readonly host: Player;
  readonly server: LateJoinHost;
  readonly hostDrops: LateJoinDrop[];
  readonly watchers: Watcher[];
  readonly setup: ArenaSetup;
}

interface MatchOptions {
  readonly players: number;
  readonly props: number;
  readonly seed: number;
  readonly conditioner: ConditionerOptions;
  readonly maxSpectators?: number;
  readonly joinTimeoutMs?: number;
}

async function createMatch(o: MatchOptions): Promise<Match> {
  const net = new MemoryNetwork({ seed: o.seed, clock: 'manual', conditioner: o.conditioner });
  const ids = Array.from({ length: o.players }, (_, i) => `p${i}`);
  const setup: ArenaSetup = { players: o.players, props: o.props };
  const players: Player[] = [];
  for (let slot = 0; slot < o.players; slot++) {
    const room = await net.join('arena', ids[slot]);
    let b = new SessionBuilder().withNumPlayers(o.players).withChecksumInterval(30);
    ids.forEach((id, s) => (b = b.addPlayer(s === slot ? { kind: 'local' } : { kind: 'remote', peerId: id }, s)));
    const session = b.startP2PSession(room, net.clock);
    const game = createArenaGame({ seed: ARENA_SEED, players: o.players, localSlot: slot, props: o.props });
    const checksums = new Map<number, number>();
    const events: SessionEvent[] = [];
    const rollback = attachRollback(game.world, game.scheduler, session, {
      players: game.players, localInput: botSource(session, slot),
      onChecksum: (f, sum) => checksums.set(f, sum), onEvent: (e) => events.push(e),
    });
    players.push({ id: ids[slot]!, room, game, session, rollback, checksums, events, statuses: [] });
  }
  const host = players[0]!;
  const hostDrops: LateJoinDrop[] = [];
  const server = serveLateJoins(host.session, host.room, {
    snapshotAt: rollbackStateAt(host.game.world, host.rollback), app: encodeSetup(setup), clock: net.clock,
    onDrop: (e) => hostDrops.push(e),
    ...(o.maxSpectators === undefined ? {} : { maxSpectators: o.maxSpectators }),
    ...(o.joinTimeoutMs === undefined ? {} : { joinTimeoutMs: o.joinTimeoutMs }),
  });
  return { net, players, host, server, hostDrops, watchers: [], setup };
}

/** One virtual tick: the network, then every world (players and watchers). */
function tick(m: Match): void {
  m.net.advance(TICK_MS);
  for (const p of m.players) {
    p.game.scheduler.step();
    p.statuses.push(p.rollback.stats.lastStatus ?? 'none');
  }
  for (const w of m.watchers) w.game.scheduler.step();
}

function runUntil(m: Match, done: () => boolean, maxTicks: number): void {
  for (let t = 0; t < maxTicks; t++) {
    if (done()) return;
    tick(m);
  }
  throw new Error(`not done after ${maxTicks} ticks`);
}

/** Ticks until `promise` settles (virtual time goes on; microtasks run between ticks). */
async function settle<T>(m: Match, promise: Promise<T>, maxTicks: number): Promise<{ value?: T; error?: unknown; ticks: number }> {
  let out: { value?: T; error?: unknown } | undefined;
  promise.then((value) => (out = { value }), (error: unknown) => (out = { error }));
  for (let t = 0; t < maxTicks; t++) {
    await Promise.resolve();
    if (out !== undefined) return { ...out, ticks: t };
    tick(m);
  }
  throw new Error(`late join not settled after ${maxTicks} ticks`);
}

/** What the newcomer does with a join: build the arena from the blob, restore, start and attach a spectator session. */
function startWatcher(m: Match, id: string, room: MemoryRoomTransport, join: LateJoin): Watcher {
  const setup = decodeSetup(join.app);
  const game = createArenaGame({ seed: ARENA_SEED, players: setup.players, props: setup.props });
  restore(game.world, decodeSnapshot(join.state));
  const session = lateJoinSessionBuilder(join).startSpectatorSession(join.hostPeerId, room, m.net.clock);
  const checksums = new Map<number, number>();
  const events: SessionEvent[] = [];
  attachRollback(game.world, game.scheduler, session, {
    players: game.players, recordChecksums: true, onChecksum: (f, sum) => checksums.set(f, sum), onEvent: (e) => events.push(e),
  });
  const w = { id, join, game, session, checksums, events };
  m.watchers.push(w);
  return w;
}

/** Newest frame whose state every player simulated with confirmed inputs only. */
function commonConfirmed(m: Match): number {
  return Math.min(...m.players.map((p) => Math.min(p.session.confirmedFrame, p.session.currentFrame - 1)));
}

/** Longest run of ticks in `statuses[from..to)` where the session could not advance. */
function longestStall(statuses: readonly string[], from: number, to = statuses.length): number {
  let longest = 0;
  let run = 0;
  for (let i = from; i < to; i++) {
    run = statuses[i] === 'PredictionThreshold' || statuses[i] === 'NotSynchronized' ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

function ballPositions(game: ArenaGame): number[][] {
  const tr = storeOf(game.world, Transform);
  return game.players.map((e) => [tr.px[e]!, tr.py[e]!, tr.pz[e]!]);
}

/** Expects `promise` (already settled) to have failed with NetcodeError `code` and `data.reason`. */
function expectJoinError(result: { error?: unknown }, code: string, reason: string): NetcodeError {
  expect(result.error).toBeInstanceOf(NetcodeError);
  const e = result.error as NetcodeError;
  expect({ code: e.code, reason: e.data.reason }).toEqual({ code, reason });
  return e;
}

/** Asserts the watcher's checksums equal every player's from its start frame to `upTo`; returns how many frames were compared. */
function assertSameChecksums(m: Match, w: Watcher, upTo: number): number {
  let compared = 0;
  for (let f = w.join.frame; f <= upTo; f++) {
    const mine = w.checksums.get(f);
    for (const p of m.players) {
      const theirs = p.checksums.get(f);
      if (mine === undefined || mine !== theirs) {
        throw new Error(`frame ${f}: ${w.id} has ${mine?.toString(16)}, ${p.id} has ${theirs?.toString(16)}`);
      }
    }
    compared++;
  }
  return compared;
}

beforeAll(async () => {
  await initPhysics();
});

describe('late join as a spectator', () => {
  it('3 players, 40 ± 10 ms, 2 % loss: a peer joining after 300 frames follows 300 more with the players\' checksums, without stalling them', async () => {
    const m = await createMatch({ players: 3, props: 44, seed: 41, conditioner: { latencyMs: 40, jitterMs: 10, loss: 0.02 } });
    runUntil(m, () => m.players.every((p) => p.session.currentFrame >= 300), 600);
    const joinTick = m.host.statuses.length;

    const room = await m.net.join('arena', 'watcher');
    const startedAt = m.net.clock.now();
    const result = await settle(m, requestLateJoin(room, 'p0', { clock: m.net.clock, timeoutMs: 3000 }), 300);
    const join = result.value!;
    expect(join.frame).toBeGreaterThan(290);
    expect(join.frame).toBeLessThanOrEqual(m.host.session.currentFrame);
    expect(join.settings).toEqual({ numPlayers: 3, inputSize: 8, fps: 60, channel: 'rollback' });
    expect(decodeSetup(join.app)).toEqual(m.setup);
    expect(join.state.length).toBeGreaterThan(DEFAULT_MAX_FRAME_BYTES); // chunked even with 44 props
    expect(join.elapsedMs).toBeLessThanOrEqual(m.net.clock.now() - startedAt);
    expect(join.drops).toEqual({ Malformed: 0, Oversized: 0, UnknownPeer: 0, Unsolicited: 0 });

    const w = startWatcher(m, 'watcher', room, join);
    expect(w.game.world.time.tick).toBe(join.frame);
    // The restored state is the players' state of that frame.
    expect(w.checksums.get(join.frame)).toBe(m.host.checksums.get(join.frame));
    const atJoin = ballPositions(w.game);
    runUntil(m, () => w.session.currentFrame >= join.frame + 300 && commonConfirmed(m) >= w.session.currentFrame, 900);

    expect(assertSameChecksums(m, w, Math.min(w.session.currentFrame, commonConfirmed(m)))).toBeGreaterThan(300);
    expect(w.events.filter((e) => e.kind === 'running')).toHaveLength(1);
    expect(w.session.stats().drops).toMatchObject({ Malformed: 0, ForeignSlot: 0, Gap: 0 });
    // The spectator's world moved: every ball left where it was at the join.
    ballPositions(w.game).forEach((p, slot) => {
      const [x, , z] = atJoin[slot]!;
      expect(Math.hypot(p[0]! - x!, p[2]! - z!)).toBeGreaterThan(1);
    });
    // The spectator keeps up: at most a few frames behind the host by the end.
    expect(w.session.framesBehindHost()).toBeLessThanOrEqual(15);

    // The players never stalled because of it, and agree with one another.
    for (const p of m.players) {
      expect(longestStall(p.statuses, joinTick)).toBeLessThanOrEqual(Math.max(3, longestStall(p.statuses, 60, joinTick)));
      expect(p.events.filter((e) => e.kind === 'desync' || e.kind === 'disconnected')).toEqual([]);
      expect(p.session.stats().clampedRollbacks).toBe(0);
    }
    expect(m.host.session.stats().peers.find((x) => x.peerId === 'watcher')).toMatchObject({ role: 'spectator', state: 'running' });
    expect(m.server.stats()).toMatchObject({ requests: 1, accepted: 1, delivered: 1, running: 1, timeouts: 0, abandoned: 0, pending: 0, bytesSent: join.state.length });
    expect(m.hostDrops).toEqual([]);
    await m.net.close();
  }, 30_000);

  it('chunks a 400-prop arena state (~800 KB) through 64 KiB transport frames, with a bounded window, and the spectator matches', async () => {
    const m = await createMatch({ players: 2, props: 400, seed: 400, conditioner: { latencyMs: 20, jitterMs: 5, loss: 0.01 } });
    runUntil(m, () => m.players.every((p) => p.session.currentFrame >= 90), 300);
    const room = await m.net.join('arena', 'watcher');
    let largestFrame = 0;
    let inFlightMax = 0;
    let sent = 0;
    let acked = 0;
    m.host.room.on('message', (e) => {
      if (e.channel !== DEFAULT_JOIN_CHANNEL) return;
      const msg = decodeJoinMessage(e.data);
      if (msg.type === 'chunkAck') acked = msg.received;
    });
    room.on('message', (e) => {
      if (e.channel !== DEFAULT_JOIN_CHANNEL) return;
      largestFrame = Math.max(largestFrame, e.data.length);
      const msg = decodeJoinMessage(e.data);
      if (msg.type === 'chunk') {
        sent = msg.offset + msg.bytes.length;
        inFlightMax = Math.max(inFlightMax, sent - acked);
        expect(msg.bytes.length).toBeLessThanOrEqual(JOIN_CHUNK_BYTES);
      }
    });
    const startedAt = m.net.clock.now();
    const result = await settle(m, requestLateJoin(room, 'p0', { clock: m.net.clock }), 600);
    const join = result.value!;
    expect(join.state.length).toBeGreaterThan(10 * DEFAULT_MAX_FRAME_BYTES);
    expect(largestFrame).toBeLessThanOrEqual(DEFAULT_MAX_FRAME_BYTES);
    expect(inFlightMax).toBeLessThanOrEqual(64 * 1024);
    expect(m.net.clock.now() - startedAt).toBeLessThan(3000);

    const w = startWatcher(m, 'watcher', room, join);
    runUntil(m, () => w.session.currentFrame >= join.frame + 150 && commonConfirmed(m) >= w.session.currentFrame, 600);
    expect(assertSameChecksums(m, w, Math.min(w.session.currentFrame, commonConfirmed(m)))).toBeGreaterThan(150);
    expect(m.server.stats()).toMatchObject({ accepted: 1, delivered: 1, running: 1, abandoned: 0, bytesSent: join.state.length });
    await m.net.close();
  }, 30_000);

  it('refuses while the match is not running, beyond maxSpectators and to a player; counts garbage; times out; cancels; frees a silent joiner', async () => {
    const m = await createMatch({ players: 2, props: 0, seed: 7, conditioner: { latencyMs: 20, jitterMs: 5 }, maxSpectators: 1, joinTimeoutMs: 1000 });
    const early = await m.net.join('arena', 'early');
    // Not running yet: the players are still in their handshake.
    const notRunning = await settle(m, requestLateJoin(early, 'p0', { clock: m.net.clock }), 60);
    expect(expectJoinError(notRunning, 'JoinRefused', 'NotRunning').message).toMatch(/synchronizing/);
    runUntil(m, () => m.players.every((p) => p.session.currentFrame >= 60), 300);

    // A player may not watch its own match.
    const player = await settle(m, requestLateJoin(m.players[1]!.room, 'p0', { clock: m.net.clock }), 60);
    expectJoinError(player, 'JoinRefused', 'AlreadyInSession');

    // Garbage: from a stranger to the host and to a joining peer, and from the host itself.
    const mallory = await m.net.join('arena', 'mallory');
    const a = await m.net.join('arena', 'a');
    runUntil(m, () => mallory.peers().includes('p0') && mallory.peers().includes('a'), 10);
    const aDrops: LateJoinDrop[] = [];
    const joinA = requestLateJoin(a, 'p0', { clock: m.net.clock, onDrop: (e) => aDrops.push(e) });
    mallory.send('p0', DEFAULT_JOIN_CHANNEL, new Uint8Array([0xff, 1, 2]));
    mallory.send('p0', DEFAULT_JOIN_CHANNEL, encodeJoinMessage({ type: 'chunkAck', requestId: 5, received: 100 }));
    mallory.send('a', DEFAULT_JOIN_CHANNEL, encodeJoinMessage({ type: 'refuse', requestId: 0, reason: 'NotRunning', detail: 'fake' }));
    m.host.room.send('a', DEFAULT_JOIN_CHANNEL, new Uint8Array([3, 0]));
    m.host.room.send('a', DEFAULT_JOIN_CHANNEL, encodeJoinMessage({ type: 'chunk', requestId: 1, offset: 0, bytes: new Uint8Array(3) }));
    const okA = await settle(m, joinA, 120);
    const watcherA = startWatcher(m, 'a', a, okA.value!);
    expect(aDrops.map((d) => d.reason).sort()).toEqual(['Malformed', 'UnknownPeer', 'Unsolicited']);
    expect(okA.value!.drops).toEqual({ Malformed: 1, Oversized: 0, UnknownPeer: 1, Unsolicited: 1 });
    expect(m.hostDrops.map((d) => d.reason)).toEqual(['Malformed', 'Unsolicited']);
    expect(m.server.stats().drops).toEqual({ Malformed: 1, Oversized: 0, UnknownPeer: 0, Unsolicited: 1 });

    // maxSpectators 1: a second watcher is refused while `a` watches.
    const b = await m.net.join('arena', 'b');
    const tooMany = await settle(m, requestLateJoin(b, 'p0', { clock: m.net.clock }), 60);
    expectJoinError(tooMany, 'JoinRefused', 'TooManySpectators');

    // No answer from a peer that does not serve: a clean time-out.
    const t0 = m.net.clock.now();
    const silent = await settle(m, requestLateJoin(b, 'p1', { clock: m.net.clock, timeoutMs: 500 }), 120);
    expectJoinError(silent, 'JoinFailed', 'Timeout');
    expect(m.net.clock.now() - t0).toBeGreaterThanOrEqual(500);
    expect(m.net.clock.now() - t0).toBeLessThan(500 + 2 * TICK_MS);

    // `a` leaves: the session disconnects it, a seat frees up. `b` gets the state but never
    // starts its session: after joinTimeoutMs the host removes it again.
    await a.close();
    m.watchers.splice(m.watchers.indexOf(watcherA), 1);
    runUntil(m, () => m.host.session.stats().peers.find((p) => p.peerId === 'a')?.state === 'disconnected', 120);
    const okB = await settle(m, requestLateJoin(b, 'p0', { clock: m.net.clock }), 120);
    expect(okB.value!.frame).toBeGreaterThan(60);
    expect(m.host.session.stats().peers.find((p) => p.peerId === 'b')?.state).toBe('synchronizing');
    runUntil(m, () => m.server.stats().timeouts === 1, 120);
    expect(m.host.session.stats().peers.find((p) => p.peerId === 'b')).toBeUndefined();

    // `b` asks again and cancels: the host forgets it at once.
    const controller = new AbortController();
    const cancelled = requestLateJoin(b, 'p0', { clock: m.net.clock, signal: controller.signal });
    controller.abort();
    expectJoinError(await settle(m, cancelled, 10), 'JoinFailed', 'Cancelled');
    runUntil(m, () => m.server.stats().abandoned === 1, 60);
    expect(m.host.session.stats().peers.find((p) => p.peerId === 'b')).toBeUndefined();

    // Retried once more, it joins and follows.
    const okB2 = await settle(m, requestLateJoin(b, 'p0', { clock: m.net.clock }), 120);
    const watcherB = startWatcher(m, 'b', b, okB2.value!);
    runUntil(m, () => watcherB.session.currentFrame >= okB2.value!.frame + 60 && commonConfirmed(m) >= watcherB.session.currentFrame, 300);
    assertSameChecksums(m, watcherB, Math.min(watcherB.session.currentFrame, commonConfirmed(m)));

    expect(m.server.stats()).toMatchObject({
      requests: 7, accepted: 4, running: 2, timeouts: 1, abandoned: 1,
      refused: { NotRunning: 1, TooManySpectators: 1, AlreadyInSession: 1, StateUnavailable: 0, Version: 0, Unknown: 0 },
    });
    // The players carried on through all of it; only the spectator that left was disconnected.
    for (const p of m.players) {
      expect(p.events.filter((e) => e.kind === 'desync' || (e.kind === 'disconnected' && e.slots.length > 0))).toEqual([]);
    }
    expect(m.host.events.filter((e) => e.kind === 'disconnected').map((e) => e.kind === 'disconnected' && e.peerId)).toEqual(['a']);
    await m.net.close();
  }, 30_000);

  it('a host refuses another protocol version, and a newcomer fails cleanly when the host leaves mid-transfer or sends chunks that do not fit', async () => {
    const m = await createMatch({ players: 2, props: 44, seed: 9, conditioner: { latencyMs: 30 } });
    runUntil(m, () => m.players.every((p) => p.session.currentFrame >= 30), 300);
    // rollbackStateAt: the live world for the current frame, the ring's save for a recent one, nothing for an old one.
    const stateAt = rollbackStateAt(m.host.game.world, m.host.rollback);
    const now = m.host.session.currentFrame;
    expect(decodeSnapshot(stateAt(now)!).checksum).toBe(checksum(m.host.game.world));
    expect(decodeSnapshot(stateAt(now - 3)!).checksum).toBe(m.host.checksums.get(now - 3));
    expect(stateAt(now - 25)).toBeUndefined();
    const x = await m.net.join('arena', 'x');
    // Version: a raw watch of version 2.
    const answers: JoinMessage[] = [];
    x.on('message', (e) => {
      const msg = decodeJoinMessage(e.data);
      if (e.channel === DEFAULT_JOIN_CHANNEL && msg.type !== 'malformed') answers.push(msg);
    });
    runUntil(m, () => x.peers().includes('p0'), 10);
    x.send('p0', DEFAULT_JOIN_CHANNEL, encodeJoinMessage({ type: 'watch', version: LATE_JOIN_VERSION + 1, requestId: 9 }));
    runUntil(m, () => answers.length > 0, 30);
    expect(answers[0]).toMatchObject({ type: 'refuse', requestId: 9, reason: 'Version' });

    // A fake host that accepts, then sends a chunk at the wrong offset.
    const fake = await m.net.join('arena', 'fake');
    fake.on('message', (e) => {
      const msg = decodeJoinMessage(e.data);
      if (e.channel !== DEFAULT_JOIN_CHANNEL || msg.type !== 'watch') return;
      const reply = (r: JoinMessage) => fake.send(e.from, DEFAULT_JOIN_CHANNEL, encodeJoinMessage(r));
      reply({ type: 'accept', requestId: msg.requestId, frame: 5, numPlayers: 2, inputSize: 8, fps: 60, channel: 'rollback', stateBytes: 10, stateChecksum: 0, app: new Uint8Array(0) });
      reply({ type: 'chunk', requestId: msg.requestId, offset: 4, bytes: new Uint8Array(6) });
    });
    const bad = await settle(m, requestLateJoin(x, 'fake', { clock: m.net.clock }), 60);
    expectJoinError(bad, 'JoinFailed', 'Malformed');
    const tooBig = await settle(m, requestLateJoin(x, 'p0', { clock: m.net.clock, maxStateBytes: 1000 }), 60);
    expectJoinError(tooBig, 'JoinFailed', 'Malformed');
    expect((tooBig.error as NetcodeError).data.drops).toMatchObject({ Oversized: 1 });
    // The host saw the cancel that followed and released the spectator.
    runUntil(m, () => m.server.stats().abandoned === 1, 60);

    // The host leaves while the state is on its way.
    const y = await m.net.join('arena', 'y');
    const leaving = requestLateJoin(y, 'p0', { clock: m.net.clock });
    let closing: Promise<void> | undefined;
    y.on('message', (e) => {
      if (e.channel === DEFAULT_JOIN_CHANNEL && decodeJoinMessage(e.data).type === 'accept') closing ??= m.host.room.close();
    });
    expectJoinError(await settle(m, leaving, 120), 'JoinFailed', 'HostLeft');
    await closing;
    await m.net.close();
  }, 30_000);

  it('the wire format round-trips every message and never throws on garbage', () => {
    const messages: JoinMessage[] = [
      { type: 'watch', version: LATE_JOIN_VERSION, requestId: 0xffff_ffff },
      { type: 'refuse', requestId: 1, reason: 'TooManySpectators', detail: 'déjà 4 spectateurs' },
      { type: 'accept', requestId: 2, frame: 1234, numPlayers: 8, inputSize: 128, fps: 60, channel: 'rollback', stateBytes: 99_999, stateChecksum: 0xdeadbeef, app: new Uint8Array([1, 2, 3]) },
      { type: 'chunk', requestId: 3, offset: 16384, bytes: new Uint8Array([9, 8, 7]) },
      { type: 'chunkAck', requestId: 4, received: 16387 },
      { type: 'cancel', requestId: 5 },
    ];
    for (const msg of messages) {
      const bytes = encodeJoinMessage(msg);
      expect(decodeJoinMessage(bytes)).toEqual(msg);
      for (let cut = 0; cut < bytes.length; cut++) expect(decodeJoinMessage(bytes.subarray(0, cut)).type).toBe('malformed');
      const longer = new Uint8Array(bytes.length + 1);
      longer.set(bytes);
      expect(decodeJoinMessage(longer).type).toBe('malformed');
    }
    // An unknown refusal code (a newer host) still ends the request.
    const unknown = encodeJoinMessage({ type: 'refuse', requestId: 1, reason: 'NotRunning', detail: '' });
    unknown[5] = 200;
    expect(decodeJoinMessage(unknown)).toMatchObject({ type: 'refuse', reason: 'Unknown' });
    let seed = 1;
    for (let i = 0; i < 2000; i++) {
      const junk = new Uint8Array(i % 40);
      for (let j = 0; j < junk.length; j++) junk[j] = (seed = Math.imul(seed, 48271) % 0x7fffffff) & (j === 0 ? 7 : 0xff);
      const msg = decodeJoinMessage(junk);
      if (msg.type !== 'malformed') expect(decodeJoinMessage(encodeJoinMessage(msg))).toEqual(msg);
    }
    expect(() => encodeJoinMessage({ type: 'accept', requestId: 1, frame: 0, numPlayers: 2, inputSize: 8, fps: 60, channel: '', stateBytes: 0, stateChecksum: 0, app: new Uint8Array(0) }))
      .toThrowError(expect.objectContaining({ code: 'InvalidRequest' }));
  });
});
