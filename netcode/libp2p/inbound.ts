/**
 * Inbound room streams: each remote peer's send stream to us. Frames are attributed to the
 * authenticated peer id of the connection the stream came on (noise), never to anything in
 * the bytes. Pings are answered with pongs on the same stream.
 *
 * Order across streams: a sender that moves to a better connection opens a new stream and
 * closes the old one after its last frame. Its streams are delivered one at a time, oldest
 * first: frames of a newer stream wait until the older ones have ended, so per-channel order
 * holds across the move.
 */
import type { Connection, Stream } from '@libp2p/interface';
import type { DropEvent } from '../errors.ts';
import { frameBytes, readFrames } from './frame-reader.ts';
import { decodeStreamFrame, encodePingFrame, MAX_FRAME_OVERHEAD } from './wire.ts';

/** Bytes a waiting (newer) stream may hold before the older one is aborted to let it through. */
export const MAX_WAITING_BYTES = 4 * 1024 * 1024;

/** Where inbound frames go (the room). */
export interface InboundSink {
  readonly maxFrameBytes: number;
  /** A DATA frame from `from` (member or not: the room decides). `data` is owned by the sink. */
  deliver(from: string, channel: string, data: Uint8Array): void;
  drop(event: DropEvent): void;
  /** Any frame from `from` arrived (liveness). */
  alive(from: string): void;
}

interface Waiting {
  readonly channel: string;
  readonly data: Uint8Array;
}

class InboundReader {
  active = false;
  private waiting: Waiting[] = [];
  private waitingBytes = 0;

  constructor(
    readonly stream: Stream,
    readonly connection: Connection,
    readonly from: string,
    private readonly sink: InboundSink,
    private readonly onEnd: (reader: InboundReader) => void,
    private readonly onOverflow: (reader: InboundReader) => void,
  ) {}

  async run(): Promise<void> {
    const maxDataLength = this.sink.maxFrameBytes + MAX_FRAME_OVERHEAD;
    const end = await readFrames(this.stream, maxDataLength, (bytes) => this.onFrame(bytes));
    if (end.kind === 'bad') {
      this.sink.drop({ reason: end.reason, from: this.from, bytes: end.bytes, detail: `room stream: ${end.detail}` });
      this.stream.abort(new Error(`bad framing: ${end.detail}`));
    }
    this.onEnd(this);
  }

  activate(): void {
    this.active = true;
    const waiting = this.waiting;
    this.waiting = [];
    this.waitingBytes = 0;
    for (const item of waiting) this.sink.deliver(this.from, item.channel, item.data);
  }

  private onFrame(bytes: Uint8Array): void {
    const frame = decodeStreamFrame(bytes, this.sink.maxFrameBytes);
    if (frame.kind === 'error') {
      this.sink.drop({ reason: frame.reason, from: this.from, bytes: bytes.length, detail: `room stream: ${frame.detail}` });
      return;
    }
    this.sink.alive(this.from);
    if (frame.kind === 'ping') {
      try {
        if (this.stream.writeStatus === 'writable') this.stream.send(frameBytes(encodePingFrame('pong', frame.nonce)));
      } catch {
        // The stream is closing: the sender gets no pong for this ping, nothing else is lost.
      }
    } else if (frame.kind === 'pong') {
      this.sink.drop({ reason: 'Malformed', from: this.from, bytes: bytes.length, detail: 'pong on an inbound stream' });
    } else if (this.active) {
      this.sink.deliver(this.from, frame.channel, frame.data);
    } else {
      this.waiting.push({ channel: frame.channel, data: frame.data });
      this.waitingBytes += frame.data.length;
      if (this.waitingBytes > MAX_WAITING_BYTES) this.onOverflow(this);
    }
  }
}

/** All inbound room streams of one room, grouped by sender. */
export class InboundStreams {
  private readonly byPeer = new Map<string, InboundReader[]>();

  constructor(private readonly sink: InboundSink) {}

  /** Takes over a stream from the protocol handler and reads it until it ends. */
  accept(stream: Stream, connection: Connection): void {
    const from = connection.remotePeer.toString();
    const readers = this.byPeer.get(from) ?? [];
    // Streams of connections that have closed cannot end cleanly any more: do not wait for them.
    for (const reader of readers) if (reader.connection.status !== 'open') reader.stream.abort(new Error('connection closed'));
    this.byPeer.set(from, readers);
    const reader = new InboundReader(stream, connection, from, this.sink, (r) => this.ended(r), (r) => this.overflow(r));
    readers.push(reader);
    if (readers.length === 1) reader.activate();
    void reader.run();
  }

  /** Number of open inbound streams from `peerId`. */
  count(peerId: string): number {
    return this.byPeer.get(peerId)?.length ?? 0;
  }

  /** Aborts every inbound stream from `peerId` (it left or restarted). */
  closePeer(peerId: string): void {
    for (const reader of this.byPeer.get(peerId) ?? []) reader.stream.abort(new Error('peer left the room'));
  }

  /** Aborts every inbound stream. */
  closeAll(): void {
    for (const peerId of [...this.byPeer.keys()]) this.closePeer(peerId);
  }

  private ended(reader: InboundReader): void {
    const readers = this.byPeer.get(reader.from);
    if (readers === undefined) return;
    const index = readers.indexOf(reader);
    if (index >= 0) readers.splice(index, 1);
    if (readers.length === 0) {
      this.byPeer.delete(reader.from);
      return;
    }
    if (!readers[0].active) readers[0].activate();
  }

  private overflow(reader: InboundReader): void {
    const head = this.byPeer.get(reader.from)?.[0];
    if (head !== undefined && head !== reader) head.stream.abort(new Error('superseded by a newer stream'));
  }
}
