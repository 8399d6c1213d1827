/**
 * The rollback session carried out on real engine worlds (ECS + Rapier physics) by
 * `attachRollback`: sync tests on the arena demo's rules, and two P2P peers over the in-memory
 * transport under latency and loss agreeing on every checked frame.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  addBody, addComponent, applyImpulse, axisValue, createWorld, DEFAULT_ACTION_MAP, initPhysics, createPhysics, orderedQuery,
  Phase, PlayerInput, readInputRecord, createInputRecord, Rng, Scheduler, ShapeKind, BodyKind, spawn, storeOf, Transform,
  checksum, writeInputRecord, type GameWorld, type InputRecord, type InputSource,
} from '../../engine/index.ts';
import { attachRollback, SessionBuilder, type RollbackSystemOptions, type SessionEvent } from '../../netcode/rollback/index.ts';
import { MemoryNetwork } from '../../netcode/transport/index.ts';
import { createArenaGame } from '../../demos/arena/game.ts';

/** Seeded random input: holds a random stick direction and sometimes jumps, changing every few ticks. */
class RandomInput implements InputSource {
  readonly #rng: Rng;
  readonly #held = createInputRecord();
  constructor(seed: number) {
    this.#rng = new Rng(seed);
  }
  sample(out: InputRecord): InputRecord {
    if (this.#rng.nextInt(8) === 0) {
      this.#held.axes[0] = this.#rng.nextInt(255) - 127;
      this.#held.axes[1] = this.#rng.nextInt(255) - 127;
      this.#held.buttons = this.#rng.nextInt(4) === 0 ? 1 : 0;
    }
    out.buttons = this.#held.buttons;
    for (let i = 0; i < 4; i++) out.axes[i] = this.#held.axes[i]!;
    return out;
  }
}

/** Sessions have 2-8 slots; the arena has one player, so slot 1 is an idle entity with PlayerInput. */
function syncTestBuilder(): SessionBuilder {
  return new SessionBuilder().withNumPlayers(2).addPlayer({ kind: 'local' }, 0).addPlayer({ kind: 'local' }, 1).withInputDelay(0);
}

function benchPlayer(world: GameWorld): number {
  const eid = spawn(world);
  addComponent(world, eid, PlayerInput);
  return eid;
}

beforeAll(async () => {
  await initPhysics();
});

