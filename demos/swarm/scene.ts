/**
 * Swarm rendering: a Babylon scene with the box (floor and low glass walls), one icosphere
 * drawn with a thin instance per body (one draw call for tens of thousands), and an orbit
 * camera. Nothing here changes the simulation: {@link SwarmScene.draw} copies the newest landed
 * frame's positions into the instance matrices.
 *
 * The scene is right-handed (`useRightHandedSystem`), so engine coordinates are used as they
 * are: metres, Y up.
 */
import type { AbstractEngine } from '@babylonjs/core/Engines/abstractEngine.js';
import { ArcRotateCamera } from '@babylonjs/core/Cameras/arcRotateCamera.js';
import '@babylonjs/core/Cameras/Inputs/arcRotateCameraPointersInput.js';
import { DirectionalLight } from '@babylonjs/core/Lights/directionalLight.js';
import { HemisphericLight } from '@babylonjs/core/Lights/hemisphericLight.js';
import { StandardMaterial } from '@babylonjs/core/Materials/standardMaterial.js';
import { Color3, Color4 } from '@babylonjs/core/Maths/math.color.js';
import { Vector3 } from '@babylonjs/core/Maths/math.vector.js';
import { CreateBox } from '@babylonjs/core/Meshes/Builders/boxBuilder.js';
import { CreateIcoSphere } from '@babylonjs/core/Meshes/Builders/icoSphereBuilder.js';
import '@babylonjs/core/Meshes/thinInstanceMesh.js';
import type { Mesh } from '@babylonjs/core/Meshes/mesh.js';
import { Scene } from '@babylonjs/core/scene.js';
import { SWARM_UNITS_PER_METRE, type ResolvedSwarm } from '../../shaders/index.ts';
import type { SwarmFrame } from './game.ts';

/** Options of {@link createSwarmScene}. */
export interface SwarmSceneOptions {
  /** `'low'` halves the resolution (software rendering). Default `'high'`. */
  readonly quality?: 'high' | 'low';
}

/** A drawn swarm. */
export interface SwarmScene {
  readonly scene: Scene;
  /** Copies a frame's positions into the instances (no-op when it is the frame drawn last). */
  draw(frame: SwarmFrame | null): void;
  dispose(): void;
}

/** Colours of the bodies, by body index (a gradient from teal to amber). */
function bodyColours(count: number): Float32Array {
  const colours = new Float32Array(count * 4);
  for (let k = 0; k < count; k++) {
    const t = (k * 0.618034) % 1; // golden-ratio spread: neighbours in index differ in colour
    colours[4 * k] = 0.15 + 0.85 * t;
    colours[4 * k + 1] = 0.55 + 0.25 * Math.sin(t * Math.PI);
    colours[4 * k + 2] = 0.75 - 0.6 * t;
    colours[4 * k + 3] = 1;
  }
  return colours;
}

/**
 * Builds the scene for a swarm with the given options.
 * @param engine A Babylon engine (WebGL2 or WebGPU).
 * @param swarm The swarm's resolved options (count, radius, box).
 */
export function createSwarmScene(engine: AbstractEngine, swarm: ResolvedSwarm, options: SwarmSceneOptions = {}): SwarmScene {
  if (options.quality === 'low') engine.setHardwareScalingLevel(2);
  const scene = new Scene(engine);
  scene.useRightHandedSystem = true;
  scene.clearColor = new Color4(0.09, 0.11, 0.15, 1);
  const U = SWARM_UNITS_PER_METRE;
  const radius = swarm.radius / U;
  const half = swarm.maxX / U + radius;
  const height = swarm.maxY / U + radius;

  const camera = new ArcRotateCamera('camera', -Math.PI / 3, Math.PI / 3.2, half * 3.1, new Vector3(0, height * 0.2, 0), scene);
  camera.lowerRadiusLimit = half;
  camera.upperRadiusLimit = half * 8;
  camera.attachControl(true);
  new HemisphericLight('sky', new Vector3(0.2, 1, 0.3), scene).intensity = 0.75;
  const sun = new DirectionalLight('sun', new Vector3(-0.4, -1, -0.3), scene);
  sun.intensity = 0.6;

  const floor = CreateBox('floor', { width: 2 * half, depth: 2 * half, height: 0.2 }, scene);
  floor.position.y = -0.1;
  const floorMaterial = new StandardMaterial('floor', scene);
  floorMaterial.diffuseColor = new Color3(0.23, 0.26, 0.32);
  floorMaterial.specularColor = Color3.Black();
  floor.material = floorMaterial;
  const wallMaterial = new StandardMaterial('wall', scene);
  wallMaterial.diffuseColor = new Color3(0.55, 0.7, 0.9);
  wallMaterial.alpha = 0.12;
  const wallHeight = Math.min(height, 3);
  for (const [name, x, z, w, d] of [
    ['north', 0, -half, 2 * half, 0.1], ['south', 0, half, 2 * half, 0.1], ['west', -half, 0, 0.1, 2 * half], ['east', half, 0, 0.1, 2 * half],
  ] as const) {
    const wall = CreateBox(`wall-${name}`, { width: w, depth: d, height: wallHeight }, scene);
    wall.position.set(x, wallHeight / 2, z);
    wall.material = wallMaterial;
  }

  const sphere: Mesh = CreateIcoSphere('body', { radius, subdivisions: 1, flat: false }, scene);
  const material = new StandardMaterial('body', scene);
  material.diffuseColor = Color3.White();
  material.specularColor = new Color3(0.2, 0.2, 0.2);
  sphere.material = material;
  const count = swarm.count;
  const matrices = new Float32Array(count * 16);
  for (let k = 0; k < count; k++) {
    const m = 16 * k;
    matrices[m] = 1;
    matrices[m + 5] = 1;
    matrices[m + 10] = 1;
    matrices[m + 15] = 1;
    matrices[m + 13] = -1000; // hidden below the floor until the first frame lands
  }
  sphere.thinInstanceSetBuffer('matrix', matrices, 16, false);
  sphere.thinInstanceSetBuffer('color', bodyColours(count), 4, true);
  // Bodies fill the box: skip per-frame bounding recomputation and frustum tests of instances.
  sphere.alwaysSelectAsActiveMesh = true;
  sphere.doNotSyncBoundingInfo = true;

  let drawn: SwarmFrame | null = null;
  return {
    scene,
    draw(frame) {
      if (frame === null || frame === drawn) return;
      drawn = frame;
      const pos = frame.positions;
      for (let k = 0; k < count; k++) {
        const m = 16 * k;
        matrices[m + 12] = pos[3 * k]! / U;
        matrices[m + 13] = pos[3 * k + 1]! / U;
        matrices[m + 14] = pos[3 * k + 2]! / U;
      }
      sphere.thinInstanceBufferUpdated('matrix');
    },
    dispose() {
      scene.dispose();
    },
  };
}
