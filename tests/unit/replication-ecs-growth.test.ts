/**
 * Cost of the ECS binding: bytes per entity per update against a raw quantized encoding of the
 * same changes, and document growth over 10 simulated minutes of 100 moving entities at 20 Hz
 * (bounded by compaction of the writer's generation map, see netcode/replication/ecs.ts).
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { addComponent, spawn, storeOf } from '../../engine/index.ts';
import { MemoryNetwork, Replicated } from '../../netcode/index.ts';
import {
  joinReplicating, moveOnCircle, Pos, POS_REPLICATED, rawPositionBytes, type ReplicatingPeer,
} from './fixtures/replication-motion.ts';

const COMPONENTS = [POS_REPLICATED];

async function setup(entities: number, compactIntervalMs?: number): Promise<{ net: MemoryNetwork; writer: ReplicatingPeer; reader: ReplicatingPeer; eids: number[] }> {
  const net = new MemoryNetwork({ seed: 3, clock: 'manual' });
  const make = (id: string, clientID: number): Promise<ReplicatingPeer> => joinReplicating(net, id, clientID, {
    components: COMPONENTS, maxEntities: 1024, ...(compactIntervalMs === undefined ? {} : { compactIntervalMs }),
  });
  const writer = await make('w', 1);
  const reader = await make('r', 2);
  net.advance(50);
  const eids: number[] = [];
  for (let i = 0; i < entities; i++) {
    const e = spawn(writer.world);
    addComponent(writer.world, e, Pos, { x: i, y: 0, z: 0 });
    addComponent(writer.world, e, Replicated);
    eids.push(e);
  }
  return { net, writer, reader, eids };
}

describe('ECS replication cost', { timeout: 300_000 }, () => {
  for (const entities of [60, 500]) {
    it(`bytes per entity per update for ${entities} moving entities at 20 Hz stay within 3x a raw quantized encoding`, async () => {
      const { net, writer, reader, eids } = await setup(entities);
      net.advance(100);
      const s0 = writer.repl.stats();
      const out0 = writer.provider.stats().bytesOut;
      let raw = 0;
      const ticks = 200; // 10 s, two compactions included
      for (let t = 0; t < ticks; t++) {
        moveOnCircle(writer.world, eids, t);
        raw += rawPositionBytes(writer.world, eids);
        net.advance(50);
      }
      const s1 = writer.repl.stats();
      const updates = (s1.blobsWritten - s0.blobsWritten);
      const perEntity = (s1.updateBytes - s0.updateBytes) / updates;
      const rawPerEntity = raw / (ticks * entities);
      const perSecond = (writer.provider.stats().bytesOut - out0) / (ticks / 20);
      console.log(`${entities} entities: ${perEntity.toFixed(2)} B/entity/update in Yjs updates vs ${rawPerEntity.toFixed(2)} raw (ratio ${(perEntity / rawPerEntity).toFixed(2)}); ${(perSecond / 1024).toFixed(1)} KiB/s sent per receiving peer; compactions ${s1.compactions - s0.compactions}`);
      expect(updates).toBeGreaterThanOrEqual(ticks * entities);
      expect(perEntity / rawPerEntity).toBeLessThan(3);
      reader.repl.interpolate(1e12);
      const last = eids.at(-1)!;
      expect(storeOf(reader.world, Pos).x[reader.repl.eidOf(writer.repl.netIdOf(last)!)!]).toBeCloseTo(storeOf(writer.world, Pos).x[last]!, 2);
      await net.close();
    });
  }

  it('document size of 100 entities moving at 20 Hz for 10 simulated minutes stays bounded (writer and reader)', async () => {
    const { net, writer, reader, eids } = await setup(100);
    const sizes: Record<string, [number, number]> = {};
    const size = (d: Y.Doc): number => Y.encodeStateAsUpdate(d).length;
    let peak = 0;
    for (let t = 1; t <= 20 * 600; t++) {
      moveOnCircle(writer.world, eids, t);
      net.advance(50);
      // 10 s and 10 min fall right after a compaction (every 5 s); 9.5 s and 599.5 s just before one.
      if (t === 190 || t === 200 || t === 20 * 600 - 10 || t === 20 * 600) sizes[`${t / 20}s`] = [size(writer.doc), size(reader.doc)];
      if (t % 25 === 0) peak = Math.max(peak, size(reader.doc));
    }
    console.log(`doc bytes [writer, reader] after ${JSON.stringify(sizes)}; peak (reader, sampled every 25 ticks) ${peak}; compactions ${writer.repl.stats().compactions}`);
    expect(peak).toBeLessThan(120_000);
    expect(sizes['599.5s']![1]).toBeLessThan(sizes['9.5s']![1] * 1.25);
    const [w10, r10] = sizes['10s']!;
    const [w600, r600] = sizes['600s']!;
    expect(w600).toBeLessThan(w10 * 1.5);
    expect(r600).toBeLessThan(r10 * 1.5);
    expect(w600).toBeLessThan(100_000);
    expect(Math.abs(r600 - w600)).toBeLessThan(w600 * 0.1);
    await net.close();
  });

  it('without compaction the same run grows with time (what compaction prevents)', async () => {
    const { net, writer, eids } = await setup(100, 0);
    let at10 = 0;
    for (let t = 1; t <= 20 * 60; t++) {
      moveOnCircle(writer.world, eids, t);
      net.advance(50);
      if (t === 200) at10 = Y.encodeStateAsUpdate(writer.doc).length;
    }
    const at60 = Y.encodeStateAsUpdate(writer.doc).length;
    console.log(`no compaction: doc bytes after 10 s ${at10}, after 60 s ${at60}`);
    expect(at60).toBeGreaterThan(at10 * 4);
    await net.close();
  });
});
