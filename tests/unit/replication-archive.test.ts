/**
 * The relay's archival peer over real libp2p (relay on free loopback ports, Node peers over
 * TCP): it finds world rooms by their gossipsub topics, stores their documents in LevelDB, and a
 * new archive process on the same directory serves a stored world to a fresh peer when nobody
 * else is there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createPeer, joinRoom, YRoomProvider } from '../../netcode/index.ts';
import { parseRelayArgs } from '../../netcode/relay/cli.ts';
import { startArchive, startRelay } from '../../netcode/relay/index.ts';
import { DEFAULT_ARCHIVE_DIR, startMainJob } from '../../scripts/server.ts';
import { HELP_TEXT, parseStartArgs } from '../../scripts/start.ts';
import { contentOf } from './replication-harness.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = path.join(REPO, 'node_modules/.bin/tsx');
const LOOPBACK = ['/ip4/127.0.0.0/ipcidr/8'];
const quiet = (): void => {};

function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (condition()) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 20);
  });
}

/** A world: 600 list entries of ~150 bytes (more than one 64 KiB frame) and 100 map entries. */
function buildWorld(doc: Y.Doc): void {
  doc.transact(() => {
    const arr = doc.getArray<string>('arr');
    for (let i = 0; i < 600; i++) arr.push([`block ${i} ${'#'.repeat(140)}`]);
  });
  for (let i = 0; i < 100; i++) doc.getMap('map').set(`player-${i % 10}`, { x: i, y: -i });
}

