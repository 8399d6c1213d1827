/**
 * The relay's HTTP health and metrics endpoint (JSON, read-only, CORS open so a demo page may
 * read the relay's addresses):
 *
 * - `GET /health`  -> `200 { "status": "ok", "peerId", "multiaddrs": [...], "metrics": {...} }`
 * - `GET /metrics` -> `200 { "peers", "reservations", "connections", "bytesIn", "bytesOut", ... }`
 * - anything else  -> `404 { "error": "not found" }`
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the endpoint serves. */
export interface HealthSource {
  readonly peerId: string;
  readonly multiaddrs: readonly string[];
  metrics(): object;
}

/** A listening health endpoint. */
export interface HealthServer {
  /** Base URL, e.g. `http://127.0.0.1:9092/`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the endpoint on `host:port` (0 = any free port).
 * @throws the listen error (EADDRINUSE, EACCES, ...).
 */
export async function startHealthServer(source: HealthSource, host: string, port: number): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const route = (req.url ?? '/').split('?')[0];
    const body = req.method !== 'GET' && req.method !== 'HEAD'
      ? { code: 405, json: { error: 'method not allowed' } }
      : route === '/health'
        ? { code: 200, json: { status: 'ok', peerId: source.peerId, multiaddrs: source.multiaddrs, metrics: source.metrics() } }
        : route === '/metrics'
          ? { code: 200, json: source.metrics() }
          : { code: 404, json: { error: 'not found' } };
    res.writeHead(body.code, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'access-control-allow-origin': '*',
    });
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body.json));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostInUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostInUrl}:${address.port}/`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
