/**
 * `createNode` (node/): the one-call front door in Node. An offline node ticks and stops
 * leaving nothing open; networked nodes over an in-memory room replicate a world, play a
 * rollback match with equal states, share compute through the room and run kernels in workers;
 * bad options are refused. The "nothing left open" checks compare Node's active resources
 * (timers, sockets, workers, message ports) before and after; node-exit.test.ts checks that a
 * process with a GPU device and workers exits by itself after `stop()`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import {
  addComponent, defineComponent, PlayerInput, Phase, query, createWorld, Scheduler, spawn, storeOf,
  type GameWorld, type InputRecord, type InputSource,
} from '../../engine/index.ts';
import { defineReplicated, MemoryNetwork, Replicated } from '../../netcode/index.ts';
import { createNode, NodeError, type PeerComputeNode } from '../../node/index.ts';
import { encodeTerrainChunkInput, generateChunkCpu } from '../../shaders/index.ts';

const started: PeerComputeNode[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()));
});

/** Resolves when `check()` is true (polled every 20 ms), or rejects after `ms`. */
async function until(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Active handles by kind, minus the ones vitest itself keeps. */
function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) out[kind] = (out[kind] ?? 0) + 1;
  return out;
}

/** Fails when some kind of resource is more numerous now than in `before` (others' timers may end meanwhile). */
function expectNothingNew(before: Record<string, number>): void {
  const now = resources();
  const grown = Object.entries(now).filter(([kind, n]) => n > (before[kind] ?? 0));
  expect(grown, `resources now ${JSON.stringify(now)}, before ${JSON.stringify(before)}`).toEqual([]);
}

/** A bot that holds button 0 on even ticks (a deterministic input script). */
class Blinker implements InputSource {
  #n = 0;
  sample(out: InputRecord): InputRecord {
    out.buttons = this.#n++ % 2 === 0 ? 1 : 0;
    out.axes.fill(0);
    return out;
  }
}

const Counter = defineComponent('NodeTestCounter', { presses: { type: 'u32' } }, { rollback: true });

/** A rollback game: one entity per slot counting its player's presses. */
function createCounterGame(players: number): { world: GameWorld; scheduler: Scheduler; players: number[] } {
  const world = createWorld({ seed: 5 });
  const scheduler = new Scheduler(world);
  const entities: number[] = [];
  for (let slot = 0; slot < players; slot++) {
    const e = spawn(world);
    addComponent(world, e, PlayerInput);
    addComponent(world, e, Counter, { presses: 0 });
    entities.push(e);
  }
  scheduler.addSystem(Phase.Simulation, function countPresses(w) {
    const input = storeOf(w, PlayerInput);
    const counter = storeOf(w, Counter);
    for (const e of query(w, [PlayerInput, Counter])) if ((input.buttons[e]! & 1) !== 0) counter.presses[e]!++;
  });
  return { world, scheduler, players: entities };
}

