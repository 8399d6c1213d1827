/// <reference types="@webgpu/types" />
/**
 * Swarm physics on the GPU: the TypeScript wrapper of `swarm.wgsl`, chained with the GPU
 * broadphase. Algorithm, units and the CPU twin: swarm-cpu.ts. After the same number of steps
 * from the same state, {@link SwarmKernel} and `stepSwarmCpu` hold identical positions and
 * velocities (`swarmChecksum` equal).
 *
 * The state stays on the GPU: {@link SwarmKernel.step} encodes and submits steps without
 * waiting; {@link SwarmKernel.read} copies the state out asynchronously (the result reflects
 * every step submitted before the call, and `state.tick` says how many). A renderer reads while the next steps run, so the
 * picture is a step or two behind the simulation and the tick never waits for the GPU.
 *
 * Buffers (labelled `swarm.*`), per body `k`:
 * - `params` (UNIFORM | COPY_DST), 64 bytes: layout in {@link writeSwarmParams} and swarm.wgsl.
 * - `positions`, `velocities` (STORAGE | COPY_SRC | COPY_DST): i32 at `[3k .. 3k + 2]`, Q16 m
 *   and Q16 m per tick.
 * - `dv` (STORAGE | COPY_DST): i32 x 3 per body, contact impulses of the step (cleared first).
 * - `aabbs` (STORAGE): f32 x 6 per body, the broadphase's input.
 * - the broadphase's `pairs` and `pairCount` (see shaders/broadphase).
 * - `readback` (MAP_READ | COPY_DST): positions, velocities, then the pair count (4 bytes).
 * - `noPairs` (STORAGE), 16 bytes: stands in for the pair bindings in the AABB pass.
 *
 * @example
 * ```ts
 * const kernel = await SwarmKernel.create(device, { count: 20_000, seed: 3 });
 * kernel.step(2);                        // two steps queued on the GPU, nothing awaited
 * const { state, pairs } = await kernel.read();
 * ```
 */
import { broadphaseKernel } from '../broadphase/broadphase.ts';
import { compileComputePipelines, readBuffer, USAGE, withGpuErrorScopes } from '../common/gpu.ts';
import { ShadersError } from '../errors.ts';
import { loadWgsl } from '../load-wgsl.ts';
import type { ComputeBackend } from '../runtime.ts';
import {
  createSwarm, initialSwarmState, resolveSwarmOptions, stepSwarmCpu, type CpuSwarm, type ResolvedSwarm, type SwarmOptions,
  type SwarmState,
} from './swarm-cpu.ts';

/** Where the kernels' WGSL lives. */
export const SWARM_WGSL_URL = new URL('./swarm.wgsl', import.meta.url);
/** Size of the `params` uniform block, bytes. */
export const SWARM_PARAMS_BYTES = 64;
/** Invocations per workgroup of every swarm entry point. */
export const SWARM_WORKGROUP = 256;

const LABEL = 'swarm';

/**
 * Writes the uniform block. Layout (bytes), as in swarm.wgsl's `Params`, all 4-byte integers:
 * 0 count u32 | 4 radius | 8 min_x | 12 max_x | 16 min_y | 20 max_y | 24 min_z | 28 max_z |
 * 32 gravity | 36 stiffness | 40 damping | 44 restitution | 48 fountain_speed |
 * 52 fountain_radius2 | 56 max_pairs u32 | 60 padding.
 */
export function writeSwarmParams(p: ResolvedSwarm, target = new ArrayBuffer(SWARM_PARAMS_BYTES)): ArrayBuffer {
  const i32 = new Int32Array(target);
  const u32 = new Uint32Array(target);
  u32[0] = p.count;
  i32.set([p.radius, p.minX, p.maxX, p.minY, p.maxY, p.minZ, p.maxZ, p.gravity, p.stiffness, p.damping, p.restitution,
    p.fountainSpeed, p.fountainRadius2], 1);
  u32[14] = p.maxPairs;
  u32[15] = 0;
  return target;
}

/** What {@link SwarmKernel.read} returns. */
export interface SwarmReadback {
  /** A copy of the state after every step submitted before `read` was called (or until its copy was made: `state.tick` tells). */
  readonly state: SwarmState;
  /** Overlapping AABB pairs of the last of those steps (before the `maxPairs` cut). */
  readonly pairs: number;
}

/** Options of {@link SwarmKernel.create}. */
export interface SwarmKernelOptions {
  /** WGSL source; default: loaded from {@link SWARM_WGSL_URL}. */
  source?: string;
  /** Start from this state instead of the initial one (e.g. when switching from the CPU twin). */
  state?: SwarmState;
}

