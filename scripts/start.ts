/**
 * `npm start`: runs the main job (see scripts/server.ts: dev server, relay, archive) until Ctrl+C,
 * printing where each demo is and the relay's addresses.
 *
 * Usage: `npm start -- [--port N] [--host ADDR] [--relay-port N | --no-relay | --relay ADDR...] [--archive-dir DIR | --no-archive]`
 * or `tsx scripts/start.ts --help`.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_ARCHIVE_DIR, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_RELAY_KEY_FILE, DEFAULT_RELAY_PORT, MainJobError, REPO_ROOT, startMainJob,
  type MainJob, type MainJobOptions,
} from './server.ts';
import { closeOnSignals, isMainModule } from '../netcode/relay/index.ts';

/** Text printed by `--help`. */
export const HELP_TEXT = `Usage: npm start -- [options]
       tsx scripts/start.ts [options]

Starts the PeerCompute main job: the Vite dev server for demos/ (landing page at /,
each demo at /<name>/) and a libp2p relay (WebSockets for browsers, TCP for Node peers) whose
address pages get from GET /peercompute/config.json, with its archival peer (stores world*
rooms on disk). Prints the URL of every demo and the relay's multiaddrs, then runs until
Ctrl+C or SIGTERM.

Options:
  -p, --port <n>     TCP port, 0..65535 (0 = any free port). Default: $PORT, else ${DEFAULT_PORT}.
                     When the port was given (flag or $PORT) and is taken, start fails; when
                     it was not given and ${DEFAULT_PORT} is taken, the next free port is used.
  -H, --host <addr>  Address to listen on. Default: ${DEFAULT_HOST} (this machine only).
                     Use 0.0.0.0 to accept other machines.
  -q, --quiet        Only print the URLs and errors, not Vite's request and HMR logs.
      --relay-port <n>
                     WebSocket port of the relay, 0..65535 (0 = any free port); its TCP port
                     is the next one. Default ${DEFAULT_RELAY_PORT}; when not given and taken, the next
                     free pair (${DEFAULT_RELAY_PORT + 2}/${DEFAULT_RELAY_PORT + 3}, ...) is used. The relay listens on --host
                     and keeps its peer id in ${path.relative(REPO_ROOT, DEFAULT_RELAY_KEY_FILE)}.
      --no-relay     Start no relay: pages need ?relay=<multiaddr> in their URL.
      --relay <multiaddr>
                     Use a relay started elsewhere (npm run relay, a public one) instead of
                     starting one: its browser address, ending with /p2p/<peer id>.
                     Repeatable (several relays).
      --archive-dir <path>
                     Directory where the archival peer next to the relay stores the Yjs
                     documents of world* rooms, so a world survives every player leaving.
                     Default ${path.relative(REPO_ROOT, DEFAULT_ARCHIVE_DIR)}. If it cannot start (e.g. another
                     npm start holds the directory), everything else runs without it.
      --no-archive   Start no archival peer.
  -h, --help         Show this help and exit.

Environment:
  PORT               Port to use when --port is not given.
`;

/** What {@link parseStartArgs} makes of the command line. */
export interface StartArgs {
  /** `true` when `--help`/`-h` was given: print {@link HELP_TEXT} and start nothing. */
  help: boolean;
  /**
   * Options for `startMainJob`. `strictPort` is `true` exactly when a port was given; likewise
   * `relay.strictPort` for `--relay-port`.
   */
  options: MainJobOptions;
}

/**
 * Parses `npm start` arguments with Node's `util.parseArgs`.
 *
 * @param argv Arguments after the script name, e.g. `process.argv.slice(2)`.
 * @param env Environment to read `PORT` from; default `process.env`.
 * @returns Parsed flags; defaults are left to `startMainJob` (host 127.0.0.1, port 5173).
 * @throws MainJobError code `'BadOption'` for a port that is not an integer in 0..65535, or
 *   `--relay` together with `--no-relay` or `--relay-port`;
 *   TypeError (code `ERR_PARSE_ARGS_UNKNOWN_OPTION`, ...) from `parseArgs` for unknown flags
 *   or a flag missing its value.
 */
