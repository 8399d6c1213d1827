/**
 * The main job that `npm start` runs, as a function tests can start too.
 *
 * The main job is the Vite dev server serving `demos/` (the landing page at `/`, each demo at
 * `/<name>/`) and a libp2p relay (WebSockets for browsers, TCP for Node peers) whose address
 * the dev server hands to pages at `GET /peercompute/config.json` (`{ "relays": [...] }`, read
 * by `discoverRelays()` in netcode), so a multiplayer demo works with no configuration. Next to
 * that relay runs the archival peer (netcode/replication/archive.ts), which stores the Yjs
 * documents of `world*` rooms in `.peercompute/archive` so a world outlives its players. Tests
 * and `npm start` start exactly the same thing.
 *
 * @example
 * ```ts
 * import { startMainJob } from './scripts/server.ts';
 * const job = await startMainJob({ port: 0, relay: { port: 0, keyFile: false }, archive: false }); // free ports, throwaway relay id, no archive
 * console.log(job.urls.landing);                // "http://127.0.0.1:41234/"
 * console.log(job.urls.demos[0]?.url);          // "http://127.0.0.1:41234/arena/"
 * console.log(job.relays);                      // ["/ip4/127.0.0.1/tcp/38001/ws/p2p/12D3KooW..."]
 * await job.close();                            // dev server and relay
 * ```
 */
import { lookup } from 'node:dns/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer as createViteServer, type LogLevel, type ViteDevServer } from 'vite';
import { checkRelayAddr, NetcodeError } from '../netcode/index.ts';
import { startArchive, startRelay, type Archive, type Relay } from '../netcode/relay/index.ts';
import { discoverDemos, type DemoInfo } from './demos.ts';
import { relayConfigPlugin } from './relay-config.ts';

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
/** WebSocket port (browsers) of the main job's relay unless told otherwise; its TCP port (Node peers) is the next one. */
export const DEFAULT_RELAY_PORT = 9090;
/**
 * Key file holding the main job's relay identity, so its peer id stays the same across
 * restarts: `<repo>/.peercompute/relay-key.json` (gitignored; created with mode 600).
 */
export const DEFAULT_RELAY_KEY_FILE = path.join(REPO_ROOT, '.peercompute', 'relay-key.json');
/**
 * LevelDB directory of the main job's archival peer: `<repo>/.peercompute/archive` (gitignored).
 * One process at a time: a second main job on the same directory runs without an archive.
 */
export const DEFAULT_ARCHIVE_DIR = path.join(REPO_ROOT, '.peercompute', 'archive');

/**
 * Addresses exempt from the relay's per-IP connection rate limit: loopback, where every tab
 * of a developer's browser and every local test comes from.
 */
export const RELAY_ALLOW_LOOPBACK: readonly string[] = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'];

/** Stable codes of {@link MainJobError}. */
export type MainJobErrorCode =
  /**
   * A requested port is taken and strict ports are on, or it and every fallback are. Data:
   * `host`, `port` (the first one asked for), and `service: 'relay'` for the relay's ports.
   */
  | 'PortInUse'
  /** An option is out of range, e.g. a port outside 0..65535 or an external relay address that is not a relay multiaddr. Data: `option`, `value`. */
  | 'BadOption'
  /** The relay could not start for another reason (key file unreadable, listen error). Data: `reason`. */
  | 'RelayFailed';

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

/** Options of the relay the main job starts ({@link MainJobOptions.relay}). Every field is optional. */
export interface MainJobRelayOptions {
  /** WebSocket port for browsers, 0..65535 (0 = any free port). Default {@link DEFAULT_RELAY_PORT} (9090). */
  port?: number;
  /** TCP port for Node peers (bots, tests), 0..65535. Default `port + 1` (0 when `port` is 0). */
  tcpPort?: number;
  /**
   * When `true`, a taken port fails with {@link MainJobError} code `'PortInUse'`; when `false`,
   * the next free pair among the next 10 (`port + 2`, `port + 4`, ...) is used and
   * {@link MainJob.relayPortChanged} tells so. Default `false`.
   */
  strictPort?: boolean;
  /** Key file of the relay's identity (created if missing); `false` for a new peer id each start. Default {@link DEFAULT_RELAY_KEY_FILE}. */
  keyFile?: string | false;
}

