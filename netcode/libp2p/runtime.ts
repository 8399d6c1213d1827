/**
 * Which JavaScript runtime the peer runs in, and what it needs before libp2p loads.
 * Browser-safe: Node-only code lives in node-runtime.ts and transports-node.ts, which this
 * module and peer.ts load with dynamic `import()` only when running in Node.
 */

/** `'node'` in Node.js (and tsx, vitest), `'browser'` in pages and workers. */
export type RuntimeKind = 'node' | 'browser';

/** Detects the runtime: Node when `process.versions.node` is a string. */
export function detectRuntime(): RuntimeKind {
  const proc = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof proc?.versions?.node === 'string' ? 'node' : 'browser';
}

/**
 * Makes the runtime ready for libp2p 3. In Node: polyfills `Promise.withResolvers` (missing in
 * Node 20, where its absence surfaces as "Pubsub is not started") and sets
 * `globalThis.WebSocket` from the `ws` package (Node 20 has none). In browsers: nothing.
 * Idempotent. Call it before importing libp2p modules (createPeer does).
 */
export async function prepareRuntime(kind: RuntimeKind = detectRuntime()): Promise<void> {
  if (kind !== 'node') return;
  const { installNodePolyfills } = await import('./node-runtime.ts');
  installNodePolyfills();
}
