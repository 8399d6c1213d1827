/** Shapes shared by transports-node.ts and transports-browser.ts (types only). */
import type { Libp2pOptions } from 'libp2p';

/** What a peer asks of its runtime's transports. */
export interface TransportRequest {
  /** Node listen addresses (TCP/WebSocket); ignored in browsers. */
  readonly listen: readonly string[];
  /** `true`: required; `false`: off; `'auto'`: when it loads (always in browsers). */
  readonly webrtc: boolean | 'auto';
  /** How many relay reservations to hold (one `/p2p-circuit` listen address each). */
  readonly reservations: number;
  /** Reservation request timeout, ms. */
  readonly reservationTimeoutMs: number;
  /** STUN/TURN servers for WebRTC. */
  readonly iceServers: readonly RTCIceServer[];
}

/** Transports and listen addresses for `createLibp2p`. */
export interface TransportSet {
  readonly transports: NonNullable<Libp2pOptions['transports']>;
  readonly listen: readonly string[];
  /** Whether WebRTC is in the set (we can dial and accept `/webrtc` addresses). */
  readonly webrtc: boolean;
}
