/**
 * How a page finds its relays with no configuration: the main job (`npm start`) serves the
 * relay it started at {@link RELAY_CONFIG_PATH}, and `?relay=<multiaddr>` in the page URL
 * overrides it (repeatable: several relays). Browser-safe; works in Node too (global `fetch`).
 *
 * The served document (JSON, `cache-control: no-store`):
 * ```json
 * { "relays": ["/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooW..."] }
 * ```
 * `relays` may be empty (`npm start -- --no-relay`). A static build (`npm run build`) has no
 * such document: pages served from it need `?relay=`.
 *
 * @example
 * ```ts
 * const { relays, source } = await discoverRelays();   // ?relay=... or /peercompute/config.json
 * if (relays.length === 0) throw new Error('no relay: add ?relay=<multiaddr> to the URL');
 * const peer = await createPeer({ relays });
 * ```
 */
import { multiaddr } from '@multiformats/multiaddr';
import { NetcodeError } from '../errors.ts';
import { peerIdOfAddr } from './addrs.ts';

/** Path, from the server's origin, of the relay configuration the main job serves. */
export const RELAY_CONFIG_PATH = '/peercompute/config.json';
/** Query parameter naming a relay multiaddr in a page URL; repeat it for several relays. */
export const RELAY_QUERY_PARAM = 'relay';
/** How long {@link fetchRelayConfig} waits for the server, ms. */
export const DEFAULT_RELAY_CONFIG_TIMEOUT_MS = 5000;

/** The relay configuration document served at {@link RELAY_CONFIG_PATH}. */
export interface RelayConfig {
  /** Relay multiaddrs, each ending with `/p2p/<relay peer id>`; browsers use the `/ws` ones. May be empty. */
  readonly relays: readonly string[];
}

/** Where {@link discoverRelays} found the relays. */
export type RelaySource = 'query' | 'server';

/** Result of {@link discoverRelays}. */
export interface DiscoveredRelays {
  /** Relay multiaddrs to pass to `createPeer({ relays })`; empty when the server lists none. */
  readonly relays: readonly string[];
  /** `'query'`: from `?relay=` in the page URL; `'server'`: from {@link RELAY_CONFIG_PATH}. */
  readonly source: RelaySource;
}

/** Options of {@link fetchRelayConfig} and {@link discoverRelays}. */
export interface FetchRelayConfigOptions {
  /** Timeout of the request, ms. Default {@link DEFAULT_RELAY_CONFIG_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** `fetch` to use. Default the global one. */
  readonly fetch?: typeof fetch;
}

/** Options of {@link discoverRelays}. */
export interface DiscoverRelaysOptions extends FetchRelayConfigOptions {
  /** Query string to read `?relay=` from. Default `location.search` (`''` outside a page). */
  readonly search?: string;
  /** Origin (or any URL on it) serving the configuration. Default `location.origin`. */
  readonly baseUrl?: string | URL;
}

/**
 * Checks one relay multiaddr: it must parse and end with `/p2p/<relay peer id>`.
 * @returns The normalised multiaddr string.
 * @throws NetcodeError `InvalidConfig` naming the address and `where` it came from.
 */
export function checkRelayAddr(addr: string, where: string): string {
  let normalised: string;
  try {
    normalised = multiaddr(addr).toString();
  } catch (err) {
    throw new NetcodeError('InvalidConfig', `${where}: "${addr}" is not a multiaddr (${err instanceof Error ? err.message : String(err)})`, {
      option: 'relays', value: addr,
    });
  }
  if (peerIdOfAddr(normalised) === undefined) {
    throw new NetcodeError('InvalidConfig', `${where}: "${addr}" does not end with /p2p/<relay peer id>`, { option: 'relays', value: addr });
  }
  return normalised;
}

/**
 * The relays named in a query string: every `relay` parameter, in order, duplicates removed.
 * @param search `location.search` or any query string, with or without the leading `?`.
 * @returns `[]` when there is none.
 * @throws NetcodeError `InvalidConfig` for a value that is not a relay multiaddr (see {@link checkRelayAddr}).
 */
