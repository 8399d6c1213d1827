/**
 * Terrain LOD, border, normals, height queries and the streamer (shaders/terrain/*), engine-free,
 * on the CPU twin: LOD-l heights are every 2^l-th LOD-0 height, normals are seamless across chunk
 * edges, the streamer's order, bounds, hysteresis, swaps, aborts and retries, and two streamers
 * with the same seed walking the same path produce the same chunk hashes.
 */
import { describe, expect, test } from 'vitest';
import {
  chunkInterior, chunkNormals, createTerrainSampler, generateChunkCpu, heightAt, HEIGHT_UNITS_PER_METRE, heightmapChecksum,
  resolveHeightmapOptions, ShadersError, TerrainStreamer, type ChunkRequest, type HeightmapOptions, type TerrainChunk, type TerrainStreamerOptions,
} from '../../shaders/index.ts';

const NOISE = { octaves: 5, cellLog2: 6, amplitude: 8, persistence: 0.5 };

describe('heightmap LOD and border', () => {
  test('an LOD-l chunk holds every 2^l-th height of the LOD-0 chunk covering the same area', () => {
    for (const [cx, cz] of [[0, 0], [-3, 2], [7, -11]] as const) {
      const base = { seed: 31, chunkX: cx, chunkZ: cz, size: 32, ...NOISE };
      const lod0 = generateChunkCpu(base);
      for (let lod = 1; lod <= 5; lod++) {
        const coarse = generateChunkCpu({ ...base, lod });
        const side = (32 >> lod) + 1;
        expect(coarse.length).toBe(side * side);
        for (let j = 0; j < side; j++) {
          for (let i = 0; i < side; i++) {
            expect(coarse[j * side + i], `lod ${lod} (${i}, ${j}) of ${cx},${cz}`).toBe(lod0[(j << lod) * 33 + (i << lod)]);
          }
        }
      }
    }
  });

  test('a bordered chunk is the plain chunk plus the neighbours\' vertices around it', () => {
    for (const lod of [0, 2]) {
      const base = { seed: 5, chunkX: -1, chunkZ: 4, size: 16, lod, ...NOISE, octaves: 4 };
      const plain = generateChunkCpu(base);
      const side = (16 >> lod) + 1;
      const bordered = generateChunkCpu({ ...base, border: 2 });
      expect(bordered.length).toBe((side + 4) ** 2);
      expect(chunkInterior(bordered, side + 4, 2)).toEqual(plain);
      // The border row before the chunk is the last interior row of the chunk before it.
      const before = generateChunkCpu({ ...base, chunkZ: 3 });
      for (let i = 0; i < side; i++) expect(bordered[1 * (side + 4) + 2 + i]).toBe(before[(side - 2) * side + i]);
    }
  });

  test('rejects an LOD that does not divide the chunk, and a border out of range', () => {
    const bad: Array<[string, Partial<HeightmapOptions>]> = [
      ['lod', { size: 24, lod: 4 }], ['lod', { size: 32, lod: 6 }], ['lod', { lod: -1 }], ['border', { border: 9 }], ['border', { border: 0.5 }],
    ];
    for (const [option, patch] of bad) {
      try {
        generateChunkCpu({ seed: 1, chunkX: 0, chunkZ: 0, size: 32, ...patch });
        expect.unreachable(`${option} ${JSON.stringify(patch)} was accepted`);
      } catch (error) {
        expect(error).toBeInstanceOf(ShadersError);
        expect((error as ShadersError).data.option).toBe(option);
      }
    }
    expect(resolveHeightmapOptions({ seed: 1, chunkX: 0, chunkZ: 0, size: 24, lod: 3 }).side).toBe(4);
  });
});

