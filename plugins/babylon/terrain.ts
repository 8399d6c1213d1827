/**
 * Terrain chunks as Babylon meshes: one mesh per resident chunk of a `TerrainStreamer`
 * (shaders/terrain/streamer.ts), built when the chunk becomes ready, swapped when its LOD
 * changes (the new mesh replaces the old in the same frame) and disposed when it is evicted.
 *
 * Each mesh holds the chunk's `(cells + 1)^2` vertices at the chunk's spacing, with the
 * streamer's seamless normals (integer central differences, see shaders/terrain/normals.ts),
 * vertex colours by height and slope ({@link terrainColour}), UVs in world metres (for a tiling
 * texture) and a skirt: a strip hanging `skirt` metres below every edge, which hides the cracks
 * between neighbouring chunks of different LODs. The mesh sits at the chunk's origin, so vertex
 * coordinates stay small far from the world's origin.
 *
 * Coordinates: engine space is right-handed Y-up; in a left-handed scene (Babylon's default)
 * Z is mirrored, as everywhere in this plugin (`coordinates.ts`).
 *
 * @example
 * ```ts
 * const streamer = terrain.streamer;                    // plugins/terrain createTerrain(...)
 * const meshes = createTerrainMeshes(scene, streamer, { heightRange: [-6, 10] });
 * shadowGenerator.getShadowMap()?.renderList?.push(...); // meshes.meshes() lists them
 * meshes.dispose();                                     // removes listeners, meshes, material
 * ```
 */
import type { Material } from '@babylonjs/core/Materials/material.js';
import { StandardMaterial } from '@babylonjs/core/Materials/standardMaterial.pure.js';
import { Color3 } from '@babylonjs/core/Maths/math.color.pure.js';
import { Mesh } from '@babylonjs/core/Meshes/mesh.pure.js';
import { VertexData } from '@babylonjs/core/Meshes/mesh.vertexData.js';
import type { Scene } from '@babylonjs/core/scene.js';
import { HEIGHT_UNITS_PER_METRE, type TerrainChunk, type TerrainStreamer } from '../../shaders/index.ts';
import { BabylonPluginError } from './errors.ts';
import { trianglesToScene } from './meshes.ts';

/** Default depth of the skirt below each chunk edge, metres. */
export const DEFAULT_TERRAIN_SKIRT = 2;
/** Default height range of the colour ramp, metres. */
export const DEFAULT_TERRAIN_HEIGHT_RANGE: readonly [number, number] = [-8, 8];

/** Colour ramp by normalized height t (0 lowest .. 1 highest): sand, grass, dark grass, earth, snow. */
const RAMP: ReadonlyArray<readonly [number, number, number, number]> = [
  [0, 0.78, 0.72, 0.52],
  [0.22, 0.5, 0.66, 0.34],
  [0.6, 0.3, 0.5, 0.25],
  [0.85, 0.5, 0.43, 0.33],
  [1, 0.93, 0.93, 0.95],
];
const ROCK = [0.5, 0.48, 0.46] as const;

/**
 * Colour of a terrain vertex: a ramp by height (sand low, grass, dark grass, earth, snow high)
 * blended toward rock grey on steep slopes (normal's `ny` below 0.92, fully rock at 0.77, about
 * 40 degrees).
 * @param height Vertex height, metres.
 * @param ny Y component of the unit normal (1 flat, 0 vertical).
 * @param range Heights mapped to the ramp's ends, metres.
 * @param out Receives r, g, b in 0..1 at `offset`.
 */
export function terrainColour(height: number, ny: number, range: readonly [number, number], out: Float32Array | number[], offset = 0): void {
  const t = Math.min(1, Math.max(0, (height - range[0]) / (range[1] - range[0])));
  let k = 1;
  while (k < RAMP.length - 1 && RAMP[k]![0] < t) k++;
  const a = RAMP[k - 1]!;
  const b = RAMP[k]!;
  const f = (t - a[0]) / (b[0] - a[0]);
  const rock = Math.min(1, Math.max(0, (0.92 - ny) / 0.15));
  for (let c = 0; c < 3; c++) {
    const ramp = a[c + 1]! + (b[c + 1]! - a[c + 1]!) * f;
    out[offset + c] = ramp + (ROCK[c]! - ramp) * rock;
  }
}

/** Options of {@link terrainChunkGeometry} and {@link createTerrainMeshes}. */
export interface TerrainGeometryOptions {
  /** Skirt depth below the edges, metres, >= 0 (0: no skirt); default {@link DEFAULT_TERRAIN_SKIRT}. */
  readonly skirt?: number;
  /** Heights at the colour ramp's ends, metres (low < high); default {@link DEFAULT_TERRAIN_HEIGHT_RANGE}. */
  readonly heightRange?: readonly [number, number];
  /** UV units per metre: `uv = (x, z) * uvPerMetre` in world metres; default 1 (a texture repeats every metre). */
  readonly uvPerMetre?: number;
}

