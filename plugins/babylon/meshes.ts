/**
 * Babylon meshes for collider shapes, and collider shapes for Babylon meshes.
 *
 * Shapes are described in engine space (right-handed, Y up, metres, triangles counter-clockwise
 * seen from outside, the usual right-handed convention) by {@link ShapeDescription}. Balls,
 * cuboids and capsules use Babylon's builders (and their texture coordinates); heightfields and
 * trimeshes get box-projected texture coordinates, 1 unit per metre ({@link boxProjectUVs}).
 * Converting
 * to a scene mirrors Z for left-handed scenes (see `coordinates.ts`) and orders triangles so that
 * Babylon's `VertexData.ComputeNormals` points out of the solid, which is what Babylon's own
 * builders produce; so custom meshes light and cull like built-in ones in either kind of scene.
 *
 * @example
 * ```ts
 * const mesh = createShapeMesh(scene, { kind: 'capsule', radius: 0.4, halfHeight: 0.5 }, { name: 'player' });
 * const shape = inferShape(someMesh, 'auto', scene.useRightHandedSystem);  // e.g. { kind: 'cuboid', hx, hy, hz }
 * ```
 */
import type { Material } from '@babylonjs/core/Materials/material.js';
import { Vector3 } from '@babylonjs/core/Maths/math.vector.pure.js';
import type { AbstractMesh } from '@babylonjs/core/Meshes/abstractMesh.js';
import { CreateBox } from '@babylonjs/core/Meshes/Builders/boxBuilder.pure.js';
import { CreateCapsule } from '@babylonjs/core/Meshes/Builders/capsuleBuilder.pure.js';
import { CreateSphere } from '@babylonjs/core/Meshes/Builders/sphereBuilder.pure.js';
import { Mesh } from '@babylonjs/core/Meshes/mesh.pure.js';
import { VertexData } from '@babylonjs/core/Meshes/mesh.vertexData.js';
import { VertexBuffer } from '@babylonjs/core/Buffers/buffer.pure.js';
import type { Scene } from '@babylonjs/core/scene.js';
import { BabylonPluginError } from './errors.ts';

/** A collider shape in engine space (metres). Mirrors the shapes of the engine's `Collider`. */
export type ShapeDescription =
  /** Sphere of `radius` m centred on the origin. */
  | { readonly kind: 'ball'; readonly radius: number }
  /** Box with half extents `hx, hy, hz` m centred on the origin. */
  | { readonly kind: 'cuboid'; readonly hx: number; readonly hy: number; readonly hz: number }
  /** Capsule along Y: `halfHeight` m of cylinder above and below the origin, capped by hemispheres of `radius` m. */
  | { readonly kind: 'capsule'; readonly radius: number; readonly halfHeight: number }
  /**
   * Heightfield over the XZ square centred on the origin: `(nrows + 1) * (ncols + 1)` heights
   * (metres before scaling), column-major as Rapier takes them (`heights[row + col * (nrows + 1)]`),
   * rows along Z from `-scale.z / 2` to `+scale.z / 2`, columns along X from `-scale.x / 2` to
   * `+scale.x / 2`; each height is multiplied by `scale.y`.
   */
  | {
      readonly kind: 'heightfield';
      readonly nrows: number;
      readonly ncols: number;
      readonly heights: ArrayLike<number>;
      readonly scale: { readonly x: number; readonly y: number; readonly z: number };
    }
  /** Triangle mesh: `vertices` x,y,z triplets (m), `indices` triplets, counter-clockwise seen from outside. */
  | { readonly kind: 'trimesh'; readonly vertices: ArrayLike<number>; readonly indices: ArrayLike<number> };

/** Options of {@link createShapeMesh}. */
export interface ShapeMeshOptions {
  /** Mesh name. Default `'peercompute-<kind>'`. */
  readonly name?: string;
  /** Material to assign; default none (the scene's default material). */
  readonly material?: Material | null;
  /** Sphere segments, capsule tessellation: more is rounder. Default 24. */
  readonly segments?: number;
  /**
   * Give every triangle its own normal (faceted look, `mesh.convertToFlatShadedMesh()`), right
   * for low-poly trimeshes such as ramps; smooth shading averages normals at shared vertices.
   * Default `false`.
   */
  readonly flatShading?: boolean;
}

/** Default {@link ShapeMeshOptions.segments}. */
export const DEFAULT_SHAPE_SEGMENTS = 24;

function positive(value: number, what: string, kind: string): void {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new BabylonPluginError('UnsupportedShape', `${kind}: ${what} must be a positive finite number of metres, got ${value}`, { shape: kind, field: what, value });
  }
}

