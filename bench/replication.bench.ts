/**
 * ECS replication benchmarks (issue 5), over the in-memory transport in virtual time (manual
 * clock), every figure beside a baseline of the same run:
 *
 * 1. Bandwidth: 60 and 500 entities (3 fields quantized at 1 mm) moving every tick at 20 Hz for
 *    10 s, one writer and two readers. Bytes are the writer's Yjs updates (`updateBytes`) and
 *    what its transport sent to one other peer (`bytesOut` / readers). Baseline: a raw stream of
 *    the same changes, per entity (varuint index, quantized fields). The Colyseus reference
 *    (9.4-16.4 KB/s for 60 entities at 20 Hz) is printed in the row.
 * 2. Growth: document bytes (`Y.encodeStateAsUpdate`) and heap after 10 s and after 10 simulated
 *    minutes of 100 moving entities (heap after `global.gc()` when run with `--expose-gc`, else
 *    marked `n/a`). Baseline row: 10 s; the 10 min row's ratio is of document bytes.
 * 3. Late join: a world of 10k replicated entities (Pos + Hp), a new peer joins; wall-clock ms
 *    until its replicator holds all 10k local entities, bytes it received. Baseline: decoding the
 *    same entity blobs alone, without Yjs.
 *
 * In these rows `meanMs` is CPU wall time of the measured phase (once), so `p99` is `-`.
 */
import * as Y from 'yjs';
import { addComponent, defineComponent, spawn, type GameWorld } from '../engine/index.ts';
import { decodeBlob, defineReplicated, MemoryNetwork, Replicated } from '../netcode/index.ts';
import type { BenchRow } from './harness.ts';
import {
  joinReplicating, moveOnCircle, Pos, POS_REPLICATED, rawPositionBytes, type ReplicatingPeer,
} from '../tests/unit/fixtures/replication-motion.ts';

const Hp = defineComponent('Hp', { hp: 'i32' });
const COMPONENTS = [POS_REPLICATED, defineReplicated(Hp)];
const TICK_MS = 50;
const COLYSEUS = '9.4-16.4 KB/s (60 ent, 20 Hz)';

const join = (net: MemoryNetwork, id: string, clientID: number, maxEntities: number): Promise<ReplicatingPeer> =>
  joinReplicating(net, id, clientID, { components: COMPONENTS, maxEntities });

function spawnAll(w: GameWorld, n: number, hp: boolean): number[] {
  const eids: number[] = [];
  for (let i = 0; i < n; i++) {
    const e = spawn(w);
    addComponent(w, e, Pos, { x: i, y: 0, z: 0 });
    if (hp) addComponent(w, e, Hp, { hp: 100 });
    addComponent(w, e, Replicated);
    eids.push(e);
  }
  return eids;
}

async function closeAll(net: MemoryNetwork, peers: readonly ReplicatingPeer[]): Promise<void> {
  for (const p of peers) {
    p.repl.dispose();
    p.provider.destroy();
  }
  await net.close();
}

function sentBytes(p: ReplicatingPeer): number {
  return p.provider.room.stats().peers.reduce((n, s) => n + s.bytesOut, 0);
}

async function bandwidth(entities: number): Promise<BenchRow[]> {
  const net = new MemoryNetwork({ seed: 5, clock: 'manual' });
  const writer = await join(net, 'w', 1, 1024);
  const readers = [await join(net, 'r1', 2, 1024), await join(net, 'r2', 3, 1024)];
  net.advance(100);
  const eids = spawnAll(writer.world, entities, false);
  net.advance(200);
  const s0 = writer.repl.stats();
  const out0 = sentBytes(writer);
  const ticks = 200;
  let raw = 0;
  let rawMs = 0;
  const t0 = performance.now();
  for (let t = 0; t < ticks; t++) {
    moveOnCircle(writer.world, eids, t);
    const r0 = performance.now();
    raw += rawPositionBytes(writer.world, eids);
    rawMs += performance.now() - r0;
    net.advance(TICK_MS);
  }
  const cpu = performance.now() - t0 - rawMs;
  const s1 = writer.repl.stats();
  const seconds = (ticks * TICK_MS) / 1000;
  const updates = s1.blobsWritten - s0.blobsWritten;
  const perEntity = (s1.updateBytes - s0.updateBytes) / updates;
  const rawPerEntity = raw / (ticks * entities);
  const perPeer = (sentBytes(writer) - out0) / readers.length / seconds;
  const rawPerSecond = raw / seconds;
  const group = `replication bandwidth, ${entities} moving entities, 20 Hz, 1 writer + 2 readers`;
  const rawName = `raw (varuint index, fields at 1 mm), ${entities} ent`;
  await closeAll(net, [writer, ...readers]);
  return [
    { group, name: rawName, meanMs: rawMs / ticks, p99Ms: Number.NaN, samples: ticks, extra: { 'B/ent/update': rawPerEntity, 'KB/s/peer': rawPerSecond / 1000 } },
    {
      group, name: `ECS binding (Yjs), ${entities} ent`, meanMs: cpu / ticks, p99Ms: Number.NaN, samples: ticks, baseline: rawName, ratio: cpu / rawMs,
      extra: {
        'B/ent/update': perEntity, 'x raw B': perEntity / rawPerEntity, 'KB/s/peer (wire)': perPeer / 1000, 'KB/s/peer (updates)': (s1.updateBytes - s0.updateBytes) / seconds / 1000,
        compactions: s1.compactions - s0.compactions, ...(entities === 60 ? { colyseus: COLYSEUS } : {}),
      },
    },
  ];
}

