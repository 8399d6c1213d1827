/**
 * Choosing a Babylon engine: WebGL2 by default, WebGPU when the page asks and the browser has it.
 *
 * @example
 * ```ts
 * const prefer = new URLSearchParams(location.search).get('engine') === 'webgpu' ? 'webgpu' : 'webgl';
 * const { engine, backend, fallbackReason } = await createBabylonEngine(canvas, { prefer });
 * console.log(`rendering with ${backend}`, fallbackReason ?? '');
 * ```
 */
import type { AbstractEngine } from '@babylonjs/core/Engines/abstractEngine.js';
import { Engine } from '@babylonjs/core/Engines/engine.js';
import { BabylonPluginError } from './errors.ts';

/** Rendering backends {@link createBabylonEngine} can pick. */
export type BabylonBackend = 'webgpu' | 'webgl2' | 'webgl1';

/** Options of {@link createBabylonEngine}. */
export interface BabylonEngineOptions {
  /**
   * Which API to try first. `'webgpu'` creates a `WebGPUEngine` when `navigator.gpu` gives an
   * adapter and the engine initialises, and falls back to WebGL otherwise. Default `'webgl'`.
   */
  readonly prefer?: 'webgl' | 'webgpu';
  /** Multisample anti-aliasing of the default framebuffer. Default `true`. */
  readonly antialias?: boolean;
  /**
   * Render at the device pixel ratio (sharper, costlier on high-DPI screens). Default `true`.
   * With WebGPU this maps to the engine's `adaptToDeviceRatio` option.
   */
  readonly adaptToDeviceRatio?: boolean;
  /**
   * Keep the drawing buffer after presenting (needed by `canvas.toDataURL`, not by screenshots
   * taken by the browser). Default `false`.
   */
  readonly preserveDrawingBuffer?: boolean;
}

/** What {@link createBabylonEngine} made. */
export interface CreatedBabylonEngine {
  /** The engine: a `WebGPUEngine` (already initialised) or an `Engine` (WebGL). */
  readonly engine: AbstractEngine;
  /** The backend actually in use. */
  readonly backend: BabylonBackend;
  /**
   * Why WebGPU was not used although `prefer: 'webgpu'` asked for it (e.g. `"navigator.gpu is
   * missing"`, or the adapter/initialisation error message); `undefined` otherwise.
   */
  readonly fallbackReason: string | undefined;
}

/**
 * The backend an engine renders with: `'webgpu'`, `'webgl2'`, `'webgl1'`, or `'null'` for
 * Babylon's `NullEngine` (headless, no GPU).
 */
export function backendOf(engine: AbstractEngine): BabylonBackend | 'null' {
  if (engine.isWebGPU) return 'webgpu';
  if (engine.getClassName() === 'NullEngine') return 'null';
  const version = (engine as { webGLVersion?: number }).webGLVersion;
  return version === 1 ? 'webgl1' : 'webgl2';
}

/**
 * Creates a Babylon engine for `canvas`.
 *
 * With `prefer: 'webgpu'` it checks `navigator.gpu`, loads `WebGPUEngine` (a dynamic import, so
 * pages that stay on WebGL never download it), and awaits `initAsync()`; any failure falls back
 * to a WebGL `Engine` and is reported in `fallbackReason`. Core materials have WGSL shaders, so
 * no glslang/twgsl download from Babylon's CDN is needed for them.
 *
 * @param canvas the canvas to render into.
 * @returns the engine, its backend and, after a fallback, the reason.
 * @throws BabylonPluginError `InvalidConfig` when `prefer` is neither `'webgl'` nor `'webgpu'`;
 *   Babylon's error when even WebGL cannot be created (no WebGL in this browser).
 */
export async function createBabylonEngine(canvas: HTMLCanvasElement, options: BabylonEngineOptions = {}): Promise<CreatedBabylonEngine> {
  const prefer = options.prefer ?? 'webgl';
  if (prefer !== 'webgl' && prefer !== 'webgpu') {
    throw new BabylonPluginError('InvalidConfig', `createBabylonEngine: prefer must be 'webgl' or 'webgpu', got ${JSON.stringify(prefer)}`, {
      option: 'prefer',
      value: prefer,
    });
  }
  const antialias = options.antialias ?? true;
  const adaptToDeviceRatio = options.adaptToDeviceRatio ?? true;
  const preserveDrawingBuffer = options.preserveDrawingBuffer ?? false;
  let fallbackReason: string | undefined;
  if (prefer === 'webgpu') {
    const gpu = (globalThis.navigator as { gpu?: unknown } | undefined)?.gpu;
    if (gpu === undefined) {
      fallbackReason = 'navigator.gpu is missing (browser without WebGPU, or page not in a secure context)';
    } else {
      try {
        const { WebGPUEngine } = await import('@babylonjs/core/Engines/webgpuEngine.js');
        if (!(await WebGPUEngine.IsSupportedAsync)) {
          fallbackReason = 'navigator.gpu.requestAdapter() returned no adapter';
        } else {
          const engine = new WebGPUEngine(canvas, { antialias, adaptToDeviceRatio });
          await engine.initAsync();
          return { engine, backend: 'webgpu', fallbackReason: undefined };
        }
      } catch (error) {
        fallbackReason = `WebGPU initialisation failed: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
  }
  const engine = new Engine(canvas, antialias, { preserveDrawingBuffer, stencil: true }, adaptToDeviceRatio);
  return { engine, backend: engine.webGLVersion === 1 ? 'webgl1' : 'webgl2', fallbackReason };
}
