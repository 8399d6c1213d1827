/**
 * `npm run relay`: runs a standalone relay (and its archival peer, which stores world rooms on
 * disk) until Ctrl+C / SIGTERM, printing its multiaddrs and then its metrics periodically.
 *
 * Usage: `npm run relay -- [--port N] [--announce ADDR] ...` or `tsx netcode/relay/cli.ts --help`.
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NetcodeError } from '../errors.ts';
import { DEFAULT_DISCOVERY_TOPIC } from '../libp2p/names.ts';
import {
  DEFAULT_CONNECTIONS_PER_IP_PER_SECOND, DEFAULT_MAX_RESERVATIONS, DEFAULT_RELAY_HOST, DEFAULT_RELAY_MAX_CONNECTIONS,
  DEFAULT_RELAYED_DATA_BYTES, DEFAULT_RELAYED_DURATION_MS, type RelayOptions,
} from './relay-options.ts';
import { DEFAULT_ARCHIVE_ROOM_PREFIX, startArchive, type Archive } from '../replication/archive.ts';
import { closeOnSignals, isMainModule } from './process.ts';
import { startRelay, type Relay, type RelayMetrics } from './relay.ts';

/** WebSocket port of the standalone relay unless told otherwise. */
export const DEFAULT_CLI_WS_PORT = 9090;
/** Seconds between printed metrics lines unless told otherwise. */
export const DEFAULT_METRICS_INTERVAL_S = 30;

/** Text printed by `--help`. */
export const HELP_TEXT = `Usage: npm run relay -- [options]
       tsx netcode/relay/cli.ts [options]

Starts a PeerCompute relay: libp2p with WebSockets (browsers) and TCP (Node peers), circuit
relay v2, identify, ping, gossipsub and pubsub peer discovery. Prints its multiaddrs (give
peers one of them, /p2p/<id> included), then metrics every --metrics-interval seconds, until
Ctrl+C or SIGTERM (graceful shutdown; a second signal exits at once).

Options:
  -p, --port <n>               WebSocket port for browsers, 0..65535 (0 = any free port).
                               Default ${DEFAULT_CLI_WS_PORT}.
      --tcp-port <n>           TCP port for Node peers. Default: --port + 1 (0 when --port is 0).
  -H, --host <addr>            IP address to listen on. Default ${DEFAULT_RELAY_HOST} (this machine only);
                               0.0.0.0 for every IPv4 interface.
  -a, --announce <multiaddr>   Public address to advertise instead of the listen addresses,
                               e.g. /dns4/relay.example.com/tcp/443/wss. Repeatable.
  -k, --key-file <path>        Key file holding the relay's identity (persistent peer id, so
                               clients can pin it); created with mode 600 if missing.
                               Default: <config dir>/peercompute/relay-<port>.json, where the
                               config dir is $XDG_CONFIG_HOME or ~/.config.
      --ephemeral              Use no key file: a new peer id on every start.
      --max-reservations <n>   Most peers holding a reservation at once. Default ${DEFAULT_MAX_RESERVATIONS}.
      --max-connections <n>    Connection limit. Default ${DEFAULT_RELAY_MAX_CONNECTIONS}.
      --conn-rate <n>          Inbound connections per second accepted from one IP.
                               Default ${DEFAULT_CONNECTIONS_PER_IP_PER_SECOND}.
      --allow <cidr>           Multiaddr CIDR exempt from connection limits, e.g.
                               /ip4/127.0.0.0/ipcidr/8. Repeatable.
      --relayed-duration <s>   Longest life of one relayed connection, seconds. Default ${DEFAULT_RELAYED_DURATION_MS / 1000}.
      --relayed-data <MiB>     Most data over one relayed connection, MiB. Default ${DEFAULT_RELAYED_DATA_BYTES / 1024 / 1024}.
      --discovery-topic <t>    Pubsub peer discovery topic to forward. Repeatable.
                               Default ${DEFAULT_DISCOVERY_TOPIC}.
      --health-port <n>        Serve GET /health and GET /metrics (JSON) on this port. Default off.
      --metrics-interval <s>   Print metrics every s seconds; 0 = never. Default ${DEFAULT_METRICS_INTERVAL_S}.
      --json                   Print the metrics lines as JSON objects.
      --archive-dir <path>     Directory where the archival peer stores the Yjs documents of
                               archived rooms (LevelDB), so a world survives every player
                               leaving. Default: <data dir>/peercompute/archive-<port>, where
                               the data dir is $XDG_DATA_HOME or ~/.local/share.
      --archive-prefix <p>     Archive rooms whose id starts with this ('' = all rooms).
                               Default ${DEFAULT_ARCHIVE_ROOM_PREFIX}.
      --no-archive             Run no archival peer. When the archive cannot start (directory
                               held by another process, ...) the relay runs without it.
  -h, --help                   Show this help and exit.
`;

