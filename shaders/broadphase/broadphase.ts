/// <reference types="@webgpu/types" />
/**
 * Physics broadphase on the GPU: the TypeScript wrapper of `broadphase.wgsl`.
 *
 * {@link findPairs} runs the kernel on a {@link WebGpuBackend} or its CPU twin
 * (`broadphase-cpu.ts`, which documents the algorithm, input, output and float robustness) on a
 * {@link CpuBackend}; both return identical pair arrays. {@link BroadphaseKernel.encode} is the
 * GPU-resident entry: it records the whole broadphase into a command encoder and hands back the
 * pair buffers, so a following pass (narrowphase) reads them without a readback.
 *
 * Buffers (all labelled `broadphase.*`; created once per device, grown on demand, by at least
 * 1.5x so that a slowly growing count does not reallocate every frame):
 * - `params` (UNIFORM | COPY_DST), 32 bytes: layout in {@link writeBroadphaseParams}.
 * - `boxCell` (STORAGE), 16 bytes per box: i32 cell x, y, z and u32 slot in its bucket.
 * - `buckets` (STORAGE), 4 * (T + 1) bytes, T = power of two >= N: u32 bucket counts, then
 *   (scanned) bucket starts; `buckets[T] = N`.
 * - `sorted` (STORAGE), 16 bytes per box: (box index u32, cell x, y, z i32), bucket by bucket.
 * - `offsets` (STORAGE), 4 * (N + 1) bytes: per-box pair counts, then (scanned) first-pair
 *   indices; `offsets[N]` = total.
 * - `pairs` (STORAGE | COPY_SRC), 8 bytes per pair of capacity: pair p = u32 i at byte 8p,
 *   u32 j at byte 8p + 4, `i < j`, sorted by (i, j).
 * - `pairCount` (STORAGE | COPY_SRC), {@link PAIR_COUNT_BYTES} = 16 bytes of u32: byte 0 total
 *   pairs found (saturating at 2^32 - 1; may exceed maxPairs), byte 4 pairs written =
 *   min(total, maxPairs), byte 8 boxes wider than the cell on some axis (their pairs may be
 *   missing: 0 when the cell size is right), byte 12 N.
 * - `input` (STORAGE | COPY_DST), 24 bytes per box; `countReadback` (MAP_READ | COPY_DST) 16
 *   bytes; `pairsReadback` (MAP_READ | COPY_DST): only for {@link BroadphaseKernel.run}.
 * The two scans (`broadphase.bucketScan.*`, `broadphase.offsetScan.*`) are shaders/common/scan.ts
 * PrefixScans on the device's shared scan pipelines.
 *
 * @example
 * ```ts
 * const backend = await acquireCompute();
 * const pairs = await findPairs(backend, aabbs); // [i0, j0, i1, j1, ...]
 * for (let p = 0; p < pairs.length; p += 2) narrowphase(pairs[p], pairs[p + 1]);
 * ```
 */
import { ShadersError } from '../errors.ts';
import { loadWgsl } from '../load-wgsl.ts';
import type { ComputeBackend } from '../runtime.ts';
import { compileComputePipelines, perDevice, readBuffer, USAGE, withGpuErrorScopes, type ComputePipelines } from '../common/gpu.ts';
import { scanKernel, type PrefixScan, type ScanKernel } from '../common/scan.ts';
import {
  findPairsCpu, invCellSizeF32, MAX_BOXES, MAX_PAIRS, resolveBroadphase, tableSizeFor, tooManyPairsError,
  type BroadphaseOptions, type ResolvedBroadphase,
} from './broadphase-cpu.ts';

/** Where the kernel's WGSL lives (an asset URL under Vite, a `file:` URL in Node). */
export const BROADPHASE_WGSL_URL = new URL('./broadphase.wgsl', import.meta.url);
/** Size of the `params` uniform block, bytes. */
export const BROADPHASE_PARAMS_BYTES = 32;
/** Invocations per workgroup of the per-box passes (`@workgroup_size(256)`). */
export const BROADPHASE_WORKGROUP = 256;
/** Size of the `pairCount` result buffer, bytes (4 x u32, see the file comment). */
export const PAIR_COUNT_BYTES = 16;

