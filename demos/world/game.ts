/**
 * World, shared rules (no DOM, no Babylon, no network): the components of a persistent shared
 * world, the grid and placement rules, the avatar and block systems, and a seeded bot. Every
 * page runs the same rules on its own world; `online.ts` replicates the components listed in
 * {@link WORLD_COMPONENTS} through the room's Yjs document.
 *
 * Coordinates: engine space, metres, right-handed, Y up, "forward" is -Z. The playable ground is a
 * square of {@link WORLD_SIZE} m centred on the origin, cut into 1 m cells: cell `(cx, cz)` covers
 * `[cx, cx + 1) x [cz, cz + 1)`, its centre is `(cx + 0.5, cz + 0.5)`. Blocks are 1 m cubes on
 * cells, stacked by level `cy` (0 on the ground, at most {@link MAX_STACK} - 1).
 *
 * Terrain: the ground is procedural (plugins/terrain, integer fBm with a GPU kernel and a CPU
 * twin), seeded from the room id ({@link terrainSeedOf}), so every peer generates the same
 * hills locally; nothing about it is replicated. Heights are derived, not state: an avatar
 * stands at `terrain.heightAt(x, z)`, and a block of level `cy` on cell `(cx, cz)` sits at
 * `groundLevel(cx, cz) + cy` metres ({@link groundLevel}: the cell's lowest corner, rounded
 * down to the 1 m grid, so blocks never float and stacks in neighbouring cells line up).
 *
 * Authority (see README.md, "How blocks are shared"):
 * - `Avatar` is owner-authority: the player who spawned it writes it, the others interpolate it.
 * - `Block` (cell and colour) is owner-authority too and never changes after placement.
 * - `BlockState.removed` is shared: ANY peer may remove ANY block by setting it to 1
 *   (last writer wins, and nobody ever sets it back), even a block whose owner is offline.
 *   Removed blocks are hidden everywhere; the owner, when online, then despawns the entity so
 *   it leaves the document ({@link createBlockCleanupSystem}).
 *
 * @example
 * ```ts
 * const game = createWorldGame({ colour: 2 });
 * game.scheduler.addSystem(Phase.Input, createInputSystem(new WorldBot(7)));
 * game.scheduler.advance(1000);              // one second: the avatar walks
 * placeBlockAt(game.world, 3.2, -4.7, 1);     // a block on cell (3, -5), level 0
 * ```
 */
import {
  addComponent, axisValue, createWorld, defineComponent, DEFAULT_ACTION_MAP, despawn, hasComponent, LocalPlayer,
  PlayerInput, Phase, query, readInputRecord, Rng, createInputRecord, Scheduler, spawn, storeOf, type GameWorld,
  type ComponentDef, type InputRecord, type InputSource,
} from '../../engine/index.ts';
import { defineReplicated, Replicated, type ReplicatedComponent } from '../../netcode/index.ts';
import { createTerrain, type Terrain } from '../../plugins/terrain/index.ts';
import { HEIGHT_UNITS_PER_METRE, type ComputeBackend, type TerrainSampler, type TerrainSettings } from '../../shaders/index.ts';

/** Side of the square playable ground, m (the terrain goes on beyond it). */
export const WORLD_SIZE = 128;
/** Half of {@link WORLD_SIZE}: x and z stay in [-WORLD_HALF, WORLD_HALF], m. */
export const WORLD_HALF = WORLD_SIZE / 2;
/** Edge of a grid cell and of a block, m. */
export const CELL = 1;
/** Most blocks in one column (levels 0..MAX_STACK-1). */
export const MAX_STACK = 8;
/** Walking speed, m/s (at 60 Hz: 0.075 m per tick). */
export const WALK_SPEED = 4.5;
/** A block is placed on the cell this far in front of the avatar's centre, m (> √2, so never the avatar's own cell). */
export const PLACE_DISTANCE = 1.6;
/** Blocks whose cell centre is within this horizontal distance of the avatar can be removed, m. */
export const REMOVE_REACH = 3;
/**
 * The terrain of the world, apart from its seed: 32 m chunks of 1 m cells (one vertex per block
 * cell), five octaves with hills ~64 m wide and at most ~9 m high, gentle enough to walk
 * anywhere (slopes mostly below 20 degrees).
 */
