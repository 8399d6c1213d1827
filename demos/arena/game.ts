/**
 * Arena: the shared rules. Everything here runs the same on every peer and under rollback.
 *
 * A walled 30 m x 30 m floor with a wedge ramp (a triangle mesh), a pyramid of crates and a few dozen boxes and balls
 * (sizes, places and colours drawn from `world.rng`), and a player ball rolled by impulses.
 *
 * Coordinates are the engine's: right-handed, Y up, metres. **Forward is -Z**: the player spawns
 * at +Z looking towards -Z (where the pyramid stands), W / up arrow / stick up pushes towards -Z
 * and D / right arrow pushes towards +X (to the right of a camera behind the player).
 *
 * Rules for rollback-safe code, which this file follows:
 * - state lives in components (`PlayerController`, `ArenaProp`, Transform, Velocity...), never in
 *   module variables or closures;
 * - randomness comes from `world.rng` (seeded, snapshotted), never `Math.random`; no clocks
 *   (`Date.now`, `performance.now`) in the simulation;
 * - entities are visited in ascending id order (`orderedQuery`);
 * - arithmetic is `+ - * /` and `Math.sqrt` (correctly rounded everywhere), not `Math.hypot`
 *   or trigonometry, whose last bits differ between JavaScript engines.
 *
 * The browser entry (`main.ts`) adds what is not game state: input devices, rendering, camera.
 *
 * @example
 * ```ts
 * await initPhysics();
 * const game = createArenaGame({ seed: 7 });
 * game.scheduler.addSystem(Phase.Input, createInputSystem(sampler)); // local input
 * for (let i = 0; i < 60; i++) game.scheduler.step();                // or attach to a Babylon scene
 * ```
 */
import {
  addBody,
  addComponent,
  applyImpulse,
  axisValue,
  BodyKind,
  castRay,
  createPhysics,
  createWorld,
  DEFAULT_ACTION_MAP,
  defineComponent,
  isPressed,
  LocalPlayer,
  orderedQuery,
  Phase,
  PlayerInput,
  readInputRecord,
  registerTrimesh,
  createInputRecord,
  Scheduler,
  ShapeKind,
  spawn,
  storeOf,
  Transform,
  Velocity,
  Collider,
  type GameWorld,
  type PhysicsContext,
  type ReadonlyActionMap,
} from '../../engine/index.ts';

// ---------------------------------------------------------------------------------------------
// Tuning (metres, seconds, kilograms; at 60 Hz one tick is 1/60 s)

/** Default seed of {@link createArenaGame}. Every peer of a match must use the same seed. */
export const DEFAULT_SEED = 20261123;
/** Half the side of the square floor inside the walls, m (the floor is 30 m x 30 m). */
export const ARENA_HALF_SIZE = 15;
/** Height of the walls above the floor, m. */
export const WALL_HEIGHT = 1.2;
/** Thickness of the walls, m. */
export const WALL_THICKNESS = 0.5;
/** Radius of the player ball, m. */
export const PLAYER_RADIUS = 0.5;
/** Density of the player ball, kg/m^3 (mass 3 x 4/3 pi 0.5^3 = 1.57 kg: heavier than props). */
export const PLAYER_DENSITY = 3;
/** Most players an arena holds (the rollback session's limit). */
export const MAX_ARENA_PLAYERS = 8;
/**
 * Spawn point of each player slot, metres: a row 3 m apart along z = 8 (slot 0 in the middle,
 * then alternately left and right), slot 7 behind slot 0. Props never start within
 * {@link SPAWN_CLEARANCE} of any of them, so the layout is the same whatever the player count.
 */
