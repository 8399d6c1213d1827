/// <reference types="@webgpu/types" />
/**
 * GPU exclusive prefix sum (scan) of u32 values: the TypeScript wrapper of `scan.wgsl`, a
 * building block for kernels that compact or bucket data (counting sort, stream compaction).
 * The CPU twin is `exclusiveScanCpu` (scan-cpu.ts); both give the same sums bit for bit.
 *
 * Convention: `data[0..count)` holds the input; afterwards `data[k]` is the sum of inputs
 * `0..k-1` for every `k <= count`, so `data[count]` is the total. Sums saturate at `0xffffffff`.
 *
 * Two levels of objects:
 * - {@link ScanKernel}: the compiled pipelines of one device, cached by {@link scanKernel}.
 * - {@link PrefixScan}: one use site's buffers and bind groups, from `kernel.createScan()`.
 *   `encode(pass, data, count)` records the scan into a compute pass the caller owns, so a
 *   consumer can scan a buffer its own kernels just wrote and read the sums in the next dispatch,
 *   without a readback. It allocates nothing once its capacity covers `count` and `data` is the
 *   same buffer as last time.
 *
 * Buffers of a PrefixScan (labelled `<label>.*`):
 * - `params` (UNIFORM | COPY_DST), 256 bytes per level ({@link SCAN_PARAMS_STRIDE}): level l's
 *   `count` u32 at byte `256 * l` (the rest padding), as `Params` in scan.wgsl.
 * - `sums<l>` (STORAGE), `(floor(c_l / 1024) + 2) * 4` bytes: u32 total of each 1024-value block
 *   of level l (`c_0 = count`, `c_{l+1} = floor(c_l / 1024) + 1`), scanned in place by level
 *   l + 1; the top level has a single block and `sums<top>[0]` is the total.
 *
 * Limits: `count <= MAX_SCAN_COUNT` (67,107,839: level 0 dispatches `floor(count / 1024) + 1`
 * workgroups, at most 65535); at most 3 levels.
 *
 * @example
 * ```ts
 * const kernel = await scanKernel(device);
 * const scan = kernel.createScan('myKernel.offsets');
 * const pass = encoder.beginComputePass();
 * // ... a dispatch writing counts[0..n) ...
 * scan.encode(pass, countsBuffer, n); // counts[k] = offset of item k, counts[n] = total
 * // ... a dispatch reading the offsets ...
 * pass.end();
 * ```
 * Only the last `encode` of a PrefixScan before a `queue.submit` sees its `count` (the level
 * counts are written with `queue.writeBuffer`): use one PrefixScan per scan in a command buffer.
 */
import { ShadersError } from '../errors.ts';
import { loadWgsl } from '../load-wgsl.ts';
import type { ComputeBackend } from '../runtime.ts';
import { compileComputePipelines, perDevice, readBuffer, USAGE, withGpuErrorScopes, type ComputePipelines } from './gpu.ts';
import { exclusiveScanCpu } from './scan-cpu.ts';

/** Where the kernel's WGSL lives (an asset URL under Vite, a `file:` URL in Node). */
export const SCAN_WGSL_URL = new URL('./scan.wgsl', import.meta.url);
/** Invocations per workgroup (`@workgroup_size(256)`). */
export const SCAN_WORKGROUP = 256;
/** Values scanned per workgroup (256 invocations x 4 values). */
export const SCAN_BLOCK = 1024;
/** Byte stride of the per-level uniform blocks (WebGPU's default minUniformBufferOffsetAlignment). */
export const SCAN_PARAMS_STRIDE = 256;
/** Most levels of the recursive scan. */
export const SCAN_MAX_LEVELS = 3;
/** Largest `count` one scan accepts: `65535 * 1024 - 1`. */
export const MAX_SCAN_COUNT = 65535 * SCAN_BLOCK - 1;

/** Options of {@link ScanKernel.create}. */
export interface ScanKernelOptions {
  /** WGSL source; default: loaded from {@link SCAN_WGSL_URL}. */
  source?: string;
}

