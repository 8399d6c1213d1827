/**
 * Network benchmarks, Node peers over TCP through a relay on loopback: round trip of small frames
 * and throughput of 1 KiB frames over a room's `send` (a length-prefixed libp2p stream on the
 * direct TCP connection) side by side with `broadcast` (gossipsub) in the same run, plus the
 * time from `createPeer` to the first message from another member.
 *
 * Rows report mean and p99 in ms; `extra` gives p50 and MB/s. The browser-to-browser figures
 * are the `webrtc` group.
 */
import { createPeer, joinRoom, type Peer, type RoomTransport } from '../netcode/index.ts';
import { startRelay } from '../netcode/relay/index.ts';
import type { BenchRow } from './harness.ts';

const LOOPBACK = ['/ip4/127.0.0.0/ipcidr/8'];
const RTT_SAMPLES = 400;
const THROUGHPUT_FRAMES = 2000;
const FRAME_BYTES = 1024;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function until(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (condition()) resolve();
      else if (performance.now() - start > limitMs) reject(new Error(`bench: timed out waiting for ${what}`));
      else setTimeout(check, 2);
    };
    check();
  });
}

/** Round trips of a 16-byte frame: `via` sends, the other side echoes the same way. */
async function roundTrips(a: RoomTransport, b: RoomTransport, via: 'send' | 'broadcast'): Promise<number[]> {
  const channel = `rtt-${via}`;
  const offB = b.on('message', (e) => {
    if (e.channel !== channel) return;
    if (via === 'send') b.send(e.from, channel, e.data);
    else b.broadcast(channel, e.data);
  });
  const samples: number[] = [];
  const frame = new Uint8Array(16);
  for (let i = 0; i < RTT_SAMPLES; i++) {
    frame[0] = i & 0xff;
    const t0 = performance.now();
    const back = new Promise<void>((resolve) => {
      const off = a.on('message', (e) => {
        if (e.channel === channel && e.data[0] === (i & 0xff)) {
          off();
          resolve();
        }
      });
    });
    if (via === 'send') a.send(b.localPeerId, channel, frame);
    else a.broadcast(channel, frame);
    await back;
    samples.push(performance.now() - t0);
  }
  offB();
  return samples.sort((x, y) => x - y);
}

/** Time to deliver THROUGHPUT_FRAMES frames of 1 KiB from a to b, ms. */
async function throughput(a: RoomTransport, b: RoomTransport, via: 'send' | 'broadcast'): Promise<number> {
  const channel = `tp-${via}`;
  let received = 0;
  const off = b.on('message', (e) => {
    if (e.channel === channel) received++;
  });
  const frame = new Uint8Array(FRAME_BYTES);
  const t0 = performance.now();
  for (let i = 0; i < THROUGHPUT_FRAMES; i++) {
    if (via === 'send') a.send(b.localPeerId, channel, frame);
    else a.broadcast(channel, frame);
    if (i % 100 === 99) await new Promise((r) => setImmediate(r)); // let the event loop move bytes
  }
  await until(() => received >= THROUGHPUT_FRAMES, `${THROUGHPUT_FRAMES} ${via} frames`, 60_000);
  off();
  return performance.now() - t0;
}

/** Runs the Node-over-TCP group. */
export async function benchNet(): Promise<BenchRow[]> {
  const relay = await startRelay({ allow: LOOPBACK });
  const peers: Peer[] = [];
  try {
    const options = { relays: relay.tcpMultiaddrs, allow: LOOPBACK, webrtc: false as const };
    const pa = await createPeer(options);
    peers.push(pa);
    const a = await joinRoom(pa, 'bench');
    a.on('peer:join', (e) => a.send(e.peerId, 'hello', Uint8Array.of(1)));
    const t0 = performance.now();
    const pb = await createPeer(options);
    peers.push(pb);
    const b = await joinRoom(pb, 'bench');
    let firstMessageMs = -1;
    b.on('message', (e) => {
      if (firstMessageMs < 0 && e.channel === 'hello') firstMessageMs = performance.now() - t0;
    });
    await until(() => firstMessageMs >= 0, 'the first message');
    await until(() => a.stats().peers.every((p) => p.connection === 'tcp') && b.stats().peers.every((p) => p.connection === 'tcp'), 'direct TCP');

    const group = 'Node peers over TCP, relay on loopback';
    const rttRow = (name: string, s: number[], baseline?: string): BenchRow => ({
      group: `${group}: round trip, 16 B`, name, meanMs: s.reduce((x, y) => x + y, 0) / s.length, p99Ms: percentile(s, 0.99), samples: s.length,
      baseline, extra: { p50: percentile(s, 0.5) },
    });
    const gossipRtt = await roundTrips(a, b, 'broadcast');
    const streamRtt = await roundTrips(a, b, 'send');
    const rows: BenchRow[] = [rttRow('broadcast (gossipsub)', gossipRtt), rttRow('send (stream, direct TCP)', streamRtt, 'broadcast (gossipsub)')];
    const gossipMs = await throughput(a, b, 'broadcast');
    const streamMs = await throughput(a, b, 'send');
    const tpRow = (name: string, ms: number, baseline?: string): BenchRow => ({
      group: `${group}: throughput, ${THROUGHPUT_FRAMES} x 1 KiB`, name, meanMs: ms / THROUGHPUT_FRAMES, p99Ms: Number.NaN, samples: THROUGHPUT_FRAMES,
      baseline, extra: { 'MB/s': (THROUGHPUT_FRAMES * FRAME_BYTES) / 1e6 / (ms / 1000) },
    });
    rows.push(tpRow('broadcast (gossipsub)', gossipMs), tpRow('send (stream, direct TCP)', streamMs, 'broadcast (gossipsub)'));
    rows.push({ group: `${group}: join`, name: 'createPeer -> first message from a member', meanMs: firstMessageMs, p99Ms: Number.NaN, samples: 1 });
    for (const r of rows) {
      if (r.baseline) {
        const base = rows.find((x) => x.group === r.group && x.name === r.baseline)!;
        r.ratio = r.meanMs / base.meanMs;
      }
    }
    return rows;
  } finally {
    await Promise.all(peers.map((p) => p.close()));
    await relay.close();
  }
}