/** A swarm living on one GPU device. Not cached per device: each kernel is one swarm. */
export class SwarmKernel {
  readonly options: ResolvedSwarm;
  readonly #device: GPUDevice;
  readonly #pipelines: Readonly<Record<string, GPUComputePipeline>>;
  readonly #layout: GPUBindGroupLayout;
  readonly #buffers: { params: GPUBuffer; positions: GPUBuffer; velocities: GPUBuffer; dv: GPUBuffer; aabbs: GPUBuffer; readback: GPUBuffer; noPairs: GPUBuffer };
  readonly #broadphase: Awaited<ReturnType<typeof broadphaseKernel>>;
  #bindGroup: GPUBindGroup | null = null;
  #boundPairs: GPUBuffer | null = null;
  #boundCount: GPUBuffer | null = null;
  #tick: number;
  #reading: Promise<unknown> = Promise.resolve();
  #destroyed = false;

  private constructor(
    device: GPUDevice,
    options: ResolvedSwarm,
    compiled: { layout: GPUBindGroupLayout; pipelines: Readonly<Record<string, GPUComputePipeline>> },
    broadphase: Awaited<ReturnType<typeof broadphaseKernel>>,
    state: SwarmState,
  ) {
    this.#device = device;
    this.options = options;
    this.#pipelines = compiled.pipelines;
    this.#layout = compiled.layout;
    this.#broadphase = broadphase;
    const bodyBytes = options.count * 12;
    const make = (what: string, size: number, usage: number): GPUBuffer => device.createBuffer({ label: `${LABEL}.${what}`, size, usage });
    this.#buffers = {
      params: make('params', SWARM_PARAMS_BYTES, USAGE.UNIFORM | USAGE.COPY_DST),
      positions: make('positions', bodyBytes, USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST),
      velocities: make('velocities', bodyBytes, USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST),
      dv: make('dv', bodyBytes, USAGE.STORAGE | USAGE.COPY_DST),
      aabbs: make('aabbs', options.count * 24, USAGE.STORAGE),
      readback: make('readback', 2 * bodyBytes + 4, USAGE.MAP_READ | USAGE.COPY_DST),
      noPairs: make('noPairs', 16, USAGE.STORAGE),
    };
    device.queue.writeBuffer(this.#buffers.params, 0, writeSwarmParams(options));
    this.#tick = state.tick;
    this.upload(state);
  }

  /**
   * Compiles the kernels (and the broadphase's, cached per device) and uploads the initial state.
   *
   * @param device A device from `acquireCompute()`.
   * @param swarm Options (see `SwarmOptions`), or options resolved by `resolveSwarmOptions`.
   * @throws ShadersError `InvalidOption` for bad options or a `state` of another size;
   *   `ShaderCompile`/`ShaderSource` when the kernels cannot be built.
   */
  static async create(device: GPUDevice, swarm: SwarmOptions | ResolvedSwarm, options: SwarmKernelOptions = {}): Promise<SwarmKernel> {
    const resolved = 'minX' in swarm ? swarm : resolveSwarmOptions(swarm);
    const state = options.state ?? initialSwarmState(resolved);
    checkState(state, resolved);
    const source = options.source ?? (await loadWgsl(SWARM_WGSL_URL));
    const compiled = await compileComputePipelines(device, {
      label: LABEL,
      source,
      entryPoints: ['aabbs_main', 'narrowphase_main', 'integrate_main'],
      entries: [
        { binding: 0, type: 'uniform' },
        { binding: 1, type: 'storage' },
        { binding: 2, type: 'storage' },
        { binding: 3, type: 'storage' },
        { binding: 4, type: 'storage' },
        { binding: 5, type: 'read-only-storage' },
        { binding: 6, type: 'read-only-storage' },
      ],
    });
    const broadphase = await broadphaseKernel(device);
    return new SwarmKernel(device, resolved, compiled, broadphase, state);
  }

  /** Steps taken since the initial state (counts steps submitted, not yet necessarily run). */
  get tick(): number {
    return this.#tick;
  }

  /**
   * Replaces the GPU state (queued after the steps already submitted).
   * @throws ShadersError `InvalidOption` when the state has another body count.
   */
  upload(state: SwarmState): void {
    checkState(state, this.options);
    this.#checkAlive();
    this.#device.queue.writeBuffer(this.#buffers.positions, 0, state.positions);
    this.#device.queue.writeBuffer(this.#buffers.velocities, 0, state.velocities);
    this.#tick = state.tick;
  }