/**
 * Fills `out` with the level counts `c_0 = count, c_{l+1} = floor(c_l / 1024) + 1` until a level
 * has a single block; returns how many levels there are.
 */
function levelCounts(count: number, out: Uint32Array): number {
  let levels = 0;
  let c = count;
  out[levels++] = c;
  while (Math.floor(c / SCAN_BLOCK) + 1 > 1) {
    c = Math.floor(c / SCAN_BLOCK) + 1;
    out[levels++] = c;
  }
  return levels;
}

/**
 * One use site of the scan: its own uniform levels, block-sum buffers and bind groups on the
 * kernel's device. Created by {@link ScanKernel.createScan}; destroyed with it or by
 * {@link destroy}.
 */
export class PrefixScan {
  private readonly params: GPUBuffer;
  private readonly paramsBytes = new ArrayBuffer(SCAN_PARAMS_STRIDE * SCAN_MAX_LEVELS);
  private readonly sums: (GPUBuffer | null)[] = new Array<GPUBuffer | null>(SCAN_MAX_LEVELS).fill(null);
  private readonly bindGroups: (GPUBindGroup | null)[] = new Array<GPUBindGroup | null>(SCAN_MAX_LEVELS).fill(null);
  private boundData: GPUBuffer | null = null;
  private readonly counts = new Uint32Array(SCAN_MAX_LEVELS);
  private readonly writtenCounts = new Uint32Array(SCAN_MAX_LEVELS);
  private writtenLevels = 0;
  private destroyed = false;

  /** @internal Use {@link ScanKernel.createScan}. */
  constructor(
    private readonly device: GPUDevice,
    private readonly compiled: ComputePipelines,
    /** Prefix of this scan's GPU object labels. */
    readonly label: string,
  ) {
    this.params = device.createBuffer({
      label: `${label}.params`,
      size: SCAN_PARAMS_STRIDE * SCAN_MAX_LEVELS,
      usage: USAGE.UNIFORM | USAGE.COPY_DST,
    });
  }

  /**
   * Records the scan of `data[0..count)` into `pass` (2 dispatches per level beyond the first,
   * at most 5 in all). Afterwards `data[k]` = sum of inputs `0..k-1` for `k <= count`.
   *
   * @param pass An open compute pass of the kernel's device; its pipeline and bind group are
   *   changed (set yours again after this call).
   * @param data STORAGE buffer of at least `4 * (count + 1)` bytes.
   * @param count Input values, an integer `0..MAX_SCAN_COUNT`.
   * @throws ShadersError code `InvalidOption` for a bad `count` or a too small `data` buffer; `Gpu`
   *   after {@link destroy}.
   */
  encode(pass: GPUComputePassEncoder, data: GPUBuffer, count: number): void {
    if (this.destroyed) throw new ShadersError('Gpu', `${this.label} was destroyed`, { label: this.label });
    if (!Number.isInteger(count) || count < 0 || count > MAX_SCAN_COUNT) {
      throw new ShadersError('InvalidOption', `${this.label}: count = ${String(count)}: expected an integer 0..${MAX_SCAN_COUNT}`, {
        option: 'count',
        value: count,
      });
    }
    if (data.size < 4 * (count + 1)) {
      throw new ShadersError('InvalidOption', `${this.label}: data buffer "${data.label}" holds ${data.size} bytes, needs 4 * (count + 1) = ${4 * (count + 1)}`, {
        option: 'data',
        value: data.size,
      });
    }
    const counts = this.counts;
    const levels = levelCounts(count, counts);
    if (data !== this.boundData) {
      this.boundData = data;
      this.bindGroups[0] = null;
    }
    let changed = levels !== this.writtenLevels;
    for (let l = 0; l < levels; l++) {
      const bytes = (Math.floor(counts[l] / SCAN_BLOCK) + 2) * 4;
      const current = this.sums[l];
      if (current === null || current.size < bytes) {
        current?.destroy();
        this.sums[l] = this.device.createBuffer({ label: `${this.label}.sums${l}`, size: bytes, usage: USAGE.STORAGE });
        this.bindGroups[l] = null;
        if (l + 1 < SCAN_MAX_LEVELS) this.bindGroups[l + 1] = null;
      }
      if (counts[l] !== this.writtenCounts[l]) changed = true;
    }
    if (changed) {
      const u32 = new Uint32Array(this.paramsBytes);
      for (let l = 0; l < levels; l++) u32[(SCAN_PARAMS_STRIDE / 4) * l] = counts[l];
      this.device.queue.writeBuffer(this.params, 0, this.paramsBytes);
      this.writtenCounts.set(counts);
      this.writtenLevels = levels;
    }
    for (let l = 0; l < levels; l++) {
      pass.setPipeline(this.compiled.pipelines.scan_blocks);
      pass.setBindGroup(0, this.bindGroup(l));
      pass.dispatchWorkgroups(Math.floor(counts[l] / SCAN_BLOCK) + 1);
    }
    for (let l = levels - 2; l >= 0; l--) {
      pass.setPipeline(this.compiled.pipelines.add_block_sums);
      pass.setBindGroup(0, this.bindGroup(l));
      pass.dispatchWorkgroups(Math.floor(counts[l] / SCAN_BLOCK) + 1);
    }
  }

