/**
 * `npm run bot -- --room R --relay ADDR`: a headless Node peer that joins a world demo room and
 * plays with a seeded bot (walks, places a block every 3 s), for load tests and for playing
 * alone. It is a `createNode` with the world demo's rules (`demos/world/game.ts`): replication
 * of avatars and blocks, presence (`bot-<seed>`), compute shared with the room.
 *
 *   npm run bot -- --room world-main --server http://127.0.0.1:5173   # relay from the main job
 *   npm run bot -- --room world-main --relay /ip4/127.0.0.1/tcp/9091/p2p/12D3KooW...
 *   npm run bot -- --room world-main --server http://127.0.0.1:5173 --bots 4 --duration 60
 *
 * Flags: `--room` (default world-main), `--relay` (repeatable) or `--server` (the main job's
 * address; its /peercompute/config.json names the relay), `--seed` (default random), `--bots`
 * (peers in this process, default 1), `--duration` (seconds; default until Ctrl+C),
 * `--status-every` (seconds between status lines, default 5), `--store DIR` (keep each bot's copy
 * of the world in `DIR/bot-<seed>` with LevelDB, loaded before joining; default: memory only).
 * Exits 0 after `--duration`, 1 on a start failure, 2 on bad flags.
 */
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fetchRelayConfig } from '../netcode/index.ts';
import { createNode, type PeerComputeNode } from '../node/index.ts';
import {
  createBlockCleanupSystem, createWorldGame, hashString, liveBlocks, PALETTE, spawnPoint, terrainSeedOf, WorldBot, WORLD_COMPONENTS,
} from '../demos/world/game.ts';
import { Phase } from '../engine/index.ts';

const USAGE = `usage: npm run bot -- [--room world-main] (--relay <multiaddr>... | --server <url>) [--seed N] [--bots N] [--duration S] [--status-every S] [--store DIR]`;

interface Flags {
  room: string;
  relays: string[];
  seed: number;
  bots: number;
  durationS: number | undefined;
  statusEveryS: number;
  store: string | undefined;
}

function fail(message: string): never {
  console.error(`bot: ${message}\n${USAGE}`);
  process.exit(2);
}

async function parseFlags(): Promise<Flags> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        room: { type: 'string', default: 'world-main' },
        relay: { type: 'string', multiple: true },
        server: { type: 'string' },
        seed: { type: 'string' },
        bots: { type: 'string', default: '1' },
        duration: { type: 'string' },
        'status-every': { type: 'string', default: '5' },
        store: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, raw: string | undefined, min: number, max: number): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer ${min}..${max}, got ${raw}`);
    return n;
  };
  let relays = values.relay ?? [];
  if (relays.length === 0) {
    if (values.server === undefined) fail('give --relay <multiaddr> or --server <url of npm start>');
    relays = [...(await fetchRelayConfig(values.server)).relays];
    if (relays.length === 0) fail(`${values.server}/peercompute/config.json names no relay`);
  }
  return {
    room: values.room!,
    relays,
    seed: int('seed', values.seed, 0, 0xffffffff) ?? randomInt(0, 0xffffffff),
    bots: int('bots', values.bots, 1, 32)!,
    durationS: int('duration', values.duration, 1, 86_400),
    statusEveryS: int('status-every', values['status-every'], 1, 3600)!,
    store: values.store,
  };
}

/** One bot peer: a world game driven by a seeded WorldBot, joined to the room. */
async function startBot(flags: Flags, index: number): Promise<PeerComputeNode> {
  const seed = (flags.seed + index) >>> 0;
  const name = `bot-${seed.toString(16)}`;
  const colour = hashString(name) % PALETTE.length;
  const game = createWorldGame({ colour, spawn: spawnPoint(seed), terrainSeed: terrainSeedOf(flags.room) });
  const node = createNode({
    world: game.world,
    scheduler: game.scheduler,
    input: new WorldBot(seed),
    webgpu: 'off',
    network: { room: flags.room, relays: flags.relays },
    session: { kind: 'replication', components: WORLD_COMPONENTS, presence: { name, colour: PALETTE[colour]! } },
    ...(flags.store === undefined ? {} : { storage: { leveldb: join(flags.store, name) } }),
  });
  node.on('error', ({ part, error }) => console.error(`bot ${name}: ${part}: ${(error as Error)?.message ?? String(error)}`));
  node.on('peer:join', ({ peerId }) => console.log(`bot ${name}: ${peerId} joined`));
  node.on('peer:leave', ({ peerId }) => console.log(`bot ${name}: ${peerId} left`));
  await node.start();
  // Removed blocks of ours leave the document (the world demo's cleanup rule).
  game.scheduler.addSystem(Phase.Replication, createBlockCleanupSystem(node.replicator!, node.getStatus().peerId!));
  console.log(`bot ${name}: in room ${flags.room} as ${node.getStatus().peerId}`);
  return node;
}

async function main(): Promise<void> {
  const flags = await parseFlags();
  const nodes: PeerComputeNode[] = [];
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(status);
    await Promise.all(nodes.map((n) => n.stop()));
    process.exitCode = code;
  };
  const status = setInterval(() => {
    for (const node of nodes) {
      const s = node.getStatus();
      const peers = s.peers.map((p) => `${p.peerId.slice(-6)} ${p.connection}${p.rttMs === undefined ? '' : ` ${p.rttMs.toFixed(0)} ms`}`).join(', ');
      console.log(`bot ${s.peerId?.slice(-6)}: tick ${s.tick?.tick}, ${liveBlocks(node.world).eids.length} blocks, peers [${peers}]`);
    }
  }, flags.statusEveryS * 1000);
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  try {
    for (let i = 0; i < flags.bots; i++) nodes.push(await startBot(flags, i));
  } catch (error) {
    console.error(`bot: could not start: ${(error as Error).message}`);
    await stop(1);
    return;
  }
  if (flags.durationS !== undefined) setTimeout(() => void stop(0), flags.durationS * 1000).unref();
}

await main();
