import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../netcode/rollback/index.ts';
import { Mesh, diffToy, type ToySnapshot } from './rollback-harness.ts';

function encodeToy(s: ToySnapshot): Uint8Array {
  return new Uint8Array(Int32Array.of(s.frame, s.score, ...s.pos).buffer);
}

function decodeToy(bytes: Uint8Array): ToySnapshot {
  const v = new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { frame: v[0]!, score: v[1]!, pos: v.slice(2), checksum: 0 };
}

describe('desync detection between peers', () => {
  it('two peers whose game diverges at frame F both report a desync at a frame >= F with the two checksums, then diff the snapshots', async () => {
    const F = 150;
    const mesh = await Mesh.create({ peers: 2, seed: 77, conditioner: { latencyMs: 30, jitterMs: 10, loss: 0.1 }, keepEvery: 60 });
    const [a, b] = mesh.peers;
    // p1's copy of the game has a bug from frame F on (deterministic on p1, so its own rollbacks agree)
    b!.engine.game.bug = (game, frame) => {
      if (frame >= F) game.score = (game.score + 1) | 0;
    };
    mesh.synchronize();
    mesh.runUntil(300);
    const da = mesh.eventsOf(a!, 'desync');
    const db = mesh.eventsOf(b!, 'desync');
    expect(da.length).toBeGreaterThan(0);
    expect(db.length).toBeGreaterThan(0);
    const first = da[0]!;
    expect(first.frame).toBeGreaterThanOrEqual(F);
    expect(first.frame).toBe(180); // the first checksum frame (interval 60) after the divergence
    expect(first.peerId).toBe('p1');
    expect(first.localChecksum).not.toBe(first.remoteChecksum);
    expect(db[0]).toEqual({ kind: 'desync', peerId: 'p0', frame: 180, localChecksum: first.remoteChecksum, remoteChecksum: first.localChecksum });
    // the checksums are those of each side's state of that frame
    expect(first.localChecksum).toBe(a!.engine.stateOf.get(180));
    expect(first.remoteChecksum).toBe(b!.engine.stateOf.get(180));
    // no desync before F
    expect([...da, ...db].every((e) => e.frame >= F)).toBe(true);

    // Both sides still have the snapshot of that frame: p0 asks p1 for it and diffs.
    a!.session.requestSnapshot('p1', 180);
    const answered: SessionEvent[] = [];
    let received: Uint8Array | undefined;
    mesh.onStep.push(() => {
      for (const e of mesh.eventsOf(b!, 'snapshotRequested')) {
        if (answered.includes(e)) continue;
        answered.push(e);
        b!.session.sendSnapshot(e.peerId, e.frame, encodeToy(b!.engine.kept.get(e.frame)!));
      }
      const got = mesh.eventsOf(a!, 'snapshotReceived')[0];
      if (got !== undefined) received = got.bytes;
    });
    for (let i = 0; i < 30 && received === undefined; i++) mesh.step();
    expect(received).toBeDefined();
    const diff = diffToy(a!.engine.kept.get(180)!, decodeToy(received!));
    expect(diff.map((x) => x.component)).toEqual(['Score']);
    await mesh.close();
  });

  it('peers with identical games exchange checksums and report nothing, also with sparse saving', async () => {
    const mesh = await Mesh.create({ peers: 3, seed: 78, conditioner: { latencyMs: 45, jitterMs: 15, loss: 0.1 }, configure: (b, i) => b.withSparseSaving(i === 2).withChecksumInterval(20) });
    mesh.synchronize();
    mesh.runUntil(400);
    for (const p of mesh.peers) expect(mesh.eventsOf(p, 'desync')).toEqual([]);
    // and a divergence is seen by the checksum exchange even in sparse mode
    mesh.peers[2]!.engine.game.bug = (game, frame) => {
      if (frame >= 450) game.pos[0] = (game.pos[0]! ^ 1) | 0;
    };
    mesh.runUntil(520);
    const ev = mesh.eventsOf(mesh.peers[0]!, 'desync');
    expect(ev.map((e) => e.peerId)).toContain('p2');
    expect(ev.every((e) => e.frame >= 450)).toBe(true);
    expect(ev.some((e) => e.peerId === 'p1')).toBe(false);
    await mesh.close();
  });
});
