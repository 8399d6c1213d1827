/**
 * The terrain plugin (plugins/terrain): streaming through compute tasks (results land on later
 * ticks, never the submitting one), identical chunk hash sequences in two separately created
 * worlds with the same seed, Rapier heightfield colliders under a ball that comes to rest on the
 * ground, deterministic colliders (checksums of two worlds), and dispose.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import {
  addBody, checksum, computeTasks, createPhysics, createWorld, findResource, getHeightfield, initPhysics, orderedQuery, Phase, restore, Scheduler, ShapeKind, snapshot, spawn,
  storeOf, Transform, Velocity, type GameWorld,
} from '../../engine/index.ts';
import {
  createTerrain, TERRAIN, terrainHeightAt, TerrainCollider, TerrainPluginError, terrainShapeId, TERRAIN_SHAPE_ID_BASE, type Terrain,
  type TerrainOptions,
} from '../../plugins/terrain/index.ts';
import { generateChunkCpu, heightmapChecksum } from '../../shaders/index.ts';

const NOISE = { octaves: 5, cellLog2: 6, amplitude: 6, persistence: 0.5 };
const PATH = [{ x: 4, z: 4 }, { x: 20, z: 10 }, { x: 50, z: 30 }, { x: 90, z: 40 }, { x: 20, z: 10 }];

/** Steps (letting promises settle between ticks) until the terrain has nothing pending. */
async function runUntilIdle(scheduler: Scheduler, terrain: Terrain, maxTicks = 3000): Promise<number> {
  for (let t = 0; t < maxTicks; t++) {
    scheduler.step();
    await new Promise((resolve) => setImmediate(resolve));
    if (t >= 6 && terrain.streamer.idle && computeTasks(scheduler.world).idle) return t;
  }
  throw new Error('terrain never became idle');
}

async function walkWorld(seed: number): Promise<{ events: string[]; world: GameWorld; terrain: Terrain }> {
  const world = createWorld({ seed: 1 });
  const scheduler = new Scheduler(world);
  const viewer = { x: 0, z: 0 };
  const terrain = createTerrain(scheduler, { seed, chunkCells: 16, noise: NOISE, lodRadii: [16, 40, 64], viewers: () => [viewer] });
  const events: string[] = [];
  terrain.streamer.on('ready', (chunk) => events.push(`${chunk.key} ${chunk.hash.toString(16)}`));
  terrain.streamer.on('evicted', (chunk) => events.push(`evicted ${chunk.key}`));
  for (const p of PATH) {
    viewer.x = p.x;
    viewer.z = p.z;
    await runUntilIdle(scheduler, terrain);
    events.push(`@${p.x},${p.z}`);
  }
  return { events, world, terrain };
}