export const WORLD_TERRAIN = {
  chunkCells: 32,
  vertexSpacing: CELL,
  noise: { octaves: 5, cellLog2: 6, amplitude: 5, persistence: 0.45 },
} as const satisfies Omit<TerrainSettings, 'seed'>;
/** LOD rings around the local avatar, m: full detail within 48 m, then 2 m and 4 m cells up to 160 m. */
export const TERRAIN_LOD_RADII: readonly number[] = [48, 96, 160];
/**
 * Chunks generated at once. A chunk's task starts in one tick's Compute phase and lands in a
 * later one, and a rendered frame's ticks run back to back (no microtasks between them), so
 * each slot turns over about once per rendered frame: at 5 frames per second (software
 * rendering) 8 slots fill the ~100 chunks of the rings in a few seconds.
 */
export const TERRAIN_MAX_IN_FLIGHT = 8;

/** The terrain seed of room `roomId`: every peer of the room derives the same one. */
export function terrainSeedOf(roomId: string): number {
  return hashString(`terrain:${roomId}`);
}

/**
 * The ground level of cell `(cx, cz)`, whole metres: the lowest of the cell's four corner
 * heights (integer vertex heights, 1/1024 m), rounded down. Blocks of the cell stand on it.
 */
export function groundLevel(terrain: TerrainSampler, cx: number, cz: number): number {
  const gx = Math.round(cx * CELL / terrain.settings.vertexSpacing);
  const gz = Math.round(cz * CELL / terrain.settings.vertexSpacing);
  const low = Math.min(terrain.vertexHeight(gx, gz), terrain.vertexHeight(gx + 1, gz), terrain.vertexHeight(gx, gz + 1), terrain.vertexHeight(gx + 1, gz + 1));
  return Math.floor(low / HEIGHT_UNITS_PER_METRE);
}

/** Colours of the palette (avatars and blocks index it): coral, blue, green, violet, amber, pink, cyan, red. */
export const PALETTE: readonly string[] = ['#ff7a2f', '#2f7dff', '#2fbf5a', '#a25cf0', '#f5c518', '#ff5fa8', '#1fc7d4', '#e0433a'];

/**
 * A player's avatar: where it stands and where it faces. Owner-authority, replicated at 1 mm
 * and 0.001 rad; `colour` indexes {@link PALETTE}.
 */
export const Avatar = defineComponent('Avatar', {
  x: { type: 'f32', unit: 'm' },
  z: { type: 'f32', unit: 'm' },
  yaw: { type: 'f32', unit: 'rad' },
  colour: 'u8',
}, { doc: 'player avatar: position on the ground (m), heading (rad, 0 faces -Z, +π/2 faces +X), palette colour' });

/** A placed block: its grid cell and level, and its palette colour. Owner-authority, never changed after placement. */
export const Block = defineComponent('Block', { cx: 'i16', cy: 'i16', cz: 'i16', colour: 'u8' }, { doc: 'block on grid cell (cx, cz) at level cy' });

/** Shared state of a block: `removed` 1 once anyone removed it (never set back to 0). */
export const BlockState = defineComponent('BlockState', { removed: 'u8' }, { doc: 'shared block state: removed flag' });

/** Local bookkeeping of the local avatar: last tick's buttons, for press edges. Not replicated. */
export const AvatarControl = defineComponent('AvatarControl', { prevButtons: 'u32' }, { rollback: false, doc: 'buttons held last tick' });

/** The replicated components, in the order every peer must use. */
export const WORLD_COMPONENTS: readonly ReplicatedComponent[] = [
  defineReplicated(Avatar, { fields: { x: { kind: 'float', step: 0.001 }, z: { kind: 'float', step: 0.001 }, yaw: { kind: 'float', step: 0.001 } } }),
  defineReplicated(Block),
  defineReplicated(BlockState, { authority: 'shared' }),
];

const PLACE_MASK = (1 << DEFAULT_ACTION_MAP.buttons.jump!.bit) | (1 << DEFAULT_ACTION_MAP.buttons.fire!.bit);
const REMOVE_MASK = 1 << DEFAULT_ACTION_MAP.buttons.interact!.bit;

/** A block's cell, as the rules see it. */
export interface Cell {
  readonly cx: number;
  readonly cy: number;
  readonly cz: number;
}

/** The cell index holding coordinate `v` (m): `floor(v / CELL)`. */
export function cellOf(v: number): number {
  return Math.floor(v / CELL);
}

/** The centre of cell index `c` along one axis, m. */
export function cellCentre(c: number): number {
  return (c + 0.5) * CELL;
}