/** What the params block holds (see {@link writeBroadphaseParams}). */
export interface BroadphaseParams {
  /** Boxes N. */
  count: number;
  /** Hash buckets T, a power of two. */
  tableSize: number;
  /** Capacity of the `pairs` buffer, in pairs. */
  maxPairs: number;
  /** 1 / cell edge, an f32 value (see `invCellSizeF32`). */
  invCellSize: number;
  /** Cell edge (stored as f32; only used by the oversize diagnostic). */
  cellSize: number;
}

/**
 * Writes the uniform block. Layout (bytes), as `Params` in broadphase.wgsl:
 * 0 count u32 | 4 table_mask u32 (T - 1) | 8 max_pairs u32 | 12 inv_cell f32 | 16 cell_size f32 |
 * 20..32 padding.
 */
export function writeBroadphaseParams(p: BroadphaseParams, target = new ArrayBuffer(BROADPHASE_PARAMS_BYTES)): ArrayBuffer {
  const u32 = new Uint32Array(target);
  const f32 = new Float32Array(target);
  u32[0] = p.count;
  u32[1] = p.tableSize - 1;
  u32[2] = p.maxPairs;
  f32[3] = p.invCellSize;
  f32[4] = p.cellSize;
  u32[5] = 0;
  u32[6] = 0;
  u32[7] = 0;
  return target;
}

/** Input of {@link BroadphaseKernel.encode}: boxes already on the GPU. */
export interface BroadphaseEncodeInput {
  /**
   * STORAGE buffer of at least `24 * count` bytes: box k = 6 f32 `[minX, minY, minZ, maxX, maxY,
   * maxZ]` at byte `24k`. Not validated on the GPU: NaN, infinities or min > max give
   * unspecified (but memory-safe) pairs.
   */
  aabbs: GPUBuffer;
  /** Boxes, an integer `0..MAX_BOXES`. */
  count: number;
  /**
   * Cell edge, finite and >= 2^-120. Must be at least `minCellSize` of the boxes (largest extent
   * plus margin, see broadphase-cpu.ts): the caller knows bounds (largest body, world size) the
   * GPU cannot check. Boxes wider than it are counted at byte 8 of `pairCount`.
   */
  cellSize: number;
  /** Capacity in pairs, an integer `0..MAX_PAIRS`: the first `maxPairs` pairs (in order) are written. */
  maxPairs: number;
}

/** Output of {@link BroadphaseKernel.encode}: buffers owned by the kernel. */
export interface BroadphaseEncodeOutput {
  /** Pairs: u32 i at byte 8p, u32 j at byte 8p + 4; `min(total, maxPairs)` pairs valid. */
  readonly pairs: GPUBuffer;
  /** 16 bytes of u32: total found, written, oversized boxes, N (see the file comment). */
  readonly pairCount: GPUBuffer;
}

/** Options of {@link BroadphaseKernel.create}. */
export interface BroadphaseKernelOptions {
  /** WGSL source; default: loaded from {@link BROADPHASE_WGSL_URL}. */
  source?: string;
  /** Scan pipelines to use; default: the device's shared `scanKernel(device)`. */
  scan?: ScanKernel;
}

function invalid(option: string, value: unknown, message: string): ShadersError {
  return new ShadersError('InvalidOption', `broadphase.encode ${option}: ${message}`, { option, value });
}

/** Capacity after growth: at least `needed`, at least 1.5x `current`, at most `max` (but >= needed). */
function grow(current: number, needed: number, max: number): number {
  return Math.max(needed, Math.min(max, Math.ceil(current * 1.5)));
}

/**
 * The broadphase pipelines and buffers on one device. `run` calls are queued one after another;
 * `encode` records into the caller's encoder and allocates nothing once capacities suffice and
 * the `aabbs` buffer is the same as last time.
 */