/**
 * Positions and indices of an engine-space triangle mesh, converted for a scene: Z mirrored when
 * `rightHanded` is false; in a right-handed scene the triangle order is reversed instead, so in
 * both cases Babylon's `ComputeNormals` points outward.
 * @returns new arrays; the inputs are not modified.
 */
export function trianglesToScene(vertices: ArrayLike<number>, indices: ArrayLike<number>, rightHanded: boolean): { positions: Float32Array; indices: Uint32Array } {
  const positions = Float32Array.from(vertices);
  const out = Uint32Array.from(indices);
  if (rightHanded) {
    for (let i = 0; i + 2 < out.length; i += 3) {
      const t = out[i + 1]!;
      out[i + 1] = out[i + 2]!;
      out[i + 2] = t;
    }
  } else {
    for (let i = 2; i < positions.length; i += 3) positions[i] = -positions[i]!;
  }
  return { positions, indices: out };
}

/**
 * Vertices and indices (engine space, counter-clockwise seen from above) of a heightfield
 * description. Exported for tests and for custom renderers.
 * @throws BabylonPluginError `UnsupportedShape` when sizes do not match.
 */
export function heightfieldTriangles(shape: Extract<ShapeDescription, { kind: 'heightfield' }>): { vertices: Float32Array; indices: Uint32Array } {
  const { nrows, ncols, heights, scale } = shape;
  if (!Number.isInteger(nrows) || !Number.isInteger(ncols) || nrows < 1 || ncols < 1) {
    throw new BabylonPluginError('UnsupportedShape', `heightfield: nrows and ncols must be integers >= 1, got ${nrows} x ${ncols}`, { shape: 'heightfield', nrows, ncols });
  }
  const rows = nrows + 1;
  const cols = ncols + 1;
  if (heights.length !== rows * cols) {
    throw new BabylonPluginError('UnsupportedShape', `heightfield: expected (nrows+1)*(ncols+1) = ${rows * cols} heights, got ${heights.length}`, {
      shape: 'heightfield',
      expected: rows * cols,
      got: heights.length,
    });
  }
  const vertices = new Float32Array(rows * cols * 3);
  for (let c = 0; c < cols; c++) {
    for (let r = 0; r < rows; r++) {
      const i = r + c * rows;
      vertices[i * 3] = (c / ncols - 0.5) * scale.x;
      vertices[i * 3 + 1] = heights[i]! * scale.y;
      vertices[i * 3 + 2] = (r / nrows - 0.5) * scale.z;
    }
  }
  const indices = new Uint32Array(nrows * ncols * 6);
  let k = 0;
  for (let c = 0; c < ncols; c++) {
    for (let r = 0; r < nrows; r++) {
      const a = r + c * rows; // (x0, z0)
      const b = r + (c + 1) * rows; // (x1, z0)
      const d = r + 1 + c * rows; // (x0, z1)
      const e = r + 1 + (c + 1) * rows; // (x1, z1)
      // Counter-clockwise seen from +Y in a right-handed frame: x0z0 -> x0z1 -> x1z0 (normal +Y).
      indices[k++] = a; indices[k++] = d; indices[k++] = b;
      indices[k++] = b; indices[k++] = d; indices[k++] = e;
    }
  }
  return { vertices, indices };
}

/**
 * Texture coordinates for a custom mesh, 1 unit per metre: each vertex is projected onto the
 * plane facing its normal's dominant axis (box projection), so tiled textures keep their scale
 * on every face. Flat-shaded meshes (one normal per face) get seamless faces.
 * @param positions x, y, z triplets (m); @param normals matching unit normals.
 */
export function boxProjectUVs(positions: ArrayLike<number>, normals: ArrayLike<number>): Float32Array {
  const uvs = new Float32Array((positions.length / 3) * 2);
  for (let i = 0, j = 0; i + 2 < positions.length; i += 3, j += 2) {
    const ax = Math.abs(normals[i]!), ay = Math.abs(normals[i + 1]!), az = Math.abs(normals[i + 2]!);
    const x = positions[i]!, y = positions[i + 1]!, z = positions[i + 2]!;
    if (ay >= ax && ay >= az) {
      uvs[j] = x; uvs[j + 1] = z;
    } else if (ax >= az) {
      uvs[j] = z; uvs[j + 1] = y;
    } else {
      uvs[j] = x; uvs[j + 1] = y;
    }
  }
  return uvs;
}

function customMesh(name: string, scene: Scene, vertices: ArrayLike<number>, indices: ArrayLike<number>): Mesh {
  const converted = trianglesToScene(vertices, indices, scene.useRightHandedSystem);
  const normals = new Float32Array(converted.positions.length);
  VertexData.ComputeNormals(converted.positions, converted.indices, normals);
  const data = new VertexData();
  data.positions = converted.positions;
  data.indices = converted.indices;
  data.normals = normals;
  data.uvs = boxProjectUVs(converted.positions, normals);
  const mesh = new Mesh(name, scene);
  data.applyToMesh(mesh, false);
  return mesh;
}

