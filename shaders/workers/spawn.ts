/**
 * Starting one kernel worker (shaders/workers/worker-entry.ts) in the browser or in Node, behind
 * one small interface so the pool does not care which.
 *
 * - Browser: `new Worker(new URL('./worker-entry.ts', import.meta.url), { type: 'module' })`,
 *   written out literally so that Vite serves (dev) or bundles (build) the entry as a worker.
 * - Node: `worker_threads`, imported through a computed specifier so browser bundles never see
 *   it. The entry is TypeScript: Node 20 does not apply `--import tsx` hooks to a worker's
 *   entry, so the worker starts from a two-line bootstrap that registers tsx's ESM hooks
 *   (`tsx/esm/api`, resolved from this file) and then imports the entry. That needs the `tsx`
 *   package installed (a devDependency here); without it starting fails with `WorkerStart`.
 */
import { ShadersError } from '../errors.ts';
import type { PoolToWorker, WorkerToPool } from './protocol.ts';

/** V8 heap limits of a Node worker (`worker_threads` `resourceLimits`), MiB. Ignored in browsers. */
export interface NodeWorkerLimits {
  /** Old generation heap, MiB; a worker going over it dies with "out of memory" (a crash). */
  readonly maxOldGenerationSizeMb?: number;
  /** Young generation heap, MiB. */
  readonly maxYoungGenerationSizeMb?: number;
  /** Thread stack, MiB (Node's default is 4). */
  readonly stackSizeMb?: number;
}

/** What a started worker reports. Both callbacks run on the pool's thread. */
export interface KernelWorkerEvents {
  /** A message from the worker (see protocol.ts). */
  message(message: WorkerToPool): void;
  /**
   * The worker died without being asked to (uncaught error, `process.exit`, out of memory, a
   * message that could not be deserialized). Not called after {@link KernelWorker.terminate}.
   * @param reason Human-readable cause, e.g. `"Error: boom"` or `"exited with code 3"`.
   * @param exitCode Node's exit code; undefined in browsers.
   */
  crash(reason: string, exitCode: number | undefined): void;
}

/** One running worker, browser or Node. */
export interface KernelWorker {
  /** `'web'`: a browser Web Worker; `'node'`: a `worker_threads` Worker. */
  readonly kind: 'web' | 'node';
  /** Posts a message, transferring the listed buffers (they are detached afterwards). */
  post(message: PoolToWorker, transfer: ArrayBuffer[]): void;
  /** Stops the worker at once, even inside a running kernel. Resolves once it has stopped. Safe to call twice. */
  terminate(): Promise<void>;
  /** Node: whether this worker keeps the process alive (busy: yes; idle: no). No-op in browsers. */
  keepAlive(on: boolean): void;
  /** Resolves once the worker has stopped, whatever the reason. */
  readonly exited: Promise<void>;
}

/** Options of {@link spawnKernelWorker}. */
export interface SpawnKernelWorkerOptions {
  /** Worker name shown in devtools / Node's inspector. Default `'peercompute-kernels'`. */
  readonly name?: string;
  /** Node heap limits; default none (Node's defaults). */
  readonly nodeResourceLimits?: NodeWorkerLimits;
}

/** File name of the entry, relative to this file (a variable: only the browser path may name it literally). */
const ENTRY_FILE = './worker-entry.ts';

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * Starts one kernel worker.
 *
 * @param events Where its messages and an unexpected death are reported.
 * @param options See {@link SpawnKernelWorkerOptions}.
 * @returns The worker, already running (its entry may still be loading; messages posted now
 *   are delivered once it listens).
 * @throws ShadersError `WorkerStart` (`data.reason`) when neither Web Workers nor
 *   `worker_threads` exist, the Node worker cannot be created, or `tsx` cannot be found.
 */
