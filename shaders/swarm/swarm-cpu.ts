/**
 * Swarm physics: many equal spheres in a box, integer-only, so the GPU kernels (`swarm.wgsl`)
 * and this CPU twin produce the same state bit for bit, step after step.
 *
 * It is the path for bodies beyond what Rapier steps in a frame (tens of thousands of simple
 * spheres: debris, crowds, particles that collide): no rotation, no friction cones, no joints.
 *
 * Units (all integers):
 * - positions: Q16 metres (1/65536 m) in `Int32Array`s, so a box edge can reach 32 km;
 * - velocities: Q16 metres per tick; |component| <= {@link SWARM_MAX_SPEED};
 * - contact math: Q12 metres (positions shifted right by 4) so squared distances fit in 32 bits.
 *
 * One step, in this order (the same in both twins):
 * 1. **AABBs** of every sphere in metres as f32: `(p ± r) / 65536`, exact (|p ± r| < 2^24 is
 *    enforced through the bounds, and the division is by a power of two).
 * 2. **Broadphase**: the sorted overlapping pairs of those boxes (`findPairsCpu` here, the GPU
 *    broadphase there; both return the same pair list, see shaders/broadphase/).
 * 3. **Narrowphase** per pair `(i, j)`, `d = p_j - p_i` in Q12: contact when `|d|^2 < (2r)^2`;
 *    `dist = isqrt(|d|^2)` (exact integer square root, digit by digit), normal
 *    `n = trunc(d * 4096 / dist)` (Q12; straight up when `dist = 0`), penetration `2r - dist`.
 *    A spring-damper impulse (soft-sphere DEM, Cundall and Strack 1979):
 *    `J = max(0, (k * pen_q16 - c * v_rel) >> 8)`, `v_rel = ((v_j - v_i) · n) >> 12`, capped
 *    at {@link SWARM_MAX_IMPULSE}; `J n >> 12` is subtracted from body i's velocity change and
 *    added to body j's. Sums of integers do not depend on order, so the GPU adds them with
 *    atomics in any order and gets this twin's totals.
 * 4. **Integration** per body (symplectic Euler): `v += dv - g`, air drag `v -= v >> 9`,
 *    clamp to ±{@link SWARM_MAX_SPEED}, `p += v`; walls clamp `p` into the box and reflect the
 *    velocity component with restitution `e / 256`; bodies on the floor lose `1/32` of their
 *    horizontal speed (friction) and, inside the central fountain disc, are launched upwards.
 *
 * Rounding is pinned down so that JavaScript and WGSL agree: `>>` is an arithmetic shift on
 * i32 in both, products use `Math.imul` (wrapping i32, like WGSL), and the only division is
 * `trunc(a / b)` with `|a| < 2^26`, `0 < b < 2^14`, where an f64 quotient cannot round across
 * an integer (|quotient| <= 4096, so its error is below 2^-40, while a non-integral quotient
 * is at least 2^-14 from the next integer).
 *
 * @example
 * ```ts
 * import { createSwarm, stepSwarmCpu, swarmChecksum } from 'peercompute/shaders';
 * const swarm = createSwarm({ count: 10_000, seed: 1 });
 * for (let t = 0; t < 60; t++) stepSwarmCpu(swarm);
 * swarmChecksum(swarm.state); // equal on every machine and on the GPU after 60 GPU steps
 * ```
 */
import { ShadersError } from '../errors.ts';
import { findPairsCpu } from '../broadphase/broadphase-cpu.ts';
import { pcgHash } from '../terrain/heightmap-cpu.ts';

/** Positions and velocities are in 1/65536 m (and per tick). */
export const SWARM_UNITS_PER_METRE = 65536;
/** Largest velocity component, Q16 m per tick (at 60 Hz about 30 m/s). */
export const SWARM_MAX_SPEED = 32767;
/** Largest contact impulse, Q16 m per tick. */
export const SWARM_MAX_IMPULSE = 131072;
/** Most bodies a swarm may hold (the GPU narrowphase dispatches up to 16 pairs per body). */
export const MAX_SWARM_BODIES = 262_144;
/** Default pair capacity per body; pairs beyond `maxPairs` are dropped and counted. */
export const SWARM_PAIRS_PER_BODY = 16;

