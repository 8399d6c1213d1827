/**
 * The libp2p room transport: {@link RoomTransport} over a peer from createPeer.
 *
 * - Membership: every member publishes a PRESENCE message (hello on join, alive every
 *   `keepAliveMs`, bye on close) on the room's gossipsub topic, which the relay forwards.
 *   The sender is gossipsub's signed `from` (StrictSign: signature checked against the
 *   sender's key), so membership is room-scoped and authenticated. A member silent for
 *   `timeoutMs` (no presence, frame or pong) leaves with reason `'closed'` when we had a
 *   connection to it and none is open any more, else `'timeout'`; a bye leaves at once with
 *   `'left'`; a restarted peer (new session) leaves with `'closed'` and joins again. A member
 *   that comes back after leaving joins again.
 * - Unicast (`send`): length-prefixed frames (it-length-prefixed) on our own libp2p stream to
 *   the member, over the best connection (direct before relayed), see member-link.ts. Frames
 *   received are attributed to the connection's authenticated peer id (noise).
 * - Broadcast: one gossipsub message on the room topic; gossipsub delivers it at most once
 *   (its message-id cache drops duplicates before we see them, so `drops.Duplicate` stays 0).
 * - Stats: payload bytes and messages per member, counted at `send`/`broadcast` (a broadcast
 *   once per current member) and at delivery; framing, presence and pings are not counted.
 *   `rttMs`: PING/PONG on our stream, EWMA 0.2 (undefined until a stream is open; in `gossip`
 *   topology until the first `send` opens one).
 * - Bad input: oversized or malformed frames and gossip messages, and messages from
 *   non-members (after `joinGraceMs` waiting for their presence) are dropped, counted in
 *   `stats().drops` and emitted as `drop`. Nothing a remote sends throws here.
 *
 * @example
 * ```ts
 * const room = await joinRoom(peer, 'arena-1', { timeoutMs: 5000 });
 * room.on('peer:join', ({ peerId }) => console.log('joined', peerId));
 * room.on('message', ({ from, channel, data }) => console.log(from, channel, data.length));
 * room.broadcast('chat', new TextEncoder().encode('hello'));
 * ```
 */
import type { Connection, Stream } from '@libp2p/interface';
import type { Message, SubscriptionChangeData } from '@libp2p/gossipsub';
import { NetcodeError, type DropEvent, type DropReason } from '../errors.ts';
import { Emitter } from '../transport/emitter.ts';
import type {
  Channel, PeerId, PeerStats, RoomTransport, Topology, TransportEvents, TransportStats,
} from '../transport/types.ts';
import { addrsFromBytes } from './addrs.ts';
import { InboundStreams } from './inbound.ts';
import { MemberLink, type LinkHost } from './member-link.ts';
import { ROOM_ID_PATTERN, roomProtocol, roomTopic } from './names.ts';
import { PendingMessages } from './pending.ts';
import { Libp2pPeer, type Peer } from './peer.ts';
import { resolveRoomOptions, type JoinRoomOptions, type ResolvedOptions } from './room-options.ts';
import { chooseTopology } from './topology.ts';
import {
  channelBytes, decodeGossip, encodeDataFrame, encodeGossipData, encodePresence, newSessionId, type Presence, type PresenceState,
} from './wire.ts';

/** Streams of the room protocol accepted per connection. */
const MAX_ROOM_STREAMS = 8;

interface Member {
  session: string;
  lastSeen: number;
  readonly link: MemberLink;
}

/**
 * Joins room `roomId` on `peer` and returns its transport. Members already in the room are
 * discovered within about one relay round trip (their reply to our hello) and reported with
 * `peer:join`; later ones as they come.
 *
 * @param peer A peer from `createPeer`, not closed.
 * @param roomId 1 to 64 characters from `A-Z a-z 0-9 . _ ~ -`.
 * @throws NetcodeError `InvalidConfig` (bad room id or option, room already joined on this
 *   peer, not a createPeer peer); `Closed` (peer closed).
 */
export async function joinRoom(peer: Peer, roomId: string, options: JoinRoomOptions = {}): Promise<RoomTransport> {
  if (!(peer instanceof Libp2pPeer)) throw new NetcodeError('InvalidConfig', 'joinRoom needs a peer made by createPeer');
  if (peer.closed) throw new NetcodeError('Closed', `peer ${peer.peerId} is closed`, { peerId: peer.peerId });
  if (typeof roomId !== 'string' || !ROOM_ID_PATTERN.test(roomId)) {
    throw new NetcodeError('InvalidConfig', `room id "${String(roomId)}" must match ${ROOM_ID_PATTERN}`, { roomId });
  }
  if (peer.libp2p.getProtocols().includes(roomProtocol(roomId))) {
    throw new NetcodeError('InvalidConfig', `peer ${peer.peerId} already joined room ${roomId}`, { roomId });
  }
  const room = new Libp2pRoom(peer, roomId, resolveRoomOptions(options));
  await room.start();
  return room;
}


