/**
 * Browser transports of a peer: WebSockets to the relay, circuit relay v2 (a reservation so
 * others can reach us, and the relayed fallback) and WebRTC between browsers, signalled
 * through the relay (`<relay>/p2p-circuit/webrtc/p2p/<peer>`).
 */
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import type { TransportRequest, TransportSet } from './transport-set.ts';

/** Builds the browser transport set; `request.listen` is ignored (browsers cannot listen). */
export function browserTransports(request: TransportRequest): TransportSet {
  const listen: string[] = [];
  const transports: TransportSet['transports'] = [
    webSockets(),
    circuitRelayTransport({ reservationCompletionTimeout: request.reservationTimeoutMs }),
  ];
  let webrtc = false;
  if (request.webrtc !== false) {
    transports.push(webRTC({ rtcConfiguration: { iceServers: [...request.iceServers] } }));
    listen.push('/webrtc');
    webrtc = true;
  }
  for (let i = 0; i < request.reservations; i++) listen.push('/p2p-circuit');
  return { transports, listen, webrtc };
}