/** Whether cell index `c` lies on the ground (x or z). */
export function cellInWorld(c: number): boolean {
  return c >= -WORLD_HALF / CELL && c < WORLD_HALF / CELL;
}

/** `v` clamped to the ground, m. */
export function clampToWorld(v: number): number {
  return Math.min(WORLD_HALF, Math.max(-WORLD_HALF, v));
}

/**
 * Where a block goes when the avatar at `(x, z)` facing `yaw` places one: the cell
 * {@link PLACE_DISTANCE} m ahead, on top of what that column already holds.
 * @returns the cell, or `undefined` when it is off the ground or the column is full.
 */
export function placementTarget(x: number, z: number, yaw: number, blocks: Iterable<Cell>): Cell | undefined {
  return stackOn(cellOf(x + Math.sin(yaw) * PLACE_DISTANCE), cellOf(z - Math.cos(yaw) * PLACE_DISTANCE), blocks);
}

/** The next free level of column `(cx, cz)`: one above its highest block. `undefined` when off the ground or full. */
export function stackOn(cx: number, cz: number, blocks: Iterable<Cell>): Cell | undefined {
  if (!cellInWorld(cx) || !cellInWorld(cz)) return undefined;
  let top = -1;
  for (const b of blocks) if (b.cx === cx && b.cz === cz && b.cy > top) top = b.cy;
  return top + 1 >= MAX_STACK ? undefined : { cx, cy: top + 1, cz };
}

/**
 * The block to remove for an avatar at `(x, z)`: the nearest by horizontal distance from the
 * avatar to the cell centre, within `reach` m; among equals the highest, then the first given.
 * @returns its index in `blocks`, or -1 when none is in reach.
 */
export function nearestBlock(x: number, z: number, blocks: readonly Cell[], reach: number = REMOVE_REACH): number {
  let best = -1;
  let bestD = reach * reach;
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]!;
    const d = (cellCentre(b.cx) - x) ** 2 + (cellCentre(b.cz) - z) ** 2;
    if (d < bestD - 1e-9 || (best >= 0 && Math.abs(d - bestD) <= 1e-9 && b.cy > blocks[best]!.cy)) {
      best = i;
      bestD = d;
    }
  }
  return best;
}

/**
 * One tick of walking: moves by the stick `(moveX, moveY)` (each in [-1, 1], forward positive;
 * diagonals are not faster) at {@link WALK_SPEED} for `dt` s, clamped to the ground, and turns
 * to face the direction of motion (the heading is kept when standing still).
 */
export function walk(x: number, z: number, yaw: number, moveX: number, moveY: number, dt: number): { x: number; z: number; yaw: number } {
  const len = Math.hypot(moveX, moveY);
  if (len < 1e-6) return { x, z, yaw };
  const k = Math.min(1, len) / len;
  const dx = moveX * k;
  const dz = -moveY * k;
  return {
    x: clampToWorld(x + dx * WALK_SPEED * dt),
    z: clampToWorld(z + dz * WALK_SPEED * dt),
    yaw: Math.atan2(dx, -dz),
  };
}

/** A deterministic spawn point for a player: a small circle around the origin chosen by `seed`, m. */
export function spawnPoint(seed: number): { x: number; z: number } {
  const a = ((seed >>> 0) % 360) * (Math.PI / 180);
  return { x: Math.round(Math.cos(a) * 4 * 100) / 100, z: Math.round(Math.sin(a) * 4 * 100) / 100 };
}

/** 32-bit FNV-1a hash of a string (spawn points and colours from names and peer ids). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Live (not removed) blocks of `world`: entity ids and cells. */
export function liveBlocks(world: GameWorld): { eids: number[]; cells: Cell[] } {
  const b = storeOf(world, Block);
  const s = storeOf(world, BlockState);
  const eids: number[] = [];
  const cells: Cell[] = [];
  for (const eid of query(world, [Block])) {
    if (hasComponent(world, eid, BlockState) && s.removed[eid] === 1) continue;
    eids.push(eid);
    cells.push({ cx: b.cx[eid]!, cy: b.cy[eid]!, cz: b.cz[eid]! });
  }
  return { eids, cells };
}

/**
 * Places a block on top of the column holding `(x, z)` (m), owned by this peer and replicated
 * from the next network tick. @returns its entity id, or `undefined` when off the ground or full.
 */
export function placeBlockAt(world: GameWorld, x: number, z: number, colour: number): number | undefined {
  const cell = stackOn(cellOf(x), cellOf(z), liveBlocks(world).cells);
  return cell === undefined ? undefined : spawnBlock(world, cell, colour);
}

