/**
 * Arena rendering: the Babylon scene of an arena game (lights and shadows, materials, one mesh per
 * collider with a colour per player slot, sky, the follow camera) and the PeerCompute plugin that
 * ticks the game and draws it. Nothing here changes game state. Used by `main.ts` for single
 * player and online matches alike.
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
import { CreateGround } from '@babylonjs/core/Meshes/Builders/groundBuilder.js';
import { CreateSphere } from '@babylonjs/core/Meshes/Builders/sphereBuilder.js';
import { Mesh } from '@babylonjs/core/Meshes/mesh.js';
import { Scene } from '@babylonjs/core/scene.js';
import { orderedQuery, storeOf, Transform, Collider } from '../../engine/index.ts';
import { attachPeerCompute, positionToScene, type PeerComputeRuntime } from '../../plugins/babylon/index.ts';
import { ARENA_HALF_SIZE, ArenaProp, PALETTE_SIZE, PropKind, type ArenaGame } from './game.ts';

/** Palette of loose props (`ArenaProp.colour` indexes it): coral, amber, teal, violet, lime, sky. */
const PROP_COLOURS: readonly string[] = ['#ef6f5e', '#f2b544', '#2bb3a3', '#8c6ff0', '#93c94b', '#4aa3f0'];
/**
 * Base colour of each player slot's ball (slot 0 first): orange, blue, green, purple, yellow,
 * pink, cyan, red. The net overlay uses the same colours for the players' names.
 */
export const PLAYER_COLOURS: readonly string[] = ['#ff7a2f', '#2f7dff', '#2fbf5a', '#a25cf0', '#f5c518', '#ff5fa8', '#1fc7d4', '#e0433a'];
/** Sky and fog colour. */
const SKY = new Color3(0.62, 0.74, 0.87);
/** Camera offset from the point it looks at, engine space (behind = +Z, above = +Y), metres. */
const CAMERA_OFFSET = { x: 0, y: 5.2, z: 9.5 };
/** The camera looks at a point this far ahead of the player (engine -Z), metres. */
const LOOK_AHEAD = 3;
/** How fast the camera catches up with the player, 1/s (higher is stiffer). */
const CAMERA_STIFFNESS = 5;


/** Options of {@link createArenaScene}. */
export interface ArenaSceneOptions {
  /** Show the plugin's debug overlay from the start (the Backquote key toggles it). Default false. */
  readonly debugOverlay?: boolean;
  /**
   * `'high'` (default): 2048 px PCF shadow map, full resolution. `'low'`: no shadows, half the
   * resolution (hardware scaling level 2), for weak GPUs and software rendering.
   */
  readonly quality?: 'high' | 'low';
}

/** A drawn arena. */
export interface ArenaScene {
  readonly scene: Scene;
  readonly runtime: PeerComputeRuntime;
  /** Disposes the plugin runtime and the scene (the engine stays). */
  dispose(): void;
}

/**
 * Builds the scene of `game` on `engine` and attaches the plugin, which from then on advances
 * `game.scheduler` from the render loop. The camera follows `game.player` (the local player).
 * Run `engine.runRenderLoop(() => scene.render())` to start.
 */