/** Options of the archival peer the main job starts ({@link MainJobOptions.archive}). Every field is optional. */
export interface MainJobArchiveOptions {
  /** LevelDB directory (created if missing). Default {@link DEFAULT_ARCHIVE_DIR}. */
  dir?: string;
  /** Archive rooms whose id starts with this (`''`: every room). Default `'world'`. */
  roomPrefix?: string;
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
  /**
   * The relay pages use: options of the one the main job starts, or `false` to start none (pages
   * then need `?relay=<multiaddr>`). It listens on the same address as the dev server (a host
   * name is resolved; `localhost` is 127.0.0.1). Ignored when {@link externalRelays} is
   * non-empty. Default `{}`: start one on ports 9090 (WebSocket) and 9091 (TCP) or the next
   * free pair, with the identity in {@link DEFAULT_RELAY_KEY_FILE}.
   */
  relay?: MainJobRelayOptions | false;
  /**
   * Relays started elsewhere (`npm run relay`, a public relay), served to pages instead of
   * starting one: multiaddrs ending with `/p2p/<relay peer id>`, browsers need `/ws` or `/wss`
   * ones. Default `[]`.
   */
  externalRelays?: readonly string[];
  /**
   * The archival peer: options, or `false` for none. It runs only next to a relay this job
   * starts (not with `relay: false` or {@link externalRelays}), joins rooms whose id starts with
   * `world` as pages join them, and stores their documents in {@link DEFAULT_ARCHIVE_DIR}. It
   * starts while Vite does; when it cannot start (directory locked by another job, not
   * writable, ...) the job runs without it and {@link MainJob.archiveError} says why: it never
   * makes the job fail. Default `{}`.
   */
  archive?: MainJobArchiveOptions | false;
  /**
   * Vite's dependency cache folder. Default `node_modules/.vite` (vite.config.ts). A second main
   * job running at the same time as another (a test in a network namespace) gives its own, so
   * the two do not optimise dependencies into one folder at once.
   */
  viteCacheDir?: string;
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

/** Where the relay served to pages comes from: started by the job, given as external, or none. */
export type RelaySource = 'started' | 'external' | 'none';

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
  /** Where {@link relays} come from. */
  relaySource: RelaySource;
  /**
   * Relay multiaddrs served to pages at `/peercompute/config.json` (for a page that reached the
   * dev server at {@link MainJobUrls.landing}): the started relay's `/ws` addresses, or the
   * external ones; `[]` with `relay: false`. A relay listening on a wildcard address is named,
   * for each page, by the host that page used.
   */
  relays: readonly string[];
  /**
   * Relay multiaddrs served to a page that reached the dev server at `host` (the HTTP `Host`
   * header, e.g. `"192.168.1.20:5173"`): differs from {@link relays} only for a relay listening
   * on a wildcard address.
   */
  relaysForHost(host: string): readonly string[];
  /** The relay this job started (multiaddrs for Node peers in `relay.tcpMultiaddrs`, metrics), else `undefined`. */
  relay: Relay | undefined;
  /** `true` when the relay's requested ports were taken and a higher free pair was used instead. */
  relayPortChanged: boolean;
  /** The archival peer, when it runs (`archive.dir`, `archive.peerId`, `archive.rooms()`). */
  archive: Archive | undefined;
  /** Why the archive is not running although it was asked for (it failed to start), else `undefined`. */
  archiveError: string | undefined;
  /**
   * Stops everything the job started: file watchers, the HMR socket, the HTTP server, the
   * archive (which writes what it holds) and the relay.
   * Safe to call more than once; later calls return the first call's promise.
   */
  close(): Promise<void>;
}

/** How many ports above the requested one are tried when it is taken and `strictPort` is off. */
const PORT_FALLBACK_ATTEMPTS = 20;
/** How many port pairs (WebSocket, TCP) the relay tries when its ports are taken and `strictPort` is off. */
const RELAY_PORT_FALLBACK_ATTEMPTS = 10;

/**
 * Starts the main job: the relay (unless told otherwise), then the Vite dev server for `demos/`
 * using `vite.config.ts`, which answers `GET /peercompute/config.json` with the relay's
 * addresses, and meanwhile the archival peer next to the relay (unless `archive: false`; it
 * adds about 0.3-0.5 s, mostly loading WebRTC for Node, and its failure never fails the job).
 *
 * Vite runs in middleware mode behind an HTTP server owned by this function, so that Vite
 * installs no SIGTERM or stdin handler of its own: stopping is decided by the caller through
 * `close()` (scripts/start.ts does it on SIGINT/SIGTERM). HMR shares the same port.
 *
 * Resolves once both listen (and the archive runs or has failed). The first request to a demo
 * may take a few seconds more while Vite pre-bundles Babylon, Rapier and libp2p into
 * `node_modules/.vite`.
 *
 * @param options See {@link MainJobOptions}; `{}` gives `http://127.0.0.1:5173/` and a relay on
 *   127.0.0.1 ports 9090 (WebSocket) and 9091 (TCP).
 * @returns The running job; call `close()` to stop it.
 * @throws MainJobError code `'PortInUse'` when a port (dev server or relay) is taken and its
 *   strict flag is set, or when it and every fallback are taken; `'BadOption'` for a port
 *   outside 0..65535, an empty host or an external relay that is not a relay multiaddr;
 *   `'RelayFailed'` when the relay cannot start otherwise (unreadable key file, ...). Other
 *   listen errors of the dev server (e.g. `EACCES` for a privileged port, `EADDRNOTAVAIL` for a
 *   host that is not a local address) are rethrown as Node gives them. Nothing stays running
 *   after a throw.
 */
