/**
 * Seeded network fuzz of the Yjs provider (the Yjs test suite's TestConnector idea, over our
 * in-memory transport): 5 peers edit one document at random while the network reorders,
 * duplicates and drops broadcasts, partitions the room and cuts a peer off long enough to be
 * timed out; once the network heals, every document must reach the same state.
 */
import { describe, expect, it } from 'vitest';
import type { ConditionerOptions } from '../../netcode/index.ts';
import { contentOf, converged, createRoom, drops, randomEdit, stateVector } from './replication-harness.ts';

/** 30 ± 20 ms one way, 10 % loss, 10 % of broadcasts duplicated, 20 % held back 40 ms (reordered). */
const BAD: ConditionerOptions = { latencyMs: 30, jitterMs: 20, loss: 0.1, duplicate: 0.1, reorder: 0.2, reorderDelayMs: 40 };
const ROUND_MS = 20;
const ROUNDS = 500;

interface FuzzResult {
  converged: boolean;
  /** Virtual time from the end of the edits until every document agreed, ms. */
  convergeMs: number;
  edits: number;
  /** `peer:leave` events seen by p0, as `id:reason`. */
  leaves: string[];
  peers: Awaited<ReturnType<typeof createRoom>>['peers'];
  close: () => Promise<void>;
}

/**
 * 10 s of virtual time in 20 ms rounds; each online peer edits with probability 0.5 per round.
 * Rounds 60-160: partition {p0, p1} | {p2, p3, p4} (2 s: connections survive, broadcasts across
 * are lost). Rounds 200-520 (6.4 s, beyond the 5 s timeout): p4 cut off, editing alone; it is
 * timed out and joins again after reconnecting. Then up to 60 s without edits until convergence.
 */
async function fuzz(seed: number, resyncIntervalMs: number): Promise<FuzzResult> {
  const { net, peers, rng } = await createRoom({ peers: 5, seed, conditioner: BAD, provider: { resyncIntervalMs } });
  const leaves: string[] = [];
  peers[0]!.room.on('peer:leave', (e) => leaves.push(`${e.peerId}:${e.reason}`));
  net.advance(100);
  let edits = 0;
  for (let round = 0; round < ROUNDS; round++) {
    if (round === 60) net.partition(['p0', 'p1'], ['p2', 'p3', 'p4']);
    if (round === 160) net.heal();
    if (round === 200) net.disconnect('p4');
    for (const p of peers) {
      if (rng.nextFloat() < 0.5) {
        randomEdit(p.doc, rng);
        edits++;
      }
    }
    net.advance(ROUND_MS);
  }
  net.reconnect('p4');
  let convergeMs = 0;
  const docs = peers.map((p) => p.doc);
  while (!converged(docs) && convergeMs < 60_000) {
    net.advance(50);
    convergeMs += 50;
  }
  return {
    converged: converged(docs), convergeMs, edits, leaves, peers,
    close: async () => {
      for (const p of peers) p.provider.destroy();
      await net.close();
    },
  };
}

describe('YRoomProvider under a seeded bad network', { timeout: 30_000 }, () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: 5 peers, ~1250 random edits, loss/duplication/reordering, a partition and a timed-out peer: all converge`, async () => {
      const started = performance.now();
      const r = await fuzz(seed, 1000);
      const wallMs = performance.now() - started;
      try {
        expect(r.leaves).toEqual(['p4:timeout']);
        expect(r.peers[0]!.room.peers()).toEqual(['p1', 'p2', 'p3', 'p4']);
        expect(r.converged).toBe(true);
        expect(r.peers[0]!.doc.getArray('arr').length).toBeGreaterThan(100);
        const [first, ...rest] = r.peers;
        for (const p of rest) {
          expect(stateVector(p.doc)).toEqual(stateVector(first!.doc));
          expect(contentOf(p.doc)).toBe(contentOf(first!.doc));
          // Nothing left waiting for missing structs.
          expect(p.doc.store.pendingStructs).toBeNull();
        }
        // Every peer's edits are in: the state vector has a clock for each of the 5 client ids.
        expect(stateVector(first!.doc).map(([client]) => client)).toEqual([1, 2, 3, 4, 5]);
        // The network did lose and duplicate things; the provider never saw bad bytes.
        expect(r.peers.reduce((n, p) => n + p.room.stats().drops.Duplicate, 0)).toBeGreaterThan(0);
        for (const reason of ['Malformed', 'InvalidUpdate', 'Vetoed', 'Forbidden', 'ChunkExpired'] as const) expect(drops(r.peers, reason)).toBe(0);
        console.log(`replication fuzz seed ${seed}: ${r.edits} edits, converged ${r.convergeMs} ms (virtual) after the last edit; run took ${wallMs.toFixed(0)} ms`);
      } finally {
        await r.close();
      }
    });
  }

  it('control: without the periodic re-sync, broadcasts lost in the partition are never repaired', async () => {
    const r = await fuzz(1, 0);
    try {
      expect(r.converged).toBe(false);
    } finally {
      await r.close();
    }
  });
});
