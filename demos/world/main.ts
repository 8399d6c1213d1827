/**
 * World, browser entry: Babylon engine, local input (devices or a bot), the scene, the HUD, and
 * the online world (`online.ts`). The rules are in `game.ts`, the scene in `scene.ts`.
 *
 * Query parameters (README.md has the full table): `?room=NAME` (default `world-main`; ids
 * starting with `world` are archived by the relay), `?name=` (default a random name),
 * `?bot=SEED` (a seeded bot walks and places a block every 3 s), `?quality=low` (no shadows,
 * half resolution), `?fresh=1` (clear this browser's copy of the room first, once per tab), `?debug=1`
 * (plugin overlay), `?engine=webgpu`.
 *
 * Debug handle (`window.peercompute`, see README.md): `{ world, scheduler, runtime, avatar,
 * backend, ready, status, net? }`; `net` appears once the room is joined.
 */
import {
  createBrowserInputSampler, createInputSystem, Phase, type GameWorld, type InputSource, type Scheduler,
} from '../../engine/index.ts';
import { ROOM_ID_PATTERN } from '../../netcode/index.ts';
import { createBabylonEngine, type PeerComputeRuntime } from '../../plugins/babylon/index.ts';
import { createWorldGame, hashString, liveBlocks, PALETTE, spawnPoint, WorldBot } from './game.ts';
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
  /** Set once the room is joined. */
  net?: WorldNetDebug;
}

const NAMES = ['Ada', 'Brook', 'Cyd', 'Dara', 'Eli', 'Fox', 'Gale', 'Hana', 'Ivo', 'Juno', 'Kai', 'Lumi', 'Milo', 'Nia', 'Oskar', 'Pia'];
const canvas = document.getElementById('game') as HTMLCanvasElement;
const params = new URLSearchParams(location.search);
const byId = (id: string): HTMLElement => document.getElementById(id)!;

main().catch((error: unknown) => {
  const box = document.getElementById('error');
  if (box) {
    box.style.display = 'grid';
    box.textContent = `The world could not start:\n\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
  }
  console.error(error);
});

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

  const game = createWorldGame({ colour, spawn: spawnPoint(hashString(name) ^ random) });
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
  const handle: WorldDebugHandle = {
    world: game.world, scheduler: game.scheduler, runtime: drawn.runtime, avatar: game.avatar, backend, name, colour, ready: false, status: 'starting',
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