export class BroadphaseKernel {
  private readonly params: GPUBuffer;
  private readonly paramsBytes = new ArrayBuffer(BROADPHASE_PARAMS_BYTES);
  private readonly paramsU32 = new Uint32Array(this.paramsBytes);
  private readonly paramsF32 = new Float32Array(this.paramsBytes);
  private output: BroadphaseEncodeOutput | null = null;
  private readonly pairCount: GPUBuffer;
  private readonly bucketScan: PrefixScan;
  private readonly offsetScan: PrefixScan;
  private boxCell: GPUBuffer | null = null;
  private sorted: GPUBuffer | null = null;
  private offsets: GPUBuffer | null = null;
  private buckets: GPUBuffer | null = null;
  private pairs: GPUBuffer | null = null;
  private boxCapacity = 0;
  private tableCapacity = 0;
  private pairCapacity = 0;
  private bindGroup: GPUBindGroup | null = null;
  private boundAabbs: GPUBuffer | null = null;
  private input: GPUBuffer | null = null;
  private countReadback: GPUBuffer | null = null;
  private pairsReadback: GPUBuffer | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private destroyed = false;

  private constructor(
    readonly device: GPUDevice,
    private readonly compiled: ComputePipelines,
    scan: ScanKernel,
  ) {
    this.params = device.createBuffer({ label: 'broadphase.params', size: BROADPHASE_PARAMS_BYTES, usage: USAGE.UNIFORM | USAGE.COPY_DST });
    this.pairCount = device.createBuffer({ label: 'broadphase.pairCount', size: PAIR_COUNT_BYTES, usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST });
    this.bucketScan = scan.createScan('broadphase.bucketScan');
    this.offsetScan = scan.createScan('broadphase.offsetScan');
  }

  /**
   * Compiles the kernel on a device.
   *
   * @throws ShadersError code `ShaderCompile` with the compiler's messages when the WGSL or a
   *   pipeline is rejected; `ShaderSource` when a file cannot be loaded.
   */
  static async create(device: GPUDevice, options: BroadphaseKernelOptions = {}): Promise<BroadphaseKernel> {
    const source = options.source ?? (await loadWgsl(BROADPHASE_WGSL_URL));
    const scan = options.scan ?? (await scanKernel(device));
    const compiled = await compileComputePipelines(device, {
      label: 'broadphase',
      source,
      entryPoints: ['assign', 'scatter', 'count_pairs', 'write_pairs', 'finish'],
      entries: [
        { binding: 0, type: 'uniform' },
        { binding: 1, type: 'read-only-storage' },
        { binding: 2, type: 'storage' },
        { binding: 3, type: 'storage' },
        { binding: 4, type: 'storage' },
        { binding: 5, type: 'storage' },
        { binding: 6, type: 'storage' },
        { binding: 7, type: 'storage' },
      ],
    });
    return new BroadphaseKernel(device, compiled, scan);
  }

  private ensureCapacity(count: number, tableSize: number, maxPairs: number): void {
    const device = this.device;
    if (count > this.boxCapacity || this.boxCell === null) {
      const boxes = grow(this.boxCapacity, Math.max(1, count), MAX_BOXES);
      this.boxCell?.destroy();
      this.sorted?.destroy();
      this.offsets?.destroy();
      this.boxCell = device.createBuffer({ label: 'broadphase.boxCell', size: 16 * boxes, usage: USAGE.STORAGE });
      this.sorted = device.createBuffer({ label: 'broadphase.sorted', size: 16 * boxes, usage: USAGE.STORAGE });
      this.offsets = device.createBuffer({ label: 'broadphase.offsets', size: 4 * (boxes + 1), usage: USAGE.STORAGE });
      this.boxCapacity = boxes;
      this.bindGroup = null;
    }
    if (tableSize > this.tableCapacity || this.buckets === null) {
      this.buckets?.destroy();
      this.buckets = device.createBuffer({ label: 'broadphase.buckets', size: 4 * (tableSize + 1), usage: USAGE.STORAGE | USAGE.COPY_DST });
      this.tableCapacity = tableSize;
      this.bindGroup = null;
    }
    if (maxPairs > this.pairCapacity || this.pairs === null) {
      const capacity = grow(this.pairCapacity, Math.max(1, maxPairs), MAX_PAIRS);
      this.pairs?.destroy();
      this.pairs = device.createBuffer({ label: 'broadphase.pairs', size: 8 * capacity, usage: USAGE.STORAGE | USAGE.COPY_SRC });
      this.pairCapacity = capacity;
      this.bindGroup = null;
    }
  }

