/**
 * Conversions between engine space and Babylon scene space.
 *
 * The engine (and Rapier) is right-handed, Y up, metres. Babylon scenes are left-handed by
 * default (`scene.useRightHandedSystem === false`). The plugin supports both kinds of scene:
 *
 * - right-handed scene: coordinates are copied as they are;
 * - left-handed scene (Babylon's default): Z is mirrored. A point `(x, y, z)` is drawn at
 *   `(x, y, -z)` and an orientation quaternion `(x, y, z, w)` becomes `(-x, -y, z, w)` (the
 *   rotation `M R M` with `M = diag(1, 1, -1)`). Mirroring is its own inverse, so the same
 *   functions convert back.
 *
 * In a left-handed scene, engine -Z (the usual "forward" of right-handed games) is Babylon +Z
 * (Babylon's forward), and engine +X stays Babylon +X: a camera looking along engine -Z sees +X to
 * its right either way.
 *
 * @example
 * ```ts
 * const out = new Vector3();
 * positionToScene(1, 2, 3, false, out);  // left-handed scene: out = (1, 2, -3)
 * const q = new Quaternion();
 * rotationToScene(0, 0.7071, 0, 0.7071, false, q); // q = (0, -0.7071, 0, 0.7071)
 * ```
 */
import type { Quaternion, Vector3 } from '@babylonjs/core/Maths/math.vector.js';

/**
 * Writes the scene-space position of engine point `(x, y, z)` (metres) into `out` and returns it.
 * @param rightHanded the scene's `useRightHandedSystem`; when false Z is negated.
 */
export function positionToScene(x: number, y: number, z: number, rightHanded: boolean, out: Vector3): Vector3 {
  out.set(x, y, rightHanded ? z : -z);
  return out;
}

/**
 * Writes the scene-space orientation of engine quaternion `(x, y, z, w)` into `out` and returns it.
 * @param rightHanded the scene's `useRightHandedSystem`; when false `x` and `y` are negated.
 */
export function rotationToScene(x: number, y: number, z: number, w: number, rightHanded: boolean, out: Quaternion): Quaternion {
  if (rightHanded) out.set(x, y, z, w);
  else out.set(-x, -y, z, w);
  return out;
}

/** Engine-space position of a scene point: the inverse of {@link positionToScene} (the same mirror). */
export function positionFromScene(x: number, y: number, z: number, rightHanded: boolean, out: Vector3): Vector3 {
  return positionToScene(x, y, z, rightHanded, out);
}

/** Engine-space orientation of a scene quaternion: the inverse of {@link rotationToScene}. */
export function rotationFromScene(x: number, y: number, z: number, w: number, rightHanded: boolean, out: Quaternion): Quaternion {
  return rotationToScene(x, y, z, w, rightHanded, out);
}

/**
 * Interpolates two poses stored as 7 numbers each (`px, py, pz, qx, qy, qz, qw`, the field order
 * of `Transform`) and writes the result into `out[outOffset .. outOffset + 7)`.
 *
 * Position is lerped; rotation is slerped along the shorter arc (normalised lerp when the two
 * are within ~1.8 degrees, where slerp is numerically unstable). Allocates nothing.
 *
 * @param a pose at `t = 0`, read from `a[aOffset ..]`.
 * @param b pose at `t = 1`, read from `b[bOffset ..]`.
 * @param t interpolation factor, normally in [0, 1] (not clamped).
 */
export function interpolatePose(
  a: ArrayLike<number>, aOffset: number,
  b: ArrayLike<number>, bOffset: number,
  t: number,
  out: { [index: number]: number }, outOffset: number,
): void {
  for (let i = 0; i < 3; i++) out[outOffset + i] = a[aOffset + i]! + (b[bOffset + i]! - a[aOffset + i]!) * t;
  const ax = a[aOffset + 3]!, ay = a[aOffset + 4]!, az = a[aOffset + 5]!, aw = a[aOffset + 6]!;
  let bx = b[bOffset + 3]!, by = b[bOffset + 4]!, bz = b[bOffset + 5]!, bw = b[bOffset + 6]!;
  let dot = ax * bx + ay * by + az * bz + aw * bw;
  if (dot < 0) {
    dot = -dot;
    bx = -bx; by = -by; bz = -bz; bw = -bw;
  }
  let wa: number, wb: number;
  if (dot > 0.9995) {
    wa = 1 - t;
    wb = t;
  } else {
    const theta = Math.acos(Math.min(1, dot));
    const sin = Math.sin(theta);
    wa = Math.sin((1 - t) * theta) / sin;
    wb = Math.sin(t * theta) / sin;
  }
  let x = ax * wa + bx * wb, y = ay * wa + by * wb, z = az * wa + bz * wb, w = aw * wa + bw * wb;
  const len = Math.hypot(x, y, z, w);
  if (len > 0) {
    x /= len; y /= len; z /= len; w /= len;
  } else {
    x = 0; y = 0; z = 0; w = 1;
  }
  out[outOffset + 3] = x;
  out[outOffset + 4] = y;
  out[outOffset + 5] = z;
  out[outOffset + 6] = w;
}