describe('attachRollback on the arena rules', () => {
  it('a sync test rolling back 4 frames every tick finds the arena deterministic', () => {
    const game = createArenaGame({ seed: 3 });
    const session = syncTestBuilder().startSyncTestSession(4);
    const events: SessionEvent[] = [];
    const rollback = attachRollback(game.world, game.scheduler, session, {
      players: [game.player, benchPlayer(game.world)], localInput: new RandomInput(11), onEvent: (e) => events.push(e),
    });
    for (let i = 0; i < 150; i++) game.scheduler.step();
    const report = session.report();
    expect(report.ok).toBe(true);
    expect(events.filter((e) => e.kind === 'syncTestMismatch')).toEqual([]);
    expect(rollback.stats.rollbacks).toBeGreaterThan(100);
    expect(rollback.stats.resimulatedFrames).toBeGreaterThanOrEqual(rollback.stats.rollbacks * 3);
    expect(game.world.time.tick).toBe(150);
    // The player really moved: the test exercised physics, not an idle world.
    expect(storeOf(game.world, Transform).pz[game.player]).not.toBeCloseTo(8, 1);
  });

  it('names the first frame and the components that differ when game code keeps state outside the world', () => {
    const game = createArenaGame({ seed: 3 });
    let hidden = 0; // simulation state in a closure: exactly what rollback cannot restore
    game.scheduler.addSystem(Phase.Simulation, function leakySystem(w: GameWorld) {
      hidden++;
      if (hidden % 5 === 0) applyImpulse(w, game.player, 0, 0.5, 0);
    });
    const session = syncTestBuilder().startSyncTestSession(2);
    attachRollback(game.world, game.scheduler, session, { players: [game.player, benchPlayer(game.world)], localInput: new RandomInput(5) });
    for (let i = 0; i < 60; i++) game.scheduler.step();
    const report = session.report();
    expect(report.ok).toBe(false);
    expect(report.firstMismatch!.frame).toBeLessThan(10);
    expect(report.firstMismatch!.components).toEqual(expect.arrayContaining(['Transform']));
    expect(report.firstMismatch!.differences!.some((d) => d.eid === game.player)).toBe(true);
  });

  it('refuses players without PlayerInput and a world not at the session frame', () => {
    const game = createArenaGame({ seed: 1 });
    const session = syncTestBuilder().startSyncTestSession(1);
    expect(() => attachRollback(game.world, game.scheduler, session, { players: [spawn(game.world), benchPlayer(game.world)], localInput: new RandomInput(1) }))
      .toThrowError(expect.objectContaining({ code: 'InvalidConfig' }));
    game.scheduler.step();
    expect(() => attachRollback(game.world, game.scheduler, session, { players: [game.player, benchPlayer(game.world)], localInput: new RandomInput(1) }))
      .toThrowError(/tick 1 but the session starts at frame 0/);
  });

  it('per-slot sources (localInputs) give each local slot its own input, checksums reported through onChecksum', () => {
    const FRAMES = 90;
    const game = createArenaGame({ seed: 3, players: 2 });
    const session = syncTestBuilder().startSyncTestSession(3);
    // Each slot's input is a pure function of (slot, frame), so a plain run can replay it.
    const inputAt = (slot: number, frame: number, out: InputRecord): InputRecord => {
      out.buttons = 0;
      out.axes.fill(0);
      out.axes[slot] = ((frame >> 4) + slot) % 2 === 0 ? 127 : -127; // slot 0 moves along x, slot 1 along y
      return out;
    };
    const localInputs: Record<number, InputSource> = {
      0: { sample: (out) => inputAt(0, session.currentFrame, out) },
      1: { sample: (out) => inputAt(1, session.currentFrame, out) },
    };
    const sums = new Map<number, number>();
    attachRollback(game.world, game.scheduler, session, { players: game.players, localInputs, onChecksum: (f, sum) => sums.set(f, sum) });
    for (let i = 0; i < FRAMES; i++) game.scheduler.step();
    expect(session.report().ok).toBe(true);
    expect([...sums.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: FRAMES }, (_, f) => f));
    // A plain run writing the same per-slot inputs goes through the same states.
    const plain = createArenaGame({ seed: 3, players: 2 });
    const rec = createInputRecord();
    for (let f = 0; f < FRAMES; f++) {
      expect(checksum(plain.world)).toBe(sums.get(f));
      plain.players.forEach((eid, slot) => writeInputRecord(plain.world, eid, inputAt(slot, f, rec)));
      plain.scheduler.simulateTick();
    }
    expect(checksum(plain.world)).toBe(checksum(game.world));
    const tr = storeOf(game.world, Transform);
    const [a, b] = game.players as [number, number];
    expect(Math.abs(tr.px[a]! - tr.px[b]!) + Math.abs(tr.pz[a]! - tr.pz[b]!)).toBeGreaterThan(3.5); // they moved apart

    // Misuse is caught at attach time.
    const other = createArenaGame({ seed: 3, players: 2 });
    const test2 = syncTestBuilder().startSyncTestSession(2);
    const attach = (options: Partial<RollbackSystemOptions>) => () => attachRollback(other.world, other.scheduler, test2, { players: other.players, ...options });
    expect(attach({ localInputs: { 0: localInputs[0]! } })).toThrowError(/local slot 1 has no input source/);
    expect(attach({ localInput: new RandomInput(1), localInputs: { 5: localInputs[0]! } })).toThrowError(/slot 5, which is not a local slot/);
    expect(attach({ localInput: new RandomInput(1), recordChecksums: true })).toThrowError(/recordChecksums/);
  });

  it('drives a spectator session directly: no input source needed, recordChecksums saves every frame it reaches', async () => {
    const net = new MemoryNetwork({ seed: 5, clock: 'manual', conditioner: { latencyMs: 20 } });
    const [ra, rb, rw] = [await net.join('m', 'a'), await net.join('m', 'b'), await net.join('m', 'w')];
    const players = [ra, rb].map((room, slot) => {
      let builder = new SessionBuilder().withNumPlayers(2)
        .addPlayer({ kind: 'local' }, slot).addPlayer({ kind: 'remote', peerId: slot === 0 ? 'b' : 'a' }, 1 - slot);
      if (slot === 0) builder = builder.addPlayer({ kind: 'spectator', peerId: 'w' }, 2); // a hosts the spectator
      const session = builder.startP2PSession(room, net.clock);
      const game = createArenaGame({ seed: 3, players: 2, localSlot: slot });
      const sums = new Map<number, number>();
      attachRollback(game.world, game.scheduler, session, { players: game.players, localInput: new RandomInput(slot + 1), onChecksum: (f, s) => sums.set(f, s) });
      return { game, session, sums };
    });
    const spectator = new SessionBuilder().withNumPlayers(2).startSpectatorSession('a', rw, net.clock);
    expect(spectator.localSlots).toEqual([]);
    expect(() => spectator.addLocalInput(0, new Uint8Array(8))).toThrowError(expect.objectContaining({ code: 'InvalidRequest' }));
    const game = createArenaGame({ seed: 3, players: 2 });
    const sums = new Map<number, number>();
    const rollback = attachRollback(game.world, game.scheduler, spectator, { players: game.players, recordChecksums: true, onChecksum: (f, s) => sums.set(f, s) });
    expect(rollback.ring).toHaveLength(1);
    expect(rollback.snapshotOf(0)?.checksum).toBe(sums.get(0));
    for (let t = 0; t < 200; t++) {
      net.advance(1000 / 60);
      for (const g of [players[0]!.game, players[1]!.game, game]) g.scheduler.step();
    }
    expect(spectator.currentFrame).toBeGreaterThan(100);
    expect(rollback.snapshotOf(spectator.currentFrame)?.checksum).toBe(sums.get(spectator.currentFrame));
    const confirmed = Math.min(players[0]!.session.confirmedFrame, spectator.currentFrame);
    for (let f = 0; f <= confirmed; f++) expect(sums.get(f)).toBe(players[0]!.sums.get(f));
    await net.close();
  });
});

