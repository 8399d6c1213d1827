/**
 * The main job that `npm start` runs, as a function tests can start too.
 *
 * Today the main job is the Vite dev server serving `demos/` (the landing page at `/`, each demo
 * at `/<name>/`). The libp2p relay will join it here, so `npm start` and the browser tests keep
 * starting exactly the same thing.
 *
 * @example
 * ```ts
 * import { startMainJob } from './scripts/server.ts';
 * const job = await startMainJob({ port: 0 }); // 0 = any free port
 * console.log(job.urls.landing);                // "http://127.0.0.1:41234/"
 * console.log(job.urls.demos[0]?.url);          // "http://127.0.0.1:41234/arena/"
 * await job.close();
 * ```
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer as createViteServer, type LogLevel, type ViteDevServer } from 'vite';
import { discoverDemos, type DemoInfo } from './demos.ts';

/** Absolute path of the repository root (the folder holding `package.json`). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Absolute path of the `demos/` folder, the dev server's root. */
export const DEMOS_DIR = path.join(REPO_ROOT, 'demos');
/** Absolute path of the Vite config the main job loads. */
export const VITE_CONFIG_PATH = path.join(REPO_ROOT, 'vite.config.ts');

/** Address the dev server listens on unless told otherwise: loopback only. */
export const DEFAULT_HOST = '127.0.0.1';
/** Port the dev server listens on unless told otherwise. */
export const DEFAULT_PORT = 5173;

/** Stable codes of {@link MainJobError}. */
export type MainJobErrorCode =
  /** The requested port is taken and `strictPort` is set, or it and the next 20 are. Data: `host`, `port`. */
  | 'PortInUse'
  /** An option is out of range, e.g. a port outside 0..65535. Data: `option`, `value`. */
  | 'BadOption';

/** The one error class of the scripts area; `code` is stable, the message is for people. */
export class MainJobError extends Error {
  override name = 'MainJobError';
  constructor(
    readonly code: MainJobErrorCode,
    message: string,
    readonly data: Readonly<Record<string, string | number>> = {},
  ) {
    super(message);
  }
}

/** Options of {@link startMainJob}. Every field is optional. */
export interface MainJobOptions {
  /** Address to listen on. Default {@link DEFAULT_HOST} (`"127.0.0.1"`); `"0.0.0.0"` for all IPv4 interfaces. */
  host?: string;
  /** TCP port, 0..65535. `0` picks any free port (what tests use). Default {@link DEFAULT_PORT} (5173). */
  port?: number;
  /**
   * When `true`, a port in use fails with {@link MainJobError} code `'PortInUse'`; when
   * `false`, the first free port among the next 20 is used and {@link MainJob.portChanged}
   * tells so. Default `false`.
   */
  strictPort?: boolean;
  /** Vite's log level for request errors, HMR updates and dependency optimisation. Default `"info"`. */
  logLevel?: LogLevel;
}

/** One demo's address, as printed by `npm start`. */
export interface DemoUrl extends Pick<DemoInfo, 'name' | 'label' | 'title' | 'description'> {
  /** Absolute URL with a trailing slash, e.g. `"http://127.0.0.1:5173/arena/"`. */
  url: string;
}

/** Addresses of a running main job. */
export interface MainJobUrls {
  /**
   * Landing page listing the demos, also the base URL: e.g. `"http://127.0.0.1:5173/"`.
   * With a wildcard host it uses `127.0.0.1`.
   */
  landing: string;
  /** With a wildcard host (`0.0.0.0`, `::`): the base URL on each external IPv4 address; else `[]`. */
  network: string[];
  /** One entry per `demos/<name>/index.html` found at start, sorted by name. */
  demos: DemoUrl[];
}

/** A running main job, from {@link startMainJob}. */
export interface MainJob {
  /** Where to point a browser. */
  urls: MainJobUrls;
  /** Port actually listened on (differs from the requested one after a fallback or with port 0). */
  port: number;
  /** `true` when the requested port was taken and a higher free one was used instead. */
  portChanged: boolean;
  /** The underlying Vite dev server (middleware mode), for tests that need it (e.g. `vite.config.root`). */
  vite: ViteDevServer;
  /**
   * Stops everything the job started: file watchers, the HMR socket and the HTTP server.
   * Safe to call more than once; later calls return the first call's promise.
   */
  close(): Promise<void>;
}

