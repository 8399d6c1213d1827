/**
 * Loading the Rapier library (`@dimforge/rapier3d-deterministic-compat`).
 *
 * The deterministic build computes bit-identical results on every machine, which rollback and
 * cross-peer checksums need. Its WebAssembly is embedded in the JavaScript as base64: it is
 * imported lazily by {@link initPhysics} (so importing the engine stays cheap and side-effect
 * free) and instantiated once per JavaScript realm. The module-level promise below caches a
 * loaded library, not simulation state.
 *
 * @example
 * ```ts
 * await initPhysics();                 // once, before createPhysics
 * const physics = createPhysics(world, scheduler);
 * ```
 */
import type * as RapierModule from '@dimforge/rapier3d-deterministic-compat';
import { EngineError } from '../errors.ts';

/** The Rapier module namespace (classes `World`, `RigidBodyDesc`, `ColliderDesc`, ...). */
export type Rapier = typeof RapierModule;

let loaded: Rapier | undefined;
let loading: Promise<Rapier> | undefined;

/**
 * Loads and instantiates Rapier's WebAssembly. Idempotent: every call returns the same promise
 * once loading started, and resolves immediately once it finished (~120 ms the first time on a
 * 2-core machine, mostly base64 decoding and compiling 3 MB of WASM). A failed load may be
 * retried by calling again.
 */
export function initPhysics(): Promise<void> {
  loading ??= import('@dimforge/rapier3d-deterministic-compat').then(
    async (mod) => {
      await mod.init();
      loaded = mod;
      return mod;
    },
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading.then(() => undefined);
}

/** Whether {@link initPhysics} has finished, so that `createPhysics` may be called. */
export function isPhysicsReady(): boolean {
  return loaded !== undefined;
}

/**
 * The loaded Rapier module.
 * @throws EngineError `Physics` when {@link initPhysics} has not resolved yet.
 */
export function rapier(): Rapier {
  if (!loaded) {
    throw new EngineError('Physics', 'Rapier is not initialized: await initPhysics() once before createPhysics()', {});
  }
  return loaded;
}
