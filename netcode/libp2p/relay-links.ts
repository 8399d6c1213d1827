/**
 * Keeps a peer connected to every configured relay: dials them all at start, redials a relay
 * whose last connection closed with exponential backoff, forever, until stopped. Relays are
 * listed for redundancy: any one connected relay is enough for discovery and signalling.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { NetcodeError } from '../errors.ts';
import { peerIdOfAddr } from './addrs.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';

/** Tag value that keeps relay connections from being pruned by the connection manager. */
const RELAY_TAG = 'peercompute-relay';

/** State of one relay as seen by a peer. */
export interface RelayStatus {
  /** The relay's peer id. */
  readonly peerId: string;
  /** Its configured multiaddrs (each ending with `/p2p/<peerId>`). */
  readonly addrs: readonly string[];
  /** Whether a connection to it is open now. */
  readonly connected: boolean;
  /** Whether we hold a reservation on it (we listen on a `/p2p-circuit` address through it). */
  readonly reserved: boolean;
  /** Failed dials since the last successful one. */
  readonly failures: number;
  /** Message of the last failed dial, if any. */
  readonly lastError: string | undefined;
}

interface RelayEntry {
  readonly peerId: PeerId;
  readonly id: string;
  readonly addrs: string[];
  readonly backoff: Backoff;
  failures: number;
  lastError: string | undefined;
  dialing: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Groups relay multiaddrs by peer id.
 * @throws NetcodeError `InvalidConfig` for an empty list, an address that does not parse or
 *   one without `/p2p/<relay peer id>`.
 */
export function parseRelayAddrs(relays: readonly string[]): Map<string, string[]> {
  if (relays.length === 0) {
    throw new NetcodeError('InvalidConfig', 'relays: at least one relay multiaddr is needed', { option: 'relays' });
  }
  const byId = new Map<string, string[]>();
  for (const addr of relays) {
    let normalised: string;
    try {
      normalised = multiaddr(addr).toString();
    } catch (err) {
      throw new NetcodeError('InvalidConfig', `relays: "${addr}" is not a multiaddr (${String(err)})`, { option: 'relays', value: addr });
    }
    const id = peerIdOfAddr(normalised);
    if (id === undefined) {
      throw new NetcodeError('InvalidConfig', `relays: "${addr}" does not end with /p2p/<relay peer id>`, { option: 'relays', value: addr });
    }
    const list = byId.get(id) ?? [];
    if (!list.includes(normalised)) list.push(normalised);
    byId.set(id, list);
  }
  return byId;
}

/** The relay connections of one peer. Create, then {@link start}; {@link stop} on close. */
export class RelayLinks {
  private readonly entries = new Map<string, RelayEntry>();
  private readonly waiters = new Set<() => void>();
  private stopped = false;

  /**
   * @param libp2p The started node.
   * @param relays Relay multiaddrs grouped by relay peer id ({@link parseRelayAddrs}).
   * @param backoff Redial backoff; default 500 ms doubling to 10 s.
   * @param dialTimeoutMs Per-attempt dial timeout, ms.
   */
  constructor(
    private readonly libp2p: Libp2p,
    relays: ReadonlyMap<string, readonly string[]>,
    backoff: BackoffOptions,
    private readonly dialTimeoutMs: number,
  ) {
    for (const [id, addrs] of relays) {
      this.entries.set(id, {
        peerId: peerIdFromString(id), id, addrs: [...addrs], backoff: new Backoff({ initialMs: 500, maxMs: 10_000, ...backoff }),
        failures: 0, lastError: undefined, dialing: false, timer: undefined,
      });
    }
  }

  /** Starts dialing every relay and watching for their connections closing. */
  start(): void {
    this.libp2p.addEventListener('connection:close', this.onClose);
    this.libp2p.addEventListener('connection:open', this.onOpen);
    for (const entry of this.entries.values()) {
      this.libp2p.peerStore.merge(entry.peerId, { tags: { [RELAY_TAG]: { value: 100 } } }).catch(() => {});
      this.dial(entry);
    }
  }