export function createArenaScene(engine: AbstractEngine, game: ArenaGame, options: ArenaSceneOptions = {}): ArenaScene {
  const { world, scheduler, player, players } = game;
  // Scene: left-handed (Babylon's default); the plugin mirrors Z, so engine -Z is scene +Z.
  const scene = new Scene(engine);
  scene.clearColor = new Color4(SKY.r, SKY.g, SKY.b, 1);
  scene.ambientColor = new Color3(0.12, 0.13, 0.15);
  scene.fogMode = Scene.FOGMODE_EXP2;
  scene.fogDensity = 0.0075;
  scene.fogColor = SKY;

  const hemi = new HemisphericLight('sky', new Vector3(0.2, 1, -0.3), scene);
  hemi.intensity = 0.42;
  hemi.diffuse = new Color3(0.93, 0.96, 1);
  hemi.groundColor = new Color3(0.32, 0.3, 0.36);
  hemi.specular = Color3.Black();
  const sun = new DirectionalLight('sun', new Vector3(-0.45, -1, 0.55).normalize(), scene);
  sun.position = new Vector3(18, 30, -22);
  sun.intensity = 0.72;
  sun.diffuse = new Color3(1, 0.96, 0.88);
  const lowQuality = options.quality === 'low';
  let shadows: ShadowGenerator | undefined;
  if (!lowQuality) {
    shadows = new ShadowGenerator(2048, sun);
    shadows.usePercentageCloserFiltering = true;
    shadows.filteringQuality = ShadowGenerator.QUALITY_MEDIUM;
    shadows.bias = 0.0015;
    shadows.normalBias = 0.01;
    shadows.darkness = 0.35;
  }
  engine.setHardwareScalingLevel(lowQuality ? 2 : 1);

  const runtime = attachPeerCompute(scene, { world, scheduler, overlay: { visible: options.debugOverlay ?? false } });
  const materials = createMaterials(scene);

  // One mesh per entity with a collider, material by prop kind and colour.
  const kinds = storeOf(world, ArenaProp);
  const colliders = orderedQuery(world, [Transform, Collider]);
  for (const eid of colliders) {
    let material: StandardMaterial;
    let flatShading = false;
    let castsShadow = true;
    const slot = players.indexOf(eid);
    if (slot >= 0) {
      material = materials.players[slot % materials.players.length]!;
    } else {
      switch (kinds.kind[eid]) {
        case PropKind.Floor:
          material = materials.floor;
          castsShadow = false;
          break;
        case PropKind.Wall:
          material = materials.wall;
          break;
        case PropKind.Ramp:
          material = materials.ramp;
          flatShading = true;
          break;
        case PropKind.Crate:
          material = materials.crate;
          break;
        default:
          material = materials.props[kinds.colour[eid]! % PALETTE_SIZE]!;
      }
    }
    const mesh = runtime.createMeshForEntity(eid, { material, flatShading, name: `arena-${eid}` });
    mesh.receiveShadows = true;
    if (castsShadow) shadows?.addShadowCaster(mesh);
  }

  // Sky: a large inside-out sphere with a vertical gradient, ignoring fog and lights.
  const sky = CreateSphere('sky', { diameter: 800, segments: 16, sideOrientation: Mesh.BACKSIDE }, scene);
  sky.infiniteDistance = true;
  sky.isPickable = false;
  sky.material = materials.sky;

  // Beyond the walls: a wide ground fading into the fog.
  const outside = CreateGround('outside', { width: 400, height: 400 }, scene);
  outside.position.y = -0.02;
  outside.material = materials.outside;
  outside.receiveShadows = true;

  // Follow camera: behind and above the player, looking along engine -Z (scene +Z).
  const camera = new TargetCamera('follow', new Vector3(), scene);
  camera.fov = 0.85;
  camera.minZ = 0.1;
  camera.maxZ = 500;
  const playerMesh = runtime.meshOf(player) as Mesh;
  const offset = positionToScene(CAMERA_OFFSET.x, CAMERA_OFFSET.y, CAMERA_OFFSET.z, scene.useRightHandedSystem, new Vector3());
  const ahead = positionToScene(0, 0, -LOOK_AHEAD, scene.useRightHandedSystem, new Vector3());
  const focus = playerMesh.position.add(ahead);
  camera.position.copyFrom(focus).addInPlace(offset);
  camera.setTarget(focus);
  runtime.onFrameObservable.add(({ elapsedMs }) => {
    const k = 1 - Math.exp((-CAMERA_STIFFNESS * Math.min(elapsedMs, 100)) / 1000);
    // Follow horizontally, and vertically only by half (jumps do not shake the view).
    focus.x += (playerMesh.position.x + ahead.x - focus.x) * k;
    focus.z += (playerMesh.position.z + ahead.z - focus.z) * k;
    focus.y += (0.5 + (playerMesh.position.y - 0.5) * 0.5 - focus.y) * k;
    camera.position.copyFrom(focus).addInPlace(offset);
    camera.setTarget(focus);
  });

  return {
    scene,
    runtime,
    dispose(): void {
      runtime.dispose();
      scene.dispose();
    },
  };
}

interface ArenaMaterials {
  sky: StandardMaterial;
  floor: StandardMaterial;
  outside: StandardMaterial;
  wall: StandardMaterial;
  ramp: StandardMaterial;
  crate: StandardMaterial;
  players: StandardMaterial[];
  props: StandardMaterial[];
}

function matte(name: string, scene: Scene, colour: Color3, specular = 0.08): StandardMaterial {
  const m = new StandardMaterial(name, scene);
  m.diffuseColor = colour;
  m.specularColor = new Color3(specular, specular, specular);
  m.ambientColor = colour;
  return m;
}

/** Draws into a new square DynamicTexture of `size` px with `paint(ctx, size)`. */
function paintedTexture(name: string, scene: Scene, size: number, paint: (ctx: CanvasRenderingContext2D, size: number) => void): DynamicTexture {
  const texture = new DynamicTexture(name, { width: size, height: size }, scene, true);
  // DynamicTexture clamps by default; tiles repeat.
  texture.wrapU = Texture.WRAP_ADDRESSMODE;
  texture.wrapV = Texture.WRAP_ADDRESSMODE;
  paint(texture.getContext() as CanvasRenderingContext2D, size);
  texture.update();
  texture.anisotropicFilteringLevel = 8;
  return texture;
}

