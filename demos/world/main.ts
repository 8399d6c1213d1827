/**
 * World, browser entry: Babylon engine, local input (devices or a bot), the scene, the HUD, and
 * the online world (`online.ts`). The rules are in `game.ts`, the scene in `scene.ts`.
 *
 * Query parameters (README.md has the full table): `?room=NAME` (default `world-main`; ids
 * starting with `world` are archived by the relay), `?name=` (default a random name),
 * `?bot=SEED` (a seeded bot walks and places a block every 3 s), `?quality=low` (no shadows,
 * half resolution), `?fresh=1` (clear this browser's copy of the room first, once per tab), `?debug=1`
 * (plugin overlay), `?engine=webgpu`, `?compute=gpu|cpu|auto` (where terrain chunks are generated;
 * `auto`, the default, uses WebGPU unless the adapter is a software one).
 *
 * Debug handle (`window.peercompute`, see README.md): `{ world, scheduler, runtime, avatar,
 * backend, ready, status, terrain, net? }`; `net` appears once the room is joined.
 */
import { runDemo } from '../shared/page.ts';
import {
  createBrowserInputSampler, createInputSystem, Phase, storeOf, type GameWorld, type InputSource, type Scheduler,
} from '../../engine/index.ts';
import { ROOM_ID_PATTERN } from '../../netcode/index.ts';
import { createBabylonEngine, type PeerComputeRuntime } from '../../plugins/babylon/index.ts';
import { acquireCompute, cpuBackend, type ComputeBackend } from '../../shaders/index.ts';
import { Avatar, createWorldGame, hashString, liveBlocks, PALETTE, spawnPoint, terrainSeedOf, WorldBot } from './game.ts';
import { avatarLabel, startOnlineWorld, type PersistenceStatus, type WorldNetDebug } from './online.ts';
import { createWorldScene } from './scene.ts';

/** Room joined without `?room=`. */
export const DEFAULT_ROOM = 'world-main';
/** How often the HUD and the name labels refresh, ms. */
const HUD_REFRESH_MS = 250;

/** The documented debug handle (README.md, "Debug handle"). */
export interface WorldDebugHandle {
  readonly world: GameWorld;
  readonly scheduler: Scheduler;
  readonly runtime: PeerComputeRuntime;
  /** Entity id of the local avatar. */
  readonly avatar: number;
  readonly backend: string;
  /** Player name and palette colour index. */
  readonly name: string;
  readonly colour: number;
  /** `true` once the scene rendered a first frame. */
  ready: boolean;
  /** Network progress, e.g. `'Online'`, or `'failed: <message>'`. */
  status: string;
  /** The terrain (README.md, "Debug handle"). */
  readonly terrain: WorldTerrainDebug;
  /** Set once the room is joined. */
  net?: WorldNetDebug;
}

/** The `terrain` part of the debug handle. */
export interface WorldTerrainDebug {
  /** Terrain seed ({@link terrainSeedOf} of the room). */
  readonly seed: number;
  /** Where chunks are generated: `webgpu (<adapter>)` or `cpu (<reason>)`. */
  backend(): string;
  /** Resident chunks by LOD, e.g. `[9, 16, 30]`, generation counters, and whether every wanted chunk is there (`idle`). */
  chunks(): { byLod: number[]; generated: number; evicted: number; meshes: number; idle: boolean; offloaded: number; offloadFailed: number };
  /** Hash and LOD of the resident chunk `(chunkX, chunkZ)`, if any. */
  chunkHash(chunkX: number, chunkZ: number): { lod: number; hash: number } | undefined;
  /** Terrain height at `(x, z)` m (bilinear from the integer heights). */
  heightAt(x: number, z: number): number;
  /** The local avatar: position (m), where it is drawn (y), the terrain height and the drawn terrain mesh under it. */
  standing(): { x: number; z: number; drawnY: number | undefined; terrainY: number; meshY: number | undefined };
}

const NAMES = ['Ada', 'Brook', 'Cyd', 'Dara', 'Eli', 'Fox', 'Gale', 'Hana', 'Ivo', 'Juno', 'Kai', 'Lumi', 'Milo', 'Nia', 'Oskar', 'Pia'];
const canvas = document.getElementById('game') as HTMLCanvasElement;
const params = new URLSearchParams(location.search);
const byId = (id: string): HTMLElement => document.getElementById(id)!;