/**
 * Vertex data of one chunk in scene space, relative to the chunk's origin (place the mesh at
 * `(originX, 0, originZ)`, Z mirrored in a left-handed scene).
 *
 * Layout: vertices `0 .. (cells + 1)^2 - 1` are the grid, row-major by z; then the skirt's
 * `4 * cells` lowered copies of the edge vertices. Triangles: two per cell, then two per edge
 * segment of the skirt, all facing outward/upward.
 * @throws BabylonPluginError `InvalidConfig` for a bad option or a chunk whose arrays do not match.
 */
export function terrainChunkGeometry(chunk: TerrainChunk, rightHanded: boolean, options: TerrainGeometryOptions = {}): VertexData {
  const skirt = options.skirt ?? DEFAULT_TERRAIN_SKIRT;
  const range = options.heightRange ?? DEFAULT_TERRAIN_HEIGHT_RANGE;
  const uvPerMetre = options.uvPerMetre ?? 1;
  if (!(skirt >= 0) || !Number.isFinite(skirt)) throw new BabylonPluginError('InvalidConfig', `terrain skirt = ${skirt}: expected metres >= 0`, { option: 'skirt', value: skirt });
  if (!Array.isArray(range) || !(range[0] < range[1])) throw new BabylonPluginError('InvalidConfig', `terrain heightRange = ${String(range)}: expected [low, high] metres with low < high`, { option: 'heightRange', value: range });
  if (!(uvPerMetre > 0) || !Number.isFinite(uvPerMetre)) throw new BabylonPluginError('InvalidConfig', `terrain uvPerMetre = ${uvPerMetre}: expected > 0`, { option: 'uvPerMetre', value: uvPerMetre });
  const n = chunk.cells + 1;
  if (chunk.heights.length !== n * n || chunk.normals.length !== n * n * 3) {
    throw new BabylonPluginError('InvalidConfig', `terrain chunk ${chunk.key}: expected ${n * n} heights and normals`, { option: 'chunk', value: chunk.key });
  }
  const loop: number[] = []; // border vertices counter-clockwise seen from above (engine space)
  for (let i = 0; i < n - 1; i++) loop.push(i); // south edge (z = 0), +x
  for (let j = 0; j < n - 1; j++) loop.push(j * n + n - 1); // east edge, +z
  for (let i = n - 1; i > 0; i--) loop.push((n - 1) * n + i); // north edge, -x
  for (let j = n - 1; j > 0; j--) loop.push(j * n); // west edge, -z
  const skirtCount = skirt > 0 ? loop.length : 0;
  const count = n * n + skirtCount;
  const vertices = new Float32Array(count * 3);
  const normals = new Float32Array(count * 3);
  const colours = new Float32Array(count * 4);
  const uvs = new Float32Array(count * 2);
  const put = (v: number, grid: number, dy: number): void => {
    const i = grid % n;
    const j = (grid - i) / n;
    const x = i * chunk.spacing;
    const z = j * chunk.spacing;
    const y = chunk.heights[grid]! / HEIGHT_UNITS_PER_METRE;
    vertices[v * 3] = x;
    vertices[v * 3 + 1] = y - dy;
    vertices[v * 3 + 2] = z;
    normals[v * 3] = chunk.normals[grid * 3]!;
    normals[v * 3 + 1] = chunk.normals[grid * 3 + 1]!;
    normals[v * 3 + 2] = chunk.normals[grid * 3 + 2]!;
    terrainColour(y, chunk.normals[grid * 3 + 1]!, range, colours, v * 4);
    colours[v * 4 + 3] = 1;
    uvs[v * 2] = (chunk.originX + x) * uvPerMetre;
    uvs[v * 2 + 1] = (chunk.originZ + z) * uvPerMetre;
  };
  for (let g = 0; g < n * n; g++) put(g, g, 0);
  for (let s = 0; s < skirtCount; s++) put(n * n + s, loop[s]!, skirt);
  const indices = new Uint32Array((n - 1) * (n - 1) * 6 + skirtCount * 6);
  let k = 0;
  for (let j = 0; j < n - 1; j++) {
    for (let i = 0; i < n - 1; i++) {
      const a = j * n + i;
      const b = a + 1;
      const d = a + n;
      const e = d + 1;
      indices[k++] = a; indices[k++] = d; indices[k++] = b; // counter-clockwise from +Y
      indices[k++] = b; indices[k++] = d; indices[k++] = e;
    }
  }
  for (let s = 0; s < skirtCount; s++) {
    const a = loop[s]!;
    const b = loop[(s + 1) % skirtCount]!;
    const a2 = n * n + s;
    const b2 = n * n + ((s + 1) % skirtCount);
    indices[k++] = a; indices[k++] = b; indices[k++] = a2; // facing outward
    indices[k++] = b; indices[k++] = b2; indices[k++] = a2;
  }
  const converted = trianglesToScene(vertices, indices, rightHanded);
  if (!rightHanded) for (let i = 2; i < normals.length; i += 3) normals[i] = -normals[i]!;
  const data = new VertexData();
  data.positions = converted.positions;
  data.indices = converted.indices;
  data.normals = normals;
  data.colors = colours;
  data.uvs = uvs;
  return data;
}

