/**
 * Room compute benchmark (netcode/compute): time to generate 64 terrain chunks (`terrain.chunk`,
 * 256x256, 6 octaves: 257^2 i32 = 264 196 bytes each) through `RoomCompute.submit`, all submitted
 * at once, the requester alone against the requester with 2 helper peers.
 *
 * Cases (all CPU twins; this machine has no GPU and 2 cores):
 * 1. alone (baseline): one peer, its own executor, 1 slot.
 * 2. in-process helpers: requester + 2 helpers in THIS process on a `MemoryNetwork` (real clock,
 *    no conditioner). All three executors share one JavaScript thread, so this measures the
 *    protocol's overhead (chunking, acks, hashing), not any speed-up.
 * 3. helper processes over libp2p: a relay on loopback in this process, 2 helpers as child
 *    processes (`--helper`), every peer a libp2p node over TCP through the relay (the real
 *    transport, with Noise and yamux). Three processes computing share 2 cores, so the best
 *    possible speed-up is about 2x, minus the transfer of 64 x 264 KB.
 *    Rows: verify `none`; verify `spot-check` (default rate 0.1 + first result of each peer,
 *    recomputed by the requester); requester `local: 'fallback'` (it computes nothing: the
 *    peer-without-GPU scenario, where the helpers do everything).
 *
 * Each case: one warm-up batch, then {@link RUNS} timed batches; `extra` says how many chunks
 * each peer computed in the last batch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  createPeer, createRoomCompute, joinRoom, MemoryNetwork,
  type LocalRole, type Peer, type RoomCompute, type RoomComputeOptions, type RoomTransport, type VerifyMode,
} from '../netcode/index.ts';
import { startRelay } from '../netcode/relay/index.ts';
import { cpuBackend, encodeTerrainChunkInput, getKernel, prepareKernelTask, runKernel } from '../shaders/index.ts';
import type { BenchRow } from './harness.ts';

const CHUNKS = 64;
const SIZE = 256;
const RUNS = 3;
const GROUP = `room-compute: ${CHUNKS} terrain chunks ${SIZE}x${SIZE}`;
const LOOPBACK = ['/ip4/127.0.0.0/ipcidr/8'];
const ROOM = 'bench-room-compute';
const CPU = cpuBackend('preferred', 'room compute bench: CPU twins');

const inputs = Array.from({ length: CHUNKS }, (_, i) => encodeTerrainChunkInput({ seed: 2024, chunkX: i % 8, chunkZ: i >> 3, size: SIZE }));

/** Registry-backed options; `counter` counts runs of this executor. */
function options(counter: { runs: number }, extra: Partial<RoomComputeOptions> = {}): RoomComputeOptions {
  return {
    capability: { webgpu: false, adapter: '', slots: 1 },
    execute: (kernel, input) => {
      counter.runs++;
      return runKernel(CPU, kernel, input);
    },
    validate: (kernel, input) => void prepareKernelTask(kernel, input),
    maxOutputBytes: (kernel) => getKernel(kernel)?.maxOutputBytes,
    timeoutMs: 60_000,
    ...extra,
  };
}

async function batch(compute: RoomCompute, verify: VerifyMode): Promise<number> {
  const t = performance.now();
  const results = await Promise.all(inputs.map((input) => compute.submit('terrain.chunk', input, { verify })));
  const ms = performance.now() - t;
  if (results.some((r) => r.length !== (SIZE + 1) ** 2 * 4)) throw new Error('room-compute bench: a result has the wrong size');
  return ms;
}

function row(name: string, samples: number[], baseline?: BenchRow, extra?: Record<string, number | string>): BenchRow {
  const meanMs = samples.reduce((a, b) => a + b, 0) / samples.length;
  return {
    group: GROUP, name, meanMs, p99Ms: Math.max(...samples), samples: samples.length,
    baseline: baseline?.name, ratio: baseline ? meanMs / baseline.meanMs : undefined, extra,
  };
}

/** Warm-up, then RUNS timed batches; returns the samples and the per-peer counts of the last batch. */
async function measure(compute: RoomCompute, verify: VerifyMode, counters: Record<string, { runs: number }>, remote?: () => Promise<Record<string, number>>) {
  await batch(compute, verify);
  const samples: number[] = [];
  let counts: Record<string, number> = {};
  for (let r = 0; r < RUNS; r++) {
    for (const c of Object.values(counters)) c.runs = 0;
    const before = remote ? await remote() : {};
    samples.push(await batch(compute, verify));
    const after = remote ? await remote() : {};
    counts = Object.fromEntries(Object.entries(counters).map(([k, c]) => [k, c.runs]));
    for (const [k, v] of Object.entries(after)) counts[k] = v - (before[k] ?? 0);
  }
  return { samples, counts };
}