runDemo('The world', main);

async function main(): Promise<void> {
  const roomId = params.get('room') ?? DEFAULT_ROOM;
  if (!ROOM_ID_PATTERN.test(roomId)) throw new Error(`"${roomId}" is not a valid room name (1-64 of A-Z a-z 0-9 . _ ~ -)`);
  const botSeed = params.has('bot') ? Number(params.get('bot')) : undefined;
  if (botSeed !== undefined && !Number.isInteger(botSeed)) throw new Error(`?bot= must be an integer, got "${params.get('bot')}"`);
  const rawName = params.get('name')?.trim().slice(0, 24);
  const random = crypto.getRandomValues(new Uint32Array(1))[0]!;
  const name = rawName !== undefined && rawName !== '' ? rawName : botSeed !== undefined ? `bot-${botSeed}` : `${NAMES[random % NAMES.length]}-${(random >>> 8) % 100}`;
  const colour = hashString(name) % PALETTE.length;

  const { engine, backend, fallbackReason } = await createBabylonEngine(canvas, { prefer: params.get('engine') === 'webgpu' ? 'webgpu' : 'webgl' });
  if (fallbackReason) console.warn(`world: using ${backend}: ${fallbackReason}`);
  window.addEventListener('resize', () => engine.resize());

  const compute = await terrainBackend(params.get('compute'));
  const game = createWorldGame({ colour, spawn: spawnPoint(hashString(name) ^ random), terrainSeed: terrainSeedOf(roomId), computeBackend: compute });
  let input: InputSource;
  if (botSeed !== undefined) {
    input = new WorldBot(botSeed);
  } else {
    const sampler = createBrowserInputSampler({ target: canvas });
    sampler.attach();
    input = sampler;
  }
  canvas.addEventListener('contextmenu', (event) => event.preventDefault());
  game.scheduler.addSystem(Phase.Input, createInputSystem(input));

  let net: WorldNetDebug | undefined;
  let names = new Map<string, string>();
  const drawn = createWorldScene(engine, game, {
    quality: params.get('quality') === 'low' ? 'low' : 'high',
    debugOverlay: params.get('debug') === '1',
    beforeSync: () => net?.replicator.interpolate(),
    labelOf: (eid) => (eid === game.avatar ? { name, visible: true } : net === undefined ? { name: '', visible: false } : avatarLabel(net, eid, names)),
  });
  const terrain = game.terrain;
  const terrainDebug: WorldTerrainDebug = {
    seed: terrain.sampler.settings.seed,
    backend: () => (terrain.backend.kind === 'webgpu' ? `webgpu (${terrain.backend.adapterName})` : `cpu (${terrain.fallbackReason ?? terrain.backend.reason})`),
    chunks() {
      const byLod: number[] = [];
      for (const chunk of terrain.streamer.residentChunks()) byLod[chunk.lod] = (byLod[chunk.lod] ?? 0) + 1;
      return { byLod: Array.from(byLod, (n) => n ?? 0), generated: terrain.streamer.stats.generated, evicted: terrain.streamer.stats.evicted, meshes: drawn.terrainMeshes.meshes().size, idle: terrain.streamer.idle, offloaded: terrain.stats.offloaded, offloadFailed: terrain.stats.offloadFailed };
    },
    chunkHash(chunkX, chunkZ) {
      const chunk = terrain.streamer.chunk(chunkX, chunkZ);
      return chunk === undefined ? undefined : { lod: chunk.lod, hash: chunk.hash };
    },
    heightAt: (x, z) => terrain.heightAt(x, z),
    standing() {
      const a = storeOf(game.world, Avatar);
      const x = a.x[game.avatar]!;
      const z = a.z[game.avatar]!;
      return { x, z, drawnY: drawn.avatarPosition(game.avatar)?.y, terrainY: terrain.heightAt(x, z), meshY: drawn.groundUnder(x, z) };
    },
  };
  const handle: WorldDebugHandle = {
    world: game.world, scheduler: game.scheduler, runtime: drawn.runtime, avatar: game.avatar, backend, name, colour, ready: false, status: 'starting',
    terrain: terrainDebug,
  };
  (window as unknown as { peercompute: WorldDebugHandle }).peercompute = handle;
  drawn.scene.executeWhenReady(() => drawn.scene.onAfterRenderObservable.addOnce(() => {
    handle.ready = true;
  }));
  engine.runRenderLoop(() => drawn.scene.render());
  canvas.focus();

  byId('room').textContent = roomId;
  byId('me').textContent = name;
  byId('me').style.color = PALETTE[colour]!;
  let persistence: PersistenceStatus | undefined;
  const refresh = (): void => {
    if (net !== undefined) names = new Map(net.present().map((p) => [p.peerId, p.name]));
    byId('status').textContent = handle.status;
    byId('peers').textContent = net === undefined ? '–' : [...names.values()].join(', ');
    byId('blocks').textContent = String(liveBlocks(game.world).eids.length);
    const chunks = terrainDebug.chunks();
    const fromPeers = terrain.stats.offloaded > 0 ? ` (${terrain.stats.offloaded} from GPU peers)` : '';
    byId('terrain').textContent = `${chunks.byLod.reduce((p, q) => p + q, 0)} chunks, ${terrain.backend.kind === 'webgpu' ? 'GPU' : 'CPU'}${fromPeers}`;
    byId('stored').textContent = persistence === undefined ? '–'
      : !persistence.loaded ? 'loading / unavailable'
        : `loaded${persistence.blocksAtLoad >= 0 ? ` (${persistence.blocksAtLoad} blocks)` : ''}${persistence.cleared ? ', cleared first' : ''}`;
    byId('archive').textContent = net === undefined ? '–' : persistence?.archiveSeen ? 'in the room' : 'not seen';
  };
  setInterval(refresh, HUD_REFRESH_MS);
  refresh();

  try {
    net = await startOnlineWorld({
      game,
      roomId,
      presence: { name, colour: PALETTE[colour]! },
      fresh: params.get('fresh') === '1' && freshOnce(roomId),
      onStatus: (text) => {
        handle.status = text;
      },
      onPersistence: (status) => {
        persistence = status;
      },
    });
    handle.net = net;
  } catch (error) {
    handle.status = `failed: ${error instanceof Error ? error.message : String(error)}`;
    console.warn(`world: offline: ${handle.status}`);
  }
  refresh();
}