function createMaterials(scene: Scene): ArenaMaterials {
  // Floor: 2 m tiles (the 31 m box top repeats the texture 15.5 times), two soft tones and grout.
  const floor = matte('floor', scene, new Color3(1, 1, 1), 0.05);
  const tiles = paintedTexture('floor-tiles', scene, 256, (ctx, s) => {
    ctx.fillStyle = '#cfd6de';
    ctx.fillRect(0, 0, s, s);
    ctx.fillStyle = '#bcc5cf';
    ctx.fillRect(0, 0, s / 2, s / 2);
    ctx.fillRect(s / 2, s / 2, s / 2, s / 2);
    ctx.strokeStyle = '#a7b1bd';
    ctx.lineWidth = 3;
    ctx.strokeRect(0, 0, s, s);
    ctx.beginPath();
    ctx.moveTo(s / 2, 0);
    ctx.lineTo(s / 2, s);
    ctx.moveTo(0, s / 2);
    ctx.lineTo(s, s / 2);
    ctx.stroke();
  });
  const repeat = (2 * ARENA_HALF_SIZE + 1) / 4;
  tiles.uScale = repeat;
  tiles.vScale = repeat;
  floor.diffuseTexture = tiles;

  const outside = matte('outside', scene, new Color3(0.45, 0.66, 0.38), 0);
  const wall = matte('wall', scene, new Color3(0.93, 0.89, 0.82), 0.1);
  // Ramp: stripes across the slope, 1 m apart (trimesh UVs are 1 unit per metre).
  const ramp = matte('ramp', scene, new Color3(1, 1, 1), 0.12);
  ramp.diffuseTexture = paintedTexture('ramp-stripes', scene, 128, (ctx, s) => {
    ctx.fillStyle = '#3aa6b9';
    ctx.fillRect(0, 0, s, s);
    ctx.fillStyle = '#e9f5f2';
    ctx.fillRect(0, 0, s, s / 5);
  });

  const crate = matte('crate', scene, new Color3(1, 1, 1), 0.05);
  crate.diffuseTexture = paintedTexture('crate-planks', scene, 128, (ctx, s) => {
    ctx.fillStyle = '#c98a4b';
    ctx.fillRect(0, 0, s, s);
    ctx.fillStyle = '#b97a3d';
    for (let i = 0; i < 4; i++) ctx.fillRect(0, (i * s) / 4 + 2, s, s / 8);
    ctx.strokeStyle = '#7a4b22';
    ctx.lineWidth = s / 10;
    ctx.strokeRect(s / 20, s / 20, s - s / 10, s - s / 10);
    ctx.beginPath();
    ctx.moveTo(s / 10, s / 10);
    ctx.lineTo(s - s / 10, s - s / 10);
    ctx.stroke();
  });

  // Players: glossy with stripes, so rolling shows; one base colour per slot.
  const players = PLAYER_COLOURS.map((hex, slot) => {
    const m = matte(`player-${slot}`, scene, new Color3(1, 1, 1), 0.6);
    m.specularPower = 48;
    m.diffuseTexture = paintedTexture(`player-stripes-${slot}`, scene, 256, (ctx, s) => {
      ctx.fillStyle = hex;
      ctx.fillRect(0, 0, s, s);
      ctx.fillStyle = '#fff4e6';
      for (let i = 0; i < 4; i++) ctx.fillRect((i * s) / 4, 0, s / 10, s);
      ctx.fillRect(0, s * 0.46, s, s * 0.08);
    });
    return m;
  });

  const props = PROP_COLOURS.map((hex, i) => matte(`prop-${i}`, scene, Color3.FromHexString(hex), 0.25));
  const sky = new StandardMaterial('sky', scene);
  sky.disableLighting = true;
  sky.fogEnabled = false;
  sky.backFaceCulling = false;
  sky.emissiveTexture = paintedTexture('sky-gradient', scene, 256, (ctx, s) => {
    // Texture v runs from the bottom (0) to the top (1) of the sphere: the canvas is drawn upside down.
    const gradient = ctx.createLinearGradient(0, 0, 0, s);
    gradient.addColorStop(0, '#3f7fcf');
    gradient.addColorStop(0.42, '#8fb9e6');
    gradient.addColorStop(0.5, SKY.toHexString());
    gradient.addColorStop(1, SKY.toHexString());
    ctx.fillStyle = gradient;
    ctx.fillRect(0, 0, s, s);
  });
  return { sky, floor, outside, wall, ramp, crate, players, props };
}
