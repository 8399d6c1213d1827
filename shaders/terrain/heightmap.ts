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
 *   by z (`heights[j * side + i]`, vertex x = i, z = j), `side = size / 2^lod + 1 + 2 * border`.
 * - `readback` (MAP_READ | COPY_DST), same size: copied from `heights`, mapped, copied out.
 *
 * @example
 * ```ts
 * const backend = await acquireCompute();
 * const heights = await generateChunk(backend, { seed: 9, chunkX: 3, chunkZ: -2, size: 128 });
 * ```
 */
import { compileComputePipelines, perDevice, readBuffer, USAGE, withGpuErrorScopes } from '../common/gpu.ts';
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

/**
 * Writes the uniform block. Layout (bytes), as in heightmap.wgsl's `Params`:
 * 0 seed u32 | 4 origin_x i32 | 8 origin_z i32 | 12 side u32 | 16 octaves u32 |
 * 20 cell_log2 u32 | 24 base_height i32 (1/1024 m) | 28 lod u32 |
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
  u32[7] = p.lod;
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
    private readonly layout: GPUBindGroupLayout,
  ) {
    this.params = device.createBuffer({
      label: 'terrain.heightmap.params',
      size: HEIGHTMAP_PARAMS_BYTES,
      usage: USAGE.UNIFORM | USAGE.COPY_DST,
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
    const { layout, pipelines } = await compileComputePipelines(device, {
      label: 'terrain.heightmap',
      source,
      entryPoints: ['main'],
      entries: [{ binding: 0, type: 'uniform' }, { binding: 1, type: 'storage' }],
    });
    return new HeightmapKernel(device, pipelines['main']!, layout);
  }

  private ensureCapacity(bytes: number): void {
    if (bytes <= this.capacityBytes) return;
    this.heights?.destroy();
    this.readback?.destroy();
    this.heights = this.device.createBuffer({
      label: 'terrain.heightmap.heights',
      size: bytes,
      usage: USAGE.STORAGE | USAGE.COPY_SRC,
    });
    this.readback = this.device.createBuffer({
      label: 'terrain.heightmap.readback',
      size: bytes,
      usage: USAGE.MAP_READ | USAGE.COPY_DST,
    });
    this.capacityBytes = bytes;
  }

  /**
   * Generates one chunk on the GPU.
   *
   * @param options See {@link HeightmapOptions}.
   * @returns `side^2` heights in 1/1024 m (`side = size / 2^lod + 1 + 2 * border`), equal to
   *   `generateChunkCpu(options)`.
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
    await withGpuErrorScopes(device, 'terrain.heightmap', () => {
      device.queue.writeBuffer(this.params, 0, writeParams(p, this.paramsBytes));
      const bindGroup = device.createBindGroup({
        label: 'terrain.heightmap.bindGroup',
        layout: this.layout,
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
    });
    return new Int32Array(await readBuffer(readback, bytes, 'terrain.heightmap'));
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

/**
 * The heightmap kernel of a device, created on first use and cached for the device's lifetime
 * (a cache of compiled GPU objects, not simulation state).
 *
 * @throws ShadersError code `ShaderCompile` or `ShaderSource` (see {@link HeightmapKernel.create}).
 */
export const heightmapKernel: (device: GPUDevice) => Promise<HeightmapKernel> = perDevice((device) => HeightmapKernel.create(device));

/**
 * Generates one terrain chunk on the backend: the WGSL kernel on WebGPU, the CPU twin otherwise.
 * Both return the same heights bit for bit.
 *
 * @param backend From {@link acquireCompute}.
 * @param options See {@link HeightmapOptions}: seed, chunkX, chunkZ, size = 256, octaves = 6,
 *   cellLog2 = 7, amplitude = 64 m, persistence = 0.5, baseHeight = 0 m, lod = 0, border = 0.
 * @returns `side^2` heights in 1/1024 m (`HEIGHT_UNITS_PER_METRE`), row-major by z, with
 *   `side = size / 2^lod + 1 + 2 * border` (default `size + 1`).
 * @throws ShadersError code `InvalidOption` for bad options (on either backend); `Gpu`,
 *   `ShaderCompile` or `ShaderSource` when the GPU path fails (fall back to a CPU backend).
 */
export async function generateChunk(backend: ComputeBackend, options: HeightmapOptions): Promise<Int32Array> {
  if (backend.kind === 'cpu') return generateResolvedCpu(resolveHeightmapOptions(options));
  const kernel = await heightmapKernel(backend.device);
  return kernel.run(options);
}