  /**
   * Records the broadphase of boxes already on the GPU into `encoder` (two buffer clears and one
   * compute pass of 10 to 14 dispatches). A later pass of the same encoder can bind the returned
   * buffers; after submit, `pairCount` says how many pairs are valid. Allocates nothing once
   * capacities (boxes, hash table, maxPairs) have been reached and `aabbs` is the same buffer as
   * in the previous call.
   *
   * The returned buffers belong to the kernel: they are overwritten by the next encode or run,
   * and replaced (the old ones destroyed) when a capacity grows. Only the last encode before a
   * `queue.submit` sees its parameters (they are written with `queue.writeBuffer`): encode once
   * per submitted command buffer.
   *
   * @param encoder A command encoder of the kernel's device, outside any pass.
   * @param input See {@link BroadphaseEncodeInput}.
   * @returns The `pairs` and `pairCount` buffers (see {@link BroadphaseEncodeOutput}).
   * @throws ShadersError code `InvalidOption` for a bad count, cellSize, maxPairs or a too small
   *   or non-STORAGE `aabbs` buffer; `Gpu` after {@link destroy}.
   */
  encode(encoder: GPUCommandEncoder, input: BroadphaseEncodeInput): BroadphaseEncodeOutput {
    if (this.destroyed) throw new ShadersError('Gpu', 'broadphase kernel was destroyed', { label: 'broadphase' });
    const { aabbs, count, cellSize, maxPairs } = input;
    if (!Number.isInteger(count) || count < 0 || count > MAX_BOXES) throw invalid('count', count, `${String(count)}: expected an integer 0..${MAX_BOXES}`);
    if (typeof cellSize !== 'number' || !Number.isFinite(cellSize) || cellSize < 2 ** -120) {
      throw invalid('cellSize', cellSize, `${String(cellSize)}: expected a finite number >= 2^-120`);
    }
    if (!Number.isInteger(maxPairs) || maxPairs < 0 || maxPairs > MAX_PAIRS) throw invalid('maxPairs', maxPairs, `${String(maxPairs)}: expected an integer 0..${MAX_PAIRS}`);
    if ((aabbs.usage & USAGE.STORAGE) === 0) throw invalid('aabbs', aabbs.label, `buffer "${aabbs.label}" lacks STORAGE usage`);
    if (aabbs.size < 24 * count) throw invalid('aabbs', aabbs.size, `buffer "${aabbs.label}" holds ${aabbs.size} bytes, ${count} boxes need ${24 * count}`);
    const tableSize = tableSizeFor(count);
    this.ensureCapacity(count, tableSize, maxPairs);
    if (aabbs !== this.boundAabbs) {
      this.boundAabbs = aabbs;
      this.bindGroup = null;
    }
    const bindGroup = this.bindGroup ?? this.createBindGroup();
    // The fields of writeBroadphaseParams, written in place (encode allocates nothing per call).
    this.paramsU32[0] = count;
    this.paramsU32[1] = tableSize - 1;
    this.paramsU32[2] = maxPairs;
    this.paramsF32[3] = invCellSizeF32(cellSize);
    this.paramsF32[4] = cellSize;
    this.device.queue.writeBuffer(this.params, 0, this.paramsBytes);
    encoder.clearBuffer(this.buckets!, 0, 4 * tableSize);
    encoder.clearBuffer(this.pairCount, 0, PAIR_COUNT_BYTES);
    const pass = encoder.beginComputePass({ label: 'broadphase.pass' });
    const pipelines = this.compiled.pipelines;
    // Zero boxes: no per-box dispatch (Dawn warns about empty dispatches); the scans and finish
    // still run, so pairCount reads (0, 0, 0, 0).
    const groups = Math.ceil(count / BROADPHASE_WORKGROUP);
    pass.setBindGroup(0, bindGroup);
    if (groups > 0) {
      pass.setPipeline(pipelines.assign);
      pass.dispatchWorkgroups(groups);
    }
    this.bucketScan.encode(pass, this.buckets!, tableSize);
    pass.setBindGroup(0, bindGroup);
    if (groups > 0) {
      pass.setPipeline(pipelines.scatter);
      pass.dispatchWorkgroups(groups);
      pass.setPipeline(pipelines.count_pairs);
      pass.dispatchWorkgroups(groups);
    }
    this.offsetScan.encode(pass, this.offsets!, count);
    pass.setBindGroup(0, bindGroup);
    if (groups > 0) {
      pass.setPipeline(pipelines.write_pairs);
      pass.dispatchWorkgroups(groups);
    }
    pass.setPipeline(pipelines.finish);
    pass.dispatchWorkgroups(1);
    pass.end();
    if (this.output === null || this.output.pairs !== this.pairs) this.output = { pairs: this.pairs!, pairCount: this.pairCount };
    return this.output;
  }

