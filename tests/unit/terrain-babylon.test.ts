/**
 * Terrain meshes (plugins/babylon/terrain.ts) headless on Babylon's NullEngine: geometry equals
 * the chunk's heights, skirts face outward, left-handed scenes mirror Z; meshes follow the
 * streamer (created on ready, swapped on LOD changes, disposed on eviction) and nothing leaks.
 */
import { NullEngine } from '@babylonjs/core/Engines/nullEngine.js';
import { VertexBuffer } from '@babylonjs/core/Buffers/buffer.js';
import { Vector3 } from '@babylonjs/core/Maths/math.vector.js';
import { Ray } from '@babylonjs/core/Culling/ray.js';
import { Logger } from '@babylonjs/core/Misc/logger.js';
import { Scene } from '@babylonjs/core/scene.js';
import { beforeAll, describe, expect, test } from 'vitest';
import { BabylonPluginError, createTerrainMeshes, terrainChunkGeometry, terrainColour } from '../../plugins/babylon/index.ts';
import { HEIGHT_UNITS_PER_METRE, TerrainStreamer, type TerrainChunk } from '../../shaders/index.ts';

const SETTINGS = { seed: 91, chunkCells: 16, noise: { octaves: 5, cellLog2: 6, amplitude: 6 }, lodRadii: [12, 30, 50] };

beforeAll(() => {
  Logger.LogLevels = Logger.WarningLogLevel | Logger.ErrorLogLevel;
});

async function oneChunk(): Promise<TerrainChunk> {
  const streamer = new TerrainStreamer({ ...SETTINGS, lodRadii: [4] });
  let chunk: TerrainChunk | undefined;
  streamer.on('ready', (c) => {
    if (c.chunkX === 1 && c.chunkZ === -1) chunk = c;
  });
  streamer.update([{ x: 24, z: -8 }]);
  await streamer.settled();
  return chunk!;
}

describe('terrain chunk geometry', () => {
  test('grid vertices are the chunk\'s heights; skirts hang below the edges and face outward; normals are the streamer\'s', async () => {
    const chunk = await oneChunk();
    const n = chunk.cells + 1;
    const data = terrainChunkGeometry(chunk, true, { skirt: 3 });
    const p = data.positions!;
    expect(p.length).toBe((n * n + 4 * chunk.cells) * 3);
    for (const [i, j] of [[0, 0], [5, 7], [16, 16]]) {
      const v = j * n + i;
      expect([p[v * 3], p[v * 3 + 1], p[v * 3 + 2]]).toEqual([i, chunk.heights[v]! / HEIGHT_UNITS_PER_METRE, j]);
      expect(data.normals![v * 3 + 1]).toBe(chunk.normals[v * 3 + 1]);
    }
    // First skirt vertex: below grid vertex 0.
    expect(p[n * n * 3 + 1]).toBeCloseTo(chunk.heights[0]! / HEIGHT_UNITS_PER_METRE - 3, 5);
    // Face normals (scene space, Babylon's right-handed winding reversed back): grid up, skirt outward.
    const idx = data.indices!;
    const face = (t: number): Vector3 => {
      const [a, b, c] = [idx[t * 3]!, idx[t * 3 + 1]!, idx[t * 3 + 2]!].map((k) => new Vector3(p[k * 3]!, p[k * 3 + 1]!, p[k * 3 + 2]!));
      return Vector3.Cross(c!.subtract(a!), b!.subtract(a!)); // reversed order = engine CCW
    };
    for (let t = 0; t < chunk.cells * chunk.cells * 2; t += 37) expect(face(t).y).toBeGreaterThan(0);
    const skirt0 = chunk.cells * chunk.cells * 2;
    expect(face(skirt0).z).toBeLessThan(0); // south edge faces -Z
    expect(face(skirt0 + 2 * chunk.cells).x).toBeGreaterThan(0); // east edge faces +X
    // Left-handed scenes mirror Z of positions and normals.
    const left = terrainChunkGeometry(chunk, false, { skirt: 0 });
    expect(left.positions!.length).toBe(n * n * 3);
    expect(left.positions![7 * n * 3 + 2]).toBe(-7);
    expect(left.normals![7 * n * 3 + 2]).toBe(-chunk.normals[7 * n * 3 + 2]!);
    expect(() => terrainChunkGeometry(chunk, true, { skirt: -1 })).toThrow(BabylonPluginError);
    expect(() => terrainChunkGeometry(chunk, true, { heightRange: [5, 5] })).toThrow(/heightRange/);
  });

  test('colours: sand low, snow high, rock on steep slopes', () => {
    const c = [0, 0, 0];
    terrainColour(-100, 1, [-8, 8], c);
    expect(c[0]).toBeCloseTo(0.78, 5);
    terrainColour(100, 1, [-8, 8], c);
    expect(c).toEqual([0.93, 0.93, 0.95].map(Math.fround).map((v) => expect.closeTo(v, 5)));
    terrainColour(0, 0.5, [-8, 8], c);
    expect(c.map((v) => Math.round(v * 100) / 100)).toEqual([0.5, 0.48, 0.46]);
  });
});

