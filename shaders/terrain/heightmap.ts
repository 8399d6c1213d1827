/// <reference types="@webgpu/types" />
/**
 * Terrain heightmap on the GPU: the TypeScript wrapper of `heightmap.wgsl`.
 *
 * {@link generateChunk} runs the kernel on a {@link WebGpuBackend} or its CPU twin
 * (`heightmap-cpu.ts`) on a {@link CpuBackend}; both give bit-exact equal heights. The pipeline
 * and buffers are created once per device ({@link HeightmapKernel}) and reused; buffers grow
 * to the largest chunk asked for. Algorithm, units and options: see heightmap-cpu.ts.
 *
 * Buffers (all labelled `terrain.heightmap.*`):
 * - `params` (UNIFORM | COPY_DST), 96 bytes: layout in {@link writeParams} and heightmap.wgsl.
 * - `heights` (STORAGE | COPY_SRC), `side * side * 4` bytes: i32 heights in 1/1024 m, row-major
 *   by z (`heights[j * side + i]`, vertex x = i, z = j), `side = size + 1`.
 * - `readback` (MAP_READ | COPY_DST), same size: copied from `heights`, mapped, copied out.
 *
 * @example
 * ```ts
 * const backend = await acquireCompute();
 * const heights = await generateChunk(backend, { seed: 9, chunkX: 3, chunkZ: -2, size: 128 });
 * ```
 */
import { ShadersError } from '../errors.ts';
import { loadWgsl } from '../load-wgsl.ts';
import type { ComputeBackend } from '../runtime.ts';
import {
  generateResolvedCpu, MAX_OCTAVES, resolveHeightmapOptions, type HeightmapOptions, type ResolvedHeightmap,
} from './heightmap-cpu.ts';

/** Where the kernel's WGSL lives (an asset URL under Vite, a `file:` URL in Node). */
export const HEIGHTMAP_WGSL_URL = new URL('./heightmap.wgsl', import.meta.url);
/** Size of the `params` uniform block, bytes. */
export const HEIGHTMAP_PARAMS_BYTES = 96;
/** Workgroup edge of the kernel (`@workgroup_size(8, 8)`). */
export const HEIGHTMAP_WORKGROUP = 8;

// Buffer usage and map-mode bits (WebGPU spec values), so this file needs no GPU* globals.
const USAGE_MAP_READ = 0x0001;
const USAGE_COPY_SRC = 0x0004;
const USAGE_COPY_DST = 0x0008;
const USAGE_UNIFORM = 0x0040;
const USAGE_STORAGE = 0x0080;
const MAP_MODE_READ = 0x0001;

/**
 * Writes the uniform block. Layout (bytes), as in heightmap.wgsl's `Params`:
 * 0 seed u32 | 4 origin_x i32 | 8 origin_z i32 | 12 side u32 | 16 octaves u32 |
 * 20 cell_log2 u32 | 24 base_height i32 (1/1024 m) | 28 padding |
 * 32..96 amps: 16 x i32, octave o at byte 32 + 4 * o (1/64 m).
 */
export function writeParams(p: ResolvedHeightmap, target = new ArrayBuffer(HEIGHTMAP_PARAMS_BYTES)): ArrayBuffer {
  const u32 = new Uint32Array(target);
  const i32 = new Int32Array(target);
  u32[0] = p.seed;
  i32[1] = p.originX;
  i32[2] = p.originZ;
  u32[3] = p.side;
  u32[4] = p.octaves;
  u32[5] = p.cellLog2;
  i32[6] = p.baseHeight;
  u32[7] = 0;
  i32.set(p.amplitudes.subarray(0, MAX_OCTAVES), 8);
  return target;
}

/** Options of {@link HeightmapKernel.create}. */
export interface HeightmapKernelOptions {
  /** WGSL source; default: loaded from {@link HEIGHTMAP_WGSL_URL}. */
  source?: string;
}

/**
 * The heightmap pipeline and its buffers on one device. Runs are queued one after another
 * (they share the readback buffer), so concurrent `run` calls are safe.
 */
export class HeightmapKernel {
  private readonly params: GPUBuffer;
  private heights: GPUBuffer | null = null;
  private readback: GPUBuffer | null = null;
  private capacityBytes = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly paramsBytes = new ArrayBuffer(HEIGHTMAP_PARAMS_BYTES);
  private destroyed = false;

  private constructor(
    readonly device: GPUDevice,
    private readonly pipeline: GPUComputePipeline,
  ) {
    this.params = device.createBuffer({
      label: 'terrain.heightmap.params',
      size: HEIGHTMAP_PARAMS_BYTES,
      usage: USAGE_UNIFORM | USAGE_COPY_DST,
    });
  }