/**
 * Where terrain chunks are generated (`?compute=`): `gpu` the WebGPU kernel when there is an
 * adapter, `cpu` the CPU twin, `auto` (default) WebGPU unless the adapter is a software
 * fallback (SwiftShader), where the CPU twin is faster: a chunk's readback waits behind the
 * page's software-rendered frames (measured: ~2 s per chunk with three pages on SwiftShader,
 * against ~0.5 ms per 32-cell chunk on the CPU). Heights are identical either way.
 */
async function terrainBackend(mode: string | null): Promise<ComputeBackend> {
  if (mode !== null && mode !== 'gpu' && mode !== 'cpu' && mode !== 'auto') throw new Error(`?compute= must be gpu, cpu or auto, got "${mode}"`);
  const backend = await acquireCompute({ prefer: mode === 'cpu' ? 'cpu' : 'gpu' });
  if (backend.kind === 'webgpu' && backend.isFallbackAdapter && mode !== 'gpu') {
    backend.dispose();
    return cpuBackend('preferred', `software WebGPU adapter (${backend.adapterName}): the CPU twin is faster here; ?compute=gpu forces the kernel`);
  }
  if (backend.kind === 'cpu' && backend.cause !== 'preferred') console.warn(`world: terrain on the CPU: ${backend.reason}`);
  return backend;
}

/**
 * `?fresh=1` clears the room's stored copy once per tab: a reload of the same address (same
 * tab, `sessionStorage` kept) keeps what was stored since, so reload tests see persistence.
 */
function freshOnce(roomId: string): boolean {
  const key = `peercompute/world-fresh/${roomId}`;
  try {
    if (sessionStorage.getItem(key) !== null) return false;
    sessionStorage.setItem(key, '1');
  } catch {
    // No sessionStorage (privacy modes): clear every time.
  }
  return true;
}
