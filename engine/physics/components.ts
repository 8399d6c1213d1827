/**
 * Physics components: how an entity asks for a Rapier rigid body and collider.
 *
 * An entity with `Transform` + `RigidBody` + `Collider` gets a Rapier body and collider on the
 * next Physics phase (created in ascending entity id order). The physics system owns the
 * `handle` fields; game code sets the rest before the body is created. The RigidBody and Collider
 * fields are read once, at creation: changing them later has no effect (remove and re-add the
 * component, or call `addBody` again, to rebuild the body; Transform and Velocity are kept).
 *
 * Use `addBody(world, eid, { shape, ... })`: it sets every field with documented defaults.
 * Adding these components by hand must set every field too: component arrays start at zero
 * and recycled ids keep old values, and zero is a bad value for several fields (`gravityScale`
 * 0 floats, `density` 0 has no mass). (`handle` is reset to `NO_HANDLE` on every add.)
 *
 * After each step the physics system writes Transform and Velocity of dynamic and kinematic
 * bodies. Game code may write them too: a changed Transform teleports a dynamic body (or is the
 * next pose of a position-kinematic one), a changed Velocity sets the velocity of a dynamic or
 * velocity-kinematic body. Fixed bodies are never synchronised: they stay where they were made
 * (their Transform is set once, at creation, to Rapier's pose with a unit quaternion).
 */
import { defineComponent } from '../components.ts';

/** `RigidBody.kind` values. */
export const BodyKind = {
  /** Moved by forces, gravity and contacts. */
  Dynamic: 0,
  /** Moved by game code writing `Transform`; pushes dynamic bodies, is not pushed. */
  KinematicPosition: 1,
  /** Moved by game code writing `Velocity`; pushes dynamic bodies, is not pushed. */
  KinematicVelocity: 2,
  /** Never moves (floors, walls). */
  Fixed: 3,
} as const;
export type BodyKind = (typeof BodyKind)[keyof typeof BodyKind];

/** `Collider.shape` values. */
export const ShapeKind = {
  /** Sphere of `radius` metres. */
  Ball: 0,
  /** Box with half extents `hx, hy, hz` metres. */
  Cuboid: 1,
  /** Capsule along Y: `halfHeight` metres of cylinder between two hemispheres of `radius`. */
  Capsule: 2,
  /**
   * Heightfield from shape data `shapeRef` (see `registerHeightfield`; the data holds its size,
   * `hx, hy, hz` are unused). For fixed and kinematic bodies: on a dynamic body it has no mass.
   */
  Heightfield: 3,
  /** Triangle mesh from shape data `shapeRef` (see `registerTrimesh`). For fixed and kinematic bodies. */
  Trimesh: 4,
} as const;
export type ShapeKind = (typeof ShapeKind)[keyof typeof ShapeKind];

/** Sentinel of `handle` fields: no Rapier object exists (yet) for this entity. */
export const NO_HANDLE = -1;

/** A rigid body. Requires `Transform` (initial pose) and `Collider`. */
export const RigidBody = defineComponent('RigidBody', {
  kind: { type: 'u8', doc: 'BodyKind' },
  linearDamping: { type: 'f32', unit: '1/s' },
  angularDamping: { type: 'f32', unit: '1/s' },
  gravityScale: { type: 'f32', doc: 'multiplier of world gravity; 1 is normal' },
  ccd: { type: 'u8', doc: '1 enables continuous collision detection (fast, small bodies)' },
  lockRotations: { type: 'u8', doc: '1 keeps the body upright (characters)' },
  handle: { type: 'f64', doc: 'Rapier RigidBodyHandle, owned by the physics system; NO_HANDLE before creation' },
}, { doc: 'A Rapier rigid body for this entity.' });

/** The collider attached to the entity's rigid body. */
export const Collider = defineComponent('Collider', {
  shape: { type: 'u8', doc: 'ShapeKind' },
  hx: { type: 'f32', unit: 'm', doc: 'Cuboid half extent along x' },
  hy: { type: 'f32', unit: 'm', doc: 'Cuboid half extent along y' },
  hz: { type: 'f32', unit: 'm', doc: 'Cuboid half extent along z' },
  radius: { type: 'f32', unit: 'm', doc: 'Ball and Capsule radius' },
  halfHeight: { type: 'f32', unit: 'm', doc: 'Capsule half height of the cylinder part' },
  shapeRef: { type: 'u32', doc: 'id of registered heightfield/trimesh data (registerHeightfield, registerTrimesh)' },
  friction: { type: 'f32', doc: 'Coulomb friction coefficient, typically 0..1' },
  restitution: { type: 'f32', doc: 'bounciness 0..1' },
  density: { type: 'f32', unit: 'kg/m^3', doc: 'mass = density x volume; a dynamic body of mass 0 ignores gravity and impulses' },
  sensor: { type: 'u8', doc: '1: detects overlaps, produces no contact forces' },
  handle: { type: 'f64', doc: 'Rapier ColliderHandle, owned by the physics system; NO_HANDLE before creation' },
}, { doc: 'A Rapier collider on the entity\'s rigid body.' });

/** An impulse (N*s, world frame) applied to a dynamic body at the next Physics phase, then zeroed. */
export const Impulse = defineComponent('Impulse', {
  x: { type: 'f32', unit: 'N*s' },
  y: { type: 'f32', unit: 'N*s' },
  z: { type: 'f32', unit: 'N*s' },
}, { doc: 'One-shot impulse consumed by the physics system.' });