  /**
   * Compiles the kernel on a device.
   *
   * @throws ShadersError code `ShaderCompile` with the compiler's messages when the WGSL or the
   *   pipeline is rejected; `ShaderSource` when the file cannot be loaded.
   */
  static async create(device: GPUDevice, options: HeightmapKernelOptions = {}): Promise<HeightmapKernel> {
    const source = options.source ?? (await loadWgsl(HEIGHTMAP_WGSL_URL));
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label: 'terrain.heightmap.wgsl', code: source });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) {
      await device.popErrorScope();
      const messages = errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
      throw new ShadersError('ShaderCompile', `terrain.heightmap.wgsl failed to compile: ${messages.join('; ')}`, {
        label: 'terrain.heightmap',
        messages,
      });
    }
    const pipeline = await device.createComputePipelineAsync({
      label: 'terrain.heightmap.pipeline',
      layout: 'auto',
      compute: { module, entryPoint: 'main' },
    });
    const error = await device.popErrorScope();
    if (error !== null) {
      throw new ShadersError('ShaderCompile', `terrain.heightmap pipeline rejected: ${error.message}`, {
        label: 'terrain.heightmap',
        messages: [error.message],
      });
    }
    return new HeightmapKernel(device, pipeline);
  }

  private ensureCapacity(bytes: number): void {
    if (bytes <= this.capacityBytes) return;
    this.heights?.destroy();
    this.readback?.destroy();
    this.heights = this.device.createBuffer({
      label: 'terrain.heightmap.heights',
      size: bytes,
      usage: USAGE_STORAGE | USAGE_COPY_SRC,
    });
    this.readback = this.device.createBuffer({
      label: 'terrain.heightmap.readback',
      size: bytes,
      usage: USAGE_MAP_READ | USAGE_COPY_DST,
    });
    this.capacityBytes = bytes;
  }

  /**
   * Generates one chunk on the GPU.
   *
   * @param options See {@link HeightmapOptions}.
   * @returns `(size + 1)^2` heights in 1/1024 m, equal to `generateChunkCpu(options)`.
   * @throws ShadersError code `InvalidOption` for bad options; `Gpu` when the device fails
   *   (validation, out of memory, lost) or after {@link destroy}.
   */
  run(options: HeightmapOptions): Promise<Int32Array> {
    const p = resolveHeightmapOptions(options);
    const result = this.queue.then(() => this.runResolved(p));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async runResolved(p: ResolvedHeightmap): Promise<Int32Array> {
    if (this.destroyed) throw new ShadersError('Gpu', 'terrain.heightmap kernel was destroyed', { label: 'terrain.heightmap' });
    const bytes = p.side * p.side * 4;
    this.ensureCapacity(bytes);
    const heights = this.heights!;
    const readback = this.readback!;
    const device = this.device;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    device.queue.writeBuffer(this.params, 0, writeParams(p, this.paramsBytes));
    const bindGroup = device.createBindGroup({
      label: 'terrain.heightmap.bindGroup',
      layout: this.pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.params } },
        { binding: 1, resource: { buffer: heights, size: bytes } },
      ],
    });
    const encoder = device.createCommandEncoder({ label: 'terrain.heightmap.encoder' });
    const pass = encoder.beginComputePass({ label: 'terrain.heightmap.pass' });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup);
    const groups = Math.ceil(p.side / HEIGHTMAP_WORKGROUP);
    pass.dispatchWorkgroups(groups, groups);
    pass.end();
    encoder.copyBufferToBuffer(heights, 0, readback, 0, bytes);
    device.queue.submit([encoder.finish({ label: 'terrain.heightmap.commands' })]);
    const validation = await device.popErrorScope();
    const memory = await device.popErrorScope();
    const scopeError = validation ?? memory;
    if (scopeError !== null) {
      throw new ShadersError('Gpu', `terrain.heightmap failed: ${scopeError.message}`, {
        label: 'terrain.heightmap',
        reason: scopeError.message,
      });
    }
    try {
      await readback.mapAsync(MAP_MODE_READ, 0, bytes);
    } catch (error) {
      throw new ShadersError('Gpu', `terrain.heightmap readback failed: ${(error as Error).message}`, {
        label: 'terrain.heightmap',
        reason: (error as Error).message,
      });
    }
    const out = new Int32Array(p.side * p.side);
    out.set(new Int32Array(readback.getMappedRange(0, bytes)));
    readback.unmap();
    return out;
  }

  /** Frees the buffers. The device is the caller's. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.params.destroy();
    this.heights?.destroy();
    this.readback?.destroy();
  }
}

const kernels = new WeakMap<GPUDevice, Promise<HeightmapKernel>>();

/**
 * The heightmap kernel of a device, created on first use and cached for the device's lifetime
 * (a cache of compiled GPU objects, not simulation state).
 *
 * @throws ShadersError code `ShaderCompile` or `ShaderSource` (see {@link HeightmapKernel.create}).
 */
export function heightmapKernel(device: GPUDevice): Promise<HeightmapKernel> {
  let kernel = kernels.get(device);
  if (kernel === undefined) {
    kernel = HeightmapKernel.create(device);
    kernels.set(device, kernel);
    kernel.catch(() => kernels.delete(device));
  }
  return kernel;
}

/**
 * Generates one terrain chunk on the backend: the WGSL kernel on WebGPU, the CPU twin otherwise.
 * Both return the same heights bit for bit.
 *
 * @param backend From {@link acquireCompute}.
 * @param options See {@link HeightmapOptions}: seed, chunkX, chunkZ, size = 256, octaves = 6,
 *   cellLog2 = 7, amplitude = 64 m, persistence = 0.5, baseHeight = 0 m.
 * @returns `(size + 1)^2` heights in 1/1024 m (`HEIGHT_UNITS_PER_METRE`), row-major by z.
 * @throws ShadersError code `InvalidOption` for bad options (on either backend); `Gpu`,
 *   `ShaderCompile` or `ShaderSource` when the GPU path fails (fall back to a CPU backend).
 */
export async function generateChunk(backend: ComputeBackend, options: HeightmapOptions): Promise<Int32Array> {
  if (backend.kind === 'cpu') return generateResolvedCpu(resolveHeightmapOptions(options));
  const kernel = await heightmapKernel(backend.device);
  return kernel.run(options);
}
