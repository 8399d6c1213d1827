/**
 * Multiaddr helpers of the room transport: which kind a connection is, which addresses of a
 * peer give a direct connection and which a relayed one, and how to reach a peer through a
 * relay. Strings in, strings out (`/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo...`).
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { ConnectionKind } from '../transport/types.ts';

/** What {@link connectionKind} reads from a libp2p connection. */
export interface ConnectionLike {
  readonly remoteAddr: Multiaddr;
  readonly limits?: unknown;
}

/**
 * Kind of a libp2p connection, from its remote address:
 * `/p2p-circuit/webrtc` (signalled through a relay, then direct) is `'direct-webrtc'`,
 * any other `/p2p-circuit` is `'relayed'`, then `/ws`/`/wss` `'websocket'`, `/tcp` `'tcp'`.
 */
export function connectionKind(connection: ConnectionLike): ConnectionKind {
  return addrKind(connection.remoteAddr.toString());
}

/** Kind of the connection that dialling `addr` gives; see {@link connectionKind}. */
export function addrKind(addr: string): ConnectionKind {
  if (/\/webrtc(-direct)?(\/|$)/.test(addr)) return 'direct-webrtc';
  if (addr.includes('/p2p-circuit')) return 'relayed';
  if (/\/(ws|wss|tls\/ws)(\/|$)/.test(addr)) return 'websocket';
  if (addr.includes('/tcp/')) return 'tcp';
  return 'relayed';
}

/** Order in which direct kinds are tried: TCP, then WebSocket, then WebRTC. */
const DIRECT_ORDER: Record<ConnectionKind, number> = {
  tcp: 0, websocket: 1, 'direct-webrtc': 2, relayed: 3, memory: 4, 'gossip-only': 5, none: 6,
};

/** Addresses of one peer split by what dialling them gives. */
export interface DialPlan {
  /** Direct addresses, best first (TCP, WebSocket, WebRTC through a relay for signalling). */
  readonly direct: readonly string[];
  /** Relayed (`/p2p-circuit`) addresses: the fallback. */
  readonly relayed: readonly string[];
}

/**
 * Splits a peer's announced addresses into direct and relayed ones, keeping only those that
 * end with `/p2p/<peerId>` of that peer, and adds a relayed address through each of our relays
 * (reachable whenever the peer holds a reservation there). WebRTC addresses are only taken
 * from the announced ones (a peer without a `/webrtc` listener would fail the dial slowly).
 *
 * @param peerId The peer the addresses must belong to.
 * @param addrs Its announced multiaddrs.
 * @param relays Multiaddrs of our relays, each ending with `/p2p/<relayId>`.
 * @param webrtc Whether we can dial WebRTC (browser, or Node with node-datachannel).
 */
export function dialPlan(peerId: string, addrs: readonly string[], relays: readonly string[], webrtc: boolean): DialPlan {
  const suffix = `/p2p/${peerId}`;
  const own = addrs.filter((a) => a.endsWith(suffix));
  const candidates = new Set(own);
  for (const relay of relays) candidates.add(circuitAddr(relay, peerId, false));
  const direct: string[] = [];
  const relayed: string[] = [];
  for (const addr of candidates) {
    const kind = addrKind(addr);
    if (kind === 'relayed') relayed.push(addr);
    else if (kind !== 'direct-webrtc' || webrtc) direct.push(addr);
  }
  direct.sort((a, b) => DIRECT_ORDER[addrKind(a)] - DIRECT_ORDER[addrKind(b)]);
  return { direct, relayed };
}

/**
 * Address of `peerId` through `relay`: `<relay>/p2p-circuit[/webrtc]/p2p/<peerId>`.
 * @param relay Relay multiaddr ending with `/p2p/<relayId>`.
 */
export function circuitAddr(relay: string, peerId: string, webrtc: boolean): string {
  return `${relay}/p2p-circuit${webrtc ? '/webrtc' : ''}/p2p/${peerId}`;
}

/** Multiaddr bytes (from a presence message) to strings; invalid ones are skipped. */
export function addrsFromBytes(addrs: readonly Uint8Array[]): string[] {
  const out: string[] = [];
  for (const bytes of addrs) {
    try {
      out.push(multiaddr(bytes).toString());
    } catch {
      // an undecodable address is ignored: the others may still be dialable
    }
  }
  return out;
}

/** Peer id at the end of a multiaddr string (`.../p2p/<id>`), if any. */
export function peerIdOfAddr(addr: string): string | undefined {
  const at = addr.lastIndexOf('/p2p/');
  if (at < 0) return undefined;
  const id = addr.slice(at + 5);
  return id.length > 0 && !id.includes('/') ? id : undefined;
}
