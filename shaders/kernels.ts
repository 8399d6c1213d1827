/**
 * The kernel registry: kernels addressed by NAME with their inputs and outputs as bytes, so the
 * same task runs on the main thread, in a worker, or on another peer, and the results compare
 * byte for byte. Code never travels: a worker or a peer runs only kernels registered here (or
 * by the game, identically on every peer), and checks every input before running it.
 *
 * Built-in kernels:
 *
 * | name | input | output |
 * |---|---|---|
 * | `terrain.chunk` | {@link encodeTerrainChunkInput}: heightmap options | i32 heights, `side^2 * 4` bytes (see `generateChunk`) |
 * | `broadphase.pairs` | {@link encodeBroadphaseInput}: boxes (+ cell size) | u32 pairs `[i, j, ...]`, sorted (see `findPairs`) |
 *
 * Byte order: inputs use lib0's encoding (varints, float64 as lib0 writes them, raw box bytes
 * little-endian); outputs are the typed arrays' bytes, little-endian (every WebGPU platform is).
 *
 * @example
 * ```ts
 * const input = encodeTerrainChunkInput({ seed: 7, chunkX: 1, chunkZ: -2, size: 64 });
 * const bytes = await runKernel(await acquireCompute(), 'terrain.chunk', input);
 * const heights = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
 * ```
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { findPairs } from './broadphase/broadphase.ts';
import { findPairsCpu, MAX_BOXES } from './broadphase/broadphase-cpu.ts';
import { ShadersError } from './errors.ts';
import type { ComputeBackend } from './runtime.ts';
import { generateChunk } from './terrain/heightmap.ts';
import { generateResolvedCpu, resolveHeightmapOptions, type HeightmapOptions } from './terrain/heightmap-cpu.ts';

/** A kernel that runs anywhere, addressed by name, bytes in and bytes out. */
export interface KernelDefinition<P = unknown> {
  /** Registry name, `<area>.<what>`, e.g. `'terrain.chunk'`. */
  readonly name: string;
  /** Largest input accepted, bytes (checked before decoding). */
  readonly maxInputBytes: number;
  /** Largest output it can produce, bytes (for receivers that check what comes back). */
  readonly maxOutputBytes: number;
  /**
   * Decodes and validates an input.
   * @throws ShadersError `MalformedInput` for bytes that are not one valid input,
   *   `InvalidOption` for values out of range.
   */
  decode(input: Uint8Array): P;
  /** The CPU twin: output bytes. Pure function of `params`. */
  runCpu(params: P): Uint8Array;
  /** On a backend (the GPU when it is one); equal bytes to {@link runCpu}. Default: runCpu. */
  run?(backend: ComputeBackend, params: P): Promise<Uint8Array>;
}

/** The registry: the built-in kernels (see the end of this file), then what games register. */
const registry = new Map<string, KernelDefinition<unknown>>();

/**
 * Adds a kernel to the registry. Peers that share tasks must register the same kernels.
 * Registering the same definition object twice is a no-op.
 * @throws ShadersError `InvalidOption` when another definition has that name, or the name is
 *   not `<area>.<what>` of `a-z 0-9 _ -` (1-64 characters).
 */
export function registerKernel<P>(definition: KernelDefinition<P>): void {
  if (!/^[a-z0-9_-]{1,31}\.[a-z0-9_-]{1,32}$/.test(definition.name)) {
    throw new ShadersError('InvalidOption', `kernel name "${definition.name}" is not <area>.<what> of a-z 0-9 _ -`, {
      option: 'name', value: definition.name,
    });
  }
  const existing = registry.get(definition.name);
  if (existing === definition) return;
  if (existing !== undefined) {
    throw new ShadersError('InvalidOption', `a different kernel named ${definition.name} is already registered`, {
      option: 'name', value: definition.name,
    });
  }
  registry.set(definition.name, definition as KernelDefinition<unknown>);
}

/** The registered kernel called `name`, or undefined. */
export function getKernel(name: string): KernelDefinition<unknown> | undefined {
  return registry.get(name);
}

/** Names of the registered kernels, sorted. */
export function kernelNames(): string[] {
  return [...registry.keys()].sort();
}

/** A checked task: its kernel and the decoded parameters, ready for {@link runPrepared}. */
export interface PreparedKernelTask {
  readonly kernel: KernelDefinition<unknown>;
  readonly params: unknown;
}

/**
 * Checks a task before anything runs: the kernel exists, the input's size is within its limit,
 * and the input decodes.
 *
 * @returns The kernel and its decoded parameters.
 * @throws ShadersError `UnknownKernel`, `MalformedInput` (also for oversized inputs, with
 *   `data.bytes` and `data.limit`), or `InvalidOption`.
 */