export const PLAYER_SPAWNS: readonly Readonly<{ x: number; y: number; z: number }>[] = Object.freeze(
  [[0, 8], [-3, 8], [3, 8], [-6, 8], [6, 8], [-9, 8], [9, 8], [0, 11]].map(([x, z]) => Object.freeze({ x: x!, y: PLAYER_RADIUS, z: z! })),
);
/** Where the player of slot 0 spawns (on the floor, 8 m towards +Z from the centre). */
export const PLAYER_SPAWN = PLAYER_SPAWNS[0]!;
/** No prop starts on a grid cell whose centre is closer than this to a spawn point, m. */
export const SPAWN_CLEARANCE = 2.9;
/** Top horizontal speed, m/s (sprint multiplies it by {@link SPRINT_FACTOR}). */
export const MAX_SPEED = 7;
/** Speed multiplier while `sprint` is held. */
export const SPRINT_FACTOR = 1.6;
/** Horizontal acceleration towards the wanted velocity on the ground, m/s^2. */
export const GROUND_ACCEL = 28;
/** Horizontal acceleration in the air, m/s^2. */
export const AIR_ACCEL = 9;
/** Deceleration on the ground with no stick input, m/s^2. */
export const BRAKE_ACCEL = 10;
/** Upward speed given by a jump, m/s (about 1.25 m high with g = 9.81). */
export const JUMP_SPEED = 5;
/** Ticks after a jump before the next one may start. */
export const JUMP_COOLDOWN_TICKS = 12;
/** Ground probe: a ray from the ball's centre, this far beyond its radius, m. */
export const GROUND_PROBE = 0.12;
/** Below this height the player is put back at the spawn point, m. */
export const FALL_LIMIT = -10;
/** Number of loose boxes by default. */
export const BOX_COUNT = 26;
/** Number of loose balls by default. */
export const BALL_COUNT = 18;
/** Default number of loose props ({@link BOX_COUNT} boxes, then {@link BALL_COUNT} balls). */
export const DEFAULT_PROP_COUNT = BOX_COUNT + BALL_COUNT;
/** Most loose props {@link createArenaGame} accepts (they are stacked in layers above the free cells). */
export const MAX_PROP_COUNT = 4000;
/** Number of colours in the prop palette (`ArenaProp.colour` is in [0, PALETTE_SIZE)). */
export const PALETTE_SIZE = 6;

/** Actions the arena reads. The default map: WASD/arrows/left stick, Space/A jump, Shift sprint. */
export const ARENA_ACTIONS: ReadonlyActionMap = DEFAULT_ACTION_MAP;

// ---------------------------------------------------------------------------------------------
// Components

/** Player state beyond the physics body. Game state: rolled back. */
export const PlayerController = defineComponent('arena.PlayerController', {
  slot: { type: 'u8', doc: 'player slot (index into PLAYER_SPAWNS and the session\'s players)' },
  grounded: { type: 'u8', doc: '1 when the ground probe hit something at the last tick' },
  prevButtons: { type: 'u32', doc: 'buttons of the previous tick, to detect presses (edges)' },
  jumpCooldown: { type: 'u8', unit: 'ticks', doc: 'ticks left before the next jump may start' },
}, { doc: 'A player ball of the arena.' });

/** What a prop is, for renderers. Game state (chosen from world.rng, same on every peer). */
export const ArenaProp = defineComponent('arena.ArenaProp', {
  colour: { type: 'u8', doc: 'palette index in [0, PALETTE_SIZE)' },
  kind: { type: 'u8', doc: 'PropKind' },
}, { doc: 'A static or loose object of the arena.' });

/** `ArenaProp.kind` values. */
export const PropKind = {
  Floor: 0,
  Wall: 1,
  Ramp: 2,
  Crate: 3,
  Box: 4,
  Ball: 5,
} as const;
export type PropKind = (typeof PropKind)[keyof typeof PropKind];

// ---------------------------------------------------------------------------------------------
// World setup

/** Options of {@link createArenaGame}. */
export interface ArenaOptions {
  /** Seed of `world.rng` (prop sizes, places, colours). Default {@link DEFAULT_SEED}. */
  readonly seed?: number;
  /** Simulation rate, Hz. Default 60. */
  readonly tickRate?: number;
  /** Player balls, one per slot, integer in [1, {@link MAX_ARENA_PLAYERS}]. Default 1. */
  readonly players?: number;
  /** Slot of this peer's player (it gets `LocalPlayer`), in [0, players). Default 0. */
  readonly localSlot?: number;
  /**
   * Loose dynamic props (boxes first, then balls, in the default 26:18 proportion), integer in
   * [0, {@link MAX_PROP_COUNT}]. Default {@link DEFAULT_PROP_COUNT}. Beyond the ~170 free grid
   * cells they are stacked in layers 1.5 m apart and fall into place in the first seconds.
   */
  readonly props?: number;
}

/** A ready-to-run arena. */
export interface ArenaGame {
  readonly world: GameWorld;
  readonly scheduler: Scheduler;
  readonly physics: PhysicsContext;
  /** Entity id of the local player ball (has `LocalPlayer`, `PlayerInput`, `PlayerController`). */
  readonly player: number;
  /** Entity id of each slot's player ball (index = slot); `players[localSlot] === player`. */
  readonly players: readonly number[];
}