/** Options of {@link createTerrainMeshes}. */
export interface TerrainMeshOptions extends TerrainGeometryOptions {
  /**
   * Material of every chunk; default a matte `StandardMaterial` (vertex colours, no specular)
   * created and disposed with the meshes. A given material is not disposed.
   */
  readonly material?: Material;
  /** Meshes receive shadows; default true. */
  readonly receiveShadows?: boolean;
  /** Called after a mesh is created (e.g. to add it to a shadow generator). */
  readonly onMesh?: (mesh: Mesh, chunk: TerrainChunk) => void;
  /** Called before a mesh is disposed. */
  readonly onDisposeMesh?: (mesh: Mesh, chunk: TerrainChunk) => void;
}

/** The meshes of a streamed terrain. */
export interface TerrainMeshes {
  /** The material used by every chunk mesh. */
  readonly material: Material;
  /** Current meshes by column `"chunkX,chunkZ"` (one LOD per column). */
  meshes(): ReadonlyMap<string, Mesh>;
  /** Meshes created and disposed so far. */
  readonly stats: { created: number; disposed: number };
  /** Stops following the streamer and disposes every mesh (and the default material). Safe to call twice. */
  dispose(): void;
}

/**
 * Shows the streamer's chunks in `scene` (see the module doc): meshes for the chunks resident
 * now, then one per `ready` event (replacing the column's previous LOD), disposed on `evicted`.
 * Mesh names are `terrain <chunkX>,<chunkZ>@<lod>`; `mesh.metadata` is `{ terrainChunk: key }`.
 * @throws BabylonPluginError `InvalidConfig` for bad geometry options.
 */
export function createTerrainMeshes(scene: Scene, streamer: TerrainStreamer, options: TerrainMeshOptions = {}): TerrainMeshes {
  terrainChunkGeometryCheck(options);
  const ownMaterial = options.material === undefined;
  let material: Material;
  if (options.material !== undefined) {
    material = options.material;
  } else {
    const m = new StandardMaterial('terrain', scene);
    m.diffuseColor = Color3.White();
    m.specularColor = Color3.Black();
    m.ambientColor = new Color3(0.6, 0.6, 0.6);
    material = m;
  }
  const meshes = new Map<string, { mesh: Mesh; chunk: TerrainChunk }>();
  const stats = { created: 0, disposed: 0 };
  const drop = (column: string): void => {
    const entry = meshes.get(column);
    if (entry === undefined) return;
    options.onDisposeMesh?.(entry.mesh, entry.chunk);
    entry.mesh.dispose(false, false);
    meshes.delete(column);
    stats.disposed++;
  };
  const show = (chunk: TerrainChunk): void => {
    const column = `${chunk.chunkX},${chunk.chunkZ}`;
    const rightHanded = scene.useRightHandedSystem;
    const mesh = new Mesh(`terrain ${chunk.key}`, scene);
    terrainChunkGeometry(chunk, rightHanded, options).applyToMesh(mesh, false);
    mesh.position.set(chunk.originX, 0, rightHanded ? chunk.originZ : -chunk.originZ);
    mesh.material = material;
    mesh.receiveShadows = options.receiveShadows ?? true;
    mesh.metadata = { terrainChunk: chunk.key };
    mesh.freezeWorldMatrix();
    drop(column);
    meshes.set(column, { mesh, chunk });
    stats.created++;
    options.onMesh?.(mesh, chunk);
  };
  for (const chunk of streamer.residentChunks()) show(chunk);
  const off = [
    streamer.on('ready', (chunk) => show(chunk)),
    streamer.on('evicted', (chunk) => {
      const column = `${chunk.chunkX},${chunk.chunkZ}`;
      if (meshes.get(column)?.chunk === chunk) drop(column);
    }),
  ];
  let disposed = false;
  return {
    material,
    stats,
    meshes() {
      return new Map([...meshes].map(([k, v]) => [k, v.mesh]));
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const remove of off) remove();
      for (const column of [...meshes.keys()]) drop(column);
      if (ownMaterial) material.dispose();
    },
  };
}

function terrainChunkGeometryCheck(options: TerrainGeometryOptions): void {
  // Validates the options once up front (the same checks as terrainChunkGeometry), on a 1-cell chunk.
  terrainChunkGeometry({
    key: 'check', chunkX: 0, chunkZ: 0, lod: 0, cells: 1, spacing: 1, originX: 0, originZ: 0,
    heights: new Int32Array(4), normals: new Float32Array([0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0]), hash: 0, minHeight: 0, maxHeight: 0,
  }, true, options);
}
