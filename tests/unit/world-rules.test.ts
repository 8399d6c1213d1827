/**
 * The world demo's rules (demos/world/game.ts): grid snapping, placement and removal targets,
 * walking, the avatar system's press edges, the cleanup rule, and bot determinism.
 */
import { describe, expect, it } from 'vitest';
import { createInputRecord, createInputSystem, Phase, storeOf, type InputRecord, type InputSource } from '../../engine/index.ts';
import {
  Avatar, Block, BlockState, cellCentre, cellOf, createBlockCleanupSystem, createWorldGame, liveBlocks, MAX_STACK, nearestBlock,
  PLACE_DISTANCE, placeBlockAt, placementTarget, spawnerOf, stackOn, walk, WALK_SPEED, WORLD_HALF, WorldBot, type Cell,
  groundLevel, terrainSeedOf, WORLD_TERRAIN,
} from '../../demos/world/game.ts';
import { HEIGHT_UNITS_PER_METRE } from '../../shaders/index.ts';

/** An input source replaying `records` (then idle). */
function replay(records: Partial<InputRecord>[]): InputSource {
  let i = 0;
  return {
    sample(out) {
      const r = records[i++] ?? {};
      out.buttons = r.buttons ?? 0;
      out.axes.fill(0);
      r.axes?.forEach((v, k) => {
        out.axes[k] = v;
      });
      return out;
    },
  };
}

describe('world rules: grid', () => {
  it('snaps coordinates to 1 m cells and back to centres', () => {
    expect(cellOf(0)).toBe(0);
    expect(cellOf(0.999)).toBe(0);
    expect(cellOf(-0.001)).toBe(-1);
    expect(cellOf(-20)).toBe(-20);
    expect(cellCentre(-1)).toBe(-0.5);
    expect(cellCentre(3)).toBe(3.5);
  });

  it('stacks on the highest block of a column, up to MAX_STACK, and refuses cells off the ground', () => {
    const blocks: Cell[] = [{ cx: 2, cy: 0, cz: 3 }, { cx: 2, cy: 1, cz: 3 }, { cx: 5, cy: 0, cz: 5 }];
    expect(stackOn(2, 3, blocks)).toEqual({ cx: 2, cy: 2, cz: 3 });
    expect(stackOn(0, 0, blocks)).toEqual({ cx: 0, cy: 0, cz: 0 });
    const full = Array.from({ length: MAX_STACK }, (_, cy) => ({ cx: 1, cy, cz: 1 }));
    expect(stackOn(1, 1, full)).toBeUndefined();
    expect(stackOn(WORLD_HALF, 0, [])).toBeUndefined();
    expect(stackOn(-WORLD_HALF, 0, [])).toEqual({ cx: -WORLD_HALF, cy: 0, cz: 0 });
    expect(stackOn(0, -WORLD_HALF - 1, [])).toBeUndefined();
  });

  it('places PLACE_DISTANCE ahead: yaw 0 faces -Z, +π/2 faces +X; never on the avatar\'s own cell', () => {
    expect(placementTarget(0.5, 0.5, 0, [])).toEqual({ cx: 0, cy: 0, cz: cellOf(0.5 - PLACE_DISTANCE) });
    expect(placementTarget(0.5, 0.5, Math.PI / 2, [])).toEqual({ cx: cellOf(0.5 + PLACE_DISTANCE), cy: 0, cz: 0 });
    for (let k = 0; k < 64; k++) {
      const yaw = (k / 64) * 2 * Math.PI - Math.PI;
      const x = 0.13 + k * 0.011;
      const z = 0.77 - k * 0.007;
      const t = placementTarget(x, z, yaw, [])!;
      expect(t.cx === cellOf(x) && t.cz === cellOf(z)).toBe(false);
    }
  });

  it('removes the nearest block in reach, the highest of a column first', () => {
    const blocks: Cell[] = [{ cx: 4, cy: 0, cz: 0 }, { cx: 1, cy: 0, cz: 0 }, { cx: 1, cy: 1, cz: 0 }, { cx: -9, cy: 0, cz: 0 }];
    expect(nearestBlock(0.5, 0.5, blocks)).toBe(2);
    expect(nearestBlock(-8.5, 0.5, blocks)).toBe(3);
    expect(nearestBlock(10, 10, blocks)).toBe(-1);
  });
});

