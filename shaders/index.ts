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
  DEFAULT_CHUNK_SIZE, DEFAULT_OCTAVES, DEFAULT_CELL_LOG2, DEFAULT_AMPLITUDE, DEFAULT_PERSISTENCE, DEFAULT_BASE_HEIGHT, MAX_BORDER,
} from './terrain/heightmap-cpu.ts';
export type { HeightmapOptions, ResolvedHeightmap } from './terrain/heightmap-cpu.ts';
export { chunkInterior, chunkNormals } from './terrain/normals.ts';
export {
  createTerrainSampler, resolveTerrainSettings, DEFAULT_TERRAIN_CHUNK_CELLS, DEFAULT_TERRAIN_VERTEX_SPACING, MAX_TERRAIN_CHUNK_CELLS,
} from './terrain/sample.ts';
export type { ResolvedTerrainSettings, TerrainNoiseOptions, TerrainSampler, TerrainSettings } from './terrain/sample.ts';
export {
  chunkKey, TerrainStreamer, DEFAULT_LOD_RADII, DEFAULT_STREAM_MAX_IN_FLIGHT, DEFAULT_STREAM_MAX_RETRIES, MAX_STREAM_CHUNKS,
} from './terrain/streamer.ts';
export type {
  ChunkGenerator, ChunkRequest, TerrainChunk, TerrainStreamerEvents, TerrainStreamerOptions, TerrainStreamerStats, TerrainViewer,
} from './terrain/streamer.ts';

export {
  createSwarm, initialSwarmState, isqrt, resolveSwarmOptions, stepSwarmCpu, swarmAabbs, swarmChecksum, swarmIntegrate, swarmNarrowphase,
  MAX_SWARM_BODIES, SWARM_MAX_IMPULSE, SWARM_MAX_SPEED, SWARM_PAIRS_PER_BODY, SWARM_UNITS_PER_METRE,
} from './swarm/swarm-cpu.ts';
export type { CpuSwarm, ResolvedSwarm, SwarmOptions, SwarmState, SwarmStepStats } from './swarm/swarm-cpu.ts';
export { SwarmKernel, SwarmSimulation, writeSwarmParams, SWARM_PARAMS_BYTES, SWARM_WGSL_URL, SWARM_WORKGROUP } from './swarm/swarm.ts';
export type { SwarmKernelOptions, SwarmReadback } from './swarm/swarm.ts';

export {
  findPairs, broadphaseKernel, BroadphaseKernel, writeBroadphaseParams,
  BROADPHASE_WGSL_URL, BROADPHASE_PARAMS_BYTES, BROADPHASE_WORKGROUP, PAIR_COUNT_BYTES,
} from './broadphase/broadphase.ts';
export type {
  BroadphaseEncodeInput, BroadphaseEncodeOutput, BroadphaseKernelOptions, BroadphaseParams,
} from './broadphase/broadphase.ts';
export {
  findPairsCpu, findPairsResolvedCpu, bruteForcePairs, validateAabbs, minCellSize, invCellSizeF32, resolveBroadphase,
  cellHash, tableSizeFor, tooManyPairsError, MAX_BOXES, MAX_PAIRS, CELL_COORD_LIMIT, HASH_PRIMES,
} from './broadphase/broadphase-cpu.ts';
export type { BroadphaseOptions, ResolvedBroadphase } from './broadphase/broadphase-cpu.ts';

export {
  exclusiveScan, scanKernel, ScanKernel, PrefixScan,
  SCAN_WGSL_URL, SCAN_WORKGROUP, SCAN_BLOCK, SCAN_PARAMS_STRIDE, SCAN_MAX_LEVELS, MAX_SCAN_COUNT,
} from './common/scan.ts';
export type { ScanKernelOptions } from './common/scan.ts';
export { exclusiveScanCpu, SCAN_SATURATED } from './common/scan-cpu.ts';
export { compileComputePipelines, withGpuErrorScopes, readBuffer, USAGE, MAP_MODE_READ } from './common/gpu.ts';
export type { ComputeBindingSpec, ComputePipelines, ComputePipelinesSpec } from './common/gpu.ts';

export {
  getKernel, kernelNames, prepareKernelTask, registerKernel, runKernel, runKernelCpu, runPrepared,
  encodeTerrainChunkInput, decodeTerrainChunkInput, encodeBroadphaseInput, decodeBroadphaseInput,
  TERRAIN_CHUNK_KERNEL, BROADPHASE_PAIRS_KERNEL, MAX_KERNEL_BOXES, MAX_KERNEL_PAIRS,
} from './kernels.ts';
export type { BroadphaseTaskInput, KernelDefinition, PreparedKernelTask } from './kernels.ts';

export { createWorkerPool, defaultWorkerPoolSize, WorkerPool, DEFAULT_WORKER_MAX_QUEUED, MAX_WORKER_POOL_SIZE } from './workers/pool.ts';
export type { WorkerPoolOptions, WorkerPoolStats, WorkerRunOptions } from './workers/pool.ts';
export type { NodeWorkerLimits } from './workers/spawn.ts';
export { queryOverlaps, overlapsFromPairs } from './broadphase/query.ts';
export type { OverlapResult } from './broadphase/query.ts';
