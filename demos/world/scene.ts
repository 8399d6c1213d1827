/**
 * World rendering: the Babylon scene of a world game (sky, lights, the streamed terrain with a
 * 1 m grid, one capsule per avatar with a name label standing on the terrain, one box per block
 * on its cell's ground level, a follow camera) and the PeerCompute plugin that ticks the game's
 * scheduler from the render loop. Nothing here changes game state.
 *
 * The scene is right-handed (`useRightHandedSystem`), so engine coordinates are used as they are:
 * metres, Y up, forward -Z. Meshes are created and disposed each frame to match the world's
 * `Avatar` and `Block` entities ({@link WorldScene.sync} runs before every render).
 */
import type { AbstractEngine } from '@babylonjs/core/Engines/abstractEngine.js';
import { TargetCamera } from '@babylonjs/core/Cameras/targetCamera.js';
import { DirectionalLight } from '@babylonjs/core/Lights/directionalLight.js';
import { HemisphericLight } from '@babylonjs/core/Lights/hemisphericLight.js';
import { ShadowGenerator } from '@babylonjs/core/Lights/Shadows/shadowGenerator.js';
import '@babylonjs/core/Lights/Shadows/shadowGeneratorSceneComponent.js';
import { StandardMaterial } from '@babylonjs/core/Materials/standardMaterial.js';
import { DynamicTexture } from '@babylonjs/core/Materials/Textures/dynamicTexture.js';
import { Texture } from '@babylonjs/core/Materials/Textures/texture.js';
import { Color3, Color4 } from '@babylonjs/core/Maths/math.color.js';
import { Vector3 } from '@babylonjs/core/Maths/math.vector.js';
import { CreateBox } from '@babylonjs/core/Meshes/Builders/boxBuilder.js';
import { CreateCapsule } from '@babylonjs/core/Meshes/Builders/capsuleBuilder.js';
import { Ray } from '@babylonjs/core/Culling/ray.js';
import { CreatePlane } from '@babylonjs/core/Meshes/Builders/planeBuilder.js';
import '@babylonjs/core/Meshes/instancedMesh.js';
import type { InstancedMesh } from '@babylonjs/core/Meshes/instancedMesh.js';
import { Mesh } from '@babylonjs/core/Meshes/mesh.js';
import { TransformNode } from '@babylonjs/core/Meshes/transformNode.js';
import { Scene } from '@babylonjs/core/scene.js';
import { hasComponent, query, storeOf } from '../../engine/index.ts';
import { attachPeerCompute, createTerrainMeshes, type PeerComputeRuntime, type TerrainMeshes } from '../../plugins/babylon/index.ts';
import { Avatar, Block, BlockState, cellCentre, CELL, groundLevel, PALETTE, WORLD_TERRAIN, type WorldGame } from './game.ts';

/** Sky and fog colour. */
const SKY = new Color3(0.64, 0.77, 0.9);
/** Camera offset from the local avatar, m (behind = +Z, above = +Y). */
const CAMERA_OFFSET = { y: 9, z: 11 };
/** How fast the camera catches up, 1/s. */
const CAMERA_STIFFNESS = 6;
/** Avatar capsule height and radius, m. */
const AVATAR_HEIGHT = 1.6;
const AVATAR_RADIUS = 0.35;

/** What the page tells the scene about an avatar (from awareness). */
export interface AvatarLabel {
  /** Shown above the avatar. */
  readonly name: string;
  /** Whether to draw the avatar at all (avatars of peers that left are hidden). */
  readonly visible: boolean;
}

/** Options of {@link createWorldScene}. */
export interface WorldSceneOptions {
  /** `'high'` (default): shadows, full resolution. `'low'`: no shadows, half resolution (software rendering). */
  readonly quality?: 'high' | 'low';
  /** Show the plugin's debug overlay from the start (Backquote toggles it). Default false. */
  readonly debugOverlay?: boolean;
  /** Label and visibility of avatar entity `eid`; default: visible, no name. Called every frame. */
  readonly labelOf?: (eid: number) => AvatarLabel;
  /** Runs before meshes follow the world each frame (e.g. `replicator.interpolate()`). */
  readonly beforeSync?: () => void;
}

