/**
 * Ray casts against the physics world, for game code (ground checks, line of sight, aiming).
 *
 * Queries see colliders as of the most recent physics step: a body created or teleported since
 * then is found at its new place only after the next step. Deterministic (read-only, same
 * Rapier build on every peer), so simulation systems may use it.
 *
 * @example
 * ```ts
 * // Is the player standing on something? Ray from its centre, down, 1.05 m long.
 * const p = storeOf(world, Transform);
 * const hit = castRay(world, { x: p.px[player], y: p.py[player], z: p.pz[player] }, { x: 0, y: -1, z: 0 }, 1.05, player);
 * if (hit && jumpPressed) applyImpulse(world, player, 0, 5, 0);
 * ```
 */
import { EngineError } from '../errors.ts';
import type { GameWorld } from '../world.ts';
import { rapier } from './rapier.ts';
import type { Vec3 } from './shapes.ts';
import { physicsState } from './state.ts';

/** The first collider a ray hit. */
export interface RayHit {
  /** Entity owning the collider. */
  readonly eid: number;
  /** Time of impact: the hit is at `origin + dir * toi`; with a unit `dir`, the distance in metres. */
  readonly toi: number;
  /** Hit point in world space, m. */
  readonly point: Vec3;
  /** Surface normal at the hit point (unit length, world space). */
  readonly normal: Vec3;
}

function checkVec(name: string, v: Vec3): void {
  if (!Number.isFinite(v?.x) || !Number.isFinite(v?.y) || !Number.isFinite(v?.z)) {
    throw new EngineError('InvalidConfig', `castRay: ${name} must have finite x, y, z, got (${v?.x}, ${v?.y}, ${v?.z})`, { [name]: v });
  }
}

/**
 * Casts a ray from `origin` along `dir` and returns the first solid (non-sensor) collider hit
 * within `maxToi`, or null. Shapes are solid: a ray starting inside one hits it at `toi` 0.
 *
 * @param origin start of the ray, m.
 * @param dir direction; need not be unit length (the ray's reach is `|dir| * maxToi`).
 * @param maxToi largest time of impact reported, >= 0 (metres when `dir` is a unit vector).
 * @param excludeEid an entity whose body is ignored (typically the caster itself).
 * @throws EngineError `MissingResource` without physics; `InvalidConfig` for non-finite input,
 *   a zero `dir` or a negative `maxToi`.
 */
export function castRay(world: GameWorld, origin: Vec3, dir: Vec3, maxToi: number, excludeEid?: number): RayHit | null {
  const state = physicsState(world);
  const R = rapier();
  checkVec('origin', origin);
  checkVec('dir', dir);
  if (dir.x === 0 && dir.y === 0 && dir.z === 0) throw new EngineError('InvalidConfig', 'castRay: dir must not be zero', {});
  if (!Number.isFinite(maxToi) || maxToi < 0) throw new EngineError('InvalidConfig', `castRay: maxToi must be finite and >= 0, got ${maxToi}`, { maxToi });
  const exclude = excludeEid === undefined ? undefined : state.byEntity.get(excludeEid)?.rigidBody;
  const ray = new R.Ray({ x: origin.x, y: origin.y, z: origin.z }, { x: dir.x, y: dir.y, z: dir.z });
  const hit = state.rapier.castRayAndGetNormal(ray, maxToi, true, R.QueryFilterFlags.EXCLUDE_SENSORS, undefined, undefined, exclude);
  if (!hit) return null;
  const rec = state.byCollider.get(hit.collider.handle);
  if (!rec) return null;
  const toi = hit.timeOfImpact;
  return {
    eid: rec.eid,
    toi,
    point: { x: origin.x + dir.x * toi, y: origin.y + dir.y * toi, z: origin.z + dir.z * toi },
    normal: { x: hit.normal.x, y: hit.normal.y, z: hit.normal.z },
  };
}
