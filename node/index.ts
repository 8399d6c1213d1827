/**
 * PeerCompute node: the one-call front door over the engine, netcode, shaders and plugins.
 * `createNode(options)` assembles a peer (world, physics, input, room, session, compute backend,
 * workers, room compute, Babylon plugin) from one typed options object; `start()`, `stop()`,
 * `getStatus()`, `submitTask()` and lifecycle events drive it. Browser-safe: Node-only parts
 * (Dawn) are loaded only in Node.
 *
 * @example
 * ```ts
 * import { createNode } from 'peercompute/node';
 * const node = createNode({ network: { room: 'lobby' } }); // relay from the page's server
 * await node.start();
 * console.log(node.getStatus());
 * await node.stop();
 * ```
 */
export { NodeError } from './errors.ts';
export type { NodeErrorCode } from './errors.ts';
export { checkNodeOptions, DEFAULT_NODE_TICK_RATE, MAX_ROLLBACK_PLAYERS } from './options.ts';
export type {
  NodeNetworkOptions, NodeOptions, ReplicationSessionOptions, RollbackGame, RollbackMatch, RollbackSessionOptions,
} from './options.ts';
export { createNode, PeerComputeNode } from './node.ts';
export type { NodeEvents, NodePeerStatus, NodeState, NodeStatus, SubmitTaskOptions, TaskPlacement } from './node.ts';