/**
 * Builds the arena: world, scheduler, physics (Rapier must be loaded: `await initPhysics()`),
 * the static level, one player ball per slot (entities created in slot order, right after the
 * level, so every peer numbers them alike), the props, and registers {@link playerControlSystem}
 * in `Phase.Simulation`. Input systems and rollback sessions are the entry's business.
 *
 * Every peer of a match must pass the same `seed`, `tickRate`, `players` and `props`; only
 * `localSlot` differs (it adds the `LocalPlayer` tag, which is not game state).
 * @throws EngineError `Physics` when Rapier is not loaded.
 * @throws RangeError when `players`, `localSlot` or `props` is out of range or not an integer.
 */
export function createArenaGame(options: ArenaOptions = {}): ArenaGame {
  const count = options.players ?? 1;
  const localSlot = options.localSlot ?? 0;
  const props = options.props ?? DEFAULT_PROP_COUNT;
  checkInt('players', count, 1, MAX_ARENA_PLAYERS);
  checkInt('localSlot', localSlot, 0, count - 1);
  checkInt('props', props, 0, MAX_PROP_COUNT);
  const world = createWorld({ seed: options.seed ?? DEFAULT_SEED, ...(options.tickRate === undefined ? {} : { tickRate: options.tickRate }) });
  const scheduler = new Scheduler(world);
  const physics = createPhysics(world, scheduler);
  storeOf(world, PlayerController);
  storeOf(world, ArenaProp);
  buildLevel(world);
  const players: number[] = [];
  for (let slot = 0; slot < count; slot++) players.push(spawnPlayer(world, slot, slot === localSlot));
  scatterProps(world, props);
  scheduler.addSystem(Phase.Simulation, playerControlSystem);
  return { world, scheduler, physics, player: players[localSlot]!, players };
}

function checkInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`arena: ${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

function prop(world: GameWorld, kind: PropKind, colour: number): number {
  const eid = spawn(world);
  addComponent(world, eid, ArenaProp, { kind, colour });
  return eid;
}

/** The floor, four walls and a ramp: fixed bodies. */
function buildLevel(world: GameWorld): void {
  const h = ARENA_HALF_SIZE;
  const t = WALL_THICKNESS;
  const floor = prop(world, PropKind.Floor, 0);
  addBody(world, floor, { kind: BodyKind.Fixed, shape: ShapeKind.Cuboid, hx: h + t, hy: 0.5, hz: h + t, position: { x: 0, y: -0.5, z: 0 }, friction: 0.9 });
  const walls: [number, number, number, number][] = [
    [0, -h - t / 2, h + t, t / 2],
    [0, h + t / 2, h + t, t / 2],
    [-h - t / 2, 0, t / 2, h],
    [h + t / 2, 0, t / 2, h],
  ];
  for (const [x, z, hx, hz] of walls) {
    const wall = prop(world, PropKind.Wall, 0);
    addBody(world, wall, { kind: BodyKind.Fixed, shape: ShapeKind.Cuboid, hx, hy: WALL_HEIGHT / 2, hz, position: { x, y: WALL_HEIGHT / 2, z }, friction: 0.3 });
  }
  // A wedge-shaped ramp on the right-hand side, rising towards -Z (forward): a triangle mesh.
  registerTrimesh(world, RAMP_TRIMESH_ID, rampTrimesh());
  const ramp = prop(world, PropKind.Ramp, 1);
  addBody(world, ramp, { kind: BodyKind.Fixed, shape: ShapeKind.Trimesh, shapeRef: RAMP_TRIMESH_ID, position: RAMP_POSITION, friction: 0.8 });
}

/** Shape id of the ramp's triangle mesh (`registerTrimesh`). */
export const RAMP_TRIMESH_ID = 1;
/** Where the ramp stands: its low edge at z = +5, its 1.5 m high back at z = -1. */
export const RAMP_POSITION = Object.freeze({ x: 9, y: 0, z: 2 });

/**
 * The ramp: a wedge 4 m wide (X), 6 m long (Z) and 1.5 m high at its -Z end, in its body's
 * frame, triangles counter-clockwise seen from outside.
 */
export function rampTrimesh(): { vertices: Float32Array; indices: Uint32Array } {
  const w = 2, l = 3, h = 1.5;
  return {
    vertices: new Float32Array([
      -w, 0, l, w, 0, l, // 0, 1: low front edge
      -w, 0, -l, w, 0, -l, // 2, 3: bottom back edge
      -w, h, -l, w, h, -l, // 4, 5: top back edge
    ]),
    indices: new Uint32Array([
      0, 1, 5, 0, 5, 4, // slope
      2, 4, 5, 2, 5, 3, // back
      0, 2, 3, 0, 3, 1, // bottom
      0, 4, 2, // left side
      1, 3, 5, // right side
    ]),
  };
}

function spawnPlayer(world: GameWorld, slot: number, local: boolean): number {
  const player = spawn(world);
  addBody(world, player, {
    shape: ShapeKind.Ball,
    radius: PLAYER_RADIUS,
    density: PLAYER_DENSITY,
    friction: 1,
    restitution: 0.1,
    angularDamping: 0.6,
    linearDamping: 0.05,
    ccd: true,
    position: PLAYER_SPAWNS[slot]!,
  });
  addComponent(world, player, PlayerInput);
  if (local) addComponent(world, player, LocalPlayer);
  addComponent(world, player, PlayerController, { slot, grounded: 0, prevButtons: 0, jumpCooldown: 0 });
  return player;
}

/**
 * A pyramid of crates ahead of the players and `count` loose boxes and balls on free cells of a
 * 2 m grid (never within {@link SPAWN_CLEARANCE} of a spawn point), dropped from up to 1.5 m so
 * the arena settles at start. When the cells run out, the next props go on the same cells again,
 * each such layer 1.5 m higher.
 */
function scatterProps(world: GameWorld, count: number): void {
  const rng = world.rng;
  // Pyramid: 4 + 3 + 2 + 1 crates of 0.8 m, centred at (0, 0, -5).
  const s = 0.4;
  for (let layer = 0; layer < 4; layer++) {
    for (let i = 0; i < 4 - layer; i++) {
      const crate = prop(world, PropKind.Crate, 2);
      const x = (i - (3 - layer) / 2) * (2 * s + 0.02);
      addBody(world, crate, {
        shape: ShapeKind.Cuboid, hx: s, hy: s, hz: s, density: 0.6, friction: 0.7,
        position: { x, y: s + layer * (2 * s + 0.005), z: -5 },
      });
    }
  }
  // Free cells: centres at -13, -11, ..., 13 on both axes.
  const cells: number[] = [];
  for (let cx = -13; cx <= 13; cx += 2) {
    for (let cz = -13; cz <= 13; cz += 2) {
      if (PLAYER_SPAWNS.some((p) => (cx - p.x) * (cx - p.x) + (cz - p.z) * (cz - p.z) < SPAWN_CLEARANCE * SPAWN_CLEARANCE)) continue;
      if (cz >= -7 && cz <= -3 && cx >= -3 && cx <= 3) continue; // pyramid
      if (cx >= 5 && cz >= -1 && cz <= 5) continue; // ramp
      cells.push(cx, cz);
    }
  }
  const boxes = Math.round((count * BOX_COUNT) / DEFAULT_PROP_COUNT);
  const all = cells.slice();
  let layer = 0;
  for (let n = 0; n < count; n++) {
    if (cells.length === 0) {
      cells.push(...all);
      layer++;
    }
    const pick = rng.nextInt(cells.length / 2);
    const cx = cells[pick * 2]!, cz = cells[pick * 2 + 1]!;
    cells.splice(pick * 2, 2);
    const x = cx + rng.range(-0.3, 0.3);
    const z = cz + rng.range(-0.3, 0.3);
    const lift = rng.range(0, 1.5) + layer * 1.5;
    const colour = rng.nextInt(PALETTE_SIZE);
    if (n < boxes) {
      const hx = rng.range(0.25, 0.6), hy = rng.range(0.25, 0.6), hz = rng.range(0.25, 0.6);
      const box = prop(world, PropKind.Box, colour);
      addBody(world, box, { shape: ShapeKind.Cuboid, hx, hy, hz, density: 0.5, friction: 0.6, position: { x, y: hy + lift, z } });
    } else {
      const radius = rng.range(0.25, 0.6);
      const ball = prop(world, PropKind.Ball, colour);
      addBody(world, ball, { shape: ShapeKind.Ball, radius, density: 0.4, friction: 0.6, restitution: 0.45, angularDamping: 0.3, position: { x, y: radius + lift, z } });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Systems

const PLAYERS = [PlayerController, PlayerInput, Transform, Velocity, Collider] as const;
/** Scratch record, overwritten for each player before use (holds no state between calls). */
const scratch = createInputRecord();

/**
 * Phase.Simulation: turns each player's input into impulses.
 *
 * Wanted horizontal velocity = stick (moveX right, moveY forward = -Z; diagonals normalised) times
 * {@link MAX_SPEED} (x {@link SPRINT_FACTOR} with sprint). The impulse changes the ball's
 * velocity towards it by at most {@link GROUND_ACCEL} (on the ground) or {@link AIR_ACCEL}
 * (in the air) times dt; with no input on the ground it brakes at {@link BRAKE_ACCEL}.
 * A jump (press of `jump`, on the ground, cooldown over) adds {@link JUMP_SPEED} upwards.
 * "On the ground" = a ray from the ball's centre straight down hits a collider within
 * radius + {@link GROUND_PROBE}. A ball below {@link FALL_LIMIT} is put back at its slot's spawn point.
 */
export function playerControlSystem(world: GameWorld): void {
  const dt = world.time.dt;
  const tr = storeOf(world, Transform);
  const ve = storeOf(world, Velocity);
  const pc = storeOf(world, PlayerController);
  const co = storeOf(world, Collider);
  const players = orderedQuery(world, PLAYERS);
  for (let i = 0; i < players.length; i++) {
    const eid = players[i]!;
    const rec = readInputRecord(world, eid, scratch);
    if (tr.py[eid]! < FALL_LIMIT) {
      const spawnAt = PLAYER_SPAWNS[pc.slot[eid]! % MAX_ARENA_PLAYERS]!;
      tr.px[eid] = spawnAt.x; tr.py[eid] = spawnAt.y + 1; tr.pz[eid] = spawnAt.z;
      ve.lx[eid] = 0; ve.ly[eid] = 0; ve.lz[eid] = 0; ve.ax[eid] = 0; ve.ay[eid] = 0; ve.az[eid] = 0;
      pc.prevButtons[eid] = rec.buttons;
      continue;
    }
    const radius = co.radius[eid]!;
    const mass = co.density[eid]! * (4 / 3) * Math.PI * radius * radius * radius;
    const hit = castRay(world, { x: tr.px[eid]!, y: tr.py[eid]!, z: tr.pz[eid]! }, { x: 0, y: -1, z: 0 }, radius + GROUND_PROBE, eid);
    const grounded = hit !== null;

    let mx = axisValue(rec, ARENA_ACTIONS, 'moveX');
    let my = axisValue(rec, ARENA_ACTIONS, 'moveY');
    const len2 = mx * mx + my * my;
    if (len2 > 1) {
      const inv = 1 / Math.sqrt(len2);
      mx *= inv;
      my *= inv;
    }
    const speed = MAX_SPEED * (isPressed(rec, ARENA_ACTIONS, 'sprint') ? SPRINT_FACTOR : 1);
    const wantX = mx * speed;
    const wantZ = -my * speed; // forward is -Z
    const accel = len2 === 0 ? (grounded ? BRAKE_ACCEL : 0) : grounded ? GROUND_ACCEL : AIR_ACCEL;
    let dvx = wantX - ve.lx[eid]!;
    let dvz = wantZ - ve.lz[eid]!;
    const dv2 = dvx * dvx + dvz * dvz;
    const maxDv = accel * dt;
    if (dv2 > maxDv * maxDv) {
      const k = maxDv / Math.sqrt(dv2);
      dvx *= k;
      dvz *= k;
    }
    let dvy = 0;
    const jumpMask = 1 << ARENA_ACTIONS.buttons.jump!.bit;
    const jumpPressed = (rec.buttons & jumpMask) !== 0 && (pc.prevButtons[eid]! & jumpMask) === 0;
    let cooldown = pc.jumpCooldown[eid]!;
    if (jumpPressed && grounded && cooldown === 0) {
      const vy = ve.ly[eid]!;
      dvy = JUMP_SPEED - (vy > 0 ? vy : 0);
      cooldown = JUMP_COOLDOWN_TICKS;
    } else if (cooldown > 0) {
      cooldown--;
    }
    if (dvx !== 0 || dvy !== 0 || dvz !== 0) applyImpulse(world, eid, mass * dvx, mass * dvy, mass * dvz);
    pc.grounded[eid] = grounded ? 1 : 0;
    pc.jumpCooldown[eid] = cooldown;
    pc.prevButtons[eid] = rec.buttons;
  }
}