export async function startMainJob(options: MainJobOptions = {}): Promise<MainJob> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  const strictPort = options.strictPort ?? false;
  checkPort('port', port);
  if (host.trim() === '') {
    throw new MainJobError('BadOption', 'Host must not be empty', { option: 'host', value: host });
  }
  const external = (options.externalRelays ?? []).map((addr) => {
    try {
      return checkRelayAddr(addr, 'external relay');
    } catch (error) {
      throw new MainJobError('BadOption', (error as Error).message, { option: 'externalRelays', value: addr });
    }
  });
  const relayOptions = external.length > 0 || options.relay === false ? undefined : options.relay ?? {};
  if (relayOptions !== undefined) {
    if (relayOptions.port !== undefined) checkPort('relay.port', relayOptions.port);
    if (relayOptions.tcpPort !== undefined) checkPort('relay.tcpPort', relayOptions.tcpPort);
  }

  let relay: Relay | undefined;
  let relayPortChanged = false;
  let relayHost = '';
  if (relayOptions !== undefined) {
    relayHost = await relayHostFor(host);
    ({ relay, portChanged: relayPortChanged } = await startJobRelay(relayHost, relayOptions));
  }
  const relaySource: RelaySource = relay !== undefined ? 'started' : external.length > 0 ? 'external' : 'none';
  // The archive starts while Vite does; awaited before returning.
  const archiveStart = relay === undefined || options.archive === false
    ? undefined
    : startJobArchive(relay, options.archive ?? {}, options.logLevel ?? 'info');
  const stopArchive = async (): Promise<void> => {
    const started = await archiveStart;
    await started?.archive?.close();
  };
  const relaysFor = (hostHeader: string | undefined): string[] => {
    if (relay === undefined) return external;
    return isWildcard(relayHost) ? wildcardRelayAddrs(relay, hostHeader) : [...relay.wsMultiaddrs];
  };

  const httpServer = createHttpServer();
  let vite: ViteDevServer;
  try {
    vite = await createViteServer({
      configFile: VITE_CONFIG_PATH,
      logLevel: options.logLevel ?? 'info',
      clearScreen: false,
      ...(options.viteCacheDir === undefined ? {} : { cacheDir: options.viteCacheDir }),
      // Added to vite.config.ts's plugins (Vite concatenates plugin lists).
      plugins: [relayConfigPlugin((req: IncomingMessage) => relaysFor(req.headers.host))],
      server: { middlewareMode: { server: httpServer }, ws: { server: httpServer } },
    });
  } catch (error) {
    await stopArchive();
    await relay?.close();
    throw error;
  }
  // `vite.middlewares` stays the same object across Vite's own restarts (on config edits).
  httpServer.on('request', (req, res) => vite.middlewares(req, res));

  let actualPort: number;
  try {
    actualPort = await listenWithFallback(httpServer, host, port, strictPort);
  } catch (error) {
    await vite.close();
    await stopArchive();
    await relay?.close();
    throw error;
  }
  const { archive, error: archiveError } = (await archiveStart) ?? {};

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
    relaySource,
    relays: relaysFor(new URL(landing).host),
    relaysForHost: relaysFor,
    relay,
    relayPortChanged,
    archive,
    archiveError,
    close() {
      // The archive first: it writes what it holds while its relay is still there.
      closing ??= Promise.all([vite.close(), closeHttpServer(httpServer), stopArchive().finally(() => relay?.close())]).then(() => undefined);
      return closing;
    },
  };
}

function checkPort(option: string, port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MainJobError('BadOption', `${option === 'port' ? 'Port' : option} must be an integer in 0..65535, got ${port}`, { option, value: port });
  }
}

/**
 * The address the relay listens on for a dev server listening on `host`: the same IP address
 * or wildcard, 127.0.0.1 for `localhost`, else the host name resolved (IPv4 first).
 */