export function prepareKernelTask(name: string, input: Uint8Array): PreparedKernelTask {
  const kernel = registry.get(name);
  if (kernel === undefined) {
    throw new ShadersError('UnknownKernel', `no kernel named ${JSON.stringify(name.slice(0, 80))} is registered`, { kernel: name.slice(0, 80) });
  }
  if (!(input instanceof Uint8Array)) throw new ShadersError('MalformedInput', `${name}: input must be a Uint8Array`, { kernel: name });
  if (input.byteLength > kernel.maxInputBytes) {
    throw new ShadersError('MalformedInput', `${name}: input of ${input.byteLength} bytes exceeds the limit of ${kernel.maxInputBytes}`, {
      kernel: name, bytes: input.byteLength, limit: kernel.maxInputBytes,
    });
  }
  return { kernel, params: kernel.decode(input) };
}

/**
 * Runs a registered kernel on a backend (GPU, or the CPU twin on a CPU backend).
 * @throws ShadersError as {@link prepareKernelTask}; `Gpu` when the GPU fails.
 */
export async function runKernel(backend: ComputeBackend, name: string, input: Uint8Array): Promise<Uint8Array> {
  return runPrepared(backend, prepareKernelTask(name, input));
}

/**
 * Runs a task already checked by {@link prepareKernelTask} (no second decode): on the GPU when
 * the backend is one and the kernel has a GPU path, else its CPU twin.
 * @throws ShadersError `Gpu` when the GPU fails; what the kernel throws.
 */
export async function runPrepared(backend: ComputeBackend, task: PreparedKernelTask): Promise<Uint8Array> {
  if (backend.kind === 'cpu' || task.kernel.run === undefined) return task.kernel.runCpu(task.params);
  return task.kernel.run(backend, task.params);
}

/**
 * Runs a registered kernel's CPU twin synchronously (what a worker does).
 * @throws ShadersError as {@link prepareKernelTask}.
 */
export function runKernelCpu(name: string, input: Uint8Array): Uint8Array {
  const { kernel, params } = prepareKernelTask(name, input);
  return kernel.runCpu(params);
}

// ---------------------------------------------------------------------------------------------
// Checked lib0 reads: peer bytes never throw anything but ShadersError MalformedInput.

function malformed(kernel: string, detail: string): ShadersError {
  return new ShadersError('MalformedInput', `${kernel}: malformed input: ${detail}`, { kernel, detail });
}

function readChecked<T>(kernel: string, input: Uint8Array, read: (d: decoding.Decoder) => T): T {
  const d = decoding.createDecoder(input);
  let value: T;
  try {
    value = read(d);
  } catch (error) {
    if (error instanceof ShadersError) throw error;
    throw malformed(kernel, `truncated or invalid (${(error as Error).message})`);
  }
  if (d.pos !== input.length) throw malformed(kernel, `${input.length - d.pos} bytes left over`);
  return value;
}

function version(kernel: string, d: decoding.Decoder, expected: number): void {
  const v = decoding.readVarUint(d);
  if (v !== expected) throw malformed(kernel, `version ${v}, expected ${expected}`);
}

function bytesOf(array: Int32Array | Uint32Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

// ---------------------------------------------------------------------------------------------
// terrain.chunk

const TERRAIN_CHUNK = 'terrain.chunk';
const TERRAIN_CHUNK_VERSION = 1;

/**
 * Input of `terrain.chunk`: lib0 varuint version (1), varuint seed, varint chunkX, varint chunkZ,
 * then for each of size, octaves, cellLog2, lod, border a varuint (0 = the default) and for
 * amplitude, persistence, baseHeight a flag byte and a float64 when set.
 *
 * @throws ShadersError `InvalidOption` for options `resolveHeightmapOptions` refuses.
 */
export function encodeTerrainChunkInput(options: HeightmapOptions): Uint8Array {
  resolveHeightmapOptions(options); // the same checks the receiver does
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, TERRAIN_CHUNK_VERSION);
  encoding.writeVarUint(e, options.seed);
  encoding.writeVarInt(e, options.chunkX);
  encoding.writeVarInt(e, options.chunkZ);
  for (const v of [options.size, options.octaves, options.cellLog2, options.lod, options.border]) encoding.writeVarUint(e, v === undefined ? 0 : v + 1);
  for (const v of [options.amplitude, options.persistence, options.baseHeight]) {
    encoding.writeUint8(e, v === undefined ? 0 : 1);
    if (v !== undefined) encoding.writeFloat64(e, v);
  }
  return encoding.toUint8Array(e);
}

/** Decodes a `terrain.chunk` input. @throws ShadersError `MalformedInput` or `InvalidOption`. */
export function decodeTerrainChunkInput(input: Uint8Array): HeightmapOptions {
  const options = readChecked(TERRAIN_CHUNK, input, (d) => {
    version(TERRAIN_CHUNK, d, TERRAIN_CHUNK_VERSION);
    const o: HeightmapOptions = { seed: decoding.readVarUint(d), chunkX: decoding.readVarInt(d), chunkZ: decoding.readVarInt(d) };
    const ints = ['size', 'octaves', 'cellLog2', 'lod', 'border'] as const;
    for (const key of ints) {
      const v = decoding.readVarUint(d);
      if (v !== 0) o[key] = v - 1;
    }
    for (const key of ['amplitude', 'persistence', 'baseHeight'] as const) {
      const flag = decoding.readUint8(d);
      if (flag > 1) throw malformed(TERRAIN_CHUNK, `flag of ${key} is ${flag}`);
      if (flag === 1) o[key] = decoding.readFloat64(d);
    }
    return o;
  });
  resolveHeightmapOptions(options);
  return options;
}