describe('terrain plugin: streaming through compute tasks', () => {
  test('offload: chunks go to the offload while it takes them, back here when it declines or fails; hashes unchanged', async () => {
    const run = async (offload: Parameters<Terrain['setOffload']>[0]) => {
      const world = createWorld({ seed: 1 });
      const scheduler = new Scheduler(world);
      const terrain = createTerrain(scheduler, { seed: 5, chunkCells: 16, noise: NOISE, lodRadii: [20, 40], viewers: () => [{ x: 8, z: 8 }] });
      terrain.setOffload(offload);
      const hashes: string[] = [];
      terrain.streamer.on('ready', (chunk) => hashes.push(`${chunk.key} ${chunk.hash}`));
      await runUntilIdle(scheduler, terrain);
      const stats = { ...terrain.stats };
      terrain.dispose();
      return { hashes: hashes.sort(), stats };
    };
    let calls = 0;
    // A helper that answers every other chunk, fails every fourth, declines the rest.
    const helper = (options: Parameters<typeof generateChunkCpu>[0]) => {
      calls++;
      if (calls % 4 === 0) return Promise.reject(new Error('peer left'));
      if (calls % 2 === 1) return Promise.resolve(generateChunkCpu(options));
      return undefined;
    };
    const local = await run(undefined);
    const helped = await run(helper);
    expect(local.stats).toMatchObject({ offloaded: 0, offloadFailed: 0, gpu: 0 });
    expect(helped.hashes).toEqual(local.hashes);
    expect(helped.stats.offloaded).toBeGreaterThan(0);
    expect(helped.stats.offloadFailed).toBeGreaterThan(0);
    expect(helped.stats.offloaded + helped.stats.cpu).toBe(local.stats.cpu);
  });

  test('results land on a later tick than their submission; nothing is ready during the first tick', async () => {
    const world = createWorld({ seed: 1 });
    const scheduler = new Scheduler(world);
    const terrain = createTerrain(scheduler, { seed: 3, chunkCells: 16, noise: NOISE, lodRadii: [20], viewers: () => [{ x: 8, z: 8 }] });
    const readyTicks: number[] = [];
    terrain.streamer.on('ready', () => readyTicks.push(world.time.tick));
    scheduler.step();
    await new Promise((resolve) => setImmediate(resolve));
    expect(readyTicks).toEqual([]);
    expect(computeTasks(world).stats.submitted).toBeGreaterThan(0);
    await runUntilIdle(scheduler, terrain);
    const stats = computeTasks(world).stats;
    expect(stats.completed).toBe(terrain.streamer.stats.generated);
    expect(stats.maxLatencyTicks).toBeGreaterThanOrEqual(1);
    expect(Math.min(...readyTicks)).toBeGreaterThanOrEqual(2);
    expect(terrain.streamer.stats.resident).toBe(9);
    expect(terrain.backend.kind).toBe('cpu');
    terrain.dispose();
  });

  test('two separately created worlds with the same seed walking the same path produce identical chunk hash sequences; another seed differs', async () => {
    const a = await walkWorld(77);
    const b = await walkWorld(77);
    const c = await walkWorld(78);
    const ready = a.events.filter((e) => !e.startsWith('@') && !e.startsWith('evicted'));
    expect(ready.length).toBeGreaterThan(40);
    expect(a.events.some((e) => e.startsWith('evicted'))).toBe(true);
    expect(b.events).toEqual(a.events);
    expect(c.events).not.toEqual(a.events);
    // Every hash is the checksum of the chunk generated directly with the CPU twin.
    const [key, hash] = ready[0]!.split(' ');
    const [xz, lod] = key!.split('@');
    const [cx, cz] = xz!.split(',').map(Number);
    expect(heightmapChecksum(generateChunkCpu({ ...NOISE, seed: 77, chunkX: cx!, chunkZ: cz!, size: 16, lod: Number(lod) })).toString(16)).toBe(hash);
    for (const r of [a, b, c]) r.terrain.dispose();
  });

  test('createTerrain validates, refuses a second terrain, and dispose removes everything it added', () => {
    const world = createWorld({ seed: 1 });
    const scheduler = new Scheduler(world);
    const base: TerrainOptions = { seed: 1, viewers: () => [] };
    expect(() => createTerrain(scheduler, { ...base, streamEveryTicks: 0 })).toThrow(TerrainPluginError);
    expect(() => createTerrain(scheduler, { ...base, viewers: undefined as never })).toThrow(/viewers/);
    expect(() => terrainHeightAt(world, 0, 0)).toThrow(/no terrain/);
    const terrain = createTerrain(scheduler, { ...base, colliders: { radius: 4 } });
    expect(() => createTerrain(scheduler, base)).toThrow(/already has a terrain/);
    expect(scheduler.systemsOf(Phase.Compute)).toEqual(['computeTaskSystem', 'terrainStreamSystem']);
    expect(scheduler.systemsOf(Phase.Simulation)).toEqual(['terrainColliderSystem']);
    expect(terrainHeightAt(world, 1.5, 2)).toBe(terrain.heightAt(1.5, 2));
    terrain.dispose();
    terrain.dispose();
    expect(scheduler.systemsOf(Phase.Compute)).toEqual([]);
    expect(scheduler.systemsOf(Phase.Simulation)).toEqual([]);
    expect(findResource(world, TERRAIN)).toBeUndefined();
    expect(terrainShapeId(0, 0)).toBe(TERRAIN_SHAPE_ID_BASE + 2 ** 14 * 65536 + 2 ** 15);
    expect(terrainShapeId(2 ** 14 - 1, 2 ** 15 - 1)).toBe(0xffffffff);
    expect(() => terrainShapeId(2 ** 14, 0)).toThrow(/outside the collider range/);
  });
});

