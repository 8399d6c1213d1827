/**
 * Compute shared across the peers of a room, the door of `netcode/compute/`: tasks are kernel
 * names and input bytes (never code), scheduled to capable peers by advertised capability,
 * transferred in acknowledged pieces, reassigned when a worker leaves or goes silent, and
 * verified by SHA-256 (a second peer's hash or the requester's own spot check). The executor,
 * validator and output limits are injected: this area never imports `shaders/`.
 *
 * @example
 * ```ts
 * import { createRoomCompute } from 'peercompute/netcode';
 * const compute = createRoomCompute(room, {
 *   capability: { webgpu: false, adapter: '', slots: 2 },
 *   execute: (kernel, input) => runKernel(backend, kernel, input),
 *   validate: (kernel, input) => void prepareKernelTask(kernel, input),
 *   maxOutputBytes: (kernel) => getKernel(kernel)?.maxOutputBytes,
 * });
 * const heights = await compute.submit('terrain.chunk', encodeTerrainChunkInput({ seed: 1, chunkX: 0, chunkZ: 0 }));
 * ```
 */
export { createRoomCompute } from './room-compute.ts';
export type { ComputeFailure, RoomCompute } from './room-compute.ts';
export {
  DEFAULT_COMPUTE_CHANNEL, DEFAULT_COMPUTE_TIMEOUT_MS, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_STRIKES, DEFAULT_SPOT_CHECK_RATE,
  DEFAULT_MAX_INPUT_BYTES, DEFAULT_MAX_TASKS_PER_PEER, DEFAULT_MAX_BUFFERED_INPUT_BYTES, DEFAULT_COMPUTE_CHUNK_BYTES,
  DEFAULT_COMPUTE_WINDOW_BYTES, DEFAULT_PRESENCE_INTERVAL_MS, DEFAULT_COMPUTE_PREFETCH, DATA_HEADER_BYTES, COMPUTE_DROP_REASONS,
} from './types.ts';
export type {
  AdvertisedCapability, ComputeCapability, ComputeDrop, ComputeDropReason, ComputeExecutor, ComputePeerInfo, LocalRole,
  RoomComputeEvents, RoomComputeOptions, RoomComputeStats, RunFailure, SubmitOptions, VerifyMode,
} from './types.ts';
export {
  COMPUTE_PROTOCOL_VERSION, COMPUTE_REFUSALS, ComputeMessageType, HASH_BYTES, MAX_ADAPTER_BYTES, MAX_COMPUTE_BYTES,
  MAX_KERNEL_NAME_BYTES, MAX_REFUSAL_DETAIL_BYTES, MAX_RUNNING, MAX_SLOTS, decodeComputeMessage, encodeComputeMessage,
} from './protocol.ts';
export type { ComputeMessage, ComputeRefusal, MalformedComputeMessage, ResultMode, TransferPart } from './protocol.ts';
export { sha256, spotCheckDraw } from './hash.ts';