/** What {@link parseRelayArgs} makes of the command line. */
export interface RelayArgs {
  /** `true` when `--help` was given: print {@link HELP_TEXT} and start nothing. */
  readonly help: boolean;
  readonly options: RelayOptions;
  /** Interval of printed metrics, ms; 0 = never. */
  readonly metricsIntervalMs: number;
  /** Print metrics as JSON. */
  readonly json: boolean;
  /** The archival peer to start next to the relay, or `undefined` with `--no-archive`. */
  readonly archive: { readonly dir: string; readonly roomPrefix: string } | undefined;
}

/**
 * Parses `npm run relay` arguments with Node's `util.parseArgs`.
 *
 * @param argv Arguments after the script name, e.g. `process.argv.slice(2)`.
 * @param env Environment for the default key file and archive locations (`XDG_CONFIG_HOME`,
 *   `XDG_DATA_HOME`, `HOME`).
 * @throws NetcodeError `InvalidConfig` for a number out of range, or contradicting flags
 *   (message names the flag);
 *   TypeError from `parseArgs` for unknown flags or a flag missing its value.
 */
export function parseRelayArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): RelayArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string', short: 'p' },
      'tcp-port': { type: 'string' },
      host: { type: 'string', short: 'H' },
      announce: { type: 'string', short: 'a', multiple: true },
      'key-file': { type: 'string', short: 'k' },
      ephemeral: { type: 'boolean', default: false },
      'max-reservations': { type: 'string' },
      'max-connections': { type: 'string' },
      'conn-rate': { type: 'string' },
      allow: { type: 'string', multiple: true },
      'relayed-duration': { type: 'string' },
      'relayed-data': { type: 'string' },
      'discovery-topic': { type: 'string', multiple: true },
      'health-port': { type: 'string' },
      'metrics-interval': { type: 'string' },
      json: { type: 'boolean', default: false },
      'archive-dir': { type: 'string' },
      'archive-prefix': { type: 'string' },
      'no-archive': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const wsPort = values.port === undefined ? DEFAULT_CLI_WS_PORT : number('--port', values.port, 0, 65535);
  const tcpPort = values['tcp-port'] === undefined ? (wsPort === 0 ? 0 : wsPort === 65535 ? 65534 : wsPort + 1) : number('--tcp-port', values['tcp-port'], 0, 65535);
  if (values['key-file'] !== undefined && values.ephemeral) {
    throw new NetcodeError('InvalidConfig', '--key-file and --ephemeral exclude each other', { option: '--ephemeral' });
  }
  const configDir = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== ''
    ? env.XDG_CONFIG_HOME
    : path.join(env.HOME ?? os.homedir(), '.config');
  const keyFile = values.ephemeral ? undefined : values['key-file'] ?? path.join(configDir, 'peercompute', `relay-${wsPort}.json`);
  const options: RelayOptions = {
    wsPort,
    tcpPort,
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(values.announce === undefined ? {} : { announce: values.announce }),
    ...(keyFile === undefined ? {} : { keyFile }),
    ...(values['max-reservations'] === undefined ? {} : { maxReservations: number('--max-reservations', values['max-reservations'], 0, 1e6) }),
    ...(values['max-connections'] === undefined ? {} : { maxConnections: number('--max-connections', values['max-connections'], 1, 1e6) }),
    ...(values['conn-rate'] === undefined ? {} : { connectionsPerIpPerSecond: number('--conn-rate', values['conn-rate'], 1, 1e6) }),
    ...(values.allow === undefined ? {} : { allow: values.allow }),
    ...(values['relayed-duration'] === undefined ? {} : { relayedDurationMs: 1000 * number('--relayed-duration', values['relayed-duration'], 1, 86_400) }),
    ...(values['relayed-data'] === undefined ? {} : { relayedDataBytes: 1024 * 1024 * number('--relayed-data', values['relayed-data'], 1, 1e6) }),
    ...(values['discovery-topic'] === undefined ? {} : { discoveryTopics: values['discovery-topic'] }),
    ...(values['health-port'] === undefined ? {} : { healthPort: number('--health-port', values['health-port'], 0, 65535) }),
  };
  const metricsIntervalS = values['metrics-interval'] === undefined ? DEFAULT_METRICS_INTERVAL_S : number('--metrics-interval', values['metrics-interval'], 0, 86_400);
  if (values['no-archive'] && (values['archive-dir'] !== undefined || values['archive-prefix'] !== undefined)) {
    throw new NetcodeError('InvalidConfig', '--no-archive excludes --archive-dir and --archive-prefix', { option: '--no-archive' });
  }
  const dataDir = env.XDG_DATA_HOME !== undefined && env.XDG_DATA_HOME !== ''
    ? env.XDG_DATA_HOME
    : path.join(env.HOME ?? os.homedir(), '.local', 'share');
  const archive = values['no-archive'] ? undefined : {
    dir: path.resolve(values['archive-dir'] ?? path.join(dataDir, 'peercompute', `archive-${wsPort}`)),
    roomPrefix: values['archive-prefix'] ?? DEFAULT_ARCHIVE_ROOM_PREFIX,
  };
  return { help: values.help, options, metricsIntervalMs: metricsIntervalS * 1000, json: values.json, archive };
}

