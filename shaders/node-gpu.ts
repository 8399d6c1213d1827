/// <reference types="@webgpu/types" />
/**
 * WebGPU in Node through the `webgpu` package (Dawn). Node only: not exported from
 * `shaders/index.ts`; import `peercompute/shaders/node-gpu.ts` from Node code and tests.
 *
 * Dawn finds no adapter on Debian machines without a GPU unless the process was STARTED with
 * (see docs/pitfalls.md, "## WebGPU"):
 * - `LD_LIBRARY_PATH` containing `/usr/lib/chromium` (Debian has no `libvulkan.so.1`; the
 *   Chromium package ships one; the loader reads this variable only at process start),
 * - `VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json` (SwiftShader's Vulkan driver),
 * - `XDG_RUNTIME_DIR` set to a directory of mode 700.
 * So a test that wants a GPU spawns a child process with {@link nodeGpuEnv}.
 *
 * @example
 * ```ts
 * // child process started with env: nodeGpuEnv()
 * const backend = await acquireNodeCompute();
 * if (backend.kind === 'cpu') console.log(backend.reason); // explains the env when no adapter
 * backend.dispose(); // or Node will not exit
 * ```
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireCompute, cpuBackend, type AcquireComputeOptions, type ComputeBackend } from './runtime.ts';

/** Directory of Debian's Chromium, which ships `libvulkan.so.1` and SwiftShader's Vulkan ICD. */
export const CHROMIUM_LIB_DIR = '/usr/lib/chromium';
/** SwiftShader's Vulkan ICD manifest in Debian's Chromium package. */
export const SWIFTSHADER_ICD = `${CHROMIUM_LIB_DIR}/vk_swiftshader_icd.json`;

/**
 * The environment a child Node process needs for Dawn to find SwiftShader: `base` plus
 * `LD_LIBRARY_PATH` (prefixed with {@link CHROMIUM_LIB_DIR}), `VK_ICD_FILENAMES` and an
 * `XDG_RUNTIME_DIR` (a new mode-700 temporary directory unless `base` has one).
 *
 * @param base Environment to extend; default `process.env` (not modified).
 * @returns A new env object for `spawn(process.execPath, [...], { env })`.
 */
export function nodeGpuEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const ld = base.LD_LIBRARY_PATH;
  const paths = ld === undefined || ld === '' ? [] : ld.split(':');
  return {
    ...base,
    LD_LIBRARY_PATH: paths.includes(CHROMIUM_LIB_DIR) ? ld : [CHROMIUM_LIB_DIR, ...paths].join(':'),
    VK_ICD_FILENAMES: base.VK_ICD_FILENAMES ?? SWIFTSHADER_ICD,
    XDG_RUNTIME_DIR: base.XDG_RUNTIME_DIR ?? mkdtempSync(join(tmpdir(), 'peercompute-xdg-')),
  };
}

/**
 * What is missing for Dawn to find SwiftShader, as sentences; empty when all looks right.
 *
 * @param env Environment the current process was started with; default `process.env`.
 */
export function nodeGpuEnvProblems(env: NodeJS.ProcessEnv = process.env): string[] {
  const problems: string[] = [];
  if (!existsSync(SWIFTSHADER_ICD)) {
    problems.push(`${SWIFTSHADER_ICD} does not exist (install Debian's chromium package, which ships SwiftShader)`);
  }
  if (!(env.LD_LIBRARY_PATH ?? '').split(':').includes(CHROMIUM_LIB_DIR)) {
    problems.push(`LD_LIBRARY_PATH does not contain ${CHROMIUM_LIB_DIR} (for libvulkan.so.1; it must be set before the process starts)`);
  }
  if ((env.VK_ICD_FILENAMES ?? '') === '') problems.push(`VK_ICD_FILENAMES is not set (use ${SWIFTSHADER_ICD})`);
  if ((env.XDG_RUNTIME_DIR ?? '') === '') problems.push('XDG_RUNTIME_DIR is not set (use a directory of mode 700)');
  return problems;
}

/**
 * Creates Dawn's `GPU` object (what `navigator.gpu` is in a browser) and installs the WebGPU
 * globals (`GPUBufferUsage`, ...) that are missing. Drop the result when done (keep no
 * reference) and destroy every device, or Node will not exit.
 *
 * @param flags Dawn toggles passed to `create()`, e.g. `['backend=vulkan']`; default none.
 * @throws Error from the `webgpu` package when its native module cannot load.
 */
export async function nodeGpu(flags: string[] = []): Promise<GPU> {
  const { create, globals } = await import('webgpu');
  for (const [name, value] of Object.entries(globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  return create(flags);
}

/**
 * {@link acquireCompute} with Dawn's GPU object in Node. When no adapter is found, the CPU
 * backend's reason lists what the environment lacks (see {@link nodeGpuEnvProblems}). When the
 * `webgpu` package cannot load, the CPU backend says so.
 *
 * @param options Passed to acquireCompute (`gpu` is replaced by Dawn's).
 */
export async function acquireNodeCompute(options: Omit<AcquireComputeOptions, 'gpu'> = {}): Promise<ComputeBackend> {
  if (options.prefer === 'cpu') return acquireCompute(options);
  let gpu: GPU;
  try {
    gpu = await nodeGpu();
  } catch (error) {
    return cpuBackend('no-webgpu', `the webgpu package (Dawn) did not load: ${(error as Error).message}`);
  }
  const backend = await acquireCompute({ ...options, gpu });
  if (backend.kind === 'cpu' && backend.cause === 'no-adapter') {
    const problems = nodeGpuEnvProblems();
    const hint = problems.length > 0
      ? `; in Node, Dawn needs SwiftShader: ${problems.join('; ')}`
      : '; the environment looks right for SwiftShader, so Vulkan or Dawn failed (try VK_LOADER_DEBUG=all)';
    return cpuBackend('no-adapter', backend.reason + hint);
  }
  return backend;
}