describe('world rules: walking and the avatar system', () => {
  it('walks at WALK_SPEED, diagonals not faster, clamped to the ground, facing the motion', () => {
    const a = walk(0, 0, 0, 1, 0, 0.5);
    expect(a.x).toBeCloseTo(WALK_SPEED * 0.5, 6);
    expect(a.yaw).toBeCloseTo(Math.PI / 2, 6);
    const d = walk(0, 0, 0, 1, 1, 1);
    expect(Math.hypot(d.x, d.z)).toBeCloseTo(WALK_SPEED, 6);
    expect(walk(0, 0, 0, 0, 1, 1).z).toBeCloseTo(-WALK_SPEED, 6); // forward is -Z
    expect(walk(WORLD_HALF - 0.1, 0, 0, 1, 0, 1).x).toBe(WORLD_HALF);
    expect(walk(3, 4, 1.25, 0, 0, 1)).toEqual({ x: 3, z: 4, yaw: 1.25 });
  });

  it('places once per press (held Space acts once), removes with E; removed blocks are not live', () => {
    const game = createWorldGame({ colour: 3, spawn: { x: 0.5, z: 0.5 } });
    const held = { buttons: 1 };
    game.scheduler.addSystem(Phase.Input, createInputSystem(replay([held, held, held, {}, held, {}, { buttons: 8 }])));
    for (let i = 0; i < 5; i++) game.scheduler.step();
    let live = liveBlocks(game.world);
    expect(live.cells).toEqual([{ cx: 0, cy: 0, cz: -2 }, { cx: 0, cy: 1, cz: -2 }]);
    expect(storeOf(game.world, Block).colour[live.eids[0]!]).toBe(3);
    game.scheduler.step();
    game.scheduler.step();
    live = liveBlocks(game.world);
    expect(live.cells).toEqual([{ cx: 0, cy: 0, cz: -2 }]);
  });

  it('placeBlockAt snaps to the cell and stacks', () => {
    const game = createWorldGame();
    const e1 = placeBlockAt(game.world, 3.2, -4.7, 1)!;
    const e2 = placeBlockAt(game.world, 3.9, -4.1, 1)!;
    const b = storeOf(game.world, Block);
    expect([b.cx[e1], b.cy[e1], b.cz[e1]]).toEqual([3, 0, -5]);
    expect([b.cx[e2], b.cy[e2], b.cz[e2]]).toEqual([3, 1, -5]);
    expect(placeBlockAt(game.world, WORLD_HALF + 5, 0, 1)).toBeUndefined();
  });

  it('cleanup despawns owned removed blocks and adopted avatars, and nothing else', () => {
    const game = createWorldGame();
    const mine = placeBlockAt(game.world, 1, 1, 0)!;
    const theirs = placeBlockAt(game.world, 2, 2, 0)!;
    storeOf(game.world, BlockState).removed[mine] = 1;
    storeOf(game.world, BlockState).removed[theirs] = 1;
    const ids = new Map<number, string>([[mine, 'me/1'], [theirs, 'them/1'], [game.avatar, 'me/0']]);
    const system = createBlockCleanupSystem({ netIdOf: (eid) => ids.get(eid), owns: (id) => id.startsWith('me/') }, 'me');
    system(game.world);
    expect(liveBlocks(game.world).eids).toEqual([]);
    expect(storeOf(game.world, Avatar).x[game.avatar]).toBeDefined();
    expect(spawnerOf('12D3KooWabc/1f')).toBe('12D3KooWabc');
  });
});

