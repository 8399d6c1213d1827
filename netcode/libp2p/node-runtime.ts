/**
 * Node-only: fills the gaps of Node 20 that libp2p 3 hits (see ENVIRONMENT.md). Loaded by
 * runtime.ts through a dynamic import, never by code the browser runs.
 */
import { WebSocket as NodeWebSocket } from 'ws';

/**
 * Installs `Promise.withResolvers` (when missing) and `globalThis.WebSocket` (when missing,
 * from `ws`). Idempotent; leaves existing implementations alone.
 */
export function installNodePolyfills(): void {
  const promise = Promise as unknown as { withResolvers?: unknown };
  if (typeof promise.withResolvers !== 'function') {
    promise.withResolvers = function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const p = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise: p, resolve, reject };
    };
  }
  const global = globalThis as { WebSocket?: unknown };
  if (global.WebSocket === undefined) global.WebSocket = NodeWebSocket;
}