/** Reads JSON lines of a child's stdout until `match` accepts one. */
function nextLine<T>(child: ChildProcess, match: (v: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`no matching line from the archive process; got: ${buffered}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      for (const line of buffered.split('\n')) {
        try {
          const v = JSON.parse(line) as Record<string, unknown>;
          if (match(v)) {
            clearTimeout(timer);
            resolve(v as T);
            return;
          }
        } catch {
          // not a JSON line (yet)
        }
      }
    });
  });
}

describe('archival peer', { timeout: 30_000 }, () => {
  it('archives a world room; a new archive process on the same directory serves it to a fresh peer after everyone left', async () => {
    const relay = await startRelay({ allow: LOOPBACK });
    const dir = await mkdtemp(path.join(tmpdir(), 'peercompute-archive-'));
    let child: ChildProcess | undefined;
    try {
      // 1. An archive (this process) and a writer; the archive finds the room by its topic.
      const archive = await startArchive({ relays: relay.tcpMultiaddrs, dir, peer: { allow: LOOPBACK }, log: quiet });
      const writer = await createPeer({ relays: relay.tcpMultiaddrs, allow: LOOPBACK });
      const [worldRoom] = await Promise.all([joinRoom(writer, 'world-test'), joinRoom(writer, 'lobby-test')]);
      const doc = new Y.Doc();
      const provider = new YRoomProvider(doc, worldRoom);
      buildWorld(doc);
      await provider.whenSynced(archive.peerId);
      doc.getMap('map').set('late-edit', 'after sync'); // a broadcast update, not part of a step 2
      const expected = contentOf(doc);
      expect(Y.encodeStateAsUpdate(doc).length).toBeGreaterThan(64 * 1024);
      await until(() => archive.doc('world-test') !== undefined && contentOf(archive.doc('world-test')!) === expected, 'the archive to hold the world');
      expect(archive.rooms()).toEqual(['world-test']); // lobby-test does not start with "world"
      expect(archive.stats().updatesStored).toBeGreaterThan(0);

      // 2. Everyone leaves; the archive closes.
      provider.destroy();
      await writer.close();
      await archive.close();

      // 3. A new archive process on the same directory.
      const started = performance.now();
      child = spawn(TSX, ['tests/unit/fixtures/archive-process.ts', relay.tcpMultiaddrs[0]!, dir], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
      const ready = await nextLine<{ peerId: string; rooms: string[] }>(child, (v) => v.ready === true).catch((err: Error) => {
        throw new Error(`${err.message}\nstderr: ${stderr}`);
      });
      const startMs = performance.now() - started;
      expect(ready.rooms).toEqual(['world-test']);

      // 4. A fresh peer joins and gets the world from the archive alone.
      const reader = await createPeer({ relays: relay.tcpMultiaddrs, allow: LOOPBACK });
      const joinAt = performance.now();
      const room = await joinRoom(reader, 'world-test');
      const fresh = new Y.Doc();
      const freshProvider = new YRoomProvider(fresh, room);
      await freshProvider.whenSynced(ready.peerId);
      const syncMs = performance.now() - joinAt;
      expect(room.peers()).toEqual([ready.peerId]);
      expect(contentOf(fresh)).toBe(expected);
      const st = freshProvider.stats();
      expect(st.chunkedReceived).toBeGreaterThanOrEqual(1);
      console.log(`archive: restarted process ready in ${startMs.toFixed(0)} ms; fresh peer synced ${syncMs.toFixed(0)} ms after joinRoom, `
        + `${st.bytesIn} B in ${st.messagesIn} messages (document ${Y.encodeStateAsUpdate(fresh).length} B)`);
      freshProvider.destroy();
      await reader.close();

      const closed = nextLine(child, (v) => v.closed === true);
      child.kill('SIGTERM');
      await closed;
    } finally {
      child?.kill('SIGKILL');
      await relay.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('next to the relay it also finds rooms that existed before it started; a second archive on the same directory fails with Persistence', async () => {
    const relay = await startRelay({ allow: LOOPBACK });
    const dir = await mkdtemp(path.join(tmpdir(), 'peercompute-archive-'));
    const writer = await createPeer({ relays: relay.tcpMultiaddrs, allow: LOOPBACK });
    try {
      const doc = new Y.Doc();
      const provider = new YRoomProvider(doc, await joinRoom(writer, 'world-early'));
      doc.getMap('map').set('placed', 'before the archive');
      await until(() => relay.libp2p.services.pubsub.getTopics().some((t) => t.endsWith('/world-early')), 'the relay to follow the room');
      const archive = await startArchive({
        relays: relay.tcpMultiaddrs, dir, peer: { allow: LOOPBACK }, log: quiet, relayPubsub: relay.libp2p.services.pubsub,
      });
      await until(() => archive.doc('world-early')?.getMap('map').get('placed') === 'before the archive', 'the archive to find and sync the room');
      await expect(startArchive({ relays: relay.tcpMultiaddrs, dir, log: quiet })).rejects.toMatchObject({ code: 'Persistence' });
      await expect(archive.join('lobby')).rejects.toMatchObject({ code: 'InvalidConfig' });
      provider.destroy();
      await archive.close();
      await archive.close();
    } finally {
      await writer.close();
      await relay.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('archive wiring', { timeout: 30_000 }, () => {
  it('flags: npm start and npm run relay enable it by default, --archive-dir moves it, --no-archive turns it off', () => {
    expect(parseStartArgs([], {}).options.archive).toBeUndefined(); // startMainJob's default: on, in DEFAULT_ARCHIVE_DIR
    expect(DEFAULT_ARCHIVE_DIR).toBe(path.join(REPO, '.peercompute', 'archive'));
    expect(parseStartArgs(['--archive-dir', 'data/a'], {}).options.archive).toEqual({ dir: path.resolve('data/a') });
    expect(parseStartArgs(['--no-archive'], {}).options.archive).toBe(false);
    expect(() => parseStartArgs(['--no-archive', '--archive-dir', 'x'], {})).toThrow(/--no-archive/);
    expect(() => parseStartArgs(['--no-relay', '--archive-dir', 'x'], {})).toThrow(/--archive-dir/);
    expect(HELP_TEXT).toContain('--archive-dir <path>');
    expect(HELP_TEXT).toContain('.peercompute/archive');

    expect(parseRelayArgs([], { XDG_DATA_HOME: '/data' }).archive).toEqual({ dir: '/data/peercompute/archive-9090', roomPrefix: 'world' });
    expect(parseRelayArgs(['--archive-dir', '/srv/a', '--archive-prefix', ''], {}).archive).toEqual({ dir: '/srv/a', roomPrefix: '' });
    expect(parseRelayArgs(['--no-archive'], {}).archive).toBeUndefined();
    expect(() => parseRelayArgs(['--no-archive', '--archive-dir', '/x'], {})).toThrow(/--no-archive/);
  });

  it('startMainJob runs the archive next to its relay; a second job on the same directory runs without one and says why', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'peercompute-archive-'));
    const options = { port: 0, logLevel: 'silent' as const, relay: { port: 0, keyFile: false as const }, archive: { dir } };
    const first = await startMainJob(options);
    try {
      expect(first.archive?.dir).toBe(dir);
      expect(first.archiveError).toBeUndefined();
      const second = await startMainJob(options);
      try {
        expect(second.archive).toBeUndefined();
        expect(second.archiveError).toMatch(/cannot open LevelDB directory/);
        expect(second.relay).toBeDefined();
      } finally {
        await second.close();
      }
      const off = await startMainJob({ ...options, archive: false });
      expect(off.archive).toBeUndefined();
      expect(off.archiveError).toBeUndefined();
      await off.close();
    } finally {
      await first.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