export function relaysFromQuery(search: string): string[] {
  const values = new URLSearchParams(search).getAll(RELAY_QUERY_PARAM).map((v) => v.trim()).filter((v) => v !== '');
  return [...new Set(values.map((v) => checkRelayAddr(v, `?${RELAY_QUERY_PARAM}=`)))];
}

/**
 * Validates a relay configuration document (the parsed JSON).
 * @param where Where it came from, for error messages (a URL).
 * @throws NetcodeError `InvalidConfig` when it is not `{ relays: string[] }` or an entry is not
 *   a relay multiaddr.
 */
export function parseRelayConfig(json: unknown, where = RELAY_CONFIG_PATH): RelayConfig {
  const relays = (json as { relays?: unknown } | null)?.relays;
  if (typeof json !== 'object' || json === null || !Array.isArray(relays) || !relays.every((r) => typeof r === 'string')) {
    throw new NetcodeError('InvalidConfig', `${where}: expected { "relays": [multiaddr, ...] }`, { option: 'relays' });
  }
  return { relays: [...new Set(relays.map((r: string) => checkRelayAddr(r, where)))] };
}

/**
 * Fetches the relay configuration the main job serves at {@link RELAY_CONFIG_PATH}.
 *
 * @param baseUrl Origin (or any URL on it) of the server. Default `location.origin`; required
 *   outside a page.
 * @returns The configuration; `relays` may be empty (the main job runs without a relay).
 * @throws NetcodeError `DialFailed` when the server does not answer within `timeoutMs` or
 *   answers with an HTTP error (404 from a static host or a plain `vite` server);
 *   `InvalidConfig` for a body that is not a relay configuration, or no `baseUrl` outside a page.
 */
export async function fetchRelayConfig(baseUrl?: string | URL, options: FetchRelayConfigOptions = {}): Promise<RelayConfig> {
  const origin = baseUrl ?? (globalThis as { location?: Location }).location?.origin;
  if (origin === undefined) throw new NetcodeError('InvalidConfig', 'fetchRelayConfig: give baseUrl outside a page', { option: 'baseUrl' });
  const url = new URL(RELAY_CONFIG_PATH, origin).href;
  const timeoutMs = options.timeoutMs ?? DEFAULT_RELAY_CONFIG_TIMEOUT_MS;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  let response: Response;
  try {
    response = await doFetch(url, { cache: 'no-store', signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  } catch (err) {
    throw new NetcodeError('DialFailed', `relay configuration ${url} unreachable: ${err instanceof Error ? err.message : String(err)}`, { url });
  }
  if (!response.ok) {
    throw new NetcodeError('DialFailed', `relay configuration ${url} answered HTTP ${response.status}: is this page served by \`npm start\`? Else add ?${RELAY_QUERY_PARAM}=<multiaddr>`, {
      url, status: response.status,
    });
  }
  let json: unknown;
  try {
    json = await response.json();
  } catch (err) {
    throw new NetcodeError('InvalidConfig', `${url}: not JSON (${err instanceof Error ? err.message : String(err)})`, { url });
  }
  return parseRelayConfig(json, url);
}

/**
 * The relays a page should use: those in `?relay=` when the URL names any, else the ones the
 * server lists at {@link RELAY_CONFIG_PATH}.
 *
 * @throws NetcodeError as {@link relaysFromQuery} and {@link fetchRelayConfig} (the server is
 *   only asked when the query names no relay).
 */
export async function discoverRelays(options: DiscoverRelaysOptions = {}): Promise<DiscoveredRelays> {
  const search = options.search ?? (globalThis as { location?: Location }).location?.search ?? '';
  const fromQuery = relaysFromQuery(search);
  if (fromQuery.length > 0) return { relays: fromQuery, source: 'query' };
  const config = await fetchRelayConfig(options.baseUrl, options);
  return { relays: config.relays, source: 'server' };
}