  private bindGroup(level: number): GPUBindGroup {
    let group = this.bindGroups[level];
    if (group === null) {
      group = this.device.createBindGroup({
        label: `${this.label}.bindGroup${level}`,
        layout: this.compiled.layout,
        entries: [
          { binding: 0, resource: { buffer: this.params, offset: SCAN_PARAMS_STRIDE * level, size: 16 } },
          { binding: 1, resource: { buffer: level === 0 ? this.boundData! : this.sums[level - 1]! } },
          { binding: 2, resource: { buffer: this.sums[level]! } },
        ],
      });
      this.bindGroups[level] = group;
    }
    return group;
  }

  /** Frees this scan's buffers (not `data`). Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.params.destroy();
    for (const buffer of this.sums) buffer?.destroy();
    this.boundData = null;
  }
}

/**
 * The scan pipelines on one device, plus a convenience {@link run} that scans host values.
 * Runs are queued one after another, so concurrent `run` calls are safe.
 */
export class ScanKernel {
  private readonly scans = new Set<PrefixScan>();
  private readonly own: PrefixScan;
  private data: GPUBuffer | null = null;
  private readback: GPUBuffer | null = null;
  private capacityBytes = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private destroyed = false;

  private constructor(
    readonly device: GPUDevice,
    private readonly compiled: ComputePipelines,
  ) {
    this.own = this.createScan('common.scan.run');
  }

  /**
   * Compiles the kernel on a device.
   *
   * @throws ShadersError code `ShaderCompile` with the compiler's messages when the WGSL or a
   *   pipeline is rejected; `ShaderSource` when the file cannot be loaded.
   */
  static async create(device: GPUDevice, options: ScanKernelOptions = {}): Promise<ScanKernel> {
    const source = options.source ?? (await loadWgsl(SCAN_WGSL_URL));
    const compiled = await compileComputePipelines(device, {
      label: 'common.scan',
      source,
      entryPoints: ['scan_blocks', 'add_block_sums'],
      entries: [
        { binding: 0, type: 'uniform' },
        { binding: 1, type: 'storage' },
        { binding: 2, type: 'storage' },
      ],
    });
    return new ScanKernel(device, compiled);
  }

  /**
   * A new use site with its own buffers (see {@link PrefixScan}); destroyed with this kernel.
   *
   * @param label Prefix of its GPU object labels, e.g. `'physics.broadphase.bucketScan'`.
   * @throws ShadersError code `Gpu` after {@link destroy}.
   */
  createScan(label = 'common.scan'): PrefixScan {
    if (this.destroyed) throw new ShadersError('Gpu', 'common.scan kernel was destroyed', { label: 'common.scan' });
    const scan = new PrefixScan(this.device, this.compiled, label);
    this.scans.add(scan);
    return scan;
  }