function heap(): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return undefined;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function growth(): Promise<BenchRow[]> {
  const net = new MemoryNetwork({ seed: 6, clock: 'manual' });
  const heap0 = heap();
  const writer = await join(net, 'w', 1, 1024);
  const reader = await join(net, 'r', 2, 1024);
  net.advance(100);
  const eids = spawnAll(writer.world, 100, false);
  const at: Record<string, { doc: number; reader: number; heap: number | undefined; cpu: number }> = {};
  const t0 = performance.now();
  for (let t = 1; t <= 20 * 600; t++) {
    moveOnCircle(writer.world, eids, t);
    net.advance(TICK_MS);
    if (t === 200 || t === 20 * 600) {
      const cpu = performance.now() - t0;
      const h = heap();
      at[t === 200 ? '10s' : '10min'] = {
        doc: Y.encodeStateAsUpdate(writer.doc).length, reader: Y.encodeStateAsUpdate(reader.doc).length,
        heap: h === undefined || heap0 === undefined ? undefined : h - heap0, cpu,
      };
    }
  }
  await closeAll(net, [writer, reader]);
  const group = 'replication growth, 100 entities moving at 20 Hz (compaction every 5 s)';
  const row = (name: string, m: (typeof at)[string], base?: (typeof at)[string]): BenchRow => ({
    group, name, meanMs: m.cpu, p99Ms: Number.NaN, samples: 1,
    baseline: base === undefined ? undefined : 'after 10 s', ratio: base === undefined ? undefined : m.doc / base.doc,
    extra: {
      'doc B (writer)': m.doc, 'doc B (reader)': m.reader,
      'heap MB': m.heap === undefined ? 'n/a (run node --expose-gc)' : m.heap / 1e6,
      ...(base === undefined ? {} : { 'x doc B': m.doc / base.doc, ...(m.heap !== undefined && base.heap !== undefined ? { 'x heap': m.heap / base.heap } : {}) }),
    },
  });
  return [row('after 10 s', at['10s']!), row('after 10 min', at['10min']!, at['10s']!)];
}

async function lateJoin(): Promise<BenchRow[]> {
  const n = 10_000;
  const net = new MemoryNetwork({ seed: 7, clock: 'manual' });
  const host = await join(net, 'a', 1, n + 16);
  net.advance(100);
  spawnAll(host.world, n, true);
  net.advance(TICK_MS * 2);
  const blobs = [...(host.doc.getMap<unknown>('e:a').get('g') as Y.Map<unknown>).values()] as Uint8Array[];
  const layout = { components: COMPONENTS.map((c) => ({ def: c.def, fields: c.fields })) };
  const d0 = performance.now();
  let decoded = 0;
  for (const b of blobs) if (decodeBlob(layout, b) !== undefined) decoded++;
  const decodeMs = performance.now() - d0;
  const t0 = performance.now();
  const late = await join(net, 'late', 2, n + 16);
  let waited = 0;
  while (late.repl.netIds().length < n && waited < 10_000) {
    net.advance(10);
    waited += 10;
  }
  const ms = performance.now() - t0;
  const received = late.provider.room.stats().peers.reduce((s, p) => s + p.bytesIn, 0);
  const got = late.repl.netIds().length;
  const lateDoc = Y.encodeStateAsUpdate(late.doc).length;
  await closeAll(net, [host, late]);
  if (got < n || decoded < n) throw new Error(`bench replication: late joiner got ${got} of ${n} entities`);
  const group = `replication late join, ${n} entities (Pos + Hp)`;
  const base = `decode ${n} entity blobs alone`;
  return [
    { group, name: base, meanMs: decodeMs, p99Ms: Number.NaN, samples: 1, extra: { 'blob B': blobs.reduce((s, b) => s + b.length, 0) } },
    {
      group, name: 'join, sync, decode, apply, create 10k entities', meanMs: ms, p99Ms: Number.NaN, samples: 1, baseline: base, ratio: ms / decodeMs,
      extra: { 'bytes received': received, 'doc B': lateDoc, 'virtual ms': waited },
    },
  ];
}

/** The `replication` group (see the module doc). */
export async function benchReplication(): Promise<BenchRow[]> {
  return [...await bandwidth(60), ...await bandwidth(500), ...await growth(), ...await lateJoin()];
}