/**
 * Builds a Babylon mesh for `shape`, centred on its local origin, in `scene`. The mesh has no
 * parent, identity rotation quaternion and sits at the origin until bound.
 *
 * @throws BabylonPluginError `UnsupportedShape` when a dimension is not positive and finite or
 *   heightfield/trimesh data is malformed.
 */
export function createShapeMesh(scene: Scene, shape: ShapeDescription, options: ShapeMeshOptions = {}): Mesh {
  const name = options.name ?? `peercompute-${shape.kind}`;
  const segments = options.segments ?? DEFAULT_SHAPE_SEGMENTS;
  let mesh: Mesh;
  switch (shape.kind) {
    case 'ball':
      positive(shape.radius, 'radius', 'ball');
      mesh = CreateSphere(name, { diameter: shape.radius * 2, segments }, scene);
      break;
    case 'cuboid':
      positive(shape.hx, 'hx', 'cuboid');
      positive(shape.hy, 'hy', 'cuboid');
      positive(shape.hz, 'hz', 'cuboid');
      mesh = CreateBox(name, { width: shape.hx * 2, height: shape.hy * 2, depth: shape.hz * 2 }, scene);
      break;
    case 'capsule':
      positive(shape.radius, 'radius', 'capsule');
      if (!(shape.halfHeight >= 0) || !Number.isFinite(shape.halfHeight)) {
        throw new BabylonPluginError('UnsupportedShape', `capsule: halfHeight must be a finite number >= 0, got ${shape.halfHeight}`, {
          shape: 'capsule',
          field: 'halfHeight',
          value: shape.halfHeight,
        });
      }
      mesh = CreateCapsule(name, {
        radius: shape.radius,
        height: 2 * (shape.halfHeight + shape.radius),
        tessellation: segments,
        subdivisions: 1,
        capSubdivisions: Math.max(4, segments >> 2),
      }, scene);
      break;
    case 'heightfield': {
      const { vertices, indices } = heightfieldTriangles(shape);
      mesh = customMesh(name, scene, vertices, indices);
      break;
    }
    case 'trimesh': {
      if (shape.vertices.length % 3 !== 0 || shape.indices.length % 3 !== 0 || shape.indices.length === 0) {
        throw new BabylonPluginError('UnsupportedShape', `trimesh: vertices (${shape.vertices.length}) and indices (${shape.indices.length}) must be non-empty multiples of 3`, {
          shape: 'trimesh',
          vertices: shape.vertices.length,
          indices: shape.indices.length,
        });
      }
      const count = shape.vertices.length / 3;
      for (let i = 0; i < shape.indices.length; i++) {
        const index = shape.indices[i]!;
        if (!Number.isInteger(index) || index < 0 || index >= count) {
          throw new BabylonPluginError('UnsupportedShape', `trimesh: index ${index} at position ${i} is outside [0, ${count})`, { shape: 'trimesh', position: i, index });
        }
      }
      mesh = customMesh(name, scene, shape.vertices, shape.indices);
      break;
    }
    default: {
      const never: never = shape;
      throw new BabylonPluginError('UnsupportedShape', `unknown shape kind ${JSON.stringify((never as { kind: unknown }).kind)}`, { shape: (never as { kind: unknown }).kind });
    }
  }
  if (options.flatShading) {
    mesh.convertToFlatShadedMesh();
    if (shape.kind === 'heightfield' || shape.kind === 'trimesh') {
      // Re-project per face now that every face has its own vertices and normal.
      const positions = mesh.getVerticesData(VertexBuffer.PositionKind)!;
      const normals = mesh.getVerticesData(VertexBuffer.NormalKind)!;
      mesh.setVerticesData(VertexBuffer.UVKind, boxProjectUVs(positions, normals), false);
    }
  }
  if (options.material) mesh.material = options.material;
  return mesh;
}

/** Which collider {@link inferShape} should make; `'auto'` decides from the mesh (see there). */
export type ShapeHint = 'auto' | 'ball' | 'cuboid' | 'capsule' | 'trimesh';

/** Relative tolerance of the checks in {@link inferShape} (1 %). */
const SHAPE_TOLERANCE = 0.01;