export function parseStartArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): StartArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string', short: 'p' },
      host: { type: 'string', short: 'H' },
      quiet: { type: 'boolean', short: 'q', default: false },
      'relay-port': { type: 'string' },
      'no-relay': { type: 'boolean', default: false },
      relay: { type: 'string', multiple: true },
      'archive-dir': { type: 'string' },
      'no-archive': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const options: MainJobOptions = {};
  const portText = values.port ?? (env.PORT !== undefined && env.PORT !== '' ? env.PORT : undefined);
  if (portText !== undefined) {
    const source = values.port !== undefined ? '--port' : 'PORT';
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
      throw new MainJobError('BadOption', `${source} must be an integer in 0..65535, got "${portText}"`, {
        option: source,
        value: portText,
      });
    }
    options.port = Number(portText);
    options.strictPort = true;
  }
  if (values.host !== undefined) options.host = values.host;
  if (values.quiet) options.logLevel = 'warn';
  const external = values.relay ?? [];
  const relayPort = values['relay-port'];
  if (external.length > 0 && (values['no-relay'] || relayPort !== undefined)) {
    const other = values['no-relay'] ? '--no-relay' : '--relay-port';
    throw new MainJobError('BadOption', `--relay uses relays started elsewhere; it excludes ${other}`, { option: other, value: external[0]! });
  }
  if (values['no-relay'] && relayPort !== undefined) {
    throw new MainJobError('BadOption', '--no-relay excludes --relay-port', { option: '--relay-port', value: relayPort });
  }
  if (external.length > 0) options.externalRelays = external;
  else if (values['no-relay']) options.relay = false;
  else if (relayPort !== undefined) {
    if (!/^\d{1,5}$/.test(relayPort) || Number(relayPort) > 65535) {
      throw new MainJobError('BadOption', `--relay-port must be an integer in 0..65535, got "${relayPort}"`, { option: '--relay-port', value: relayPort });
    }
    options.relay = { port: Number(relayPort), strictPort: true };
  }
  const archiveDir = values['archive-dir'];
  if (archiveDir !== undefined && values['no-archive']) {
    throw new MainJobError('BadOption', '--no-archive excludes --archive-dir', { option: '--archive-dir', value: archiveDir });
  }
  if ((archiveDir !== undefined || values['no-archive']) && (external.length > 0 || values['no-relay'])) {
    const flag = archiveDir !== undefined ? '--archive-dir' : '--no-archive';
    throw new MainJobError('BadOption', `${flag}: the archive runs next to the relay this job starts; there is none with ${values['no-relay'] ? '--no-relay' : '--relay'}`, { option: flag, value: archiveDir ?? '' });
  }
  if (archiveDir !== undefined) {
    if (archiveDir.trim() === '') throw new MainJobError('BadOption', '--archive-dir must not be empty', { option: '--archive-dir', value: archiveDir });
    options.archive = { dir: path.resolve(archiveDir) };
  } else if (values['no-archive']) {
    options.archive = false;
  }
  return { help: values.help, options };
}

/**
 * Formats the banner `npm start` prints once the job listens, e.g.
 * ```
 * PeerCompute is running.
 *   Landing page:  http://127.0.0.1:5173/
 *   Arena demo:    http://127.0.0.1:5173/arena/
 *   Lobby demo:    http://127.0.0.1:5173/lobby/
 * Relay 12D3KooW... (key file .peercompute/relay-key.json; pages get it from /peercompute/config.json):
 *   Browsers:      /ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooW...
 *   Node:          /ip4/127.0.0.1/tcp/9091/p2p/12D3KooW...
 * Archive: rooms world* stored in .peercompute/archive (peer 12D3KooW...)
 * Press Ctrl+C to stop.
 * ```
 *
 * @param job The running job.
 * @param requestedPort The port asked for, to explain a fallback; omit when none was asked.
 * @returns The banner, lines joined with `\n`, no trailing newline.
 */