async function memoryCase(helpers: number): Promise<{ samples: number[]; counts: Record<string, number> }> {
  const net = new MemoryNetwork({ seed: 1 });
  const counters: Record<string, { runs: number }> = {};
  const computes: RoomCompute[] = [];
  const rooms: RoomTransport[] = [];
  for (const id of ['requester', ...Array.from({ length: helpers }, (_, i) => `helper${i + 1}`)]) {
    const room = await net.join('bench', id);
    rooms.push(room);
    counters[id] = { runs: 0 };
    computes.push(createRoomCompute(room, options(counters[id]!, { clock: net.clock })));
  }
  const requester = computes[0]!;
  await until(() => requester.peers().filter((p) => p.capability !== undefined).length === helpers, 'in-process helpers');
  try {
    return await measure(requester, 'none', counters);
  } finally {
    for (const c of computes) c.close();
    await Promise.all(rooms.map((r) => r.close()));
  }
}

function until(condition: () => boolean, what: string, limitMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const poll = setInterval(() => {
      if (condition()) {
        clearInterval(poll);
        resolve();
      } else if (performance.now() - start > limitMs) {
        clearInterval(poll);
        reject(new Error(`room-compute bench: timed out waiting for ${what}`));
      }
    }, 5);
  });
}

/** A helper peer in a child process: prints `ready`, then its run count on every line it reads. */
async function helperMain(relays: readonly string[]): Promise<void> {
  const peer = await createPeer({ relays, allow: LOOPBACK, webrtc: false });
  const room = await joinRoom(peer, ROOM);
  const counter = { runs: 0 };
  const compute = createRoomCompute(room, options(counter));
  process.stdout.write(`ready ${peer.peerId}\n`);
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', () => process.stdout.write(`runs ${counter.runs}\n`));
  process.stdin.on('end', () => {
    compute.close();
    void peer.close().then(() => process.exit(0));
  });
}

interface Helper {
  readonly child: ChildProcess;
  readonly peerId: string;
  runs(): Promise<number>;
}

function startHelper(relays: readonly string[]): Promise<Helper> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--helper', JSON.stringify(relays)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let buffer = '';
    const waiting: ((n: number) => void)[] = [];
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('ready ')) {
          resolve({
            child, peerId: line.slice(6),
            runs: () => new Promise<number>((r) => {
              waiting.push(r);
              child.stdin!.write('?\n');
            }),
          });
        } else if (line.startsWith('runs ')) {
          waiting.shift()?.(Number(line.slice(5)));
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`room-compute helper exited with ${code}`)));
  });
}

async function libp2pCases(alone: BenchRow): Promise<BenchRow[]> {
  const relay = await startRelay({ allow: LOOPBACK });
  const helpers: Helper[] = [];
  let peer: Peer | undefined;
  const rows: BenchRow[] = [];
  try {
    helpers.push(...(await Promise.all([startHelper(relay.tcpMultiaddrs), startHelper(relay.tcpMultiaddrs)])));
    peer = await createPeer({ relays: relay.tcpMultiaddrs, allow: LOOPBACK, webrtc: false });
    const room = await joinRoom(peer, ROOM);
    const remote = async () => Object.fromEntries(await Promise.all(helpers.map(async (h, i) => [`helper${i + 1}`, await h.runs()] as const)));
    const cases: { name: string; verify: VerifyMode; local: LocalRole; prefetch?: number }[] = [
      { name: "requester + 2 helper processes, libp2p TCP via relay, verify 'none'", verify: 'none', local: 'worker' },
      { name: "the same with prefetch 1 (one run queued per helper)", verify: 'none', local: 'worker', prefetch: 1 },
      { name: "requester + 2 helper processes, libp2p, verify 'spot-check' (10 % + first)", verify: 'spot-check', local: 'worker' },
      { name: "2 helper processes only (requester local: 'fallback'), libp2p, verify 'none'", verify: 'none', local: 'fallback' },
    ];
    for (const c of cases) {
      const counter = { runs: 0 };
      const compute = createRoomCompute(room, options(counter, { local: c.local, ...(c.prefetch === undefined ? {} : { prefetch: c.prefetch }) }));
      try {
        await until(() => compute.peers().filter((p) => p.capability !== undefined).length === 2, 'helper processes');
        const { samples, counts } = await measure(compute, c.verify, { requester: counter }, remote);
        const stats = compute.stats();
        rows.push(row(c.name, samples, alone, { ...counts, checks: stats.checks, reassigned: Object.entries(stats.reassigned).filter(([, n]) => n > 0).map(([k, n]) => `${k}:${n}`).join(',') || 0 }));
      } finally {
        compute.close();
      }
    }
  } finally {
    for (const h of helpers) {
      h.child.removeAllListeners('exit');
      h.child.stdin!.end();
    }
    await peer?.close();
    await Promise.all(helpers.map((h) => new Promise<void>((r) => (h.child.exitCode !== null ? r() : h.child.once('exit', () => r())))));
    await relay.close();
  }
  return rows;
}

/** The `room-compute` group of `npm run bench`. */
export async function benchRoomCompute(): Promise<BenchRow[]> {
  const single = await memoryCase(0);
  const alone = row('requester alone (own executor, 1 slot)', single.samples, undefined, single.counts);
  const rows = [alone];
  const mem = await memoryCase(2);
  rows.push(row('requester + 2 helpers in this process (MemoryNetwork, one thread)', mem.samples, alone, mem.counts));
  rows.push(...(await libp2pCases(alone)));
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--helper');
  if (at >= 0) await helperMain(JSON.parse(process.argv[at + 1]!) as string[]);
}