/** Spawns a replicated block on `cell` with palette colour `colour`. @returns its entity id. */
export function spawnBlock(world: GameWorld, cell: Cell, colour: number): number {
  const eid = spawn(world);
  addComponent(world, eid, Block, { cx: cell.cx, cy: cell.cy, cz: cell.cz, colour });
  addComponent(world, eid, BlockState, { removed: 0 });
  addComponent(world, eid, Replicated);
  return eid;
}

/** Marks block `eid` removed (hidden everywhere once replicated; its owner despawns it). */
export function markRemoved(world: GameWorld, eid: number): void {
  if (!hasComponent(world, eid, BlockState)) addComponent(world, eid, BlockState);
  storeOf(world, BlockState).removed[eid] = 1;
}

/**
 * The avatar system (`Phase.Simulation`): every local avatar walks by its `PlayerInput`; a press
 * of place (Space or left click) puts a block in front of it, a press of remove (E or right
 * click) removes the nearest block in reach. Presses are edges: holding a button acts once.
 */
export function avatarSystem(world: GameWorld): void {
  const a = storeOf(world, Avatar);
  const ctl = storeOf(world, AvatarControl);
  const dt = world.time.dt;
  for (const eid of query(world, [Avatar, LocalPlayer, PlayerInput, AvatarControl])) {
    const rec = readInputRecord(world, eid, scratch);
    const moved = walk(a.x[eid]!, a.z[eid]!, a.yaw[eid]!, axisValue(rec, DEFAULT_ACTION_MAP, 'moveX'), axisValue(rec, DEFAULT_ACTION_MAP, 'moveY'), dt);
    a.x[eid] = moved.x;
    a.z[eid] = moved.z;
    a.yaw[eid] = moved.yaw;
    const pressed = rec.buttons & ~ctl.prevButtons[eid]!;
    ctl.prevButtons[eid] = rec.buttons;
    if ((pressed & PLACE_MASK) !== 0) {
      const cell = placementTarget(moved.x, moved.z, moved.yaw, liveBlocks(world).cells);
      if (cell !== undefined) spawnBlock(world, cell, a.colour[eid]!);
    }
    if ((pressed & REMOVE_MASK) !== 0) {
      const { eids, cells } = liveBlocks(world);
      const i = nearestBlock(moved.x, moved.z, cells);
      if (i >= 0) markRemoved(world, eids[i]!);
    }
  }
}
const scratch = createInputRecord();

/** What the cleanup system needs to know of the replicator (a `Replicator` has it). */
export interface OwnershipView {
  netIdOf(eid: number): string | undefined;
  owns(netId: string): boolean;
}

/**
 * The cleanup system (`Phase.Replication`, online only): despawns entities this peer owns that
 * should leave the document: removed blocks, and avatars adopted from a peer that left (an
 * avatar belongs to the peer that spawned it, the first part of its network id `<peer>/<n>`).
 */
export function createBlockCleanupSystem(view: OwnershipView, localPeerId: string): (world: GameWorld) => void {
  return function cleanupSystem(world) {
    const s = storeOf(world, BlockState);
    for (const eid of query(world, [Block, BlockState])) {
      if (s.removed[eid] !== 1) continue;
      const netId = view.netIdOf(eid);
      if (netId !== undefined && view.owns(netId)) despawn(world, eid);
    }
    for (const eid of query(world, [Avatar, Replicated])) {
      if (hasComponent(world, eid, LocalPlayer)) continue;
      const netId = view.netIdOf(eid);
      if (netId !== undefined && view.owns(netId) && spawnerOf(netId) !== localPeerId) despawn(world, eid);
    }
  };
}

/** The peer that spawned entity `netId` (`<peer>/<counter>`). */
export function spawnerOf(netId: string): string {
  const i = netId.lastIndexOf('/');
  return i < 0 ? netId : netId.slice(0, i);
}

/** Options of {@link createWorldGame}. */
export interface WorldGameOptions {
  /** Palette index of the local avatar (and its blocks), 0..7. Default 0. */
  readonly colour?: number;
  /** Where the local avatar starts, m. Default the origin. */
  readonly spawn?: { readonly x: number; readonly z: number };
  /** World seed (the engine's PRNG; the rules use none). Default 1. */
  readonly seed?: number;
  /** Terrain seed ({@link terrainSeedOf} of the room); default 1. */
  readonly terrainSeed?: number;
  /** Where terrain chunks are generated (`acquireCompute()`); default the CPU twin. The caller disposes it. */
  readonly computeBackend?: ComputeBackend;
}