/**
 * One metrics line, e.g.
 * `relay: peers=3 reservations=2 connections=4 rooms=1 in=12.3 KiB out=40.1 KiB uptime=00:05:00`.
 */
export function formatMetrics(metrics: RelayMetrics): string {
  const total = Math.floor(metrics.uptimeMs / 1000);
  const hms = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60].map((n) => String(n).padStart(2, '0')).join(':');
  return `relay: peers=${metrics.peers} reservations=${metrics.reservations} connections=${metrics.connections} `
    + `rooms=${metrics.roomTopics} in=${formatBytes(metrics.bytesIn)} out=${formatBytes(metrics.bytesOut)} uptime=${hms}`;
}

/**
 * The banner printed once the relay listens (multiaddrs, key file, health URL, archive).
 * @param archive the running archive, the reason it is not running, or `undefined` when it was not asked for.
 */
export function formatBanner(relay: Relay, archive?: Archive | { readonly error: string }): string {
  const lines = [`PeerCompute relay ${relay.peerId} is running.`];
  if (relay.keyFile !== undefined) lines.push(`  Key file: ${relay.keyFile}${relay.keyCreated ? ' (created)' : ''}`);
  else lines.push('  No key file (--ephemeral): the peer id changes on every start.');
  if (relay.keyWarning !== undefined) lines.push(`  Warning: ${relay.keyWarning}`);
  for (const addr of relay.wsMultiaddrs) lines.push(`  Browsers: ${addr}`);
  for (const addr of relay.tcpMultiaddrs) lines.push(`  Node:     ${addr}`);
  for (const addr of relay.multiaddrs.filter((a) => !relay.wsMultiaddrs.includes(a) && !relay.tcpMultiaddrs.includes(a))) {
    lines.push(`  Other:    ${addr}`);
  }
  if (relay.healthUrl !== undefined) lines.push(`  Health:   ${relay.healthUrl}health  Metrics: ${relay.healthUrl}metrics`);
  if (archive !== undefined && 'error' in archive) lines.push(`  Archive not running (rooms are not stored): ${archive.error}`);
  else if (archive !== undefined) lines.push(`  Archive:  rooms ${archive.roomPrefix}* stored in ${archive.dir} (peer ${archive.peerId})`);
  lines.push('Press Ctrl+C to stop.');
  return lines.join('\n');
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function number(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !(value >= min && value <= max)) {
    throw new NetcodeError('InvalidConfig', `${flag} must be an integer in ${min}..${max}, got "${text}"`, { option: flag, value: text });
  }
  return value;
}

async function main(): Promise<void> {
  let args: RelayArgs;
  try {
    args = parseRelayArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`relay: ${error instanceof Error ? error.message : String(error)}`);
    console.error('Run `npm run relay -- --help` for usage.');
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    process.stdout.write(HELP_TEXT);
    return;
  }
  let relay: Relay;
  try {
    relay = await startRelay(args.options);
  } catch (error) {
    console.error(`relay: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
    return;
  }
  let archive: Archive | { error: string } | undefined;
  if (args.archive !== undefined) {
    try {
      archive = await startArchive({
        relays: relay.tcpMultiaddrs,
        ...args.archive,
        relayPubsub: relay.libp2p.services.pubsub,
        peer: { allow: ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'] },
      });
    } catch (error) {
      archive = { error: error instanceof Error ? error.message : String(error) };
    }
  }
  console.log(formatBanner(relay, archive));
  const print = (): void => {
    const metrics = relay.metrics();
    console.log(args.json ? JSON.stringify({ time: new Date().toISOString(), ...metrics }) : formatMetrics(metrics));
  };
  const timer = args.metricsIntervalMs > 0 ? setInterval(print, args.metricsIntervalMs) : undefined;

  closeOnSignals({
    label: 'relay',
    stoppingMessage: 'closing connections...',
    beforeClose: () => {
      clearInterval(timer);
      print();
    },
    close: async () => {
      if (archive !== undefined && !('error' in archive)) await archive.close();
      await relay.close();
    },
  });
}

if (isMainModule(import.meta.url)) {
  await main();
}