describe('terrain plugin: heightfield colliders', () => {
  beforeAll(async () => {
    await initPhysics();
  });

  /** A world with physics, a terrain with colliders under the ball, and a ball dropped at (x, z). */
  function ballWorld(x: number, z: number) {
    const world = createWorld({ seed: 1 });
    const scheduler = new Scheduler(world);
    createPhysics(world, scheduler);
    const ball = spawn(world);
    const t = storeOf(world, Transform);
    const terrain = createTerrain(scheduler, {
      seed: 4242, chunkCells: 16, noise: NOISE, lodRadii: [24],
      viewers: (w) => [{ x: storeOf(w, Transform).px[ball]!, z: storeOf(w, Transform).pz[ball]! }],
      colliders: { radius: 6 },
    });
    const ground = terrain.heightAt(x, z);
    addBody(world, ball, { shape: ShapeKind.Ball, radius: 0.5, position: { x, y: ground + 4, z }, friction: 1, lockRotations: true, linearDamping: 0.5 });
    return { world, scheduler, terrain, ball, t };
  }

  test('a ball dropped on a chunk comes to rest at the terrain height (radius + 5 cm)', () => {
    for (const [x0, z0] of [[5.3, -7.7], [-12.6, 3.1], [40.2, 40.9]] as const) {
      const { world, scheduler, terrain, ball, t } = ballWorld(x0, z0);
      for (let i = 0; i < 360; i++) scheduler.step();
      const x = t.px[ball]!;
      const z = t.pz[ball]!;
      const v = storeOf(world, Velocity);
      expect(Math.hypot(v.lx[ball]!, v.ly[ball]!, v.lz[ball]!), `speed at ${x0},${z0}`).toBeLessThan(0.01);
      const ground = terrain.heightAt(x, z);
      expect(t.py[ball]! - ground, `height above ground at ${x0},${z0}`).toBeGreaterThan(0.5 - 0.05);
      expect(t.py[ball]! - ground, `height above ground at ${x0},${z0}`).toBeLessThan(0.5 + 0.05);
      // The colliders are the LOD-0 chunks around the ball, one entity per chunk.
      const colliders = orderedQuery(world, [TerrainCollider]);
      expect(colliders.length).toBeGreaterThanOrEqual(1);
      const chunks = [...colliders].map((e) => `${storeOf(world, TerrainCollider).chunkX[e]},${storeOf(world, TerrainCollider).chunkZ[e]}`);
      expect(chunks).toContain(`${Math.floor(x / 16)},${Math.floor(z / 16)}`);
      terrain.dispose();
    }
  });

  test('without the collider the ball falls through (the test can fail), and far away colliders are removed', () => {
    const world = createWorld({ seed: 1 });
    const scheduler = new Scheduler(world);
    createPhysics(world, scheduler);
    const ball = spawn(world);
    const terrain = createTerrain(scheduler, { seed: 4242, chunkCells: 16, noise: NOISE, lodRadii: [24], viewers: () => [] });
    const ground = terrain.heightAt(5.3, -7.7);
    addBody(world, ball, { shape: ShapeKind.Ball, radius: 0.5, position: { x: 5.3, y: ground + 4, z: -7.7 } });
    for (let i = 0; i < 120; i++) scheduler.step();
    expect(storeOf(world, Transform).py[ball]!).toBeLessThan(ground - 5);
    terrain.dispose();

    const moved = ballWorld(8, 8);
    for (let i = 0; i < 5; i++) moved.scheduler.step();
    const before = [...orderedQuery(moved.world, [TerrainCollider])].map((e) => storeOf(moved.world, TerrainCollider).chunkX[e]);
    expect(before).toContain(0);
    moved.t.px[moved.ball] = 200; // teleport: the old chunks leave, new ones come
    for (let i = 0; i < 5; i++) moved.scheduler.step();
    const after = [...orderedQuery(moved.world, [TerrainCollider])].map((e) => storeOf(moved.world, TerrainCollider).chunkX[e]);
    expect(after).not.toContain(0);
    expect(after).toContain(12);
    moved.terrain.dispose();
  });

  test('heightfields of removed colliders are unregistered; restoring a state from before the removal still stands the ball on them', () => {
    const m = ballWorld(8, 8);
    for (let i = 0; i < 240; i++) m.scheduler.step();
    const restY = m.t.py[m.ball]!;
    const near = [...orderedQuery(m.world, [TerrainCollider])].map((e) => terrainShapeId(storeOf(m.world, TerrainCollider).chunkX[e]!, storeOf(m.world, TerrainCollider).chunkZ[e]!));
    expect(near.length).toBeGreaterThanOrEqual(1);
    for (const id of near) expect(getHeightfield(m.world, id)).toBeDefined();
    const saved = snapshot(m.world);
    m.t.px[m.ball] = 200; // teleport: the old chunks leave
    for (let i = 0; i < 5; i++) m.scheduler.step();
    for (const id of near) expect(getHeightfield(m.world, id), `heightfield ${id}`).toBeUndefined();
    restore(m.world, saved);
    for (let i = 0; i < 120; i++) m.scheduler.step();
    expect(Math.abs(m.t.py[m.ball]! - restY)).toBeLessThan(0.02); // still resting on the restored colliders
    m.terrain.dispose();
  });

  test('colliders are deterministic: two worlds stepping the same drop have equal checksums every 30 ticks', () => {
    const a = ballWorld(-20.2, 31.9);
    const b = ballWorld(-20.2, 31.9);
    for (let i = 1; i <= 240; i++) {
      a.scheduler.step();
      b.scheduler.step();
      if (i % 30 === 0) expect(checksum(b.world), `tick ${i}`).toBe(checksum(a.world));
    }
    expect(orderedQuery(a.world, [TerrainCollider]).length).toBeGreaterThan(0);
    a.terrain.dispose();
    b.terrain.dispose();
  });
});