/** The `terrain.chunk` kernel (built in). */
export const TERRAIN_CHUNK_KERNEL: KernelDefinition<HeightmapOptions> = {
  name: TERRAIN_CHUNK,
  maxInputBytes: 128,
  // MAX_CHUNK_SIZE 2048 plus the largest border: at most 2065^2 heights of 4 bytes.
  maxOutputBytes: 2065 * 2065 * 4,
  decode: decodeTerrainChunkInput,
  runCpu: (options) => bytesOf(generateResolvedCpu(resolveHeightmapOptions(options))),
  run: async (backend, options) => bytesOf(await generateChunk(backend, options)),
};

// ---------------------------------------------------------------------------------------------
// broadphase.pairs

const BROADPHASE_PAIRS = 'broadphase.pairs';
const BROADPHASE_VERSION = 1;
/** Most boxes a `broadphase.pairs` task may carry (24 MiB of input). */
export const MAX_KERNEL_BOXES = Math.min(MAX_BOXES, 1 << 20);
/** Most pairs a `broadphase.pairs` task may return (64 MiB of output). */
export const MAX_KERNEL_PAIRS = 1 << 23;

/** Decoded `broadphase.pairs` input. */
export interface BroadphaseTaskInput {
  readonly aabbs: Float32Array;
  /** Grid cell edge, or undefined for the default (`minCellSize`). */
  readonly cellSize?: number;
}

/**
 * Input of `broadphase.pairs`: lib0 varuint version (1), float64 cellSize (0 = default),
 * varuint box count N, then `24 N` bytes: N boxes of 6 little-endian f32.
 */
export function encodeBroadphaseInput(aabbs: Float32Array, cellSize?: number): Uint8Array {
  if (aabbs.length % 6 !== 0 || aabbs.length / 6 > MAX_KERNEL_BOXES) {
    throw new ShadersError('InvalidOption', `broadphase task: ${aabbs.length} floats is not 6 per box for at most ${MAX_KERNEL_BOXES} boxes`, {
      option: 'aabbs', value: aabbs.length,
    });
  }
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, BROADPHASE_VERSION);
  encoding.writeFloat64(e, cellSize ?? 0);
  encoding.writeVarUint(e, aabbs.length / 6);
  encoding.writeUint8Array(e, new Uint8Array(aabbs.buffer, aabbs.byteOffset, aabbs.byteLength));
  return encoding.toUint8Array(e);
}

/** Decodes a `broadphase.pairs` input (copies the boxes to an aligned array). */
export function decodeBroadphaseInput(input: Uint8Array): BroadphaseTaskInput {
  return readChecked(BROADPHASE_PAIRS, input, (d) => {
    version(BROADPHASE_PAIRS, d, BROADPHASE_VERSION);
    const cellSize = decoding.readFloat64(d);
    if (!Number.isFinite(cellSize) || cellSize < 0) throw malformed(BROADPHASE_PAIRS, `cellSize ${cellSize}`);
    const count = decoding.readVarUint(d);
    if (count > MAX_KERNEL_BOXES) throw malformed(BROADPHASE_PAIRS, `${count} boxes exceed ${MAX_KERNEL_BOXES}`);
    if (input.length - d.pos !== 24 * count) throw malformed(BROADPHASE_PAIRS, `${count} boxes need ${24 * count} bytes, ${input.length - d.pos} follow`);
    const aabbs = new Float32Array(6 * count);
    new Uint8Array(aabbs.buffer).set(input.subarray(d.pos, d.pos + 24 * count));
    d.pos += 24 * count;
    return cellSize === 0 ? { aabbs } : { aabbs, cellSize };
  });
}

/** The `broadphase.pairs` kernel (built in). */
export const BROADPHASE_PAIRS_KERNEL: KernelDefinition<BroadphaseTaskInput> = {
  name: BROADPHASE_PAIRS,
  maxInputBytes: 16 + 24 * MAX_KERNEL_BOXES,
  maxOutputBytes: 8 * MAX_KERNEL_PAIRS,
  decode: decodeBroadphaseInput,
  // findPairs* validate the boxes (finite, min <= max) and throw InvalidOption naming the box.
  runCpu: ({ aabbs, cellSize }) => bytesOf(findPairsCpu(aabbs, { ...(cellSize === undefined ? {} : { cellSize }), maxPairs: MAX_KERNEL_PAIRS })),
  run: async (backend, { aabbs, cellSize }) => bytesOf(await findPairs(backend, aabbs, { ...(cellSize === undefined ? {} : { cellSize }), maxPairs: MAX_KERNEL_PAIRS })),
};

for (const builtin of [TERRAIN_CHUNK_KERNEL, BROADPHASE_PAIRS_KERNEL] as KernelDefinition<unknown>[]) registry.set(builtin.name, builtin);