  /**
   * Scans host values on the GPU: uploads, scans, reads back.
   *
   * @param values Up to {@link MAX_SCAN_COUNT} u32 values.
   * @returns `values.length + 1` u32: the exclusive prefix sums, then the total; equal to
   *   `exclusiveScanCpu` on a copy with one extra slot.
   * @throws ShadersError code `InvalidOption` when there are too many values; `Gpu` when the
   *   device fails or after {@link destroy}.
   */
  run(values: Uint32Array): Promise<Uint32Array> {
    const result = this.queue.then(() => this.runNow(values));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async runNow(values: Uint32Array): Promise<Uint32Array> {
    if (this.destroyed) throw new ShadersError('Gpu', 'common.scan kernel was destroyed', { label: 'common.scan' });
    const count = values.length;
    if (count > MAX_SCAN_COUNT) {
      throw new ShadersError('InvalidOption', `scan of ${count} values: at most ${MAX_SCAN_COUNT}`, { option: 'values', value: count });
    }
    const bytes = 4 * (count + 1);
    if (bytes > this.capacityBytes) {
      this.data?.destroy();
      this.readback?.destroy();
      this.data = this.device.createBuffer({ label: 'common.scan.run.data', size: bytes, usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST });
      this.readback = this.device.createBuffer({ label: 'common.scan.run.readback', size: bytes, usage: USAGE.MAP_READ | USAGE.COPY_DST });
      this.capacityBytes = bytes;
    }
    const data = this.data!;
    const readback = this.readback!;
    await withGpuErrorScopes(this.device, 'common.scan', () => {
      if (count > 0) this.device.queue.writeBuffer(data, 0, values.buffer, values.byteOffset, values.byteLength);
      const encoder = this.device.createCommandEncoder({ label: 'common.scan.run.encoder' });
      const pass = encoder.beginComputePass({ label: 'common.scan.run.pass' });
      this.own.encode(pass, data, count);
      pass.end();
      encoder.copyBufferToBuffer(data, 0, readback, 0, bytes);
      this.device.queue.submit([encoder.finish({ label: 'common.scan.run.commands' })]);
    });
    return new Uint32Array(await readBuffer(readback, bytes, 'common.scan'));
  }

  /** Frees the buffers of this kernel and of every scan it created. The device is the caller's. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const scan of this.scans) scan.destroy();
    this.scans.clear();
    this.data?.destroy();
    this.readback?.destroy();
  }
}

/**
 * The scan kernel of a device, created on first use and cached for the device's lifetime
 * (a cache of compiled GPU objects, not simulation state).
 *
 * @throws ShadersError code `ShaderCompile` or `ShaderSource` (see {@link ScanKernel.create}).
 */
export const scanKernel: (device: GPUDevice) => Promise<ScanKernel> = perDevice((device) => ScanKernel.create(device));

/**
 * Exclusive prefix sums of host values on the backend: the WGSL kernel on WebGPU, the CPU twin
 * otherwise; both equal bit for bit.
 *
 * @param values u32 values (at most {@link MAX_SCAN_COUNT}); not modified.
 * @returns `values.length + 1` u32: `out[k]` = saturating sum of `values[0..k)`; `out[n]` is the total.
 * @throws ShadersError code `InvalidOption` for too many values; `Gpu`, `ShaderCompile` or
 *   `ShaderSource` when the GPU path fails.
 */
export async function exclusiveScan(backend: ComputeBackend, values: Uint32Array): Promise<Uint32Array> {
  if (backend.kind === 'cpu') {
    if (values.length > MAX_SCAN_COUNT) {
      throw new ShadersError('InvalidOption', `scan of ${values.length} values: at most ${MAX_SCAN_COUNT}`, { option: 'values', value: values.length });
    }
    const out = new Uint32Array(values.length + 1);
    out.set(values);
    exclusiveScanCpu(out, values.length);
    return out;
  }
  const kernel = await scanKernel(backend.device);
  return kernel.run(values);
}