/** A drawn world. */
export interface WorldScene {
  readonly scene: Scene;
  readonly runtime: PeerComputeRuntime;
  /** The terrain's chunk meshes. */
  readonly terrainMeshes: TerrainMeshes;
  /** Height of the drawn terrain mesh under `(x, z)` metres (a ray cast down), or undefined where no chunk is shown yet. */
  groundUnder(x: number, z: number): number | undefined;
  /** Where avatar `eid` is drawn (its feet), metres, or undefined when it has no mesh. */
  avatarPosition(eid: number): { x: number; y: number; z: number } | undefined;
  /** Makes meshes match the world now (runs by itself before every render). */
  sync(): void;
  /** Disposes the plugin runtime and the scene (the engine stays). */
  dispose(): void;
}

interface AvatarView {
  readonly root: TransformNode;
  readonly body: Mesh;
  readonly label: Mesh;
  readonly texture: DynamicTexture;
  text: string;
  colour: number;
}

/**
 * Builds the scene of `game` on `engine` and attaches the plugin (which from then on advances
 * `game.scheduler` from the render loop). Run `engine.runRenderLoop(() => scene.render())`.
 */
export function createWorldScene(engine: AbstractEngine, game: WorldGame, options: WorldSceneOptions = {}): WorldScene {
  const { world, scheduler, avatar } = game;
  const scene = new Scene(engine);
  scene.useRightHandedSystem = true;
  scene.clearColor = new Color4(SKY.r, SKY.g, SKY.b, 1);
  scene.ambientColor = new Color3(0.18, 0.19, 0.22);
  scene.fogMode = Scene.FOGMODE_EXP2;
  scene.fogDensity = 0.012;
  scene.fogColor = SKY;
  const low = options.quality === 'low';
  engine.setHardwareScalingLevel(low ? 2 : 1);

  const hemi = new HemisphericLight('sky', new Vector3(0.2, 1, 0.3), scene);
  hemi.intensity = 0.55;
  hemi.groundColor = new Color3(0.35, 0.33, 0.38);
  hemi.specular = Color3.Black();
  const sun = new DirectionalLight('sun', new Vector3(-0.5, -1, -0.6).normalize(), scene);
  sun.position = new Vector3(20, 30, 25);
  sun.intensity = 0.75;
  sun.diffuse = new Color3(1, 0.96, 0.88);
  let shadows: ShadowGenerator | undefined;
  if (!low) {
    shadows = new ShadowGenerator(2048, sun);
    shadows.usePercentageCloserFiltering = true;
    shadows.bias = 0.002;
    shadows.darkness = 0.35;
  }

  const runtime = attachPeerCompute(scene, { world, scheduler, overlay: { visible: options.debugOverlay ?? false } });

  // Terrain: streamed chunk meshes, vertex colours by height and slope times a 1 m cell texture.
  const terrainMat = matte('terrain', scene, new Color3(1, 1, 1), 0);
  const cellTex = new DynamicTexture('cell', { width: 64, height: 64 }, scene, true);
  cellTex.wrapU = Texture.WRAP_ADDRESSMODE;
  cellTex.wrapV = Texture.WRAP_ADDRESSMODE;
  const ctx = cellTex.getContext() as CanvasRenderingContext2D;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, 64, 64);
  ctx.strokeStyle = '#d2d6cf';
  ctx.lineWidth = 3;
  ctx.strokeRect(0, 0, 64, 64);
  cellTex.update();
  cellTex.anisotropicFilteringLevel = 8;
  terrainMat.diffuseTexture = cellTex;
  const amplitude = WORLD_TERRAIN.noise.amplitude / (1 - WORLD_TERRAIN.noise.persistence);
  const terrainMeshes = createTerrainMeshes(scene, game.terrain.streamer, {
    material: terrainMat,
    uvPerMetre: 1 / CELL,
    heightRange: [-amplitude * 0.45, amplitude * 0.5],
    skirt: 3,
  });
  // Blocks: one hidden template box per palette colour, drawn as instances.
  const templates = PALETTE.map((hex, i) => {
    const box = CreateBox(`block-${i}`, { size: CELL * 0.98 }, scene);
    box.material = matte(`block-${i}`, scene, Color3.FromHexString(hex), 0.15);
    box.isVisible = false;
    box.receiveShadows = true;
    return box;
  });
  const avatarMats = PALETTE.map((hex, i) => {
    const m = matte(`avatar-${i}`, scene, Color3.FromHexString(hex), 0.5);
    m.specularPower = 32;
    return m;
  });
  const noseMat = matte('nose', scene, new Color3(0.95, 0.95, 0.95), 0.3);

  const blocks = new Map<number, InstancedMesh>();
  const avatars = new Map<number, AvatarView>();

  const newAvatar = (eid: number): AvatarView => {
    const root = new TransformNode(`avatar-${eid}`, scene);
    const body = CreateCapsule(`avatar-body-${eid}`, { height: AVATAR_HEIGHT, radius: AVATAR_RADIUS, tessellation: 16, subdivisions: 2 }, scene);
    body.parent = root;
    body.position.y = AVATAR_HEIGHT / 2;
    const nose = CreateBox(`avatar-nose-${eid}`, { width: 0.3, height: 0.18, depth: 0.3 }, scene);
    nose.parent = root;
    nose.position.set(0, AVATAR_HEIGHT * 0.72, -AVATAR_RADIUS);
    nose.material = noseMat;
    shadows?.addShadowCaster(body);
    const texture = new DynamicTexture(`avatar-label-${eid}`, { width: 512, height: 128 }, scene, true);
    texture.hasAlpha = true;
    const labelMat = new StandardMaterial(`avatar-label-${eid}`, scene);
    labelMat.diffuseTexture = texture;
    labelMat.emissiveColor = Color3.White();
    labelMat.disableLighting = true;
    labelMat.useAlphaFromDiffuseTexture = true;
    labelMat.backFaceCulling = false;
    labelMat.fogEnabled = false;
    const label = CreatePlane(`avatar-label-${eid}`, { width: 2.8, height: 0.7 }, scene);
    label.material = labelMat;
    label.parent = root;
    label.position.y = AVATAR_HEIGHT + 0.55;
    label.billboardMode = TransformNode.BILLBOARDMODE_ALL;
    label.isPickable = false;
    return { root, body, label, texture, text: '\u0000', colour: -1 };
  };

  const paintLabel = (view: AvatarView, text: string): void => {
    const c = view.texture.getContext() as CanvasRenderingContext2D;
    c.clearRect(0, 0, 512, 128);
    if (text !== '') {
      c.font = '600 64px system-ui, sans-serif';
      const w = Math.min(500, c.measureText(text).width + 48);
      c.fillStyle = 'rgba(18, 24, 36, 0.72)';
      c.beginPath();
      c.roundRect((512 - w) / 2, 14, w, 100, 30);
      c.fill();
      c.fillStyle = '#ffffff';
      c.textAlign = 'center';
      c.textBaseline = 'middle';
      c.fillText(text, 256, 66, 464);
    }
    view.texture.update();
    view.text = text;
  };

  const sync = (): void => {
    options.beforeSync?.();
    const a = storeOf(world, Avatar);
    const seen = new Set<number>();
    for (const eid of query(world, [Avatar])) {
      seen.add(eid);
      let view = avatars.get(eid);
      if (view === undefined) avatars.set(eid, (view = newAvatar(eid)));
      const info = options.labelOf?.(eid) ?? { name: '', visible: true };
      view.root.setEnabled(info.visible);
      if (view.text !== info.name) paintLabel(view, info.name);
      const colour = a.colour[eid]! % PALETTE.length;
      if (view.colour !== colour) {
        view.body.material = avatarMats[colour]!;
        view.colour = colour;
      }
      view.root.position.set(a.x[eid]!, game.terrain.heightAt(a.x[eid]!, a.z[eid]!), a.z[eid]!);
      // yaw 0 faces -Z; Babylon's rotation.y turns +Z toward +X, so the nose (-Z) turns toward -X: negate.
      view.root.rotation.y = -a.yaw[eid]!;
    }
    for (const [eid, view] of avatars) {
      if (seen.has(eid)) continue;
      view.root.dispose(false, true);
      avatars.delete(eid);
    }
    const b = storeOf(world, Block);
    const s = storeOf(world, BlockState);
    const live = new Set<number>();
    for (const eid of query(world, [Block])) {
      if (hasComponent(world, eid, BlockState) && s.removed[eid] === 1) continue;
      live.add(eid);
      let mesh = blocks.get(eid);
      if (mesh === undefined) {
        mesh = templates[b.colour[eid]! % templates.length]!.createInstance(`block-${eid}`);
        shadows?.addShadowCaster(mesh);
        blocks.set(eid, mesh);
      }
      const ground = groundLevel(game.terrain.sampler, b.cx[eid]!, b.cz[eid]!);
      mesh.position.set(cellCentre(b.cx[eid]!), ground + (b.cy[eid]! + 0.5) * CELL, cellCentre(b.cz[eid]!));
    }
    for (const [eid, mesh] of blocks) {
      if (live.has(eid)) continue;
      shadows?.removeShadowCaster(mesh);
      mesh.dispose();
      blocks.delete(eid);
    }
  };

  // Follow camera: behind (+Z) and above the local avatar.
  const camera = new TargetCamera('follow', new Vector3(0, CAMERA_OFFSET.y, CAMERA_OFFSET.z), scene);
  camera.fov = 0.8;
  camera.minZ = 0.1;
  camera.maxZ = 600;
  const startX = storeOf(world, Avatar).x[avatar]!;
  const startZ = storeOf(world, Avatar).z[avatar]!;
  const focus = new Vector3(startX, game.terrain.heightAt(startX, startZ) + 0.8, startZ);
  const place = (): void => {
    camera.position.set(focus.x, focus.y + CAMERA_OFFSET.y, focus.z + CAMERA_OFFSET.z);
    camera.setTarget(new Vector3(focus.x, focus.y, focus.z - 2));
  };
  place();
  let last = performance.now();
  scene.onBeforeRenderObservable.add(() => {
    sync();
    const now = performance.now();
    const k = 1 - Math.exp((-CAMERA_STIFFNESS * Math.min(now - last, 100)) / 1000);
    last = now;
    const a = storeOf(world, Avatar);
    focus.x += (a.x[avatar]! - focus.x) * k;
    focus.z += (a.z[avatar]! - focus.z) * k;
    focus.y += (game.terrain.heightAt(a.x[avatar]!, a.z[avatar]!) + 0.8 - focus.y) * k;
    place();
  });

  const down = new Vector3(0, -1, 0);
  return {
    scene,
    runtime,
    terrainMeshes,
    sync,
    groundUnder(x, z) {
      const ray = new Ray(new Vector3(x, 1000, z), down, 2000);
      const hit = scene.pickWithRay(ray, (mesh) => mesh.metadata?.terrainChunk !== undefined);
      return hit?.hit === true && hit.pickedPoint !== null ? hit.pickedPoint.y : undefined;
    },
    avatarPosition(eid) {
      const view = avatars.get(eid);
      return view === undefined ? undefined : { x: view.root.position.x, y: view.root.position.y, z: view.root.position.z };
    },
    dispose(): void {
      terrainMeshes.dispose();
      runtime.dispose();
      scene.dispose();
    },
  };
}

function matte(name: string, scene: Scene, colour: Color3, specular: number): StandardMaterial {
  const m = new StandardMaterial(name, scene);
  m.diffuseColor = colour;
  m.specularColor = new Color3(specular, specular, specular);
  m.ambientColor = colour;
  return m;
}
