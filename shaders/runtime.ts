/// <reference types="@webgpu/types" />
/**
 * Compute runtime: acquire a WebGPU device for the kernels, or fall back to their CPU twins.
 *
 * Every kernel in this area takes a {@link ComputeBackend}: `webgpu` runs the `.wgsl` file,
 * `cpu` runs the TypeScript twin, with identical results. A missing or unusable GPU never
 * throws here: the CPU backend comes back with the `reason`, so a game can show which path runs.
 *
 * @example
 * ```ts
 * import { acquireCompute, generateChunk } from 'peercompute/shaders';
 * const backend = await acquireCompute();            // navigator.gpu in a browser
 * console.log(backend.kind === 'webgpu' ? backend.adapterName : backend.reason);
 * const heights = await generateChunk(backend, { seed: 1, chunkX: 0, chunkZ: 0 });
 * backend.dispose();                                  // destroys the device, if any
 * ```
 * In Node, pass `gpu` from `nodeGpu()` (shaders/node-gpu.ts), or use `acquireNodeCompute()`.
 */

/** Minimum limits every kernel of this area relies on (WebGPU's defaults meet them). */
export const REQUIRED_LIMITS = {
  /** Terrain uses 8x8 = 64 invocations per workgroup; the scan and the broadphase 256 x 1. */
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 8,
  /**
   * Bytes: the broadphase's pair buffer at MAX_PAIRS (2^24 pairs x 8 B = 128 MiB, WebGPU's
   * default) and its 2^22 boxes (96 MiB); terrain needs 16.0 MiB.
   */
  maxStorageBufferBindingSize: 134_217_728,
  /** The broadphase binds 7 storage buffers in one stage (6 read_write, 1 read-only). */
  maxStorageBuffersPerShaderStage: 7,
  /** Per dimension: the broadphase dispatches 2^22 / 256 = 16384 workgroups at MAX_BOXES. */
  maxComputeWorkgroupsPerDimension: 16_384,
  /** Bytes: the scan keeps 256 u32 in workgroup memory. */
  maxComputeWorkgroupStorageSize: 1024,
} as const;

/** Why the CPU backend was chosen. */
export type CpuFallbackCause =
  /** The caller asked for `prefer: 'cpu'`. */
  | 'preferred'
  /** No WebGPU API: no `navigator.gpu` and no `gpu` option. */
  | 'no-webgpu'
  /** `requestAdapter()` returned null or threw. */
  | 'no-adapter'
  /** The adapter's limits are below {@link REQUIRED_LIMITS}. */
  | 'limits'
  /** `requestDevice()` failed. */
  | 'device-failed';

/** A WebGPU device the kernels run on. */
export interface WebGpuBackend {
  readonly kind: 'webgpu';
  /** The device; kernels cache their pipelines and buffers per device. */
  readonly device: GPUDevice;
  /** Human-readable adapter, e.g. `"SwiftShader driver 5.0.0"` or `"nvidia ampere"`. */
  readonly adapterName: string;
  /** Whether the adapter is a software/fallback one (SwiftShader): slow, but correct. */
  readonly isFallbackAdapter: boolean;
  /**
   * Destroys the device and releases the GPU object it came from (in Node, needed for the
   * process to exit; until then the backend keeps that object alive). Safe to call twice.
   */
  dispose(): void;
}

/** The CPU twins, used when no GPU is usable. */
export interface CpuBackend {
  readonly kind: 'cpu';
  /** Why, e.g. `"no WebGPU adapter (requestAdapter() returned null)"`. */
  readonly reason: string;
  /** Machine-readable cause. */
  readonly cause: CpuFallbackCause;
  /** Does nothing; present so both backends dispose alike. */
  dispose(): void;
}

/** Where kernels run: a WebGPU device or the CPU twins. */
export type ComputeBackend = WebGpuBackend | CpuBackend;

/** Options of {@link acquireCompute}. */
export interface AcquireComputeOptions {
  /** `'gpu'` (default) tries WebGPU then falls back; `'cpu'` returns the CPU backend at once. */
  prefer?: 'gpu' | 'cpu';
  /** The WebGPU entry point: `navigator.gpu` (default) or `nodeGpu()`'s result in Node. */
  gpu?: GPU;
  /** Passed to `requestAdapter`; default `'high-performance'`. */
  powerPreference?: GPUPowerPreference;
}

/** A CPU backend with the given cause and reason. */
export function cpuBackend(cause: CpuFallbackCause, reason: string): CpuBackend {
  return { kind: 'cpu', cause, reason, dispose() {} };
}

function describeAdapter(adapter: GPUAdapter): string {
  const info = adapter.info;
  const parts = [info?.description, info?.vendor, info?.architecture].filter((s) => typeof s === 'string' && s !== '');
  return parts.length > 0 ? parts.join(' / ') : 'unknown adapter';
}

/**
 * Acquires a WebGPU device for the compute kernels, or the CPU twins with the reason why not.
 *
 * Checks the adapter's limits against {@link REQUIRED_LIMITS} and requests the device with
 * WebGPU's default limits, which meet them (a kernel needing more would request it here).
 *
 * @param options See {@link AcquireComputeOptions}.
 * @returns A {@link WebGpuBackend}, or a {@link CpuBackend} whose `reason` names what was missing
 *   (API, adapter, a limit with needed and available values, device creation error).
 *   Never rejects for a missing or failing GPU. The caller disposes the backend.
 */
export async function acquireCompute(options: AcquireComputeOptions = {}): Promise<ComputeBackend> {
  if (options.prefer === 'cpu') return cpuBackend('preferred', 'CPU backend requested (prefer: "cpu")');
  const gpu = options.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (gpu === undefined) {
    return cpuBackend('no-webgpu', 'no WebGPU API: navigator.gpu is undefined and no gpu option was given');
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch (error) {
    return cpuBackend('no-adapter', `no WebGPU adapter: requestAdapter() threw ${(error as Error).message}`);
  }
  if (adapter === null) return cpuBackend('no-adapter', 'no WebGPU adapter (requestAdapter() returned null)');
  const adapterName = describeAdapter(adapter);
  const short: string[] = [];
  for (const [name, needed] of Object.entries(REQUIRED_LIMITS)) {
    const available = adapter.limits[name as keyof GPUSupportedLimits] as number;
    if (!(available >= needed)) short.push(`${name} ${available} < ${needed}`);
  }
  if (short.length > 0) {
    return cpuBackend('limits', `WebGPU adapter "${adapterName}" is below the required limits: ${short.join(', ')}`);
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ label: 'peercompute compute' });
  } catch (error) {
    return cpuBackend('device-failed', `WebGPU adapter "${adapterName}": requestDevice() failed: ${(error as Error).message}`);
  }
  // The GPU object must stay reachable while the device is used: in Node, Dawn's instance is
  // freed when `gpu` is garbage-collected, and a live device then corrupts memory (aborts with
  // "The futex facility returned an unexpected error code"). dispose() lets go of it.
  let keepAlive: GPU | null = gpu;
  let disposed = false;
  return {
    kind: 'webgpu',
    device,
    adapterName,
    isFallbackAdapter: adapter.info?.isFallbackAdapter === true,
    dispose() {
      if (disposed) return;
      disposed = true;
      device.destroy();
      keepAlive = null;
    },
  };
}
