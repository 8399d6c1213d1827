import { describe, expect, it } from 'vitest';
import {
  PlayerInput, Phase, Scheduler, addComponent, createSnapshot, createWorld, decodeInputRecord, defineComponent, diffSnapshots,
  restore, snapshot, spawn, storeOf, writeInputRecord,
  type GameWorld, type WorldSnapshot,
} from '../../engine/index.ts';
import { SessionBuilder, type SessionRequest, type SyncTestSession } from '../../netcode/rollback/index.ts';
import { InputScript, ToyEngine, describe as describeRequests, diffToy, inputBytes } from './rollback-harness.ts';

function runToy(test: SyncTestSession, frames: number, bug?: ToyEngine['game']['bug']): ToyEngine {
  const engine = new ToyEngine(test.numPlayers, test.snapshotWindow, test.startFrame);
  engine.game.bug = bug;
  engine.onMismatch = (frame, first, now) => test.attachDiff(frame, diffToy(first, now));
  const scripts = test.localSlots.map((s) => new InputScript(s + 1, 0.3));
  for (let i = 0; i < frames; i++) {
    test.localSlots.forEach((s) => test.addLocalInput(s, scripts[s]!.next()));
    const r = test.advanceFrame();
    expect(r.status).toBe('advanced');
    engine.execute(r.requests, test);
  }
  return engine;
}

describe('SyncTestSession', () => {
  it('returns the exact request sequence: save, then from frame d on save + load(c - d) + re-simulation', () => {
    const test = new SessionBuilder().withInputDelay(0).startSyncTestSession(2);
    const calls: string[][] = [];
    for (let i = 0; i < 4; i++) {
      test.addLocalInput(0, inputBytes(i));
      test.addLocalInput(1, inputBytes(100 + i));
      calls.push(describeRequests(test.advanceFrame().requests));
    }
    expect(calls).toEqual([
      ['save 0', 'advance 0 cc'],
      ['save 1', 'advance 1 cc'],
      ['save 2', 'load 0', 'advance 0 cc', 'save 1', 'advance 1 cc', 'save 2', 'advance 2 cc'],
      ['save 3', 'load 1', 'advance 1 cc', 'save 2', 'advance 2 cc', 'save 3', 'advance 3 cc'],
    ]);
    expect(test.snapshotWindow).toBe(4);
  });

  it('feeds every re-simulation the same inputs, delayed by the input delay', () => {
    const test = new SessionBuilder().withInputDelay(2).startSyncTestSession(3);
    const seen = new Map<number, string>();
    for (let i = 0; i < 20; i++) {
      test.addLocalInput(0, inputBytes(i + 1));
      test.addLocalInput(1, inputBytes(1000 + i));
      for (const r of test.advanceFrame().requests) {
        if (r.kind !== 'advance') continue;
        const key = r.inputs.map((x) => new DataView(x.bytes.buffer, x.bytes.byteOffset).getUint32(0, true)).join(',');
        if (seen.has(r.frame)) expect(key).toBe(seen.get(r.frame));
        seen.set(r.frame, key);
      }
    }
    expect(seen.get(0)).toBe('0,0');
    expect(seen.get(1)).toBe('0,0');
    expect(seen.get(2)).toBe('1,1000'); // input of call 0 applies at frame 0 + 2
    expect(seen.get(10)).toBe('9,1008');
  });

  it('passes a deterministic game', () => {
    const test = new SessionBuilder().withNumPlayers(3).startSyncTestSession(4);
    runToy(test, 300);
    const report = test.report();
    expect(report.ok).toBe(true);
    expect(report.statesCompared).toBeGreaterThan(300 * 3);
    expect(report.summary).toMatch(/^ok/);
    expect(test.drainEvents()).toEqual([]);
  });

  it('names the first bad frame and the component of a game that reads a counter outside its state', () => {
    let outside = 0; // simulation state hidden in a closure: rollback cannot restore it
    const test = new SessionBuilder().startSyncTestSession(2);
    runToy(test, 120, (game, frame) => {
      if (frame >= 50) game.score = (game.score + outside++) | 0;
    });
    const report = test.report();
    expect(report.ok).toBe(false);
    expect(report.firstMismatch?.frame).toBe(51); // the state after advancing frame 50
    expect(report.firstMismatch?.components).toEqual(['Score']);
    expect(report.summary).toContain('frame 51');
    expect(report.summary).toContain('Score');
    const events = test.drainEvents();
    expect(events[0]).toMatchObject({ kind: 'syncTestMismatch', mismatch: { frame: 51 } });
  });
});

