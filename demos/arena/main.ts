/**
 * Arena, browser entry: Babylon engine, local input (devices or a bot), and either a single-player
 * game or an online match. The rules are in `game.ts`, the scene in `scene.ts`, the online mode
 * (relay, room, match-making, rollback session, net panel) in `online.ts`.
 *
 * Query parameters (README.md has the full table):
 * - `?room=NAME` plays online in that room (`?players=N`, 2-8, default 2; `?delay=N` input delay);
 * - `?bot=SEED` plays with a seeded wandering bot instead of the keyboard;
 * - `?engine=webgpu` asks for WebGPU (falls back to WebGL2 when the browser has none);
 * - `?quality=low` drops shadows and halves the resolution (weak GPUs, software rendering);
 * - `?debug=1` shows the debug overlay from the start (the Backquote key toggles it anyway);
 * - `?seed=N` changes the prop layout; `?props=N` the number of loose props.
 *
 * Debug handle for tests and the console (`window.peercompute`, see README.md):
 * `{ world, scheduler, runtime, player, players, backend, playerPosition(), playerVelocity(), ready, net? }`.
 */
import { intParam as intParamOf, runDemo } from '../shared/page.ts';
import {
  createBrowserInputSampler,
  createInputSystem,
  initPhysics,
  Phase,
  storeOf,
  Transform,
  Velocity,
  type GameWorld,
  type InputSource,
  type Scheduler,
} from '../../engine/index.ts';
import { createBabylonEngine, type PeerComputeRuntime } from '../../plugins/babylon/index.ts';
import { ROOM_ID_PATTERN } from '../../netcode/index.ts';
import { WanderBot } from './bot.ts';
import { createArenaGame, DEFAULT_PROP_COUNT, DEFAULT_SEED, PLAYER_SPAWNS, type ArenaGame } from './game.ts';
import { validateMatchSettings } from './match.ts';
import { startOnlineArena, type ArenaNetDebug } from './online.ts';
import { createArenaScene, type ArenaScene } from './scene.ts';

/** The documented debug handle (README.md, "Debug handle"). */
export interface ArenaDebugHandle {
  /** The game world (bitECS world with the engine context). */
  readonly world: GameWorld;
  /** Its fixed-step scheduler (60 Hz), driven by the Babylon render loop. */
  readonly scheduler: Scheduler;
  /** The Babylon plugin runtime (bindings, overlay). */
  readonly runtime: PeerComputeRuntime;
  /** Entity id of the local player ball. */
  readonly player: number;
  /** Entity id of each slot's player ball (one in single player). */
  readonly players: readonly number[];
  /** Where the local player spawned, engine space, metres. */
  readonly spawnPoint: { readonly x: number; readonly y: number; readonly z: number };
  /** `'webgpu'` or `'webgl2'` (or `'webgl1'`). */
  readonly backend: string;
  /** The player's simulated position in engine space (metres, right-handed, Y up, forward -Z). */
  playerPosition(): { x: number; y: number; z: number };
  /** The player's linear velocity in engine space, m/s. */
  playerVelocity(): { x: number; y: number; z: number };
  /** `true` once the scene is ready and a first frame with every mesh was rendered. */
  ready: boolean;
  /** Online mode only: the room, match, session and net figures. */
  readonly net?: ArenaNetDebug;
}

declare global {
  interface Window {
    /** Set by the arena demo once a game exists; see {@link ArenaDebugHandle}. */
    peercompute?: ArenaDebugHandle;
  }
}

const canvas = document.getElementById('game') as HTMLCanvasElement;
const params = new URLSearchParams(location.search);
const intParam = (name: string, fallback: number): number => intParamOf(params, name, fallback);

runDemo('The arena', main);

async function main(): Promise<void> {
  const [created] = await Promise.all([
    createBabylonEngine(canvas, { prefer: params.get('engine') === 'webgpu' ? 'webgpu' : 'webgl' }),
    initPhysics(),
  ]);
  const { engine, backend, fallbackReason } = created;
  if (fallbackReason) console.warn(`arena: using ${backend}: ${fallbackReason}`);
  const backendLabel = document.getElementById('backend');
  if (backendLabel) backendLabel.textContent = backend === 'webgpu' ? 'WebGPU' : backend === 'webgl2' ? 'WebGL2' : 'WebGL';
  window.addEventListener('resize', () => engine.resize());

  const seed = intParam('seed', DEFAULT_SEED);
  const props = intParam('props', DEFAULT_PROP_COUNT);
  const debugOverlay = params.get('debug') === '1';
  const quality = params.get('quality') === 'low' ? 'low' : 'high';

  // Local input: a seeded bot, or keyboard on the window, mouse and touch on the canvas, first gamepad.
  let input: InputSource;
  if (params.has('bot')) {
    input = new WanderBot(intParam('bot', 1));
  } else {
    const sampler = createBrowserInputSampler({ target: canvas });
    sampler.attach();
    input = sampler;
  }

  const show = (game: ArenaGame, drawn: ArenaScene, net?: ArenaNetDebug): void => {
    const { world, scheduler, player, players } = game;
    const transforms = storeOf(world, Transform);
    const velocities = storeOf(world, Velocity);
    const handle: ArenaDebugHandle = {
      world,
      scheduler,
      runtime: drawn.runtime,
      player,
      players,
      spawnPoint: PLAYER_SPAWNS[players.indexOf(player)]!,
      backend,
      playerPosition: () => ({ x: transforms.px[player]!, y: transforms.py[player]!, z: transforms.pz[player]! }),
      playerVelocity: () => ({ x: velocities.lx[player]!, y: velocities.ly[player]!, z: velocities.lz[player]! }),
      ready: false,
      ...(net === undefined ? {} : { net }),
    };
    window.peercompute = handle;
    drawn.scene.executeWhenReady(() => {
      drawn.scene.onAfterRenderObservable.addOnce(() => {
        handle.ready = true;
      });
    });
    canvas.focus();
  };

  const roomId = params.get('room');
  if (roomId === null) {
    const game = createArenaGame({ seed, props });
    game.scheduler.addSystem(Phase.Input, createInputSystem(input));
    const drawn = createArenaScene(engine, game, { debugOverlay, quality });
    show(game, drawn);
    engine.runRenderLoop(() => drawn.scene.render());
    offerOnline();
    return;
  }

  if (!ROOM_ID_PATTERN.test(roomId)) throw new Error(`"${roomId}" is not a valid room name (1-64 of A-Z a-z 0-9 . _ ~ -)`);
  const settings = validateMatchSettings({ players: intParam('players', 2), seed: seed >>> 0, props, inputDelay: intParam('delay', 2) });
  document.body.classList.add('online');
  const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
  await startOnlineArena({
    engine,
    roomId,
    settings,
    localInput: input,
    debugOverlay,
    quality,
    ui: {
      panel: byId('net'),
      status: byId('net-status'),
      stats: byId('net-stats'),
      players: byId<HTMLTableSectionElement>('net-players'),
      badNetwork: byId<HTMLInputElement>('net-bad'),
      share: byId('net-share'),
    },
    onGame: (game, drawn, net) => show(game, drawn, net),
  });
}

/** Single player: the HUD's "play online" link opens a fresh room for two (random name; not game state). */
function offerOnline(): void {
  const link = document.getElementById('play-online') as HTMLAnchorElement | null;
  if (link === null) return;
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  const room = `arena-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  const url = new URL(location.href);
  url.searchParams.set('room', room);
  url.searchParams.set('players', '2');
  link.href = url.toString();
}
