/**
 * PeerCompute shaders: the front door of the `shaders` area (WebGPU compute kernels with CPU
 * twins that give identical results).
 *
 * @example
 * ```ts
 * import { acquireCompute, generateChunk, HEIGHT_UNITS_PER_METRE } from 'peercompute/shaders';
 *
 * const backend = await acquireCompute(); // WebGPU, or the CPU twins with backend.reason
 * const heights = await generateChunk(backend, { seed: 1234, chunkX: 0, chunkZ: 0, size: 256 });
 * const h00 = heights[0] / HEIGHT_UNITS_PER_METRE; // metres at vertex (0, 0)
 * backend.dispose();
 * ```
 * Node code gets a backend from `acquireNodeCompute()` in `shaders/node-gpu.ts` (not exported
 * here so that browser bundles never see Node modules).
 */
export { ShadersError } from './errors.ts';
export type { ShadersErrorCode } from './errors.ts';

export { acquireCompute, cpuBackend, REQUIRED_LIMITS } from './runtime.ts';
export type { AcquireComputeOptions, ComputeBackend, CpuBackend, CpuFallbackCause, WebGpuBackend } from './runtime.ts';

export { loadWgsl } from './load-wgsl.ts';

export {
  generateChunk, heightmapKernel, HeightmapKernel, writeParams, HEIGHTMAP_WGSL_URL, HEIGHTMAP_PARAMS_BYTES, HEIGHTMAP_WORKGROUP,
} from './terrain/heightmap.ts';
export type { HeightmapKernelOptions } from './terrain/heightmap.ts';
export {
  generateChunkCpu, generateResolvedCpu, heightAt, heightmapChecksum, pcgHash, resolveHeightmapOptions,
  HEIGHT_UNITS_PER_METRE, AMPLITUDE_UNITS_PER_METRE, MAX_OCTAVES, MAX_CELL_LOG2, MAX_CHUNK_SIZE,
  DEFAULT_CHUNK_SIZE, DEFAULT_OCTAVES, DEFAULT_CELL_LOG2, DEFAULT_AMPLITUDE, DEFAULT_PERSISTENCE, DEFAULT_BASE_HEIGHT,
} from './terrain/heightmap-cpu.ts';
export type { HeightmapOptions, ResolvedHeightmap } from './terrain/heightmap-cpu.ts';