// ---------------------------------------------------------------------------------------------
// With the real engine: the integration the lead's Network-phase system performs.
// ---------------------------------------------------------------------------------------------

const Position = defineComponent('Position', { x: 'i32', y: 'i32' });
const Energy = defineComponent('Energy', { value: 'i32' });

interface EngineGame {
  readonly world: GameWorld;
  readonly scheduler: Scheduler;
  readonly players: number[];
}

function engineGame(numPlayers: number, hidden: { counter: number } | undefined): EngineGame {
  const world = createWorld({ seed: 5, maxEntities: 64 });
  const scheduler = new Scheduler(world);
  scheduler.externalSimulation = true;
  const players: number[] = [];
  for (let s = 0; s < numPlayers; s++) {
    const e = spawn(world);
    addComponent(world, e, PlayerInput);
    addComponent(world, e, Position, { x: s * 10, y: 0 });
    addComponent(world, e, Energy, { value: 100 });
    players.push(e);
  }
  scheduler.addSystem(Phase.Simulation, function moveSystem(w) {
    const input = storeOf(w, PlayerInput), pos = storeOf(w, Position), energy = storeOf(w, Energy);
    for (const e of players) {
      pos.x[e] += input.axis0[e];
      pos.y[e] += input.buttons[e] & 3;
      energy.value[e] = (energy.value[e] + w.rng.nextInt(3) - 1) | 0;
      if (hidden !== undefined && w.time.tick >= 30) energy.value[e] += hidden.counter++;
    }
  });
  return { world, scheduler, players };
}

/** Carries out requests exactly as documented for the engine (scratch snapshot, diff on mismatch, swap into the ring). */
function carryOut(g: EngineGame, test: SyncTestSession, ring: WorldSnapshot[], scratch: { snap: WorldSnapshot }, requests: readonly SessionRequest[]): void {
  for (const r of requests) {
    const i = r.frame % ring.length;
    if (r.kind === 'save') {
      expect(g.world.time.tick).toBe(r.frame);
      const snap = snapshot(g.world, scratch.snap);
      if (!test.reportChecksum(r.frame, snap.checksum) && ring[i]!.tick === r.frame) test.attachDiff(r.frame, diffSnapshots(g.world, ring[i]!, snap));
      scratch.snap = ring[i]!;
      ring[i] = snap;
    } else if (r.kind === 'load') {
      expect(ring[i]!.tick).toBe(r.frame);
      restore(g.world, ring[i]!);
    } else {
      expect(g.world.time.tick).toBe(r.frame);
      r.inputs.forEach((inp, s) => writeInputRecord(g.world, g.players[s]!, decodeInputRecord(inp.bytes)));
      g.scheduler.simulateTick();
    }
  }
}

function runEngine(hidden: { counter: number } | undefined) {
  const test = new SessionBuilder().startSyncTestSession(3);
  const g = engineGame(2, hidden);
  const ring = Array.from({ length: test.snapshotWindow }, () => createSnapshot());
  const scratch = { snap: createSnapshot() };
  const scripts = [new InputScript(11, 0.3), new InputScript(12, 0.3)];
  for (let i = 0; i < 90; i++) {
    for (const s of test.localSlots) {
      const b = scripts[s]!.next();
      b[4] = b[4] === 0x80 ? 0 : b[4]!; // keep a valid InputRecord (axis -128 is never produced)
      test.addLocalInput(s, b);
    }
    carryOut(g, test, ring, scratch, test.advanceFrame().requests);
  }
  return test.report();
}

describe('SyncTestSession with the engine', () => {
  it('passes a deterministic world (PRNG in the snapshot)', () => {
    const report = runEngine(undefined);
    expect(report.ok).toBe(true);
    expect(report.statesCompared).toBeGreaterThan(200);
  });

  it('reports the first bad frame and the differing component of a system with hidden state', () => {
    const report = runEngine({ counter: 0 });
    expect(report.ok).toBe(false);
    expect(report.firstMismatch!.frame).toBe(31);
    expect(report.firstMismatch!.components).toEqual(['Energy']);
    expect(report.firstMismatch!.differences![0]).toMatchObject({ component: 'Energy', field: 'value' });
    expect(report.summary).toMatch(/frame 31 .*Energy/);
  });
});