export function formatBanner(job: MainJob, requestedPort?: number): string {
  const rows: Array<[string, string]> = [['Landing page', job.urls.landing]];
  for (const demo of job.urls.demos) rows.push([`${demo.label} demo`, demo.url]);
  for (const url of job.urls.network) rows.push(['Network', url]);
  const relayRows: Array<[string, string]> = [];
  if (job.relay !== undefined) {
    const pageHosts = [job.urls.landing, ...job.urls.network].map((url) => new URL(url).host);
    const browserAddrs = new Set(pageHosts.flatMap((host) => job.relaysForHost(host)));
    for (const addr of browserAddrs) relayRows.push(['Browsers', addr]);
    for (const addr of job.relay.tcpMultiaddrs) relayRows.push(['Node', addr]);
  } else {
    for (const addr of job.relays) relayRows.push(['External', addr]);
  }
  const width = Math.max(...[...rows, ...relayRows].map(([label]) => label.length)) + 2;
  const lines: string[] = [];
  if (job.portChanged) {
    lines.push(`Port ${requestedPort ?? DEFAULT_PORT} was in use, so port ${job.port} is used instead.`);
  }
  if (job.relayPortChanged) {
    const actual = /\/tcp\/(\d+)\//.exec(job.relay?.wsMultiaddrs[0] ?? '')?.[1] ?? '?';
    lines.push(`Relay port ${DEFAULT_RELAY_PORT} was in use, so port ${actual} is used instead.`);
  }
  lines.push('PeerCompute is running.');
  for (const [label, url] of rows) lines.push(`  ${`${label}:`.padEnd(width)} ${url}`);
  if (job.urls.demos.length === 0) lines.push('  (No demos found: add a folder demos/<name>/ with an index.html.)');
  if (job.relay !== undefined) {
    const key = job.relay.keyFile === undefined ? 'no key file: a new peer id each start' : `key file ${path.relative(process.cwd(), job.relay.keyFile) || job.relay.keyFile}${job.relay.keyCreated ? ', created' : ''}`;
    lines.push(`Relay ${job.relay.peerId} (${key}; pages get it from /peercompute/config.json):`);
    if (job.relay.keyWarning !== undefined) lines.push(`  Warning: ${job.relay.keyWarning}`);
  } else if (job.relaySource === 'external') {
    lines.push('Relays started elsewhere (pages get them from /peercompute/config.json):');
  } else {
    lines.push('No relay (--no-relay): multiplayer pages need ?relay=<multiaddr> in their URL.');
  }
  for (const [label, addr] of relayRows) lines.push(`  ${`${label}:`.padEnd(width)} ${addr}`);
  if (job.archive !== undefined) {
    const relative = path.relative(process.cwd(), job.archive.dir);
    const dir = relative === '' || relative.startsWith('..') ? job.archive.dir : relative;
    lines.push(`Archive: rooms ${job.archive.roomPrefix}* stored in ${dir} (peer ${job.archive.peerId})`);
  } else if (job.archiveError !== undefined) {
    lines.push(`Archive not running (worlds are not stored on this machine): ${job.archiveError}`);
  }
  lines.push('Press Ctrl+C to stop.');
  return lines.join('\n');
}

async function main(): Promise<void> {
  let args: StartArgs;
  try {
    args = parseStartArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`npm start: ${error instanceof Error ? error.message : String(error)}`);
    console.error('Run `npm start -- --help` for usage.');
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    process.stdout.write(HELP_TEXT);
    return;
  }

  let job: MainJob;
  try {
    job = await startMainJob(args.options);
  } catch (error) {
    if (error instanceof MainJobError) console.error(`npm start: ${error.message}`);
    else console.error('npm start: could not start the main job:', error);
    process.exitCode = 1;
    return;
  }
  console.log(formatBanner(job, args.options.port));

  closeOnSignals({ label: 'npm start', close: () => job.close() });
}

if (isMainModule(import.meta.url)) {
  await main();
}