class Libp2pRoom implements RoomTransport {
  readonly localPeerId: string;
  readonly maxFrameBytes: number;

  private readonly protocol: string;
  private readonly topic: string;
  /** What member links see of the room. */
  private readonly host: LinkHost;
  private readonly session = newSessionId();
  private readonly members = new Map<PeerId, Member>();
  /** Sessions that said bye, to ignore their late heartbeats: peer id -> session, until (ms). */
  private readonly departed = new Map<PeerId, { session: string; until: number }>();
  private readonly pending: PendingMessages;
  private readonly inbound: InboundStreams;
  private readonly events = new Emitter<TransportEvents>();
  private readonly drops: Record<DropReason, number> = { Oversized: 0, Malformed: 0, NotInRoom: 0, Duplicate: 0 };
  private current: Topology;
  private seq = 0;
  private tickTimer: ReturnType<typeof setInterval> | undefined;
  private replyTimer: ReturnType<typeof setTimeout> | undefined;
  private nextBeat = 0;
  private nextPing = 0;
  private untrack: () => void = () => {};
  private closing: Promise<void> | undefined;

  constructor(private readonly peer: Libp2pPeer, readonly roomId: string, private readonly options: ResolvedOptions) {
    this.localPeerId = peer.peerId;
    this.maxFrameBytes = options.maxFrameBytes;
    this.protocol = roomProtocol(roomId);
    this.topic = roomTopic(roomId);
    this.host = {
      libp2p: peer.libp2p,
      localPeerId: peer.peerId,
      protocol: this.protocol,
      webrtc: peer.webrtc,
      dialTimeoutMs: peer.dialTimeoutMs,
      dialGraceMs: options.dialGraceMs,
      maxQueuedBytes: options.maxQueuedBytes,
      timeoutMs: options.timeoutMs,
      reconnect: options.reconnect,
      topology: () => this.current,
      relayAddrs: () => peer.relayLinks.connectedAddrs(),
      alive: (peerId) => this.alive(peerId),
      drop: (event) => this.drop(event),
    };
    this.current = chooseTopology(options.topology, 1, 'mesh', options.meshMaxPeers, options.gossipMinPeers);
    this.pending = new PendingMessages(options.joinGraceMs);
    this.inbound = new InboundStreams({
      maxFrameBytes: this.maxFrameBytes,
      deliver: (from, channel, data) => this.deliver(from, channel, data, false),
      drop: (event) => this.drop(event),
      alive: (from) => this.alive(from),
    });
  }

  private get libp2p(): Libp2pPeer['libp2p'] {
    return this.peer.libp2p;
  }

  /** Registers the stream handler, subscribes, says hello, starts the keep-alive tick. */
  async start(): Promise<void> {
    await this.libp2p.handle(this.protocol, (stream: Stream, connection: Connection) => this.inbound.accept(stream, connection), {
      runOnLimitedConnection: true,
      maxInboundStreams: MAX_ROOM_STREAMS,
      maxOutboundStreams: MAX_ROOM_STREAMS,
    });
    this.libp2p.addEventListener('connection:open', this.onConnectionOpen);
    this.libp2p.services.pubsub.addEventListener('message', this.onGossip);
    this.libp2p.services.pubsub.addEventListener('subscription-change', this.onSubscriptionChange);
    this.libp2p.services.pubsub.subscribe(this.topic);
    this.untrack = this.peer.track(this);
    this.publishPresence('hello');
    this.nextBeat = performance.now() + this.options.keepAliveMs;
    this.nextPing = this.nextBeat + this.options.keepAliveMs / 2;
    this.tickTimer = setInterval(() => this.tick(), Math.min(250, this.options.keepAliveMs));
  }

  peers(): readonly PeerId[] {
    return [...this.members.keys()].sort();
  }

  send(peerId: PeerId, channel: Channel, data: Uint8Array): void {
    this.assertOpen();
    const member = this.members.get(peerId);
    if (member === undefined) {
      throw new NetcodeError('UnknownPeer', `peer ${peerId} is not a member of room ${this.roomId}`, { peerId, roomId: this.roomId });
    }
    this.assertFrame(channel, data);
    member.link.send(encodeDataFrame(channelBytes(channel)!, data), data.length);
  }