describe('createNode', () => {
  test('an offline node ticks on its own and stop() leaves no timer behind', async () => {
    const before = resources();
    const node = createNode({ webgpu: 'off' });
    started.push(node);
    const states: string[] = [];
    node.on('state', ({ state }) => states.push(state));
    expect(node.state).toBe('created');
    await node.start();
    await until(() => node.world.time.tick >= 10, 5000, '10 ticks');
    const status = node.getStatus();
    expect(status.state).toBe('running');
    expect(status.compute.backend).toBe('cpu');
    expect(status.compute.detail).toMatch(/prefer/);
    expect(status.tick?.tickRate).toBe(60);
    expect(status.tick?.timing.ticks).toBeGreaterThanOrEqual(10);
    expect(status.peers).toEqual([]);
    await node.stop();
    await node.stop();
    expect(states).toEqual(['starting', 'running', 'stopping', 'stopped']);
    const tick = node.world.time.tick;
    await new Promise((r) => setTimeout(r, 100));
    expect(node.world.time.tick).toBe(tick); // no more ticks
    expectNothingNew(before);
    await expect(node.start()).rejects.toMatchObject({ code: 'InvalidState' });
  });

  test('stop() during start() waits for it and then releases everything', async () => {
    const before = resources();
    const node = createNode({ webgpu: 'off', workers: 1 });
    const starting = node.start();
    const stopping = node.stop();
    await starting;
    await stopping;
    expect(node.state).toBe('stopped');
    expectNothingNew(before);
  });

  test('bad options are refused before anything starts, naming the option', () => {
    const code = (fn: () => unknown): string => {
      try {
        fn();
      } catch (error) {
        return error instanceof NodeError ? `${error.code} ${String(error.data.option)}` : String(error);
      }
      return 'no error';
    };
    expect(code(() => createNode({ tickRate: 0 }))).toBe('InvalidConfig tickRate');
    expect(code(() => createNode({ webgpu: 'maybe' as 'auto' }))).toBe('InvalidConfig webgpu');
    expect(code(() => createNode({ session: { kind: 'replication', components: [] } }))).toBe('InvalidConfig session');
    expect(code(() => createNode({ network: { room: 'r' }, session: { kind: 'rollback', players: 9, createGame: () => createCounterGame(2) } }))).toBe('InvalidConfig session.players');
    expect(code(() => createNode({ workers: -1 }))).toBe('InvalidConfig workers');
    expect(code(() => createNode({ storage: { leveldb: '' } }))).toBe('InvalidConfig storage');
    expect(code(() => createNode({ topology: 'ring' as 'mesh' }))).toBe('InvalidConfig topology');
  });

  test('a networked node in Node without relays fails to start with NoRelay and releases what it built', async () => {
    const before = resources();
    const node = createNode({ webgpu: 'off', network: { room: 'no-relay' } });
    await expect(node.start()).rejects.toMatchObject({ code: 'NoRelay' });
    expect(node.state).toBe('failed');
    expectNothingNew(before);
  });

  test('two nodes replicate a world through an in-memory room; status lists the peer', async () => {
    const net = new MemoryNetwork({ conditioner: { latencyMs: 5 } });
    const Marker = defineComponent('NodeTestMarker', { value: { type: 'f32' } });
    const nodes = await Promise.all(['peer-a', 'peer-b'].map(async (id) => {
      const node = createNode({
        webgpu: 'off',
        network: { room: 'replicated', transport: await net.join('replicated', id) },
        session: { kind: 'replication', components: [defineReplicated(Marker)], presence: { name: id } },
      });
      started.push(node);
      await node.start();
      return node;
    }));
    const [a, b] = nodes as [PeerComputeNode, PeerComputeNode];
    const e = spawn(a.world);
    addComponent(a.world, e, Marker, { value: 42.5 });
    addComponent(a.world, e, Replicated);
    await until(() => query(b.world, [Marker]).some((x) => storeOf(b.world, Marker).value[x] === 42.5), 10_000, 'the marker on B');
    const status = a.getStatus();
    expect(status.peerId).toBe('peer-a');
    expect(status.peers.map((p) => p.peerId)).toEqual(['peer-b']);
    expect(status.peers[0]!.connection).toBe('memory');
    expect(status.session.kind).toBe('replication');
    await Promise.all(nodes.map((n) => n.stop()));
    await net.close?.();
  });

  test('storage { leveldb }: a node that stops keeps its replicated world on disk; a new node loads it before joining', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'node-leveldb-'));
    const Marker = defineComponent('NodeTestStored', { value: { type: 'f32' } });
    const components = [defineReplicated(Marker)];
    try {
      const net = new MemoryNetwork({ conditioner: { latencyMs: 5 } });
      const first = createNode({
        webgpu: 'off', storage: { leveldb: dir },
        network: { room: 'stored-world', transport: await net.join('stored-world', 'writer') },
        session: { kind: 'replication', components },
      });
      started.push(first);
      await first.start();
      const e = spawn(first.world);
      addComponent(first.world, e, Marker, { value: 7.25 });
      addComponent(first.world, e, Replicated);
      await until(() => (first.replicator?.stats().owned ?? 0) >= 1 && (first.replicator?.stats().blobsWritten ?? 0) >= 1, 5000, 'the marker written');
      await first.stop();

      const alone = new MemoryNetwork();
      const second = createNode({
        webgpu: 'off', storage: { leveldb: dir }, tick: 'manual',
        network: { room: 'stored-world', transport: await alone.join('stored-world', 'reader') },
        session: { kind: 'replication', components },
      });
      started.push(second);
      await second.start();
      // Nobody else is in the room: the marker can only come from the disk.
      const values = query(second.world, [Marker]).map((x) => storeOf(second.world, Marker).value[x]);
      expect(values).toEqual([7.25]);
      await second.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('two nodes play a rollback match: slots by peer id, equal checksums at every confirmed frame', async () => {
    const net = new MemoryNetwork({ conditioner: { latencyMs: 10 } });
    const matches: { id: string; slot: number }[] = [];
    const checksums = new Map<string, Map<number, number>>();
    const nodes = await Promise.all(['rb-b', 'rb-a'].map(async (id) => {
      const sums = new Map<number, number>();
      checksums.set(id, sums);
      const node = createNode({
        webgpu: 'off',
        input: new Blinker(),
        network: { room: 'match', transport: await net.join('match', id) },
        session: {
          kind: 'rollback', players: 2, inputDelay: 2, createGame: () => createCounterGame(2),
          onChecksum: (frame, checksum) => sums.set(frame, checksum),
        },
      });
      node.on('match', ({ localSlot }) => matches.push({ id, slot: localSlot }));
      started.push(node);
      await node.start();
      return node;
    }));
    await until(() => matches.length === 2, 10_000, 'both matches');
    expect(matches.sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual([{ id: 'rb-a', slot: 0 }, { id: 'rb-b', slot: 1 }]);
    const confirmed = (n: PeerComputeNode): number => {
      const s = n.getStatus().session;
      return s.kind === 'rollback' ? (s.confirmedFrame ?? -1) : -1;
    };
    await until(() => nodes.every((n) => confirmed(n) >= 90), 20_000, '90 confirmed frames');
    await Promise.all(nodes.map((n) => n.stop()));
    const upTo = Math.min(...nodes.map(confirmed));
    const [a, b] = [checksums.get('rb-a')!, checksums.get('rb-b')!];
    let compared = 0;
    for (let f = 1; f <= upTo; f++) {
      if (!a.has(f) || !b.has(f)) continue;
      expect(b.get(f), `frame ${f}`).toBe(a.get(f));
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(80);
    // The presses were simulated: both counters moved.
    const presses = storeOf(nodes[0]!.world, Counter).presses;
    for (const e of query(nodes[0]!.world, [Counter])) expect(presses[e]).toBeGreaterThan(10);
  });

  test('room compute: a node gets a terrain chunk computed by another node, equal to its own', async () => {
    const net = new MemoryNetwork({ conditioner: { latencyMs: 5 } });
    const nodes = await Promise.all(['rc-a', 'rc-b', 'rc-c'].map(async (id) => {
      const node = createNode({
        webgpu: 'off',
        network: { room: 'compute', transport: await net.join('compute', id) },
        roomCompute: { verify: 'none', slots: 2 },
      });
      started.push(node);
      await node.start();
      return node;
    }));
    const [a] = nodes as [PeerComputeNode];
    await until(() => a.getStatus().compute.peers.filter((p) => (p.capability?.slots ?? 0) > 0).length === 2, 5000, 'compute presence of both peers');
    const options = { seed: 4, chunkX: 1, chunkZ: -1, size: 32 };
    const bytes = await a.submitTask('terrain.chunk', encodeTerrainChunkInput(options), { where: 'room' });
    expect(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)).toEqual(generateChunkCpu(options));
    const room = a.getStatus().compute.room!;
    expect(room).toMatchObject({ completed: 1, remoteRuns: 1, localRuns: 0 });
    await Promise.all(nodes.map((n) => n.stop()));
  });

  test('workers: a task in the pool equals the local result; stop() leaves no worker', async () => {
    const before = resources();
    const node = createNode({ webgpu: 'off', workers: 1, tick: 'manual' });
    started.push(node);
    await node.start();
    const input = encodeTerrainChunkInput({ seed: 9, chunkX: 0, chunkZ: 0, size: 64 });
    const [inWorker, here] = await Promise.all([node.submitTask('terrain.chunk', input, { where: 'worker' }), node.submitTask('terrain.chunk', input, { where: 'local' })]);
    expect(inWorker).toEqual(here);
    expect(node.getStatus().compute.workers?.completed).toBe(1);
    await node.stop();
    expectNothingNew(before);
  });
});