  /**
   * Resolves once at least one relay is connected.
   * @throws NetcodeError `DialFailed` after `timeoutMs` with no relay connected (lists the
   *   relays and their last errors); `Closed` when stopped meanwhile.
   */
  async waitForAny(timeoutMs: number): Promise<void> {
    if (this.connectedIds().length > 0) return;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = (): void => {
        if (this.stopped) {
          done();
          reject(new NetcodeError('Closed', 'peer closed while connecting to relays'));
        } else if (this.connectedIds().length > 0) {
          done();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        done();
        const tried = [...this.entries.values()].map((e) => `${e.addrs.join(' | ')} (${e.lastError ?? 'no answer'})`);
        reject(new NetcodeError('DialFailed', `no relay reachable within ${timeoutMs} ms; tried: ${tried.join('; ')}`, {
          relays: [...this.entries.keys()],
        }));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /**
   * Resolves once we hold a reservation on some relay, or after `timeoutMs` without one (a
   * full relay is not an error: the peer still works, others just cannot reach it through
   * that relay).
   */
  async waitForReservation(timeoutMs: number): Promise<void> {
    const reserved = (): boolean => this.status().some((r) => r.reserved);
    if (reserved() || timeoutMs <= 0) return;
    // Polled: the circuit listener's new address shows in getMultiaddrs() without a reliable event.
    await new Promise<void>((resolve) => {
      const started = performance.now();
      const poll = setInterval(() => {
        if (reserved() || this.stopped || performance.now() - started >= timeoutMs) {
          clearInterval(poll);
          resolve();
        }
      }, 10);
    });
  }

  /** Peer ids of the relays connected now. */
  connectedIds(): string[] {
    return [...this.entries.values()].filter((e) => this.isConnected(e)).map((e) => e.id);
  }

  /** Configured multiaddrs of connected relays (to build `/p2p-circuit` addresses through them). */
  connectedAddrs(): string[] {
    return [...this.entries.values()].filter((e) => this.isConnected(e)).flatMap((e) => e.addrs);
  }

  /** Whether `peerId` is one of the configured relays. */
  isRelay(peerId: string): boolean {
    return this.entries.has(peerId);
  }

  /** Status of every configured relay. */
  status(): RelayStatus[] {
    const own = this.libp2p.getMultiaddrs().map((ma) => ma.toString());
    return [...this.entries.values()].map((e) => ({
      peerId: e.id,
      addrs: e.addrs,
      connected: this.isConnected(e),
      reserved: own.some((addr) => addr.includes(`/p2p/${e.id}/p2p-circuit`)),
      failures: e.failures,
      lastError: e.lastError,
    }));
  }

  /** Stops redialing (connections are closed by the node's own stop). Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.libp2p.removeEventListener('connection:close', this.onClose);
    this.libp2p.removeEventListener('connection:open', this.onOpen);
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
    for (const check of [...this.waiters]) check();
  }

  private isConnected(entry: RelayEntry): boolean {
    return this.libp2p.getConnections(entry.peerId).some((c) => c.status === 'open');
  }

  private dial(entry: RelayEntry): void {
    if (this.stopped || entry.dialing || this.isConnected(entry)) return;
    entry.dialing = true;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    this.libp2p
      .dial(entry.addrs.map((a) => multiaddr(a)), { signal: AbortSignal.timeout(this.dialTimeoutMs) })
      .then(() => {
        entry.failures = 0;
        entry.lastError = undefined;
        entry.backoff.reset();
      })
      .catch((err: unknown) => {
        entry.failures++;
        entry.lastError = err instanceof Error ? err.message : String(err);
        this.schedule(entry);
      })
      .finally(() => {
        entry.dialing = false;
        for (const check of [...this.waiters]) check();
      });
  }

  private schedule(entry: RelayEntry): void {
    if (this.stopped || entry.timer !== undefined) return;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      this.dial(entry);
    }, entry.backoff.next());
  }

  private readonly onOpen = (): void => {
    for (const check of [...this.waiters]) check();
  };

  private readonly onClose = (event: CustomEvent<{ remotePeer: PeerId }>): void => {
    const entry = this.entries.get(event.detail.remotePeer.toString());
    if (entry === undefined || this.stopped) return;
    // The close event fires before the connection leaves the manager's list: decide next tick.
    setTimeout(() => {
      if (!this.isConnected(entry)) this.schedule(entry);
    }, 0);
  };
}