/** A world game: the ECS world, its 60 Hz scheduler, and the local avatar. */
export interface WorldGame {
  readonly world: GameWorld;
  readonly scheduler: Scheduler;
  /** Entity id of the local avatar (replicated once the network runs). */
  readonly avatar: number;
  /** The terrain, streamed around the local avatar (`terrain.heightAt(x, z)` for heights). */
  readonly terrain: Terrain;
}

/**
 * Creates a world with the local avatar (`Avatar`, `LocalPlayer`, `PlayerInput`, `Replicated`),
 * the avatar system in `Phase.Simulation` and the terrain streaming around the avatar (Compute
 * phase, chunks generated on `computeBackend` through compute tasks). Add an input system
 * (`Phase.Input`) to drive it.
 */
export function createWorldGame(options: WorldGameOptions = {}): WorldGame {
  const world = createWorld({ seed: options.seed ?? 1, maxEntities: 8192 });
  const scheduler = new Scheduler(world);
  for (const def of [Avatar, Block, BlockState, AvatarControl, Replicated] as ComponentDef[]) storeOf(world, def);
  const avatar = spawn(world);
  const at = options.spawn ?? { x: 0, z: 0 };
  addComponent(world, avatar, Avatar, { x: at.x, z: at.z, yaw: 0, colour: (options.colour ?? 0) % PALETTE.length });
  addComponent(world, avatar, PlayerInput);
  addComponent(world, avatar, LocalPlayer);
  addComponent(world, avatar, AvatarControl);
  addComponent(world, avatar, Replicated);
  scheduler.addSystem(Phase.Simulation, avatarSystem);
  const avatars = storeOf(world, Avatar);
  const terrain = createTerrain(scheduler, {
    ...WORLD_TERRAIN,
    seed: options.terrainSeed ?? 1,
    lodRadii: TERRAIN_LOD_RADII,
    maxInFlight: TERRAIN_MAX_IN_FLIGHT,
    computeTasks: { maxInFlight: TERRAIN_MAX_IN_FLIGHT },
    viewers: () => [{ x: avatars.x[avatar]!, z: avatars.z[avatar]! }],
    ...(options.computeBackend === undefined ? {} : { backend: options.computeBackend }),
  });
  return { world, scheduler, avatar, terrain };
}

/** Shortest and longest time the bot holds one direction, ticks (60 Hz). */
export const BOT_HOLD_TICKS = { min: 30, max: 120 } as const;
/** The bot presses place once every this many ticks (60 Hz: every 3 s). */
export const BOT_PLACE_EVERY_TICKS = 180;

const MOVE_X = DEFAULT_ACTION_MAP.axes.moveX!.index;
const MOVE_Y = DEFAULT_ACTION_MAP.axes.moveY!.index;
const JUMP = 1 << DEFAULT_ACTION_MAP.buttons.jump!.bit;

/**
 * A seeded bot: an {@link InputSource} that walks in a direction for 0.5-2 s, then picks another
 * (sometimes standing still), and presses place for one tick every {@link BOT_PLACE_EVERY_TICKS}
 * ticks. Equal seeds give equal input sequences. Used by `?bot=SEED` and tests.
 */
export class WorldBot implements InputSource {
  readonly #rng: Rng;
  #left = 0;
  #tick = 0;
  #x = 0;
  #y = 0;

  /** @param seed any 32-bit integer. */
  constructor(seed: number) {
    this.#rng = new Rng(seed);
  }

  /** Writes the next tick's input into `out` and returns it (layout {@link DEFAULT_ACTION_MAP}). */
  sample(out: InputRecord): InputRecord {
    const rng = this.#rng;
    if (this.#left <= 0) {
      this.#left = BOT_HOLD_TICKS.min + rng.nextInt(BOT_HOLD_TICKS.max - BOT_HOLD_TICKS.min + 1);
      const idle = rng.nextInt(5) === 0;
      this.#x = idle ? 0 : rng.nextInt(255) - 127;
      this.#y = idle ? 0 : rng.nextInt(255) - 127;
    }
    this.#left--;
    this.#tick++;
    out.buttons = this.#tick % BOT_PLACE_EVERY_TICKS === 0 ? JUMP : 0;
    out.axes.fill(0);
    out.axes[MOVE_X] = this.#x;
    out.axes[MOVE_Y] = this.#y;
    return out;
  }
}