describe('terrain meshes follow the streamer', () => {
  test('ready creates, LOD changes swap, eviction disposes; dispose leaves the scene as it was', async () => {
    const engine = new NullEngine();
    const scene = new Scene(engine);
    scene.useRightHandedSystem = true;
    const baseMeshes = scene.meshes.length;
    const baseGeometries = scene.geometries.length;
    const streamer = new TerrainStreamer(SETTINGS);
    const terrain = createTerrainMeshes(scene, streamer);
    streamer.update([{ x: 8, z: 8 }]);
    await streamer.settled();
    const first = terrain.meshes();
    expect(first.size).toBe(streamer.stats.resident);
    expect(scene.meshes.length).toBe(baseMeshes + first.size);
    const centre = first.get('0,0')!;
    expect(centre.name).toBe('terrain 0,0@0');
    // A ray straight down hits the mesh at the chunk's vertex height.
    const chunk = streamer.chunk(0, 0)!;
    centre.computeWorldMatrix(true);
    const hit = scene.pickWithRay(new Ray(new Vector3(3, 100, 5), new Vector3(0, -1, 0), 200), (m) => m === centre);
    expect(hit?.hit).toBe(true);
    expect(hit!.pickedPoint!.y).toBeCloseTo(chunk.heights[5 * 17 + 3]! / HEIGHT_UNITS_PER_METRE, 4);
    // Walk away: (0, 0) is coarsened (mesh swapped), far chunks evicted (meshes disposed).
    streamer.update([{ x: 8 + 60, z: 8 }]);
    await streamer.settled();
    const second = terrain.meshes();
    expect(second.get('0,0')!.name).toBe(`terrain 0,0@${streamer.chunk(0, 0)!.lod}`);
    expect(centre.isDisposed()).toBe(true);
    expect(second.size).toBe(streamer.stats.resident);
    expect(terrain.stats.created - terrain.stats.disposed).toBe(second.size);
    expect(terrain.stats.disposed).toBeGreaterThan(streamer.stats.evicted); // evictions + swaps
    expect(scene.meshes.length).toBe(baseMeshes + second.size);
    expect(centre.getVerticesData(VertexBuffer.PositionKind)).toBeNull();
    terrain.dispose();
    terrain.dispose();
    expect(scene.meshes.length).toBe(baseMeshes);
    expect(scene.geometries.length).toBe(baseGeometries);
    expect(scene.materials.filter((m) => m.name === 'terrain')).toEqual([]);
    // No longer listening.
    streamer.update([{ x: 8, z: 8 }]);
    await streamer.settled();
    expect(scene.meshes.length).toBe(baseMeshes);
    streamer.dispose();
    scene.dispose();
    engine.dispose();
  });
});