describe('world rules: bot', () => {
  it('is deterministic per seed, different across seeds, and places every 180 ticks', () => {
    const run = (seed: number): string => {
      const bot = new WorldBot(seed);
      const out: string[] = [];
      const rec = createInputRecord();
      for (let i = 0; i < 400; i++) {
        bot.sample(rec);
        out.push(`${rec.buttons}:${rec.axes[0]}:${rec.axes[1]}`);
      }
      return out.join(',');
    };
    expect(run(7)).toBe(run(7));
    expect(run(7)).not.toBe(run(8));
    const presses = run(7).split(',').map((s, i) => [i + 1, Number(s.split(':')[0])]).filter(([, b]) => b !== 0).map(([t]) => t);
    expect(presses).toEqual([180, 360]);
  });

  it('a bot game walks and builds', () => {
    const game = createWorldGame({ spawn: { x: 0, z: 0 } });
    game.scheduler.addSystem(Phase.Input, createInputSystem(new WorldBot(3)));
    for (let i = 0; i < 600; i++) game.scheduler.step();
    const a = storeOf(game.world, Avatar);
    expect(Math.hypot(a.x[game.avatar]!, a.z[game.avatar]!)).toBeGreaterThan(0.5);
    expect(liveBlocks(game.world).eids.length).toBeGreaterThanOrEqual(2);
  });
});

describe('world rules: terrain', () => {
  it('derives the terrain seed from the room id: equal for equal rooms, different otherwise', () => {
    expect(terrainSeedOf('world-main')).toBe(terrainSeedOf('world-main'));
    expect(terrainSeedOf('world-main')).not.toBe(terrainSeedOf('world-main2'));
    const a = createWorldGame({ terrainSeed: terrainSeedOf('world-x') });
    const b = createWorldGame({ terrainSeed: terrainSeedOf('world-x') });
    const c = createWorldGame({ terrainSeed: terrainSeedOf('world-y') });
    const heights = (g: ReturnType<typeof createWorldGame>) => [[0, 0], [10.5, -3.25], [-60, 61]].map(([x, z]) => g.terrain.heightAt(x!, z!));
    expect(heights(b)).toEqual(heights(a));
    expect(heights(c)).not.toEqual(heights(a));
  });

  it('blocks stand on their cell\'s lowest corner rounded down to whole metres: never floating, at most 1 m plus the slope below', () => {
    const game = createWorldGame({ terrainSeed: terrainSeedOf('world-rules') });
    const t = game.terrain.sampler;
    let spread = 0;
    for (let cx = -WORLD_HALF; cx < WORLD_HALF; cx += 7) {
      for (let cz = -WORLD_HALF; cz < WORLD_HALF; cz += 5) {
        const level = groundLevel(t, cx, cz);
        expect(Number.isInteger(level)).toBe(true);
        const corners = [[cx, cz], [cx + 1, cz], [cx, cz + 1], [cx + 1, cz + 1]].map(([x, z]) => t.vertexHeight(x!, z!) / HEIGHT_UNITS_PER_METRE);
        expect(level).toBeLessThanOrEqual(Math.min(...corners));
        expect(level).toBeGreaterThan(Math.min(...corners) - 1);
        spread = Math.max(spread, Math.max(...corners) - Math.min(...corners));
      }
    }
    expect(spread).toBeGreaterThan(0.05); // the ground is not flat
    expect(spread).toBeLessThan(1); // ... but walkable: under 45 degrees within any sampled cell
  });

  it('the terrain is gentle: heights within the fBm bound, slopes mostly under 20 degrees over the playable square', () => {
    const game = createWorldGame({ terrainSeed: 12345 });
    const bound = WORLD_TERRAIN.noise.amplitude / (1 - WORLD_TERRAIN.noise.persistence);
    let steep = 0;
    let total = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let x = -WORLD_HALF; x < WORLD_HALF; x += 2) {
      for (let z = -WORLD_HALF; z < WORLD_HALF; z += 2) {
        const h = game.terrain.heightAt(x, z);
        min = Math.min(min, h);
        max = Math.max(max, h);
        const slope = Math.hypot(game.terrain.heightAt(x + 1, z) - h, game.terrain.heightAt(x, z + 1) - h);
        if (slope > Math.tan((20 * Math.PI) / 180)) steep++;
        total++;
      }
    }
    expect(Math.abs(min)).toBeLessThanOrEqual(bound);
    expect(Math.abs(max)).toBeLessThanOrEqual(bound);
    expect(max - min).toBeGreaterThan(2); // real hills
    expect(steep / total).toBeLessThan(0.1);
  });
});
