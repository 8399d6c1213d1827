/**
 * Assembles a peer's libp2p node: the runtime's transports, noise, yamux, identify, ping,
 * gossipsub (StrictSign, IP colocation penalty off) and pubsub peer discovery. Browser-safe;
 * peer.ts imports it dynamically so the Node polyfills are installed before libp2p loads.
 */
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import { identify, type Identify } from '@libp2p/identify';
import { noise } from '@libp2p/noise';
import { ping, type Ping } from '@libp2p/ping';
import { pubsubPeerDiscovery } from '@libp2p/pubsub-peer-discovery';
import { yamux } from '@libp2p/yamux';
import { createLibp2p } from 'libp2p';
import type { Libp2p, PrivateKey } from '@libp2p/interface';
import type { TransportSet } from './transport-set.ts';

/** Services every peer runs. `pubsub` is gossipsub (the name pubsub-peer-discovery looks for). */
export type PeerServices = {
  identify: Identify;
  ping: Ping;
  pubsub: GossipSub;
};

/** Everything {@link createPeerNode} needs, already validated by createPeer. */
export interface PeerNodeConfig {
  readonly privateKey: PrivateKey | undefined;
  readonly transportSet: TransportSet;
  readonly discoveryTopics: readonly string[];
  readonly discoveryIntervalMs: number;
  readonly dialTimeoutMs: number;
  readonly maxConnections: number;
  readonly inboundConnectionsPerSecond: number;
  readonly allow: readonly string[];
}

/** Creates and starts the node. */
export async function createPeerNode(config: PeerNodeConfig): Promise<Libp2p<PeerServices>> {
  return createLibp2p<PeerServices>({
    ...(config.privateKey === undefined ? {} : { privateKey: config.privateKey }),
    addresses: { listen: [...config.transportSet.listen] },
    transports: [...config.transportSet.transports],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Game peers live on LANs and loopback: never refuse private addresses (the browser default does).
    connectionGater: { denyDialMultiaddr: () => false },
    connectionManager: {
      maxConnections: config.maxConnections,
      dialTimeout: config.dialTimeoutMs,
      inboundConnectionThreshold: config.inboundConnectionsPerSecond,
      allow: [...config.allow],
    },
    peerDiscovery: config.discoveryTopics.length === 0
      ? []
      : [pubsubPeerDiscovery({ topics: [...config.discoveryTopics], interval: config.discoveryIntervalMs })],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictSign',
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        // Players behind one NAT, and every local test, share an IP.
        scoreParams: { IPColocationFactorWeight: 0 },
      }),
    },
  });
}
