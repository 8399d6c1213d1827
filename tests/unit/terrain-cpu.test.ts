/**
 * Terrain heightmap CPU twin (shaders/terrain/heightmap-cpu.ts): determinism, seamless chunk
 * edges, value range, option validation, and a golden checksum that pins the algorithm (peers
 * running different versions would see different terrain, so a change must be deliberate).
 */
import { describe, expect, test } from 'vitest';
import {
  acquireCompute, generateChunk, generateChunkCpu, heightmapChecksum, HEIGHT_UNITS_PER_METRE, pcgHash, REQUIRED_LIMITS, ShadersError,
  type HeightmapOptions,
} from '../../shaders/index.ts';

describe('heightmap CPU twin', () => {
  test('PCG hash equals an independent BigInt reference of the 2020 paper formula', () => {
    const M = 0xffffffffn;
    const reference = (v: bigint): number => {
      const state = (v * 747796405n + 2891336453n) & M;
      const word = (((state >> ((state >> 28n) + 4n)) ^ state) * 277803737n) & M;
      return Number((word >> 22n) ^ word);
    };
    for (const v of [0, 1, 2, 255, 65536, 0x7fffffff, 0x80000000, 0xdeadbeef, 0xffffffff]) {
      expect(pcgHash(v), `pcg(${v})`).toBe(reference(BigInt(v)));
    }
    expect(pcgHash(2 ** 32 + 5)).toBe(pcgHash(5)); // low 32 bits only
  });

  test('is deterministic: two calls give identical heights; different seeds differ', () => {
    const options: HeightmapOptions = { seed: 1234, chunkX: 3, chunkZ: -7, size: 64 };
    const a = generateChunkCpu(options);
    const b = generateChunkCpu({ ...options });
    expect(a.length).toBe(65 * 65);
    expect(b).toEqual(a);
    const other = generateChunkCpu({ ...options, seed: 1235 });
    let differing = 0;
    for (let k = 0; k < a.length; k++) if (a[k] !== other[k]) differing++;
    expect(differing).toBeGreaterThan(a.length * 0.9);
  });

  test('neighbouring chunks share their edge vertices exactly (also across negative coordinates)', () => {
    const size = 32;
    const side = size + 1;
    for (const [cx, cz] of [[0, 0], [-1, -1], [-1, 0], [5, -3]]) {
      const base = { seed: 77, size, octaves: 6, cellLog2: 5 };
      const here = generateChunkCpu({ ...base, chunkX: cx, chunkZ: cz });
      const east = generateChunkCpu({ ...base, chunkX: cx + 1, chunkZ: cz });
      const north = generateChunkCpu({ ...base, chunkX: cx, chunkZ: cz + 1 });
      for (let j = 0; j < side; j++) expect(east[j * side], `east edge row ${j} of ${cx},${cz}`).toBe(here[j * side + size]);
      for (let i = 0; i < side; i++) expect(north[i], `north edge column ${i} of ${cx},${cz}`).toBe(here[size * side + i]);
    }
  });

  test('one large chunk equals the four chunks it is cut into', () => {
    const big = generateChunkCpu({ seed: 5, chunkX: -1, chunkZ: -1, size: 64 });
    for (const [qx, qz] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
      const small = generateChunkCpu({ seed: 5, chunkX: -2 + qx, chunkZ: -2 + qz, size: 32 });
      for (let j = 0; j <= 32; j++) {
        for (let i = 0; i <= 32; i++) expect(small[j * 33 + i]).toBe(big[(qz * 32 + j) * 65 + qx * 32 + i]);
      }
    }
  });

  test('heights stay within baseHeight +- amplitude / (1 - persistence) and use the range', () => {
    const amplitude = 40;
    const heights = generateChunkCpu({ seed: 9, chunkX: 0, chunkZ: 0, size: 256, amplitude, persistence: 0.5, baseHeight: 100 });
    const bound = (amplitude / (1 - 0.5)) * HEIGHT_UNITS_PER_METRE;
    let min = Infinity;
    let max = -Infinity;
    for (const h of heights) {
      min = Math.min(min, h);
      max = Math.max(max, h);
    }
    expect(min).toBeGreaterThanOrEqual(100 * HEIGHT_UNITS_PER_METRE - bound);
    expect(max).toBeLessThanOrEqual(100 * HEIGHT_UNITS_PER_METRE + bound);
    expect(max - min).toBeGreaterThan(10 * HEIGHT_UNITS_PER_METRE); // real relief, not flat
    // Extreme settings stay within i32 and the bound too.
    const extreme = generateChunkCpu({ seed: 1, chunkX: 0, chunkZ: 0, size: 16, octaves: 16, cellLog2: 16, amplitude: 1023, persistence: 1 });
    for (const h of extreme) expect(Math.abs(h)).toBeLessThanOrEqual(16 * 1024 * HEIGHT_UNITS_PER_METRE);
  });

  test('golden checksum of one default 256 chunk (changing it changes every world)', () => {
    const heights = generateChunkCpu({ seed: 20240601, chunkX: 2, chunkZ: -3 });
    expect(heights.length).toBe(257 * 257);
    expect(heightmapChecksum(heights).toString(16)).toBe('806b978c');
    expect(Array.from(heights.subarray(0, 4))).toEqual([-14528, -15481, -16211, -16548]);
  });

  test('rejects out-of-range options with ShadersError InvalidOption naming the option', () => {
    const bad: [string, Partial<HeightmapOptions>][] = [
      ['seed', { seed: -1 }], ['seed', { seed: 1.5 }], ['size', { size: 0 }], ['size', { size: 4096 }],
      ['octaves', { octaves: 9, cellLog2: 7 }], ['octaves', { octaves: 0 }], ['cellLog2', { cellLog2: 17 }],
      ['amplitude', { amplitude: 2000 }], ['persistence', { persistence: 1.5 }], ['chunkX', { chunkX: 2 ** 27 }],
      ['baseHeight', { baseHeight: Number.NaN }],
    ];
    for (const [option, patch] of bad) {
      const run = () => generateChunkCpu({ seed: 1, chunkX: 0, chunkZ: 0, size: 16, ...patch });
      expect(run, option).toThrow(ShadersError);
      try {
        run();
      } catch (error) {
        expect((error as ShadersError).code).toBe('InvalidOption');
        expect((error as ShadersError).data.option).toBe(option);
      }
    }
  });

  test('acquireCompute falls back to the CPU with a reason; generateChunk then runs the twin', async () => {
    const preferred = await acquireCompute({ prefer: 'cpu' });
    expect(preferred).toMatchObject({ kind: 'cpu', cause: 'preferred' });
    const none = await acquireCompute(); // Node has no navigator.gpu
    expect(none).toMatchObject({ kind: 'cpu', cause: 'no-webgpu' });
    const noAdapter = await acquireCompute({ gpu: { requestAdapter: async () => null } as unknown as GPU });
    expect(noAdapter.kind === 'cpu' && noAdapter.reason).toMatch(/no WebGPU adapter/);
    const options = { seed: 3, chunkX: 1, chunkZ: 1, size: 16 };
    expect(await generateChunk(none, options)).toEqual(generateChunkCpu(options));
    none.dispose();
  });

  test('acquireCompute reports limits below what the kernels need', async () => {
    const adapter = {
      info: { description: 'tiny', vendor: '', architecture: '', isFallbackAdapter: false },
      limits: { maxComputeInvocationsPerWorkgroup: 32, maxComputeWorkgroupSizeX: 8, maxComputeWorkgroupSizeY: 8, maxStorageBufferBindingSize: 1 << 30, maxStorageBuffersPerShaderStage: 4, maxComputeWorkgroupsPerDimension: 65535 },
      requestDevice: async () => { throw new Error('should not be called'); },
    };
    const backend = await acquireCompute({ gpu: { requestAdapter: async () => adapter } as unknown as GPU });
    expect(backend).toMatchObject({ kind: 'cpu', cause: 'limits' });
    expect(backend.kind === 'cpu' && backend.reason).toContain(`maxComputeInvocationsPerWorkgroup 32 < ${REQUIRED_LIMITS.maxComputeInvocationsPerWorkgroup}`);
  });
});
