/**
 * The relay configuration endpoint of the main job: a Vite plugin answering
 * `GET /peercompute/config.json` with `{ "relays": [multiaddr, ...] }`, which pages read with
 * `discoverRelays()` / `fetchRelayConfig()` from `netcode/index.ts`. Nothing else is served or
 * changed.
 *
 * @example
 * ```ts
 * const vite = await createServer({ plugins: [relayConfigPlugin(() => relay.wsMultiaddrs)] });
 * // curl http://127.0.0.1:5173/peercompute/config.json -> {"relays":["/ip4/127.0.0.1/tcp/9090/ws/p2p/12D3KooW..."]}
 * ```
 */
import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'vite';
import { RELAY_CONFIG_PATH, type RelayConfig } from '../netcode/index.ts';

/**
 * Builds the plugin.
 *
 * @param relaysFor Relay multiaddrs for one request (the request lets a relay listening on
 *   every interface be named by the host the page used). Called on every request.
 * @returns A plugin for the dev server (`configureServer`) and `vite preview`; GET and HEAD get
 *   `200` JSON with `cache-control: no-store`, other methods `405`.
 */
export function relayConfigPlugin(relaysFor: (req: IncomingMessage) => readonly string[]): Plugin {
  const middleware = (req: IncomingMessage, res: import('node:http').ServerResponse, next: () => void): void => {
    const route = (req.url ?? '').split('?')[0];
    if (route !== RELAY_CONFIG_PATH) {
      next();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    const body: RelayConfig = { relays: [...relaysFor(req)] };
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body));
  };
  return {
    name: 'peercompute:relay-config',
    configureServer(server) {
      server.middlewares.use(middleware);
    },
    configurePreviewServer(server) {
      server.middlewares.use(middleware);
    },
  };
}