/** A small physics match: a floor and one ball per player, rolled by the move axes. */
function matchWorld(players: number): { world: GameWorld; scheduler: Scheduler; balls: number[] } {
  const world = createWorld({ seed: 9, maxEntities: 64 });
  const scheduler = new Scheduler(world);
  createPhysics(world, scheduler);
  addBody(world, spawn(world), { kind: BodyKind.Fixed, shape: ShapeKind.Cuboid, hx: 20, hy: 0.5, hz: 20, position: { x: 0, y: -0.5, z: 0 } });
  for (let i = 0; i < 6; i++) addBody(world, spawn(world), { shape: ShapeKind.Cuboid, position: { x: i - 3, y: 0.5, z: -2 } });
  const balls: number[] = [];
  for (let p = 0; p < players; p++) {
    const eid = spawn(world);
    addBody(world, eid, { shape: ShapeKind.Ball, radius: 0.5, density: 2, position: { x: p * 2 - players, y: 0.5, z: 2 } });
    addComponent(world, eid, PlayerInput);
    balls.push(eid);
  }
  const rec = createInputRecord();
  scheduler.addSystem(Phase.Simulation, function rollSystem(w: GameWorld) {
    for (const eid of orderedQuery(w, [PlayerInput])) {
      readInputRecord(w, eid, rec);
      applyImpulse(w, eid, axisValue(rec, DEFAULT_ACTION_MAP, 'moveX') * 0.2, 0, -axisValue(rec, DEFAULT_ACTION_MAP, 'moveY') * 0.2);
    }
  });
  return { world, scheduler, balls };
}

describe('attachRollback with two P2P peers over a lossy in-memory network', () => {
  it('both peers agree on every exchanged checksum, after real rollbacks, with no desync', async () => {
    const net = new MemoryNetwork({ seed: 77, clock: 'manual', conditioner: { latencyMs: 80, jitterMs: 20, loss: 0.1 } });
    const ids = ['alice', 'bob'];
    const peers = await Promise.all(ids.map(async (id, slot) => {
      const room = await net.join('match', id);
      const session = new SessionBuilder()
        .withNumPlayers(2)
        .withChecksumInterval(10)
        .addPlayer({ kind: 'local' }, slot)
        .addPlayer({ kind: 'remote', peerId: ids[1 - slot]! }, 1 - slot)
        .startP2PSession(room, net.clock);
      const match = matchWorld(2);
      const events: SessionEvent[] = [];
      const rollback = attachRollback(match.world, match.scheduler, session, {
        players: match.balls, localInput: new RandomInput(100 + slot), onEvent: (e) => events.push(e),
      });
      return { ...match, session, rollback, events };
    }));
    for (let t = 0; t < 420; t++) {
      net.advance(1000 / 60);
      for (const p of peers) p.scheduler.step();
    }
    for (const p of peers) {
      expect(p.events.filter((e) => e.kind === 'desync')).toEqual([]);
      expect(p.rollback.stats.rollbacks).toBeGreaterThan(20);
      expect(p.session.confirmedFrame).toBeGreaterThan(300);
    }
    // Compare the world state of a frame both peers have confirmed and still hold.
    const frame = Math.min(peers[0]!.session.confirmedFrame, peers[1]!.session.confirmedFrame) - 1;
    const a = peers[0]!.rollback.snapshotOf(frame);
    const b = peers[1]!.rollback.snapshotOf(frame);
    expect(a && b).toBeTruthy();
    expect(a!.checksum).toBe(b!.checksum);
    // And the balls moved, so the agreement is not that of an idle world.
    const t0 = storeOf(peers[0]!.world, Transform);
    expect(Math.abs(t0.px[peers[0]!.balls[0]!]! - -2) + Math.abs(t0.pz[peers[0]!.balls[0]!]! - 2)).toBeGreaterThan(0.5);
    await net.close();
  });
});