describe('normals', () => {
  test('flat ground points straight up; a known slope gives the analytic normal', () => {
    const flat = new Int32Array(25).fill(7 * HEIGHT_UNITS_PER_METRE);
    const n = chunkNormals(flat, 5, 1, 2);
    for (let k = 0; k < n.length; k += 3) expect([n[k], n[k + 1], n[k + 2]]).toEqual([-0, 1, -0]);
    // h = 0.5 x (metres), spacing 2 m: normal ∝ (-0.5, 1, 0).
    const slope = new Int32Array(25);
    for (let j = 0; j < 5; j++) for (let i = 0; i < 5; i++) slope[j * 5 + i] = 0.5 * (i * 2) * HEIGHT_UNITS_PER_METRE;
    const s = chunkNormals(slope, 5, 1, 2);
    const len = Math.hypot(0.5, 1);
    expect(s[0]).toBeCloseTo(-0.5 / len, 6);
    expect(s[1]).toBeCloseTo(1 / len, 6);
    expect(s[2]).toBeCloseTo(0, 6);
    expect(() => chunkNormals(slope, 5, 0, 1)).toThrow(ShadersError);
    expect(() => chunkNormals(slope, 5, 1, 0)).toThrow(/spacing/);
  });

  test('adjacent chunks give bit-identical normals on their shared edge (every LOD)', () => {
    for (const lod of [0, 1, 3]) {
      const cells = 32 >> lod;
      const side = cells + 3;
      const spacing = 1 << lod;
      const at = (cx: number, cz: number): Float32Array =>
        chunkNormals(generateChunkCpu({ seed: 99, chunkX: cx, chunkZ: cz, size: 32, lod, border: 1, ...NOISE }), side, 1, spacing);
      const here = at(2, -1);
      const east = at(3, -1);
      const north = at(2, 0);
      const n = cells + 1;
      for (let j = 0; j < n; j++) {
        for (let c = 0; c < 3; c++) expect(east[(j * n) * 3 + c], `lod ${lod} east row ${j}`).toBe(here[(j * n + cells) * 3 + c]);
      }
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < 3; c++) expect(north[i * 3 + c], `lod ${lod} north column ${i}`).toBe(here[(cells * n + i) * 3 + c]);
      }
      // Not all the same (the comparison is of real slopes).
      expect(new Set(Array.from(here.filter((_, k) => k % 3 === 0))).size).toBeGreaterThan(10);
    }
  });
});

describe('height queries', () => {
  test('heightAt equals the integer heights at vertices and interpolates bilinearly between them', () => {
    const sampler = createTerrainSampler({ seed: 12, vertexSpacing: 2, noise: NOISE });
    const p = sampler.settings.resolved;
    for (const [gx, gz] of [[0, 0], [-5, 9], [100, -100]]) {
      expect(sampler.heightAt(gx * 2, gz * 2)).toBe(heightAt(p, gx, gz) / HEIGHT_UNITS_PER_METRE);
      expect(sampler.vertexHeight(gx, gz)).toBe(heightAt(p, gx, gz));
    }
    const h = (gx: number, gz: number): number => heightAt(p, gx, gz) / HEIGHT_UNITS_PER_METRE;
    const mid = (h(3, 4) + h(4, 4) + h(3, 5) + h(4, 5)) / 4;
    expect(sampler.heightAt(7, 9)).toBeCloseTo(mid, 9); // centre of the cell between vertices (3..4, 4..5)
    expect(sampler.heightAt(7, 8)).toBeCloseTo((h(3, 4) + h(4, 4)) / 2, 9);
    expect(() => sampler.heightAt(Number.NaN, 0)).toThrow(ShadersError);
    expect(() => sampler.heightAt(0, 2 ** 40)).toThrow(/within 2\^30/);
    // Seamless: heights match the chunks the streamer would generate.
    const chunk = generateChunkCpu({ ...NOISE, seed: 12, chunkX: -1, chunkZ: 1, size: 32 });
    expect(sampler.heightAt(-64 + 2 * 5, 64 + 2 * 7)).toBe(chunk[7 * 33 + 5]! / HEIGHT_UNITS_PER_METRE);
  });
});

/** Records a streamer's events as strings. */
function record(streamer: TerrainStreamer): string[] {
  const events: string[] = [];
  streamer.on('ready', (chunk, previous) => events.push(`ready ${chunk.key} ${chunk.hash.toString(16)}${previous ? ` replaces ${previous.key}` : ''}`));
  streamer.on('evicted', (chunk) => events.push(`evicted ${chunk.key}`));
  streamer.on('error', (request, error, retry) => events.push(`error ${request.key} ${(error as Error).message} ${retry ? 'retry' : 'gave up'}`));
  return events;
}

const STREAM: TerrainStreamerOptions = { seed: 2024, chunkCells: 16, noise: NOISE, lodRadii: [16, 40, 72], hysteresis: 8 };
const PATH = [
  { x: 0, z: 0 }, { x: 10, z: 3 }, { x: 30, z: 5 }, { x: 60, z: -10 }, { x: 90, z: -40 }, { x: 60, z: -10 }, { x: -50, z: 20 },
];