async function relayHostFor(host: string): Promise<string> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) !== 0) return bare;
  if (bare === 'localhost') return '127.0.0.1';
  try {
    return (await lookup(bare, { family: 4 })).address;
  } catch {
    return (await lookup(bare)).address;
  }
}

/**
 * Starts the relay on `host`: on the requested pair of ports, or with `strictPort` off the
 * first free pair among {@link RELAY_PORT_FALLBACK_ATTEMPTS}.
 */
async function startJobRelay(host: string, options: MainJobRelayOptions): Promise<{ relay: Relay; portChanged: boolean }> {
  const wsPort = options.port ?? DEFAULT_RELAY_PORT;
  const tcpPort = options.tcpPort ?? (wsPort === 0 ? 0 : Math.min(65535, wsPort + 1));
  const keyFile = options.keyFile === false ? undefined : options.keyFile ?? DEFAULT_RELAY_KEY_FILE;
  const attempts = options.strictPort === true || (wsPort === 0 && tcpPort === 0) ? 1 : RELAY_PORT_FALLBACK_ATTEMPTS;
  for (let i = 0; i < attempts; i++) {
    const ws = wsPort === 0 ? 0 : wsPort + 2 * i;
    const tcp = tcpPort === 0 ? 0 : tcpPort + 2 * i;
    if (ws > 65535 || tcp > 65535) break;
    if (!(await portFree(host, ws)) || !(await portFree(host, tcp))) continue;
    try {
      const relay = await startRelay({ host, wsPort: ws, tcpPort: tcp, allow: RELAY_ALLOW_LOOPBACK, ...(keyFile === undefined ? {} : { keyFile }) });
      return { relay, portChanged: i > 0 };
    } catch (error) {
      // Another program took a port between the check and the listen: try the next pair.
      if (error instanceof NetcodeError && error.code === 'Relay' && /EADDRINUSE/.test(error.message)) continue;
      throw new MainJobError('RelayFailed', `The relay could not start: ${error instanceof Error ? error.message : String(error)}`, {
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }
  const ports = attempts === 1 ? `Ports ${wsPort} (WebSocket) and ${tcpPort} (TCP) are` : `Port pairs from ${wsPort}/${tcpPort} on (${attempts} pairs) are all`;
  throw new MainJobError(
    'PortInUse',
    `${ports} in use on ${host} for the relay. Stop the program using them, or choose others (--relay-port N; 0 picks free ports), or run without it (--no-relay).`,
    { host, port: wsPort, service: 'relay' },
  );
}

/**
 * Starts the archival peer next to the job's relay (its room topics watched directly). Never
 * throws: a failure comes back as `error`. Status lines go to the console unless the log level
 * is `warn` or quieter.
 */
async function startJobArchive(relay: Relay, options: MainJobArchiveOptions, logLevel: LogLevel): Promise<{ archive?: Archive; error?: string }> {
  const verbose = logLevel === 'info';
  try {
    const archive = await startArchive({
      relays: relay.tcpMultiaddrs,
      dir: options.dir ?? DEFAULT_ARCHIVE_DIR,
      ...(options.roomPrefix === undefined ? {} : { roomPrefix: options.roomPrefix }),
      relayPubsub: relay.libp2p.services.pubsub,
      peer: { allow: [...RELAY_ALLOW_LOOPBACK] },
      log: verbose ? (line) => console.log(`archive: ${line}`) : () => {},
    });
    return { archive };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** Whether `port` on `host` can be listened on now (0: always). Rethrows errors other than EADDRINUSE. */
function portFree(host: string, port: number): Promise<boolean> {
  if (port === 0) return Promise.resolve(true);
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(false) : reject(error)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/**
 * The relay's WebSocket address as a page reaching the dev server at `hostHeader` (the HTTP
 * `Host` header, e.g. `192.168.1.20:5173`) can dial it, for a relay listening on a wildcard
 * address. Without a usable header: the relay's own `/ws` addresses.
 */
function wildcardRelayAddrs(relay: Relay, hostHeader: string | undefined): string[] {
  const port = /\/tcp\/(\d+)\/ws\//.exec(relay.wsMultiaddrs[0] ?? '')?.[1];
  let hostname: string | undefined;
  try {
    hostname = hostHeader === undefined ? undefined : new URL(`http://${hostHeader}`).hostname;
  } catch {
    hostname = undefined;
  }
  if (port === undefined || hostname === undefined || hostname === '') return [...relay.wsMultiaddrs];
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const protocol = isIP(bare) === 4 ? 'ip4' : isIP(bare) === 6 ? 'ip6' : 'dns4';
  return [`/${protocol}/${bare}/tcp/${port}/ws/p2p/${relay.peerId}`];
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