  /**
   * Encodes and submits `steps` steps (one command buffer); returns at once.
   * @throws ShadersError `InvalidOption` when steps is not an integer >= 1; `Gpu` after destroy.
   */
  step(steps = 1): void {
    if (!Number.isInteger(steps) || steps < 1) {
      throw new ShadersError('InvalidOption', `swarm steps must be an integer >= 1, got ${steps}`, { option: 'steps', value: steps });
    }
    this.#checkAlive();
    const device = this.#device;
    const p = this.options;
    const b = this.#buffers;
    const bodyGroups = Math.ceil(p.count / SWARM_WORKGROUP);
    const encoder = device.createCommandEncoder({ label: `${LABEL}.encoder` });
    for (let s = 0; s < steps; s++) {
      encoder.clearBuffer(b.dv);
      let pass = encoder.beginComputePass({ label: `${LABEL}.aabbsPass` });
      pass.setPipeline(this.#pipelines['aabbs_main']!);
      pass.setBindGroup(0, this.#aabbBindGroup());
      pass.dispatchWorkgroups(bodyGroups);
      pass.end();
      const out = this.#broadphase.encode(encoder, { aabbs: b.aabbs, count: p.count, cellSize: p.cellSize, maxPairs: p.maxPairs });
      const group = this.#stepBindGroup(out.pairs, out.pairCount);
      pass = encoder.beginComputePass({ label: `${LABEL}.contactPass` });
      pass.setBindGroup(0, group);
      pass.setPipeline(this.#pipelines['narrowphase_main']!);
      pass.dispatchWorkgroups(Math.ceil(p.maxPairs / SWARM_WORKGROUP));
      pass.end();
      pass = encoder.beginComputePass({ label: `${LABEL}.integratePass` });
      pass.setBindGroup(0, group);
      pass.setPipeline(this.#pipelines['integrate_main']!);
      pass.dispatchWorkgroups(bodyGroups);
      pass.end();
    }
    device.queue.submit([encoder.finish({ label: `${LABEL}.commands` })]);
    this.#tick += steps;
  }

  /**
   * Copies the state out of the GPU. Calls are queued one after another (they share the
   * readback buffer): each copies when the previous one has finished, so its result (state and
   * `tick` together) reflects the steps submitted until then, at least those submitted before
   * the call.
   *
   * @throws ShadersError `Gpu` when the device fails or after {@link destroy}.
   */
  read(): Promise<SwarmReadback> {
    this.#checkAlive();
    const device = this.#device;
    const b = this.#buffers;
    const bodyBytes = this.options.count * 12;
    const count = this.options.count;
    const result = this.#reading.then(async () => {
      // The copies are recorded when this read's turn comes (the readback buffer is free again),
      // so the state and its tick are those of every step submitted until then.
      const tick = this.#tick;
      const pairCount = this.#boundCount; // null before the first step
      await withGpuErrorScopes(device, `${LABEL}.read`, () => {
        const encoder = device.createCommandEncoder({ label: `${LABEL}.readEncoder` });
        encoder.copyBufferToBuffer(b.positions, 0, b.readback, 0, bodyBytes);
        encoder.copyBufferToBuffer(b.velocities, 0, b.readback, bodyBytes, bodyBytes);
        if (pairCount !== null) encoder.copyBufferToBuffer(pairCount, 0, b.readback, 2 * bodyBytes, 4);
        device.queue.submit([encoder.finish({ label: `${LABEL}.readCommands` })]);
      });
      const bytes = await readBuffer(b.readback, 2 * bodyBytes + 4, `${LABEL}.readback`);
      const words = new Int32Array(bytes);
      return {
        state: { count, positions: words.slice(0, 3 * count), velocities: words.slice(3 * count, 6 * count), tick },
        pairs: pairCount === null ? 0 : new Uint32Array(bytes, 2 * bodyBytes, 1)[0]!,
      };
    });
    this.#reading = result.catch(() => undefined);
    return result;
  }

  /** Frees the swarm's buffers (the broadphase kernel stays cached on the device). Safe twice. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const buffer of Object.values(this.#buffers)) buffer.destroy();
  }

  #checkAlive(): void {
    if (this.#destroyed) throw new ShadersError('Gpu', 'swarm kernel was destroyed', { label: LABEL });
  }

  #aabbGroup: GPUBindGroup | null = null;

  /**
   * The bind group of the AABB pass. Bindings 5 and 6 (pairs) are part of the shared layout but
   * not read by `aabbs_main`, and the broadphase's buffers are only known after its first
   * encode: a small `noPairs` buffer stands in for both.
   */
  #aabbBindGroup(): GPUBindGroup {
    if (this.#aabbGroup === null) this.#aabbGroup = this.#makeGroup(this.#buffers.noPairs, this.#buffers.noPairs);
    return this.#aabbGroup;
  }

  #stepBindGroup(pairs: GPUBuffer, pairCount: GPUBuffer): GPUBindGroup {
    if (this.#bindGroup === null || this.#boundPairs !== pairs || this.#boundCount !== pairCount) {
      this.#bindGroup = this.#makeGroup(pairs, pairCount);
      this.#boundPairs = pairs;
      this.#boundCount = pairCount;
    }
    return this.#bindGroup;
  }

  #makeGroup(pairs: GPUBuffer, pairCount: GPUBuffer): GPUBindGroup {
    const b = this.#buffers;
    return this.#device.createBindGroup({
      label: `${LABEL}.bindGroup`,
      layout: this.#layout,
      entries: [
        { binding: 0, resource: { buffer: b.params } },
        { binding: 1, resource: { buffer: b.positions } },
        { binding: 2, resource: { buffer: b.velocities } },
        { binding: 3, resource: { buffer: b.dv } },
        { binding: 4, resource: { buffer: b.aabbs } },
        { binding: 5, resource: { buffer: pairs } },
        { binding: 6, resource: { buffer: pairCount } },
      ],
    });
  }
}