async function walk(options: TerrainStreamerOptions): Promise<string[]> {
  const streamer = new TerrainStreamer(options);
  const events = record(streamer);
  for (const p of PATH) {
    streamer.update([p]);
    await streamer.settled();
    events.push(`@${p.x},${p.z} resident ${streamer.stats.resident}`);
  }
  streamer.dispose();
  return events;
}

describe('terrain streamer', () => {
  test('two streamers with the same seed walking the same path give identical chunk hash sequences; another seed differs', async () => {
    const a = await walk(STREAM);
    const b = await walk({ ...STREAM });
    expect(a.length).toBeGreaterThan(60);
    expect(b).toEqual(a);
    expect(a.some((e) => e.startsWith('evicted'))).toBe(true);
    expect(a.some((e) => e.includes('replaces'))).toBe(true);
    const other = await walk({ ...STREAM, seed: 2025 });
    const keys = (events: string[]) => events.map((e) => e.split(' ').slice(0, 2).join(' '));
    expect(keys(other)).toEqual(keys(a)); // same chunks in the same order ...
    expect(other).not.toEqual(a); // ... with other heights
    const hashes = (events: string[]) => new Set(events.filter((e) => e.startsWith('ready')).map((e) => e.split(' ')[2]));
    for (const h of hashes(other)) expect(hashes(a).has(h)).toBe(false);
  });

  test('chunk hashes equal heightmapChecksum of the chunk generated directly', async () => {
    const streamer = new TerrainStreamer(STREAM);
    const ready: TerrainChunk[] = [];
    streamer.on('ready', (chunk) => ready.push(chunk));
    streamer.update([{ x: 5, z: 5 }]);
    await streamer.settled();
    expect(ready.length).toBeGreaterThan(10);
    for (const chunk of ready.slice(0, 6)) {
      const direct = generateChunkCpu({ ...NOISE, seed: 2024, chunkX: chunk.chunkX, chunkZ: chunk.chunkZ, size: 16, lod: chunk.lod });
      expect(chunk.heights).toEqual(direct);
      expect(chunk.hash).toBe(heightmapChecksum(direct));
      expect(chunk.originX).toBe(chunk.chunkX * 16);
      expect(chunk.spacing).toBe(1 << chunk.lod);
      expect(chunk.normals.length).toBe(chunk.heights.length * 3);
    }
  });

  test('starts nearest first (ties: by z, then x), at most maxInFlight at once, each at its ring\'s LOD', async () => {
    const started: ChunkRequest[] = [];
    let running = 0;
    let peak = 0;
    const streamer = new TerrainStreamer({
      ...STREAM,
      maxInFlight: 3,
      generate: async (request) => {
        started.push(request);
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 1));
        running--;
        return generateChunkCpu(request.options);
      },
    });
    streamer.update([{ x: 8, z: 8 }]); // centre of chunk (0, 0)
    expect(streamer.inFlight()).toHaveLength(3);
    await streamer.settled();
    expect(peak).toBe(3);
    expect(started[0]!.key).toBe('0,0@0');
    // The 8 neighbours are all 8 m away (edges) or 8√2 (corners): edges first, by z then x.
    expect(started.slice(1, 5).map((r) => r.key)).toEqual(['0,-1@0', '-1,0@0', '1,0@0', '0,1@0']);
    expect(started.slice(5, 9).map((r) => r.key)).toEqual(['-1,-1@0', '1,-1@0', '-1,1@0', '1,1@0']);
    const size = 16;
    for (const r of started) {
      const dx = Math.max(r.chunkX * size - 8, 0, 8 - (r.chunkX + 1) * size);
      const dz = Math.max(r.chunkZ * size - 8, 0, 8 - (r.chunkZ + 1) * size);
      expect(r.lod).toBe(streamer.lodForDistance(Math.hypot(dx, dz)));
    }
    for (let k = 1; k < started.length; k++) expect(started[k]!.lod).toBeGreaterThanOrEqual(started[k - 1]!.lod);
    expect(streamer.stats.resident).toBe(started.length);
    expect(streamer.stats.inFlight).toBe(0);
  });

  test('hysteresis: stepping back and forth across a ring boundary regenerates nothing', async () => {
    const streamer = new TerrainStreamer(STREAM);
    const events = record(streamer);
    for (const x of [4, 12]) { // both extremes once: everything either wants gets generated
      streamer.update([{ x, z: 8 }]);
      await streamer.settled();
    }
    const before = events.length;
    for (const x of [10, 6, 12, 4, 8, 4, 12]) {
      streamer.update([{ x, z: 8 }]);
      await streamer.settled();
    }
    expect(events.slice(before)).toEqual([]);
    // Far enough: chunk (0, 0) is coarsened and the far side is evicted.
    streamer.update([{ x: 8 + 16 + 16 + 9, z: 8 }]);
    await streamer.settled();
    expect(streamer.chunk(0, 0)?.lod).toBe(1);
    expect(events.slice(before).some((e) => e.startsWith('ready 0,0@1') && e.endsWith('replaces 0,0@0'))).toBe(true);
    expect(events.slice(before).some((e) => e.startsWith('evicted -5,'))).toBe(true);
  });

  test('chunks that leave while generating are aborted and never reported', async () => {
    const signals: AbortSignal[] = [];
    const gates: Array<() => void> = [];
    const streamer = new TerrainStreamer({
      ...STREAM,
      maxInFlight: 2,
      generate: (request, signal) => {
        signals.push(signal);
        return new Promise((resolve) => gates.push(() => resolve(generateChunkCpu(request.options))));
      },
    });
    const events = record(streamer);
    streamer.update([{ x: 8, z: 8 }]);
    expect(streamer.inFlight()).toEqual(['0,-1@0', '0,0@0']);
    streamer.update([{ x: 5000, z: 5000 }]); // far away: both aborted, new ones started
    expect(signals[0]!.aborted && signals[1]!.aborted).toBe(true);
    expect(streamer.stats.aborted).toBe(2);
    gates[0]!();
    gates[1]!();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(events).toEqual([]);
    streamer.dispose();
    expect(signals.every((s) => s.aborted)).toBe(true);
  });

  test('failed generations are reported and retried up to maxRetries, then given up', async () => {
    let calls = 0;
    const streamer = new TerrainStreamer({
      ...STREAM,
      lodRadii: [4],
      maxRetries: 2,
      generate: async (request) => {
        calls++;
        if (request.key === '0,0@0') throw new Error('device lost');
        return generateChunkCpu(request.options);
      },
    });
    const events = record(streamer);
    streamer.update([{ x: 8, z: 8 }]);
    await streamer.settled();
    expect(events).toEqual(['error 0,0@0 device lost retry', 'error 0,0@0 device lost gave up']);
    expect(calls).toBe(2);
    // A generator returning the wrong size is a failure too, not a corrupt chunk.
    const bad = new TerrainStreamer({ ...STREAM, lodRadii: [4], maxRetries: 1, generate: async () => new Int32Array(3) });
    const badEvents = record(bad);
    bad.update([{ x: 8, z: 8 }]);
    await bad.settled();
    expect(badEvents[0]).toMatch(/^error 0,0@0 terrain chunk 0,0@0: the generator returned 3 heights, expected 361 gave up$/);
  });

  test('rejects bad options and viewers with ShadersError InvalidOption naming them', () => {
    const bad: Array<[string, Partial<TerrainStreamerOptions>]> = [
      ['lodRadii', { lodRadii: [] }], ['lodRadii', { lodRadii: [10, 5] }], ['lodRadii', { lodRadii: [1, 2, 3, 4, 5, 6] }],
      ['lodRadii', { lodRadii: [100000] }], ['hysteresis', { hysteresis: -1 }], ['maxInFlight', { maxInFlight: 0 }],
      ['chunkCells', { chunkCells: 24 }], ['vertexSpacing', { vertexSpacing: 0 }], ['amplitude', { noise: { amplitude: 5000 } }],
    ];
    for (const [option, patch] of bad) {
      try {
        new TerrainStreamer({ ...STREAM, ...patch });
        expect.unreachable(`${option} accepted`);
      } catch (error) {
        expect(error, option).toBeInstanceOf(ShadersError);
        expect((error as ShadersError).data.option, JSON.stringify(patch)).toBe(option);
      }
    }
    const streamer = new TerrainStreamer(STREAM);
    expect(() => streamer.update([{ x: Number.NaN, z: 0 }])).toThrow(/viewers/);
    streamer.dispose();
    expect(() => streamer.update([])).toThrow(/disposed/);
  });
});