  broadcast(channel: Channel, data: Uint8Array): void {
    this.assertOpen();
    this.assertFrame(channel, data);
    this.libp2p.services.pubsub.publish(this.topic, encodeGossipData(channelBytes(channel)!, data)).catch(() => {
      // Best effort: gossipsub refuses only while stopping.
    });
    for (const member of this.members.values()) {
      member.link.bytesOut += data.length;
      member.link.messagesOut++;
    }
  }

  on<K extends keyof TransportEvents>(event: K, handler: (e: TransportEvents[K]) => void): () => void {
    return this.events.on(event, handler);
  }

  stats(): TransportStats {
    const peers: PeerStats[] = this.peers().map((peerId) => {
      const link = this.members.get(peerId)!.link;
      return {
        peerId, rttMs: link.rttMs, bytesIn: link.bytesIn, bytesOut: link.bytesOut,
        messagesIn: link.messagesIn, messagesOut: link.messagesOut, connection: link.kind(),
      };
    });
    return { peers, drops: { ...this.drops }, topology: this.current };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // Internals

  /** `peerId` showed a sign of life. */
  private alive(peerId: string): void {
    const member = this.members.get(peerId);
    if (member !== undefined) member.lastSeen = performance.now();
  }

  private drop(event: DropEvent): void {
    this.drops[event.reason]++;
    this.emit('drop', event);
  }

  /** Emits without letting a throwing handler break the network loop that called us. */
  private emit<K extends keyof TransportEvents>(event: K, payload: TransportEvents[K]): void {
    try {
      this.events.emit(event, payload);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.tickTimer);
    clearTimeout(this.replyTimer);
    const pubsub = this.libp2p.services.pubsub;
    pubsub.removeEventListener('message', this.onGossip);
    pubsub.removeEventListener('subscription-change', this.onSubscriptionChange);
    this.libp2p.removeEventListener('connection:open', this.onConnectionOpen);
    if (this.libp2p.status === 'started') {
      await Promise.race([this.publishPresence('bye'), delay(250)]);
      try {
        pubsub.unsubscribe(this.topic);
        await this.libp2p.unhandle(this.protocol);
      } catch {
        // The node is stopping: its handlers and subscriptions go with it.
      }
    }
    await Promise.allSettled([...this.members.values()].map((m) => m.link.close()));
    this.inbound.closeAll();
    this.members.clear();
    this.pending.clear();
    this.events.clear();
    this.untrack();
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new NetcodeError('Closed', `room ${this.roomId} is closed`, { roomId: this.roomId });
  }

  private assertFrame(channel: Channel, data: Uint8Array): void {
    if (data.length > this.maxFrameBytes) {
      throw new NetcodeError('FrameTooLarge', `frame of ${data.length} bytes on channel "${channel}" exceeds ${this.maxFrameBytes}`, {
        bytes: data.length, maxFrameBytes: this.maxFrameBytes, channel,
      });
    }
    if (channelBytes(channel) === undefined) {
      throw new NetcodeError('InvalidConfig', `channel name "${channel.slice(0, 40)}..." is longer than 255 UTF-8 bytes`, { channel });
    }
  }

  private publishPresence(state: PresenceState): Promise<void> {
    const presence: Presence = {
      state, session: this.session, seq: this.seq++, addrs: this.libp2p.getMultiaddrs().map((ma) => ma.bytes),
    };
    return this.libp2p.services.pubsub.publish(this.topic, encodePresence(presence)).then(() => {}, () => {});
  }

  /** Answers a newcomer's hello soon (coalescing several into one presence). */
  private replySoon(): void {
    if (this.replyTimer !== undefined || this.closing !== undefined) return;
    this.replyTimer = setTimeout(() => {
      this.replyTimer = undefined;
      if (this.closing === undefined) void this.publishPresence('alive');
    }, 20);
  }

  private tick(): void {
    const now = performance.now();
    if (now >= this.nextBeat) {
      this.nextBeat = now + this.options.keepAliveMs;
      void this.publishPresence('alive');
    }
    // Pings go half a period after the presence, away from its signing and verification work,
    // so the RTT measures the path rather than our own CPU.
    if (now >= this.nextPing) {
      this.nextPing = now + this.options.keepAliveMs;
      for (const member of this.members.values()) member.link.ping();
    }
    for (const [peerId, member] of this.members) {
      if (now - member.lastSeen > this.options.timeoutMs) this.leave(peerId, member.link.everConnected && !member.link.connected() ? 'closed' : 'timeout');
    }
    for (const { from, message } of this.pending.expire(now)) {
      this.drop({ reason: 'NotInRoom', from, bytes: message.data.length, detail: `no presence from ${from} within the join grace period` });
    }
    for (const [peerId, entry] of this.departed) if (entry.until < now) this.departed.delete(peerId);
  }

  private readonly onGossip = (event: CustomEvent<Message>): void => {
    const message = event.detail;
    if (message.topic !== this.topic) return;
    if (message.type !== 'signed') {
      this.drop({ reason: 'Malformed', from: undefined, bytes: message.data.length, detail: 'unsigned gossip message' });
      return;
    }
    const from = message.from.toString();
    if (from === this.localPeerId) return;
    const decoded = decodeGossip(message.data, this.maxFrameBytes);
    if (decoded.kind === 'error') this.drop({ reason: decoded.reason, from, bytes: message.data.length, detail: `gossip: ${decoded.detail}` });
    else if (decoded.kind === 'presence') this.onPresence(from, decoded, message.data.length);
    else this.deliver(from, decoded.channel, decoded.data, true);
  };

  /**
   * A peer (the relay, or a member over a direct connection) subscribed to our topic: our
   * hello may have gone nowhere before, so announce ourselves again now.
   */
  private readonly onSubscriptionChange = (event: CustomEvent<SubscriptionChangeData>): void => {
    if (event.detail.subscriptions.some((s) => s.subscribe && s.topic === this.topic)) this.replySoon();
  };

  private onPresence(from: PeerId, presence: Presence, bytes: number): void {
    const now = performance.now();
    let member = this.members.get(from);
    if (presence.state === 'bye') {
      if (member?.session === presence.session) this.leave(from, 'left');
      this.departed.set(from, { session: presence.session, until: now + 2 * this.options.timeoutMs });
      return;
    }
    if (this.departed.get(from)?.session === presence.session) return;
    if (member !== undefined && member.session !== presence.session) {
      this.leave(from, 'closed', { restarted: true });
      member = undefined;
    }
    const addrs = addrsFromBytes(presence.addrs);
    if (presence.state === 'hello') this.replySoon();
    if (member !== undefined) {
      member.lastSeen = now;
      member.link.setAddrs(addrs);
      return;
    }
    if (this.members.size >= this.options.maxPeers) {
      this.drop({ reason: 'NotInRoom', from, bytes, detail: `room ${this.roomId} is full (${this.options.maxPeers} peers)` });
      return;
    }
    this.join(from, presence.session, addrs);
  }

  private join(peerId: PeerId, session: string, addrs: string[]): void {
    const link = new MemberLink(peerId, this.host);
    link.setAddrs(addrs);
    this.members.set(peerId, { session, lastSeen: performance.now(), link });
    this.departed.delete(peerId);
    this.updateTopology();
    this.replySoon();
    this.emit('peer:join', { peerId });
    for (const message of this.pending.take(peerId)) this.deliver(peerId, message.channel, message.data, message.broadcast);
    link.start();
  }

  private leave(peerId: PeerId, reason: 'left' | 'timeout' | 'closed', how: { restarted?: boolean } = {}): void {
    const member = this.members.get(peerId);
    if (member === undefined) return;
    this.members.delete(peerId);
    void member.link.close();
    // A restarted peer's new streams may already be here: only close streams of one that is gone.
    if (how.restarted !== true) this.inbound.closePeer(peerId);
    this.updateTopology();
    this.emit('peer:leave', { peerId, reason });
  }

  private deliver(from: PeerId, channel: string, data: Uint8Array, broadcast: boolean): void {
    const member = this.members.get(from);
    if (member === undefined) {
      if (!this.pending.add(from, { channel, data, broadcast, at: performance.now() })) {
        this.drop({ reason: 'NotInRoom', from, bytes: data.length, detail: `${from} is not a member of room ${this.roomId}` });
      }
      return;
    }
    member.lastSeen = performance.now();
    member.link.bytesIn += data.length;
    member.link.messagesIn++;
    this.emit('message', { from, channel, data, broadcast });
  }

  private updateTopology(): void {
    const next = chooseTopology(this.options.topology, this.members.size + 1, this.current, this.options.meshMaxPeers, this.options.gossipMinPeers);
    if (next === this.current) return;
    this.current = next;
    for (const member of this.members.values()) member.link.topologyChanged();
  }

  private readonly onConnectionOpen = (event: CustomEvent<Connection>): void => {
    this.members.get(event.detail.remotePeer.toString())?.link.onConnectionOpen(event.detail);
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