/** How many ports above the requested one are tried when it is taken and `strictPort` is off. */
const PORT_FALLBACK_ATTEMPTS = 20;

/**
 * Starts the main job: the Vite dev server for `demos/` using `vite.config.ts`.
 *
 * Vite runs in middleware mode behind an HTTP server owned by this function, so that Vite
 * installs no SIGTERM or stdin handler of its own: stopping is decided by the caller through
 * `close()` (scripts/start.ts does it on SIGINT/SIGTERM). HMR shares the same port.
 *
 * Resolves once the server listens. The first request to a demo may take a few seconds more
 * while Vite pre-bundles Babylon and Rapier into `node_modules/.vite`.
 *
 * @param options See {@link MainJobOptions}; `{}` gives `http://127.0.0.1:5173/`.
 * @returns The running job; call `close()` to stop it.
 * @throws MainJobError code `'PortInUse'` when the port is taken and `strictPort` is set, or
 *   when it and the next 20 ports are all taken; code `'BadOption'` for a port outside
 *   0..65535 or an empty host. Other listen errors (e.g. `EACCES` for a privileged port,
 *   `EADDRNOTAVAIL` for a host that is not a local address) are rethrown as Node gives them.
 */
export async function startMainJob(options: MainJobOptions = {}): Promise<MainJob> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  const strictPort = options.strictPort ?? false;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MainJobError('BadOption', `Port must be an integer in 0..65535, got ${port}`, { option: 'port', value: port });
  }
  if (host.trim() === '') {
    throw new MainJobError('BadOption', 'Host must not be empty', { option: 'host', value: host });
  }

  const httpServer = createHttpServer();
  const vite = await createViteServer({
    configFile: VITE_CONFIG_PATH,
    logLevel: options.logLevel ?? 'info',
    clearScreen: false,
    server: { middlewareMode: { server: httpServer }, ws: { server: httpServer } },
  });
  // `vite.middlewares` stays the same object across Vite's own restarts (on config edits).
  httpServer.on('request', (req, res) => vite.middlewares(req, res));

  let actualPort: number;
  try {
    actualPort = await listenWithFallback(httpServer, host, port, strictPort);
  } catch (error) {
    await vite.close();
    throw error;
  }

  const landing = `http://${formatHost(isWildcard(host) ? '127.0.0.1' : host)}:${actualPort}/`;
  const network = isWildcard(host) ? externalAddresses().map((address) => `http://${formatHost(address)}:${actualPort}/`) : [];
  const demos = discoverDemos(DEMOS_DIR).map((demo) => ({
    name: demo.name,
    label: demo.label,
    title: demo.title,
    description: demo.description,
    url: new URL(`${encodeURIComponent(demo.name)}/`, landing).href,
  }));

  let closing: Promise<void> | undefined;
  return {
    urls: { landing, network, demos },
    port: actualPort,
    portChanged: port !== 0 && actualPort !== port,
    vite,
    close() {
      closing ??= Promise.all([vite.close(), closeHttpServer(httpServer)]).then(() => undefined);
      return closing;
    },
  };
}

/**
 * Listens on `port`, or with `strictPort` off on the first free port among the next
 * {@link PORT_FALLBACK_ATTEMPTS}. Port 0 lets the OS choose.
 *
 * @returns The port listened on.
 */
async function listenWithFallback(server: Server, host: string, port: number, strictPort: boolean): Promise<number> {
  const last = strictPort || port === 0 ? port : Math.min(65535, port + PORT_FALLBACK_ATTEMPTS);
  for (let candidate = port; candidate <= last; candidate++) {
    try {
      return await listenOnce(server, host, candidate);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
  const hint = 'Stop the program using it, or choose another port (--port N or PORT=N; --port 0 picks any free port).';
  throw new MainJobError(
    'PortInUse',
    last === port ? `Port ${port} on ${host} is already in use. ${hint}` : `Ports ${port}..${last} on ${host} are all in use. ${hint}`,
    { host, port },
  );
}

function listenOnce(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = (): void => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Stops accepting connections and drops open ones (browsers keep HTTP connections alive). */
function closeHttpServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** Non-internal IPv4 addresses of this machine, for the "Network" URLs. */
function externalAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((info) => info !== undefined && info.family === 'IPv4' && !info.internal)
    .map((info) => (info as { address: string }).address);
}

/** Brackets an IPv6 literal for use in a URL. */
function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