  private createBindGroup(): GPUBindGroup {
    this.bindGroup = this.device.createBindGroup({
      label: 'broadphase.bindGroup',
      layout: this.compiled.layout,
      entries: [
        { binding: 0, resource: { buffer: this.params } },
        { binding: 1, resource: { buffer: this.boundAabbs! } },
        { binding: 2, resource: { buffer: this.boxCell! } },
        { binding: 3, resource: { buffer: this.buckets! } },
        { binding: 4, resource: { buffer: this.sorted! } },
        { binding: 5, resource: { buffer: this.offsets! } },
        { binding: 6, resource: { buffer: this.pairs! } },
        { binding: 7, resource: { buffer: this.pairCount } },
      ],
    });
    return this.bindGroup;
  }

  /**
   * Finds the overlapping pairs of host boxes on the GPU: uploads, encodes, reads back the total
   * (16 bytes), reruns with a larger capacity when the total exceeded it, then reads back exactly
   * the pairs.
   *
   * @param aabbs `6 * N` floats (see broadphase-cpu.ts).
   * @param options See {@link BroadphaseOptions}.
   * @returns Pairs flattened `[i0, j0, ...]`, `i < j`, sorted; equal to `findPairsCpu(aabbs, options)`.
   * @throws ShadersError code `InvalidOption` for bad boxes or options, or more than `maxPairs`
   *   pairs (as the CPU twin); `Gpu` when the device fails or after {@link destroy}.
   */
  run(aabbs: Float32Array, options: BroadphaseOptions = {}): Promise<Uint32Array> {
    let resolved: ResolvedBroadphase;
    try {
      resolved = resolveBroadphase(aabbs, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const result = this.queue.then(() => this.runResolved(aabbs, resolved));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async runResolved(aabbs: Float32Array, r: ResolvedBroadphase): Promise<Uint32Array> {
    if (this.destroyed) throw new ShadersError('Gpu', 'broadphase kernel was destroyed', { label: 'broadphase' });
    const device = this.device;
    const inputBytes = 24 * Math.max(1, r.count);
    if (this.input === null || this.input.size < inputBytes) {
      this.input?.destroy();
      this.input = device.createBuffer({ label: 'broadphase.input', size: inputBytes, usage: USAGE.STORAGE | USAGE.COPY_DST });
    }
    this.countReadback ??= device.createBuffer({ label: 'broadphase.countReadback', size: PAIR_COUNT_BYTES, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    const input = this.input;
    const countReadback = this.countReadback;
    if (r.count > 0) device.queue.writeBuffer(input, 0, aabbs.buffer, aabbs.byteOffset, 24 * r.count);
    let capacity = Math.min(r.maxPairs, Math.max(this.pairCapacity, 2 * r.count, 1024));
    let total: number;
    for (;;) {
      await withGpuErrorScopes(device, 'broadphase', () => {
        const encoder = device.createCommandEncoder({ label: 'broadphase.encoder' });
        const { pairCount } = this.encode(encoder, { aabbs: input, count: r.count, cellSize: r.cellSize, maxPairs: capacity });
        encoder.copyBufferToBuffer(pairCount, 0, countReadback, 0, PAIR_COUNT_BYTES);
        device.queue.submit([encoder.finish({ label: 'broadphase.commands' })]);
      });
      total = new Uint32Array(await readBuffer(countReadback, PAIR_COUNT_BYTES, 'broadphase'))[0];
      if (total > r.maxPairs) throw tooManyPairsError(total, r.maxPairs);
      if (total <= capacity) break;
      capacity = total;
    }
    const bytes = 8 * total;
    if (bytes === 0) return new Uint32Array(0);
    if (this.pairsReadback === null || this.pairsReadback.size < bytes) {
      this.pairsReadback?.destroy();
      this.pairsReadback = device.createBuffer({ label: 'broadphase.pairsReadback', size: bytes, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    }
    const pairsReadback = this.pairsReadback;
    await withGpuErrorScopes(device, 'broadphase', () => {
      const encoder = device.createCommandEncoder({ label: 'broadphase.readbackEncoder' });
      encoder.copyBufferToBuffer(this.pairs!, 0, pairsReadback, 0, bytes);
      device.queue.submit([encoder.finish({ label: 'broadphase.readbackCommands' })]);
    });
    return new Uint32Array(await readBuffer(pairsReadback, bytes, 'broadphase'));
  }

  /** Frees the buffers (including those returned by encode). The device is the caller's. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.params.destroy();
    this.pairCount.destroy();
    this.bucketScan.destroy();
    this.offsetScan.destroy();
    for (const buffer of [this.boxCell, this.sorted, this.offsets, this.buckets, this.pairs, this.input, this.countReadback, this.pairsReadback]) buffer?.destroy();
    this.boundAabbs = null;
  }
}

/**
 * The broadphase kernel of a device, created on first use and cached for the device's lifetime
 * (a cache of compiled GPU objects, not simulation state).
 *
 * @throws ShadersError code `ShaderCompile` or `ShaderSource` (see {@link BroadphaseKernel.create}).
 */
export const broadphaseKernel: (device: GPUDevice) => Promise<BroadphaseKernel> = perDevice((device) => BroadphaseKernel.create(device));

/**
 * Overlapping pairs of axis-aligned boxes on the backend: the WGSL kernel on WebGPU, the CPU twin
 * otherwise. Both return the same array.
 *
 * @param backend From `acquireCompute`.
 * @param aabbs `6 * N` floats, box k = `[minX, minY, minZ, maxX, maxY, maxZ]` at `6k`, N <= 2^22.
 * @param options See {@link BroadphaseOptions}: cellSize = minCellSize(aabbs), maxPairs = 2^24.
 * @returns Pairs flattened `[i0, j0, i1, j1, ...]`, `i < j`, sorted by (i, j), no duplicates.
 * @throws ShadersError code `InvalidOption` for bad boxes (naming the box), bad options or more
 *   than maxPairs pairs (on either backend); `Gpu`, `ShaderCompile` or `ShaderSource` when the
 *   GPU path fails (fall back to a CPU backend).
 */
export async function findPairs(backend: ComputeBackend, aabbs: Float32Array, options: BroadphaseOptions = {}): Promise<Uint32Array> {
  if (backend.kind === 'cpu') return findPairsCpu(aabbs, options);
  const kernel = await broadphaseKernel(backend.device);
  return kernel.run(aabbs, options);
}
