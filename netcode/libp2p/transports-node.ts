/**
 * Node-only transports of a peer: TCP and WebSockets (to the relay and other Node peers),
 * circuit relay v2 (reservations, relayed fallback) and, when node-datachannel loads, WebRTC.
 * Loaded by peer.ts with a dynamic import after the Node polyfills are in place.
 */
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { NetcodeError } from '../errors.ts';
import type { TransportRequest, TransportSet } from './transport-set.ts';

/**
 * Builds the Node transport set.
 * @throws NetcodeError `InvalidConfig` when `request.webrtc` is `true` and @libp2p/webrtc
 *   (node-datachannel) cannot load; with `'auto'` WebRTC is then left out.
 */
export async function nodeTransports(request: TransportRequest): Promise<TransportSet> {
  const transports: TransportSet['transports'] = [
    tcp(),
    webSockets(),
    circuitRelayTransport({ reservationCompletionTimeout: request.reservationTimeoutMs }),
  ];
  const listen = [...request.listen];
  let webrtc = false;
  if (request.webrtc !== false) {
    try {
      const { webRTC } = await import('@libp2p/webrtc');
      transports.push(webRTC({ rtcConfiguration: { iceServers: [...request.iceServers] } }));
      listen.push('/webrtc');
      webrtc = true;
    } catch (err) {
      if (request.webrtc === true) {
        throw new NetcodeError('InvalidConfig', `webrtc: true but @libp2p/webrtc (node-datachannel) did not load: ${String(err)}`, {
          option: 'webrtc',
        });
      }
    }
  }
  for (let i = 0; i < request.reservations; i++) listen.push('/p2p-circuit');
  return { transports, listen, webrtc };
}
