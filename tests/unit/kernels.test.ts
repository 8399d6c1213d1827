/**
 * The kernel registry (shaders/kernels.ts): built-in kernels give the same bytes as the
 * functions they wrap; inputs round-trip; unknown kernels, oversized and malformed inputs are
 * refused with ShadersError codes and never throw anything else.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  cpuBackend, decodeBroadphaseInput, decodeTerrainChunkInput, encodeBroadphaseInput, encodeTerrainChunkInput, findPairsCpu,
  generateChunkCpu, kernelNames, prepareKernelTask, registerKernel, runKernel, runKernelCpu, ShadersError, type HeightmapOptions,
} from '../../shaders/index.ts';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ShadersError) return error.code;
    return `not a ShadersError: ${String(error)}`;
  }
  return 'no error';
}

describe('kernel registry', () => {
  test('lists the built-in kernels', () => {
    expect(kernelNames()).toEqual(expect.arrayContaining(['broadphase.pairs', 'terrain.chunk']));
  });

  test('terrain.chunk: options round-trip and the output is generateChunkCpu\'s heights', async () => {
    const cases: HeightmapOptions[] = [
      { seed: 7, chunkX: -3, chunkZ: 2, size: 32 },
      { seed: 0xffffffff, chunkX: 100000, chunkZ: -1, size: 16, octaves: 3, cellLog2: 5, amplitude: 12.5, persistence: 0.25, baseHeight: -3, lod: 1, border: 1 },
    ];
    for (const options of cases) {
      const input = encodeTerrainChunkInput(options);
      expect(decodeTerrainChunkInput(input)).toEqual(options);
      const bytes = runKernelCpu('terrain.chunk', input);
      const heights = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      expect(heights).toEqual(generateChunkCpu(options));
      expect(await runKernel(cpuBackend('preferred', 'test'), 'terrain.chunk', input)).toEqual(bytes);
    }
  });

  test('broadphase.pairs: boxes round-trip and the output is findPairsCpu\'s pairs', () => {
    const aabbs = new Float32Array([0, 0, 0, 1, 1, 1, 0.5, 0.5, 0.5, 2, 2, 2, 5, 5, 5, 6, 6, 6, 1, 1, 1, 1.5, 1.5, 1.5]);
    const input = encodeBroadphaseInput(aabbs);
    expect(decodeBroadphaseInput(input).aabbs).toEqual(aabbs);
    const bytes = runKernelCpu('broadphase.pairs', input);
    expect(new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)).toEqual(findPairsCpu(aabbs));
    expect(decodeBroadphaseInput(encodeBroadphaseInput(aabbs, 4)).cellSize).toBe(4);
  });

  test('refuses unknown kernels, oversized and malformed inputs, and bad values, with codes', () => {
    expect(code(() => prepareKernelTask('mine.crypto', new Uint8Array(4)))).toBe('UnknownKernel');
    expect(code(() => prepareKernelTask('terrain.chunk', new Uint8Array(129)))).toBe('MalformedInput');
    const good = encodeTerrainChunkInput({ seed: 1, chunkX: 0, chunkZ: 0 });
    expect(code(() => prepareKernelTask('terrain.chunk', good.subarray(0, good.length - 1)))).toBe('MalformedInput');
    expect(code(() => prepareKernelTask('terrain.chunk', new Uint8Array([...good, 0])))).toBe('MalformedInput');
    expect(code(() => prepareKernelTask('terrain.chunk', new Uint8Array([2, ...good.subarray(1)])))).toBe('MalformedInput');
    // Well-formed bytes with size 0 (varuint 1): decodes, then the options check refuses it.
    expect(code(() => prepareKernelTask('terrain.chunk', new Uint8Array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])))).toBe('InvalidOption');
    const boxes = encodeBroadphaseInput(new Float32Array([0, 0, 0, 1, 1, 1]));
    expect(code(() => prepareKernelTask('broadphase.pairs', boxes.subarray(0, boxes.length - 4)))).toBe('MalformedInput');
    const nan = encodeBroadphaseInput(new Float32Array([0, 0, 0, Number.NaN, 1, 1]));
    expect(code(() => runKernelCpu('broadphase.pairs', nan))).toBe('InvalidOption');
  });

  test('random bytes never throw anything but a ShadersError', () => {
    fc.assert(fc.property(fc.constantFrom('terrain.chunk', 'broadphase.pairs'), fc.uint8Array({ maxLength: 200 }), (name, bytes) => {
      const result = code(() => prepareKernelTask(name, bytes));
      return !result.startsWith('not a ShadersError');
    }), { numRuns: 3000 });
  });

  test('registering: a bad name or a second definition under a taken name is refused; the same one again is a no-op', () => {
    const kernel = { name: 'test.double', maxInputBytes: 8, maxOutputBytes: 8, decode: (b: Uint8Array) => b[0] ?? 0, runCpu: (v: number) => new Uint8Array([v * 2]) };
    registerKernel(kernel);
    registerKernel(kernel);
    expect(runKernelCpu('test.double', new Uint8Array([21]))).toEqual(new Uint8Array([42]));
    expect(code(() => registerKernel({ ...kernel }))).toBe('InvalidOption');
    expect(code(() => registerKernel({ ...kernel, name: 'NoArea' }))).toBe('InvalidOption');
  });
});