/** Options of a swarm; all but `count` have defaults. */
export interface SwarmOptions {
  /** Number of spheres, an integer 1..{@link MAX_SWARM_BODIES}. */
  count: number;
  /** Seed of the initial positions and velocities, an integer 0..2^32-1; default 1. */
  seed?: number;
  /** Sphere radius, metres, 0.01..1; default 0.25. */
  radius?: number;
  /**
   * Half-width of the box along x and z, metres (the box spans [-halfWidth, halfWidth]);
   * default: what holds `count` spheres in about three layers on the floor (at least 4 m).
   */
  halfWidth?: number;
  /** Height of the box, metres (y spans [0, height]); default 20. */
  height?: number;
  /** Gravity, m/s^2 downwards; default 9.81. */
  gravity?: number;
  /** Spring: share of the penetration pushed out per tick, in 1/256, 0..255; default 64. */
  stiffness?: number;
  /** Damper: share of the approach speed removed per tick, in 1/256, 0..255; default 64. */
  damping?: number;
  /** Wall restitution, in 1/256, 0..256; default 128 (half the speed comes back). */
  restitution?: number;
  /** Speed given to bodies on the floor inside the fountain disc, m/s upwards; 0 disables; default 11. */
  fountainSpeed?: number;
  /** Radius of the fountain disc around the box's centre, metres; default 1.5. */
  fountainRadius?: number;
  /** Simulation rate, ticks per second; default 60. */
  tickRate?: number;
  /** Pair capacity of the broadphase, default `count * 16`; pairs past it are dropped (counted). */
  maxPairs?: number;
}

/** A swarm's options as the kernels use them: integers in the units of this module. */
export interface ResolvedSwarm {
  readonly count: number;
  readonly seed: number;
  /** Radius, Q16 m. */
  readonly radius: number;
  /** Box the sphere CENTRES stay in, Q16 m (the walls moved in by the radius). */
  readonly minX: number;
  readonly maxX: number;
  readonly minY: number;
  readonly maxY: number;
  readonly minZ: number;
  readonly maxZ: number;
  /** Gravity, Q16 m per tick per tick. */
  readonly gravity: number;
  readonly stiffness: number;
  readonly damping: number;
  readonly restitution: number;
  /** Fountain launch speed, Q16 m per tick (0: off). */
  readonly fountainSpeed: number;
  /** Squared fountain radius in (1/16 m)^2. */
  readonly fountainRadius2: number;
  readonly maxPairs: number;
  /** Cell size for the broadphase, metres: the sphere diameter plus a margin. */
  readonly cellSize: number;
}

/** Positions and velocities of every body: body k at `[3k, 3k + 1, 3k + 2]` (x, y, z). */
export interface SwarmState {
  readonly count: number;
  /** Q16 m. */
  readonly positions: Int32Array<ArrayBuffer>;
  /** Q16 m per tick. */
  readonly velocities: Int32Array<ArrayBuffer>;
  /** Steps taken since the initial state. */
  tick: number;
}

/** Counters of the last step. */
export interface SwarmStepStats {
  /** Overlapping AABB pairs found by the broadphase (before the `maxPairs` cut). */
  pairs: number;
  /** Pairs past `maxPairs`, not simulated this step (0 unless the capacity is too small). */
  droppedPairs: number;
}

function invalid(option: string, value: unknown, rule: string): ShadersError {
  return new ShadersError('InvalidOption', `swarm option ${option} must be ${rule}, got ${String(value)}`, { option, value });
}

function intIn(option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(option, value, `an integer ${min}..${max}`);
  return value;
}

function realIn(option: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(option, value, `a number ${min}..${max}`);
  }
  return value;
}

/**
 * Checks options and converts them to the kernels' integers.
 * @throws ShadersError `InvalidOption` naming the option and the allowed range.
 */
