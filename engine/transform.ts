/**
 * Spatial components shared by physics, game code and renderers.
 *
 * Coordinates are right-handed world space, Y up (Rapier's convention; Babylon is left-handed,
 * so the Babylon plugin mirrors Z when it writes meshes). Values are f32 because Rapier computes
 * in f32: copying its results into f32 fields is exact, which rollback checksums rely on.
 */
import { defineComponent } from './components.ts';

/** Position (metres) and orientation (unit quaternion x, y, z, w) of an entity in world space. */
export const Transform = defineComponent('Transform', {
  px: { type: 'f32', unit: 'm' },
  py: { type: 'f32', unit: 'm' },
  pz: { type: 'f32', unit: 'm' },
  qx: { type: 'f32', doc: 'quaternion x' },
  qy: { type: 'f32', doc: 'quaternion y' },
  qz: { type: 'f32', doc: 'quaternion z' },
  qw: { type: 'f32', doc: 'quaternion w; (0,0,0,1) is no rotation' },
}, { doc: 'World-space position and orientation.' });

/** Linear (m/s) and angular (rad/s, axis times rate) velocity. Physics writes it for bodies. */
export const Velocity = defineComponent('Velocity', {
  lx: { type: 'f32', unit: 'm/s' },
  ly: { type: 'f32', unit: 'm/s' },
  lz: { type: 'f32', unit: 'm/s' },
  ax: { type: 'f32', unit: 'rad/s' },
  ay: { type: 'f32', unit: 'rad/s' },
  az: { type: 'f32', unit: 'rad/s' },
}, { doc: 'Linear and angular velocity.' });

/** Field values of an identity transform at a position (metres). */
export function transformAt(x: number, y: number, z: number): { px: number; py: number; pz: number; qx: number; qy: number; qz: number; qw: number } {
  return { px: x, py: y, pz: z, qx: 0, qy: 0, qz: 0, qw: 1 };
}
