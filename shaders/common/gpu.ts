/// <reference types="@webgpu/types" />
/**
 * Small WebGPU helpers shared by the kernels of this area: buffer usage bits, compiling a WGSL
 * module into compute pipelines with one explicit bind group layout, and turning error scopes
 * into {@link ShadersError}s.
 *
 * The usage and map-mode bits are the WebGPU spec's values, so files that use them need no
 * `GPUBufferUsage` global (Node installs those globals only once `nodeGpu()` has run).
 *
 * @example
 * ```ts
 * const { pipelines, layout } = await compileComputePipelines(device, {
 *   label: 'common.scan', source, entryPoints: ['scan_blocks', 'add_block_sums'],
 *   entries: [{ binding: 0, type: 'uniform' }, { binding: 1, type: 'storage' }],
 * });
 * ```
 */
import { ShadersError } from '../errors.ts';

/** `GPUBufferUsage` bits (WebGPU spec values). */
export const USAGE = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

/** `GPUMapMode.READ` (WebGPU spec value). */
export const MAP_MODE_READ = 0x0001;

/** One binding of a compute-only bind group layout. */
export interface ComputeBindingSpec {
  /** Binding number, as `@binding(n)` in the WGSL. */
  binding: number;
  /** `uniform`, `storage` (read_write) or `read-only-storage`. */
  type: GPUBufferBindingType;
}

/** What {@link compileComputePipelines} compiles. */
export interface ComputePipelinesSpec {
  /** Kernel label, e.g. `'broadphase'`; GPU objects are labelled `<label>.<what>`. */
  label: string;
  /** WGSL source text. */
  source: string;
  /** Entry points to build pipelines for, all sharing bind group 0. */
  entryPoints: readonly string[];
  /** Bindings of group 0, visible to the compute stage. */
  entries: readonly ComputeBindingSpec[];
}

/** Compiled pipelines, by entry point, and their shared bind group layout. */
export interface ComputePipelines {
  readonly layout: GPUBindGroupLayout;
  readonly pipelines: Readonly<Record<string, GPUComputePipeline>>;
}

/**
 * Compiles a WGSL module and creates one compute pipeline per entry point, all with the same
 * explicit layout (so one bind group serves every entry point).
 *
 * @throws ShadersError code `ShaderCompile` with the compiler's messages (`data.messages`) when
 *   the WGSL, the layout or a pipeline is rejected.
 */
export async function compileComputePipelines(device: GPUDevice, spec: ComputePipelinesSpec): Promise<ComputePipelines> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: `${spec.label}.wgsl`, code: spec.source });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    await device.popErrorScope();
    const messages = errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
    throw new ShadersError('ShaderCompile', `${spec.label}.wgsl failed to compile: ${messages.join('; ')}`, {
      label: spec.label,
      messages,
    });
  }
  const layout = device.createBindGroupLayout({
    label: `${spec.label}.bindGroupLayout`,
    entries: spec.entries.map((e) => ({ binding: e.binding, visibility: 0x4 /* GPUShaderStage.COMPUTE */, buffer: { type: e.type } })),
  });
  const pipelineLayout = device.createPipelineLayout({ label: `${spec.label}.pipelineLayout`, bindGroupLayouts: [layout] });
  const pipelines: Record<string, GPUComputePipeline> = {};
  for (const entryPoint of spec.entryPoints) {
    pipelines[entryPoint] = await device.createComputePipelineAsync({
      label: `${spec.label}.${entryPoint}`,
      layout: pipelineLayout,
      compute: { module, entryPoint },
    });
  }
  const error = await device.popErrorScope();
  if (error !== null) {
    throw new ShadersError('ShaderCompile', `${spec.label} pipelines rejected: ${error.message}`, {
      label: spec.label,
      messages: [error.message],
    });
  }
  return { layout, pipelines };
}

/**
 * Runs `work` (which encodes and submits GPU commands) inside validation and out-of-memory error
 * scopes.
 *
 * @returns What `work` returned.
 * @throws ShadersError code `Gpu` (`data.label`, `data.reason`) when either scope caught an error;
 *   whatever `work` throws.
 */
export async function withGpuErrorScopes<T>(device: GPUDevice, label: string, work: () => T): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T | undefined;
  let failure: { error: unknown } | undefined;
  try {
    result = work();
  } catch (error) {
    failure = { error };
  }
  const validation = await device.popErrorScope();
  const memory = await device.popErrorScope();
  const scopeError = validation ?? memory;
  // A GPU error is the cause of any failure of work(), so it is reported first.
  if (scopeError !== null) {
    throw new ShadersError('Gpu', `${label} failed: ${scopeError.message}`, { label, reason: scopeError.message });
  }
  if (failure !== undefined) throw failure.error;
  return result as T;
}

/**
 * Maps `buffer` for reading and copies `bytes` bytes from offset 0 into a new ArrayBuffer, then
 * unmaps it.
 *
 * @throws ShadersError code `Gpu` when mapping fails (device lost or destroyed).
 */
export async function readBuffer(buffer: GPUBuffer, bytes: number, label: string): Promise<ArrayBuffer> {
  try {
    await buffer.mapAsync(MAP_MODE_READ, 0, bytes);
  } catch (error) {
    throw new ShadersError('Gpu', `${label} readback failed: ${(error as Error).message}`, {
      label,
      reason: (error as Error).message,
    });
  }
  const copy = buffer.getMappedRange(0, bytes).slice(0);
  buffer.unmap();
  return copy;
}

/**
 * A per-device cache of a kernel: `create(device)` runs on the first call for a device, later
 * calls return the same promise for the device's lifetime (a cache of compiled GPU objects, not
 * simulation state). A failed creation is forgotten, so the next call tries again.
 *
 * @example
 * ```ts
 * export const heightmapKernel = perDevice((device) => HeightmapKernel.create(device));
 * ```
 */
export function perDevice<T>(create: (device: GPUDevice) => Promise<T>): (device: GPUDevice) => Promise<T> {
  const cache = new WeakMap<GPUDevice, Promise<T>>();
  return (device) => {
    let entry = cache.get(device);
    if (entry === undefined) {
      entry = create(device);
      cache.set(device, entry);
      entry.catch(() => cache.delete(device));
    }
    return entry;
  };
}