export function resolveSwarmOptions(options: SwarmOptions): ResolvedSwarm {
  const count = intIn('count', options.count, 1, MAX_SWARM_BODIES);
  const seed = intIn('seed', options.seed ?? 1, 0, 0xffffffff);
  const radiusM = realIn('radius', options.radius ?? 0.25, 0.01, 1);
  const defaultHalf = Math.max(4, Math.ceil(Math.sqrt((count * 4 * radiusM * radiusM) / 3) / 2));
  const halfWidthM = realIn('halfWidth', options.halfWidth ?? defaultHalf, 2 * radiusM, 200);
  const heightM = realIn('height', options.height ?? 20, 2 * radiusM, 200);
  const tickRate = realIn('tickRate', options.tickRate ?? 60, 1, 1000);
  const gravityM = realIn('gravity', options.gravity ?? 9.81, 0, 100);
  const U = SWARM_UNITS_PER_METRE;
  const radius = Math.round(radiusM * U);
  const half = Math.round(halfWidthM * U);
  const height = Math.round(heightM * U);
  const fountainRadius = realIn('fountainRadius', options.fountainRadius ?? 1.5, 0, 200);
  return {
    count,
    seed,
    radius,
    minX: -half + radius,
    maxX: half - radius,
    minY: radius,
    maxY: height - radius,
    minZ: -half + radius,
    maxZ: half - radius,
    gravity: Math.round((gravityM * U) / (tickRate * tickRate)),
    stiffness: intIn('stiffness', options.stiffness ?? 64, 0, 255),
    damping: intIn('damping', options.damping ?? 64, 0, 255),
    restitution: intIn('restitution', options.restitution ?? 128, 0, 256),
    fountainSpeed: Math.min(SWARM_MAX_SPEED, Math.round((realIn('fountainSpeed', options.fountainSpeed ?? 11, 0, 30) * U) / tickRate)),
    fountainRadius2: Math.round(fountainRadius * 16) ** 2,
    maxPairs: intIn('maxPairs', options.maxPairs ?? count * SWARM_PAIRS_PER_BODY, 1, MAX_SWARM_BODIES * SWARM_PAIRS_PER_BODY),
    // Boxes are 2r wide; the broadphase needs the largest extent plus a rounding margin at the
    // largest coordinate (minCellSize in shaders/broadphase), here taken from the box bounds.
    cellSize: ((2 * radius) / U) * (1 + 2 ** -10) + (Math.max(half, height) + radius) / U * 2 ** -14,
  };
}

/**
 * The initial state: bodies at seeded positions in the upper half of the box with small seeded
 * velocities. Pure function of the resolved options.
 */
export function initialSwarmState(p: ResolvedSwarm): SwarmState {
  const positions = new Int32Array(p.count * 3);
  const velocities = new Int32Array(p.count * 3);
  const spanX = p.maxX - p.minX;
  const spanZ = p.maxZ - p.minZ;
  const lowY = p.minY + ((p.maxY - p.minY) >> 1);
  const spanY = p.maxY - lowY;
  for (let k = 0; k < p.count; k++) {
    const h = pcgHash((p.seed ^ pcgHash(k)) >>> 0);
    const h1 = pcgHash(h);
    const h2 = pcgHash(h1);
    const h3 = pcgHash(h2);
    // (hash >>> 16) / 65536 of each span: a uniform point in the box, integers only.
    positions[3 * k] = p.minX + Math.floor(((h >>> 16) * spanX) / 65536);
    positions[3 * k + 1] = lowY + Math.floor(((h1 >>> 16) * spanY) / 65536);
    positions[3 * k + 2] = p.minZ + Math.floor(((h2 >>> 16) * spanZ) / 65536);
    velocities[3 * k] = ((h3 & 0xff) - 128) << 4;
    velocities[3 * k + 1] = 0;
    velocities[3 * k + 2] = (((h3 >>> 8) & 0xff) - 128) << 4;
  }
  return { count: p.count, positions, velocities, tick: 0 };
}

/** Floor of the square root of an integer 0..2^31-1, digit by digit (exact; same loop in WGSL). */
export function isqrt(value: number): number {
  let x = value;
  let result = 0;
  let bit = 1 << 30;
  while (bit > x) bit >>= 2;
  while (bit !== 0) {
    if (x >= result + bit) {
      x -= result + bit;
      result = (result >> 1) + bit;
    } else {
      result >>= 1;
    }
    bit >>= 2;
  }
  return result;
}