/**
 * A collider shape (engine space, metres) that fits `mesh` as it is scaled now.
 *
 * Reads the mesh's local bounding box times its `scaling` (absolute scaling, parents included).
 * The box must be centred on the mesh's origin (within 1 % of its size), since colliders are
 * centred on their body; `'trimesh'` has no such requirement.
 *
 * - `'cuboid'`: the bounding box's half extents.
 * - `'ball'`: radius = the largest half extent.
 * - `'capsule'`: along Y; radius = the larger of the X and Z half extents, `halfHeight` = Y half
 *   extent minus radius (at least 0).
 * - `'trimesh'`: the mesh's triangles, scaled, converted to engine space.
 * - `'auto'`: `'ball'` when the bounding box is a cube and every vertex lies on the sphere it
 *   bounds (within 1 %), as for `CreateSphere`/`CreateIcoSphere` meshes; otherwise `'cuboid'`.
 *
 * @param rightHanded the scene's `useRightHandedSystem` (selects the mirror for `'trimesh'`).
 * @throws BabylonPluginError `UnsupportedMesh` when the mesh has no vertices, a zero-size bounding
 *   box, or (except for `'trimesh'`) a bounding box centre away from its origin.
 */
export function inferShape(mesh: AbstractMesh, hint: ShapeHint, rightHanded: boolean): ShapeDescription {
  const positions = mesh.getVerticesData(VertexBuffer.PositionKind);
  if (!positions || positions.length < 3) {
    throw new BabylonPluginError('UnsupportedMesh', `mesh ${JSON.stringify(mesh.name)} has no vertex positions to fit a collider to`, { mesh: mesh.name, reason: 'no vertices' });
  }
  mesh.computeWorldMatrix(true);
  const scale = new Vector3();
  mesh.getWorldMatrix().decompose(scale);
  const sx = Math.abs(scale.x), sy = Math.abs(scale.y), sz = Math.abs(scale.z);
  if (hint === 'trimesh') {
    const indices = mesh.getIndices();
    const count = positions.length / 3;
    const idx = indices && indices.length > 0 ? Array.from(indices) : Array.from({ length: count - (count % 3) }, (_, i) => i);
    const vertices = new Float32Array(positions.length);
    for (let i = 0; i < positions.length; i += 3) {
      vertices[i] = positions[i]! * sx;
      vertices[i + 1] = positions[i + 1]! * sy;
      vertices[i + 2] = positions[i + 2]! * sz;
    }
    // The same involution takes scene triangles back to engine ones.
    const back = trianglesToScene(vertices, idx, rightHanded);
    return { kind: 'trimesh', vertices: back.positions, indices: back.indices };
  }
  const box = mesh.getBoundingInfo().boundingBox;
  const min = box.minimum, max = box.maximum;
  const hx = ((max.x - min.x) / 2) * sx, hy = ((max.y - min.y) / 2) * sy, hz = ((max.z - min.z) / 2) * sz;
  const cx = ((max.x + min.x) / 2) * sx, cy = ((max.y + min.y) / 2) * sy, cz = ((max.z + min.z) / 2) * sz;
  const size = Math.max(hx, hy, hz);
  if (!(size > 0)) {
    throw new BabylonPluginError('UnsupportedMesh', `mesh ${JSON.stringify(mesh.name)} has a zero-size bounding box`, { mesh: mesh.name, reason: 'empty bounds' });
  }
  if (Math.hypot(cx, cy, cz) > SHAPE_TOLERANCE * size) {
    throw new BabylonPluginError(
      'UnsupportedMesh',
      `mesh ${JSON.stringify(mesh.name)}: its bounding box centre (${cx.toFixed(3)}, ${cy.toFixed(3)}, ${cz.toFixed(3)}) m is not at its origin; ` +
        'colliders are centred on their body: move the geometry (mesh.setPivotPoint or bakeCurrentTransformIntoVertices) or use shape \'trimesh\'',
      { mesh: mesh.name, reason: 'off-centre', centre: [cx, cy, cz] },
    );
  }
  let kind = hint;
  if (kind === 'auto') kind = looksLikeSphere(positions, sx, sy, sz, hx, hy, hz) ? 'ball' : 'cuboid';
  switch (kind) {
    case 'ball':
      return { kind: 'ball', radius: size };
    case 'capsule': {
      const radius = Math.max(hx, hz);
      return { kind: 'capsule', radius, halfHeight: Math.max(0, hy - radius) };
    }
    default:
      return { kind: 'cuboid', hx, hy, hz };
  }
}

function looksLikeSphere(p: ArrayLike<number>, sx: number, sy: number, sz: number, hx: number, hy: number, hz: number): boolean {
  const r = Math.max(hx, hy, hz);
  if (Math.abs(hx - r) > SHAPE_TOLERANCE * r || Math.abs(hy - r) > SHAPE_TOLERANCE * r || Math.abs(hz - r) > SHAPE_TOLERANCE * r) return false;
  for (let i = 0; i + 2 < p.length; i += 3) {
    const d = Math.hypot(p[i]! * sx, p[i + 1]! * sy, p[i + 2]! * sz);
    if (Math.abs(d - r) > SHAPE_TOLERANCE * r) return false;
  }
  return true;
}