function checkState(state: SwarmState, p: ResolvedSwarm): void {
  if (state.count !== p.count || state.positions.length !== 3 * p.count || state.velocities.length !== 3 * p.count) {
    throw new ShadersError('InvalidOption', `swarm state holds ${state.count} bodies, the swarm ${p.count}`, {
      option: 'state', value: state.count,
    });
  }
}

/**
 * A swarm that runs on either backend and can move between them mid-simulation without a
 * visible jump (the twins are bit-exact, so the state carries over unchanged).
 *
 * @example
 * ```ts
 * const sim = await SwarmSimulation.create(await acquireCompute(), { count: 20_000 });
 * sim.step();                                  // GPU: submitted; CPU: computed now
 * const { state } = await sim.read();          // render state.positions (Q16 m)
 * await sim.switchTo(cpuBackend('preferred', 'user toggle'));
 * ```
 */
export class SwarmSimulation {
  #cpu: CpuSwarm | null;
  #gpu: SwarmKernel | null;

  private constructor(readonly options: ResolvedSwarm, cpu: CpuSwarm | null, gpu: SwarmKernel | null) {
    this.#cpu = cpu;
    this.#gpu = gpu;
  }

  /**
   * A swarm at its initial state on `backend`.
   * @throws ShadersError `InvalidOption` for bad options; `ShaderCompile`/`ShaderSource` when the
   *   GPU kernels cannot be built (use a CPU backend then).
   */
  static async create(backend: ComputeBackend, options: SwarmOptions): Promise<SwarmSimulation> {
    if (backend.kind === 'cpu') {
      const cpu = createSwarm(options);
      return new SwarmSimulation(cpu.options, cpu, null);
    }
    const kernel = await SwarmKernel.create(backend.device, options);
    return new SwarmSimulation(kernel.options, null, kernel);
  }

  /** Where the steps run now. */
  get backend(): 'webgpu' | 'cpu' {
    return this.#gpu !== null ? 'webgpu' : 'cpu';
  }

  /** Steps taken (on the GPU: submitted). */
  get tick(): number {
    return this.#gpu !== null ? this.#gpu.tick : this.#cpu!.state.tick;
  }

  /** Advances `steps` steps: computed now on the CPU, submitted (not awaited) on the GPU. */
  step(steps = 1): void {
    if (this.#gpu !== null) {
      this.#gpu.step(steps);
      return;
    }
    for (let s = 0; s < steps; s++) stepSwarmCpu(this.#cpu!);
  }

  /**
   * The state after every step so far. On the CPU this is the live state (do not modify it;
   * it changes on the next step); on the GPU a copy, read asynchronously.
   */
  read(): Promise<SwarmReadback> {
    if (this.#gpu !== null) return this.#gpu.read();
    return Promise.resolve({ state: this.#cpu!.state, pairs: this.#cpu!.stats.pairs });
  }

  /**
   * Moves the swarm to another backend, state unchanged. Awaits the GPU's state when leaving it.
   * @throws ShadersError from the GPU (then the swarm stays where it was).
   */
  async switchTo(backend: ComputeBackend): Promise<void> {
    if (backend.kind === this.backend && backend.kind === 'cpu') return;
    const { state } = await this.read();
    const copy: SwarmState = { count: state.count, positions: state.positions.slice(), velocities: state.velocities.slice(), tick: state.tick };
    if (backend.kind === 'cpu') {
      this.#gpu?.destroy();
      this.#gpu = null;
      this.#cpu = { options: this.options, state: copy, stats: { pairs: 0, droppedPairs: 0 } };
      return;
    }
    const kernel = await SwarmKernel.create(backend.device, this.options, { state: copy });
    this.#gpu?.destroy();
    this.#gpu = kernel;
    this.#cpu = null;
  }

  /** Frees GPU buffers, if any. Safe to call twice. */
  destroy(): void {
    this.#gpu?.destroy();
  }
}