/** Writes the AABBs (metres, f32, 6 per body: min xyz, max xyz) of every body into `out`. */
export function swarmAabbs(state: SwarmState, radius: number, out: Float32Array = new Float32Array(state.count * 6)): Float32Array {
  const pos = state.positions;
  for (let k = 0; k < state.count; k++) {
    for (let a = 0; a < 3; a++) {
      const c = pos[3 * k + a]!;
      out[6 * k + a] = (c - radius) / SWARM_UNITS_PER_METRE;
      out[6 * k + 3 + a] = (c + radius) / SWARM_UNITS_PER_METRE;
    }
  }
  return out;
}

/**
 * Adds the contact impulses of the given pairs to `dv` (Q16 m per tick, 3 per body). Exported
 * for tests; {@link stepSwarmCpu} calls it.
 */
export function swarmNarrowphase(p: ResolvedSwarm, state: SwarmState, pairs: Uint32Array, pairCount: number, dv: Int32Array): void {
  const pos = state.positions;
  const vel = state.velocities;
  const reach = (2 * p.radius) >> 4; // Q12
  const reach2 = reach * reach;
  for (let q = 0; q < pairCount; q++) {
    const i = pairs[2 * q]!;
    const j = pairs[2 * q + 1]!;
    const dx = (pos[3 * j]! - pos[3 * i]!) >> 4;
    const dy = (pos[3 * j + 1]! - pos[3 * i + 1]!) >> 4;
    const dz = (pos[3 * j + 2]! - pos[3 * i + 2]!) >> 4;
    const d2 = dx * dx + dy * dy + dz * dz;
    if (d2 >= reach2) continue;
    const dist = isqrt(d2);
    let nx = 0;
    let ny = 4096;
    let nz = 0;
    if (dist > 0) {
      nx = Math.trunc((dx * 4096) / dist);
      ny = Math.trunc((dy * 4096) / dist);
      nz = Math.trunc((dz * 4096) / dist);
    }
    const pen = (reach - dist) << 4; // Q16
    const rvx = vel[3 * j]! - vel[3 * i]!;
    const rvy = vel[3 * j + 1]! - vel[3 * i + 1]!;
    const rvz = vel[3 * j + 2]! - vel[3 * i + 2]!;
    const vRel = (Math.imul(rvx, nx) + Math.imul(rvy, ny) + Math.imul(rvz, nz)) >> 12;
    let impulse = (Math.imul(p.stiffness, pen) - Math.imul(p.damping, vRel)) >> 8;
    if (impulse <= 0) continue;
    if (impulse > SWARM_MAX_IMPULSE) impulse = SWARM_MAX_IMPULSE;
    const jx = Math.imul(impulse, nx) >> 12;
    const jy = Math.imul(impulse, ny) >> 12;
    const jz = Math.imul(impulse, nz) >> 12;
    dv[3 * i] = (dv[3 * i]! - jx) | 0;
    dv[3 * i + 1] = (dv[3 * i + 1]! - jy) | 0;
    dv[3 * i + 2] = (dv[3 * i + 2]! - jz) | 0;
    dv[3 * j] = (dv[3 * j]! + jx) | 0;
    dv[3 * j + 1] = (dv[3 * j + 1]! + jy) | 0;
    dv[3 * j + 2] = (dv[3 * j + 2]! + jz) | 0;
  }
}

function clampSpeed(v: number): number {
  return v > SWARM_MAX_SPEED ? SWARM_MAX_SPEED : v < -SWARM_MAX_SPEED ? -SWARM_MAX_SPEED : v;
}