export async function spawnKernelWorker(events: KernelWorkerEvents, options: SpawnKernelWorkerOptions = {}): Promise<KernelWorker> {
  const name = options.name ?? 'peercompute-kernels';
  try {
    if (!isNode() && typeof Worker === 'function') return spawnWeb(events, name);
    if (isNode()) return await spawnNode(events, name, options.nodeResourceLimits);
  } catch (error) {
    if (error instanceof ShadersError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new ShadersError('WorkerStart', `could not start a kernel worker: ${reason}`, { reason });
  }
  throw new ShadersError('WorkerStart', 'could not start a kernel worker: this environment has neither Web Workers nor worker_threads', {
    reason: 'no worker support',
  });
}

function spawnWeb(events: KernelWorkerEvents, name: string): KernelWorker {
  const worker = new Worker(new URL('./worker-entry.ts', import.meta.url), { type: 'module', name });
  let stopped = false;
  let markExited: () => void = () => {};
  const exited = new Promise<void>((resolve) => { markExited = resolve; });
  // Worker#terminate() stops the worker at once; browsers send no exit event.
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    worker.terminate();
    markExited();
  };
  worker.addEventListener('message', (event: MessageEvent<WorkerToPool>) => {
    if (!stopped) events.message(event.data);
  });
  // A browser worker survives an uncaught error, but its task never answers: end it and report.
  worker.addEventListener('error', (event: ErrorEvent) => {
    event.preventDefault();
    if (stopped) return;
    stop();
    events.crash(event.message || 'the worker failed (script error or failed to load)', undefined);
  });
  worker.addEventListener('messageerror', () => {
    if (stopped) return;
    stop();
    events.crash('a message from the worker could not be deserialized', undefined);
  });
  return {
    kind: 'web',
    post: (message, transfer) => worker.postMessage(message, transfer),
    terminate: () => {
      stop();
      return exited;
    },
    keepAlive: () => {},
    exited,
  };
}

/** `file:` URL of tsx's ESM registration API, read from tsx's package exports; cached. */
let tsxApiUrl: string | undefined;

async function findTsxApi(): Promise<string> {
  if (tsxApiUrl !== undefined) return tsxApiUrl;
  const moduleSpecifier = 'node:module';
  const urlSpecifier = 'node:url';
  const { createRequire } = (await import(/* @vite-ignore */ moduleSpecifier)) as typeof import('node:module');
  const { pathToFileURL } = (await import(/* @vite-ignore */ urlSpecifier)) as typeof import('node:url');
  const require = createRequire(import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve('tsx/package.json');
  } catch {
    throw new ShadersError('WorkerStart', 'Node kernel workers load TypeScript through tsx, which is not installed (npm install -D tsx)', {
      reason: 'tsx not found',
    });
  }
  const manifest = require(packageJson) as { exports?: Record<string, { import?: { default?: string } } | string> };
  const entry = manifest.exports?.['./esm/api'];
  const target = typeof entry === 'object' ? entry.import?.default : undefined;
  if (typeof target !== 'string') {
    throw new ShadersError('WorkerStart', 'the installed tsx has no "./esm/api" import export', { reason: 'tsx without esm/api' });
  }
  tsxApiUrl = new URL(target, pathToFileURL(packageJson)).href;
  return tsxApiUrl;
}

async function spawnNode(events: KernelWorkerEvents, name: string, limits: NodeWorkerLimits | undefined): Promise<KernelWorker> {
  const specifier = 'node:worker_threads';
  const threads = (await import(/* @vite-ignore */ specifier)) as typeof import('node:worker_threads');
  const entry = new URL(ENTRY_FILE, import.meta.url);
  const resourceLimits = limits === undefined ? undefined : { ...limits };
  let worker: import('node:worker_threads').Worker;
  if (entry.pathname.endsWith('.ts')) {
    const api = await findTsxApi();
    // Runs as a CommonJS script; a failed import is an unhandled rejection, which ends the
    // worker with an 'error' event (reported as a crash before 'ready').
    const bootstrap = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
    worker = new threads.Worker(bootstrap, { eval: true, name, resourceLimits });
  } else {
    worker = new threads.Worker(entry, { name, resourceLimits });
  }
  let terminating = false;
  let lastError: string | undefined;
  let crashed = false;
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', (code: number) => {
      resolve();
      if (terminating || crashed) return;
      crashed = true;
      events.crash(lastError ?? `exited with code ${code}`, code);
    });
  });
  worker.on('message', (message: WorkerToPool) => {
    if (!terminating && !crashed) events.message(message);
  });
  worker.on('error', (error: Error) => {
    // 'exit' follows; report there, with this reason.
    lastError = `${error.name}: ${error.message}${'code' in error ? ` (${String(error.code)})` : ''}`;
  });
  worker.on('messageerror', (error: Error) => {
    if (terminating || crashed) return;
    crashed = true;
    void worker.terminate();
    events.crash(`a message from the worker could not be deserialized: ${error.message}`, undefined);
  });
  return {
    kind: 'node',
    post: (message, transfer) => worker.postMessage(message, transfer),
    terminate: async () => {
      terminating = true;
      await worker.terminate();
      await exited;
    },
    keepAlive: (on) => {
      if (on) worker.ref();
      else worker.unref();
    },
    exited,
  };
}
