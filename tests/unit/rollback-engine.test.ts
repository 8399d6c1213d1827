/**
 * The rollback session carried out on real engine worlds (ECS + Rapier physics) by
 * `attachRollback`: sync tests on the arena demo's rules, and two P2P peers over the in-memory
 * transport under latency and loss agreeing on every checked frame.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  addBody, addComponent, applyImpulse, axisValue, createWorld, DEFAULT_ACTION_MAP, initPhysics, createPhysics, orderedQuery,
  Phase, PlayerInput, readInputRecord, createInputRecord, Rng, Scheduler, ShapeKind, BodyKind, spawn, storeOf, Transform,
  type GameWorld, type InputRecord, type InputSource,
} from '../../engine/index.ts';
import { attachRollback, SessionBuilder, type SessionEvent } from '../../netcode/rollback/index.ts';
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