/** Integrates every body with its accumulated `dv`, gravity, drag, walls and the fountain. */
export function swarmIntegrate(p: ResolvedSwarm, state: SwarmState, dv: Int32Array): void {
  const pos = state.positions;
  const vel = state.velocities;
  const e = p.restitution;
  for (let k = 0; k < state.count; k++) {
    const b = 3 * k;
    let vx = vel[b]! + dv[b]!;
    let vy = vel[b + 1]! + dv[b + 1]! - p.gravity;
    let vz = vel[b + 2]! + dv[b + 2]!;
    vx = clampSpeed(vx - (vx >> 9));
    vy = clampSpeed(vy - (vy >> 9));
    vz = clampSpeed(vz - (vz >> 9));
    let px = pos[b]! + vx;
    let py = pos[b + 1]! + vy;
    let pz = pos[b + 2]! + vz;
    if (px < p.minX) { px = p.minX; if (vx < 0) vx = Math.imul(-vx, e) >> 8; }
    if (px > p.maxX) { px = p.maxX; if (vx > 0) vx = -(Math.imul(vx, e) >> 8); }
    if (pz < p.minZ) { pz = p.minZ; if (vz < 0) vz = Math.imul(-vz, e) >> 8; }
    if (pz > p.maxZ) { pz = p.maxZ; if (vz > 0) vz = -(Math.imul(vz, e) >> 8); }
    if (py > p.maxY) { py = p.maxY; if (vy > 0) vy = -(Math.imul(vy, e) >> 8); }
    if (py <= p.minY) {
      py = p.minY;
      if (vy < 0) {
        // Bounces below two ticks of gravity die out, so resting bodies do not jitter.
        const up = Math.imul(-vy, e) >> 8;
        vy = up > 2 * p.gravity ? up : 0;
      }
      vx -= vx >> 5;
      vz -= vz >> 5;
      const fx = px >> 12; // 1/16 m
      const fz = pz >> 12;
      if (p.fountainSpeed > 0 && fx * fx + fz * fz < p.fountainRadius2) vy = p.fountainSpeed;
    }
    pos[b] = px;
    pos[b + 1] = py;
    pos[b + 2] = pz;
    vel[b] = vx;
    vel[b + 1] = vy;
    vel[b + 2] = vz;
  }
}

/** FNV-1a (32-bit) over the bytes of positions then velocities: equal states, equal checksums. */
export function swarmChecksum(state: SwarmState): number {
  let hash = 0x811c9dc5;
  for (const words of [state.positions, state.velocities]) {
    for (let k = 0; k < words.length; k++) {
      const v = words[k]!;
      for (let b = 0; b < 32; b += 8) hash = Math.imul(hash ^ ((v >>> b) & 0xff), 0x01000193);
    }
  }
  return hash >>> 0;
}

/** A swarm simulated on the CPU: options, state and the scratch buffers reused every step. */
export interface CpuSwarm {
  readonly options: ResolvedSwarm;
  readonly state: SwarmState;
  readonly stats: SwarmStepStats;
}

interface Scratch {
  aabbs: Float32Array;
  dv: Int32Array;
}
const scratchOf = new WeakMap<CpuSwarm, Scratch>();

/**
 * A swarm at its initial state (see {@link initialSwarmState}), for {@link stepSwarmCpu}.
 * @throws ShadersError `InvalidOption` (see {@link resolveSwarmOptions}).
 */
export function createSwarm(options: SwarmOptions): CpuSwarm {
  const resolved = resolveSwarmOptions(options);
  return { options: resolved, state: initialSwarmState(resolved), stats: { pairs: 0, droppedPairs: 0 } };
}

/**
 * Advances a swarm by one step on the CPU (the twin of `SwarmKernel.step`).
 * @returns The swarm's stats of this step (the same object each time).
 */
export function stepSwarmCpu(swarm: CpuSwarm): SwarmStepStats {
  const p = swarm.options;
  let scratch = scratchOf.get(swarm);
  if (scratch === undefined) {
    scratch = { aabbs: new Float32Array(p.count * 6), dv: new Int32Array(p.count * 3) };
    scratchOf.set(swarm, scratch);
  }
  swarmAabbs(swarm.state, p.radius, scratch.aabbs);
  const pairs = findPairsCpu(scratch.aabbs, { cellSize: p.cellSize });
  const found = pairs.length / 2;
  const used = Math.min(found, p.maxPairs);
  scratch.dv.fill(0);
  swarmNarrowphase(p, swarm.state, pairs, used, scratch.dv);
  swarmIntegrate(p, swarm.state, scratch.dv);
  swarm.state.tick++;
  swarm.stats.pairs = found;
  swarm.stats.droppedPairs = found - used;
  return swarm.stats;
}
