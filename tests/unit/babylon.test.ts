/**
 * The Babylon plugin, headless: Babylon's NullEngine runs in Node with no GPU, which is enough to
 * check attaching, binding, interpolation, coordinate conversion, shape meshes and disposal.
 * Rendering itself is checked by tests/browser/arena.test.ts.
 */
import { NullEngine } from '@babylonjs/core/Engines/nullEngine.js';
import { Matrix, Quaternion, Vector3 } from '@babylonjs/core/Maths/math.vector.js';
import { CreateBox } from '@babylonjs/core/Meshes/Builders/boxBuilder.js';
import { CreateCapsule } from '@babylonjs/core/Meshes/Builders/capsuleBuilder.js';
import { CreateSphere } from '@babylonjs/core/Meshes/Builders/sphereBuilder.js';
import { VertexBuffer } from '@babylonjs/core/Buffers/buffer.js';
import { VertexData } from '@babylonjs/core/Meshes/mesh.vertexData.js';
import { Logger } from '@babylonjs/core/Misc/logger.js';
import { Scene } from '@babylonjs/core/scene.js';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  addComponent, BodyKind, Collider, createWorld, despawn, getFields, getTrimesh, Phase, registerHeightfield, registerTrimesh,
  RigidBody, Scheduler, ShapeKind, spawn, storeOf, Transform, transformAt,
  type GameWorld,
} from '../../engine/index.ts';
import {
  attachPeerCompute, BabylonPluginError, createBabylonEngine, createShapeMesh, formatOverlayText, getPeerComputeRuntime,
  heightfieldTriangles, inferShape, interpolatePose, positionToScene, rotationToScene, trianglesToScene,
  type PeerComputeRuntime, type ShapeDescription,
} from '../../plugins/babylon/index.ts';

let engine: NullEngine;
let scene: Scene;
let world: GameWorld;
let scheduler: Scheduler;

beforeAll(() => {
  // Keep warnings and errors, drop the "Babylon.js vX - Null engine" line of every engine.
  Logger.LogLevels = Logger.WarningLogLevel | Logger.ErrorLogLevel;
});

beforeEach(() => {
  engine = new NullEngine();
  scene = new Scene(engine);
  world = createWorld({ seed: 1 });
  scheduler = new Scheduler(world);
});

afterEach(() => {
  scene.dispose();
  engine.dispose();
});

/** Spawns an entity with a Transform at (x, y, z). */
function entityAt(x: number, y: number, z: number): number {
  const eid = spawn(world);
  addComponent(world, eid, Transform, transformAt(x, y, z));
  return eid;
}

/** Adds a Simulation system moving `eid` by `step` metres along +X every tick. */
function moveEveryTick(eid: number, step: number): void {
  scheduler.addSystem(Phase.Simulation, (w) => {
    storeOf(w, Transform).px[eid] += step;
  }, `move${eid}`);
}

function expectError(fn: () => unknown, code: string): BabylonPluginError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BabylonPluginError);
    expect((error as BabylonPluginError).code).toBe(code);
    return error as BabylonPluginError;
  }
  throw new Error(`expected BabylonPluginError ${code}, nothing was thrown`);
}

describe('attachPeerCompute', () => {
  it('registers one RenderSync system and one frame observer, and dispose removes both', async () => {
    const before = scene.onBeforeAnimationsObservable.observers.length;
    const runtime = attachPeerCompute(scene, { world, scheduler });
    expect(scheduler.systemsOf(Phase.RenderSync)).toEqual([runtime.systemName]);
    expect(scene.onBeforeAnimationsObservable.observers.length).toBe(before + 1);
    runtime.dispose();
    expect(runtime.isDisposed).toBe(true);
    expect(scheduler.systemsOf(Phase.RenderSync)).toEqual([]);
    // Babylon removes observers on the next macrotask.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(scene.onBeforeAnimationsObservable.observers.length).toBe(before);
    expect(getPeerComputeRuntime(scene)).toBeUndefined();
    runtime.dispose(); // safe twice
  });

  it('returns the same runtime when attached twice with the same world and scheduler', () => {
    const a = attachPeerCompute(scene, { world, scheduler });
    const b = attachPeerCompute(scene, { world, scheduler });
    expect(b).toBe(a);
    expect(getPeerComputeRuntime(scene)).toBe(a);
    expect(scheduler.systemsOf(Phase.RenderSync)).toHaveLength(1);
  });

  it('throws AlreadyAttached for another world, and attaches anew after dispose', () => {
    const a = attachPeerCompute(scene, { world, scheduler });
    const otherWorld = createWorld();
    expectError(() => attachPeerCompute(scene, { world: otherWorld, scheduler: new Scheduler(otherWorld) }), 'AlreadyAttached');
    a.dispose();
    const c = attachPeerCompute(scene, { world, scheduler });
    expect(c).not.toBe(a);
    expect(c.isDisposed).toBe(false);
  });

  it('lets one runtime drive a scheduler, a second view must pass driveScheduler: false', () => {
    attachPeerCompute(scene, { world, scheduler });
    const scene2 = new Scene(engine);
    expectError(() => attachPeerCompute(scene2, { world, scheduler }), 'InvalidConfig');
    const view = attachPeerCompute(scene2, { world, scheduler, driveScheduler: false });
    expect(view.drivesScheduler).toBe(false);
    const tick = world.time.tick;
    view.frame(100);
    expect(world.time.tick).toBe(tick);
  });

  it('rejects a scheduler of another world', () => {
    const other = createWorld();
    expectError(() => attachPeerCompute(scene, { world, scheduler: new Scheduler(other) }), 'InvalidConfig');
  });

  it('is disposed with its scene', () => {
    const runtime = attachPeerCompute(scene, { world, scheduler });
    scene.dispose();
    expect(runtime.isDisposed).toBe(true);
    expect(scheduler.systemsOf(Phase.RenderSync)).toEqual([]);
  });

  it('advances the scheduler by the frame time: 50 ms at 60 Hz is 3 ticks', () => {
    const runtime = attachPeerCompute(scene, { world, scheduler });
    const seen: number[] = [];
    runtime.onFrameObservable.add((f) => seen.push(f.ticks));
    runtime.frame(50);
    expect(world.time.tick).toBe(3);
    expect(seen).toEqual([3]);
  });

  it('methods of a disposed runtime throw Disposed', () => {
    const runtime = attachPeerCompute(scene, { world, scheduler });
    runtime.dispose();
    expectError(() => runtime.frame(16), 'Disposed');
    expectError(() => runtime.bindMesh(entityAt(0, 0, 0), CreateBox('b', {}, scene)), 'Disposed');
  });
});

describe('coordinates', () => {
  it('mirrors Z in a left-handed scene and copies in a right-handed one', () => {
    const v = new Vector3();
    expect(positionToScene(1, 2, 3, false, v).asArray()).toEqual([1, 2, -3]);
    expect(positionToScene(1, 2, 3, true, v).asArray()).toEqual([1, 2, 3]);
    const q = new Quaternion();
    expect(rotationToScene(0.1, 0.2, 0.3, 0.9, false, q).asArray()).toEqual([-0.1, -0.2, 0.3, 0.9]);
    expect(rotationToScene(0.1, 0.2, 0.3, 0.9, true, q).asArray()).toEqual([0.1, 0.2, 0.3, 0.9]);
  });

  it('the mirrored rotation maps mirrored points like the engine rotation maps engine points', () => {
    // Engine: 90 degrees about +Y turns +X into -Z (right-handed).
    const s = Math.SQRT1_2;
    const engineRot = new Quaternion(0, s, 0, s);
    const rotated = new Vector3(1, 0, 0).applyRotationQuaternion(engineRot);
    expect(rotated.x).toBeCloseTo(0, 6);
    expect(rotated.z).toBeCloseTo(-1, 6);
    // Scene (left-handed, mirrored): the image of +X is +X; it must land on the image of -Z, +Z.
    const sceneRot = rotationToScene(0, s, 0, s, false, new Quaternion());
    const inScene = positionToScene(1, 0, 0, false, new Vector3()).applyRotationQuaternion(sceneRot);
    const expected = positionToScene(rotated.x, rotated.y, rotated.z, false, new Vector3());
    expect(inScene.x).toBeCloseTo(expected.x, 6);
    expect(inScene.z).toBeCloseTo(expected.z, 6);
  });

  it('interpolatePose lerps position and slerps rotation along the shorter arc', () => {
    const s = Math.SQRT1_2;
    const a = [0, 0, 0, 0, 0, 0, 1];
    const b = [2, 4, -6, 0, s, 0, s]; // 90 degrees about Y
    const out = new Float64Array(7);
    interpolatePose(a, 0, b, 0, 0.5, out, 0);
    expect(Array.from(out.slice(0, 3))).toEqual([1, 2, -3]);
    const half = Math.sin(Math.PI / 8);
    expect(out[4]).toBeCloseTo(half, 9); // 45 degrees about Y
    expect(out[6]).toBeCloseTo(Math.cos(Math.PI / 8), 9);
    // -q is the same rotation: interpolating towards it must not take the long way round.
    interpolatePose(a, 0, [2, 4, -6, 0, -s, 0, -s], 0, 0.5, out, 0);
    expect(Math.abs(out[4]!)).toBeCloseTo(half, 9);
    expect(Math.abs(out[6]!)).toBeCloseTo(Math.cos(Math.PI / 8), 9);
    interpolatePose(a, 0, b, 0, 0, out, 0);
    expect(Array.from(out)).toEqual(a);
  });
});

describe('bindMesh and interpolation', () => {
  it('places the mesh at the entity at once, Z mirrored in the default left-handed scene', () => {
    const runtime = attachPeerCompute(scene, { world, scheduler });
    const eid = entityAt(1, 2, 3);
    const mesh = CreateBox('box', {}, scene);
    runtime.bindMesh(eid, mesh);
    expect(mesh.position.asArray()).toEqual([1, 2, -3]);
    expect(mesh.rotationQuaternion?.asArray()).toEqual([-0, -0, 0, 1]);
    expect(runtime.meshOf(eid)).toBe(mesh);
    expect(runtime.entityOf(mesh)).toBe(eid);
    expect(runtime.boundCount).toBe(1);
  });

  it('copies coordinates in a right-handed scene', () => {
    scene.useRightHandedSystem = true;
    const runtime = attachPeerCompute(scene, { world, scheduler });
    const eid = entityAt(1, 2, 3);
    const mesh = CreateBox('box', {}, scene);
    runtime.bindMesh(eid, mesh);
    expect(mesh.position.asArray()).toEqual([1, 2, 3]);
  });

  it('renders between the previous and the current tick with alpha = scheduler.alpha', () => {
    scene.useRightHandedSystem = true;
    const runtime = attachPeerCompute(scene, { world, scheduler });
    const eid = entityAt(0, 0, 0);
    moveEveryTick(eid, 1);
    const mesh = CreateSphere('s', {}, scene);
    runtime.bindMesh(eid, mesh);
    const step = scheduler.stepMs;
    runtime.frame(step); // tick 1: previous 0, current 1, alpha 0
    expect(mesh.position.x).toBeCloseTo(0, 9);
    runtime.frame(step / 2); // no tick, alpha 0.5
    expect(runtime.alpha).toBeCloseTo(0.5, 9);
    expect(mesh.position.x).toBeCloseTo(0.5, 9);
    runtime.frame(step / 4); // alpha 0.75
    expect(mesh.position.x).toBeCloseTo(0.75, 9);
    runtime.frame(step / 2); // tick 2 (previous 1, current 2), alpha 0.25
    expect(world.time.tick).toBe(2);
    expect(mesh.position.x).toBeCloseTo(1.25, 6);
  });

  it('renders the current tick when interpolate is false', () => {
    scene.useRightHandedSystem = true;
    const runtime = attachPeerCompute(scene, { world, scheduler, interpolate: false });
    const eid = entityAt(0, 0, 0);
    moveEveryTick(eid, 1);
    const mesh = CreateSphere('s', {}, scene);
    runtime.bindMesh(eid, mesh);
    runtime.frame(scheduler.stepMs * 1.5);
    expect(mesh.position.x).toBe(1);
  });

  it('snap() drops the interpolation history after a teleport', () => {
    scene.useRightHandedSystem = true;
    const runtime = attachPeerCompute(scene, { world, scheduler });
    const eid = entityAt(0, 0, 0);
    const mesh = CreateSphere('s', {}, scene);
    runtime.bindMesh(eid, mesh);
    runtime.frame(scheduler.stepMs);
    storeOf(world, Transform).px[eid] = 100;
    runtime.frame(scheduler.stepMs * 1.5); // tick: previous 0, current 100, alpha 0.5
    expect(mesh.position.x).toBeCloseTo(50, 6);
    expect(runtime.snap(eid)).toBe(true);
    expect(mesh.position.x).toBe(100);
    runtime.frame(0);
    expect(mesh.position.x).toBe(100);
  });

  it('refuses bad bindings with clear errors', () => {
    const runtime = attachPeerCompute(scene, { world, scheduler });
    const eid = entityAt(0, 0, 0);
    const mesh = CreateBox('a', {}, scene);
    expectError(() => runtime.bindMesh(9999, mesh), 'UnknownEntity');
    const bare = spawn(world);
    expect(expectError(() => runtime.bindMesh(bare, mesh), 'UnknownEntity').message).toContain(`entity ${bare}`);
    runtime.bindMesh(eid, mesh);
    expectError(() => runtime.bindMesh(eid, CreateBox('b', {}, scene)), 'AlreadyBound');
    expectError(() => runtime.bindMesh(entityAt(1, 1, 1), mesh), 'AlreadyBound');
    const child = CreateBox('child', {}, scene);
    child.parent = CreateBox('parent', {}, scene);
    expectError(() => runtime.bindMesh(entityAt(2, 2, 2), child), 'UnsupportedMesh');
  });

  it('hides your mesh on despawn and notifies onUnbindObservable', () => {
    const runtime = attachPeerCompute(scene, { world, scheduler });
    const eid = entityAt(0, 0, 0);
    const mesh = CreateBox('mine', {}, scene);
    runtime.bindMesh(eid, mesh);
    const events: string[] = [];
    runtime.onUnbindObservable.add((u) => events.push(`${u.eid}:${u.node.name}:${u.reason}`));
    despawn(world, eid);
    expect(events).toEqual([`${eid}:mine:despawn`]);
    expect(mesh.isEnabled()).toBe(false);
    expect(mesh.isDisposed()).toBe(false);
    expect(runtime.boundCount).toBe(0);
    runtime.frame(100); // nothing bound, nothing breaks
  });

  it('unbinds when the mesh is disposed by its owner', () => {
    const runtime = attachPeerCompute(scene, { world, scheduler });
    const eid = entityAt(0, 0, 0);
    const mesh = CreateBox('mine', {}, scene);
    runtime.bindMesh(eid, mesh);
    mesh.dispose();
    expect(runtime.meshOf(eid)).toBeUndefined();
    runtime.frame(100);
  });

  it('unbindMesh leaves your mesh in place, dispose leaves your meshes alone', () => {
    const runtime = attachPeerCompute(scene, { world, scheduler });
    const a = entityAt(0, 0, 0);
    const b = entityAt(1, 0, 0);
    const meshA = CreateBox('a', {}, scene);
    const meshB = CreateBox('b', {}, scene);
    runtime.bindMesh(a, meshA);
    runtime.bindMesh(b, meshB);
    expect(runtime.unbindMesh(a)).toBe(true);
    expect(runtime.unbindMesh(a)).toBe(false);
    expect(meshA.isDisposed()).toBe(false);
    runtime.dispose();
    expect(meshB.isDisposed()).toBe(false);
    expect(meshB.isEnabled()).toBe(true);
  });
});

describe('createMeshForEntity', () => {
  function body(shape: number, fields: Record<string, number>): number {
    const eid = entityAt(0, 1, 0);
    addComponent(world, eid, RigidBody, { kind: 0, gravityScale: 1 });
    addComponent(world, eid, Collider, { shape, ...fields });
    return eid;
  }

  it('builds a sphere, a box and a capsule of the collider size', () => {
    const runtime = attachPeerCompute(scene, { world, scheduler });
    const ball = runtime.createMeshForEntity(body(ShapeKind.Ball, { radius: 0.5 }));
    const box = runtime.createMeshForEntity(body(ShapeKind.Cuboid, { hx: 1, hy: 2, hz: 3 }));
    const capsule = runtime.createMeshForEntity(body(ShapeKind.Capsule, { radius: 0.4, halfHeight: 0.6 }));
    const extent = (m: typeof ball): number[] => m.getBoundingInfo().boundingBox.extendSize.asArray().map((v) => Math.round(v * 1000) / 1000);
    expect(extent(ball)).toEqual([0.5, 0.5, 0.5]);
    expect(extent(box)).toEqual([1, 2, 3]);
    expect(extent(capsule)).toEqual([0.4, 1, 0.4]);
    expect(runtime.boundCount).toBe(3);
  });

  it('disposes the meshes it created on despawn and on runtime dispose', () => {
    const runtime = attachPeerCompute(scene, { world, scheduler });
    const a = body(ShapeKind.Ball, { radius: 0.5 });
    const meshA = runtime.createMeshForEntity(a);
    const meshB = runtime.createMeshForEntity(body(ShapeKind.Ball, { radius: 0.5 }));
    despawn(world, a);
    expect(meshA.isDisposed()).toBe(true);
    const meshes = scene.meshes.length;
    runtime.dispose();
    expect(meshB.isDisposed()).toBe(true);
    expect(scene.meshes.length).toBe(meshes - 1);
  });

  it('reads heightfield and trimesh data from the shape registry', () => {
    registerTrimesh(world, 7, { vertices: new Float32Array([0, 0, 0, 1, 0, 0, 0, 0, -1]), indices: new Uint32Array([0, 1, 2]) });
    registerHeightfield(world, 3, { nrows: 2, ncols: 2, heights: new Float32Array(9), scale: { x: 8, y: 1, z: 6 } });
    const runtime = attachPeerCompute(scene, { world, scheduler });
    const tri = runtime.createMeshForEntity(body(ShapeKind.Trimesh, { shapeRef: 7 }));
    expect(tri.getTotalVertices()).toBe(3);
    const ground = runtime.createMeshForEntity(body(ShapeKind.Heightfield, { shapeRef: 3 }));
    expect(ground.getBoundingInfo().boundingBox.extendSize.asArray()).toEqual([4, 0, 3]);
    expectError(() => runtime.createMeshForEntity(body(ShapeKind.Trimesh, { shapeRef: 8 })), 'UnsupportedShape');
    expectError(() => runtime.createMeshForEntity(body(ShapeKind.Heightfield, { shapeRef: 7 })), 'UnsupportedShape');
  });

  it('needs a Collider', () => {
    const runtime = attachPeerCompute(scene, { world, scheduler });
    expectError(() => runtime.createMeshForEntity(entityAt(0, 0, 0)), 'UnknownEntity');
  });
});

describe('shape meshes', () => {
  /** Babylon-computed normals of a custom mesh all point away from `centre` (scene space). */
  function normalsPointOut(desc: ShapeDescription, centre: Vector3): boolean {
    const mesh = createShapeMesh(scene, desc);
    const p = mesh.getVerticesData(VertexBuffer.PositionKind)!;
    const idx = mesh.getIndices()!;
    const n = new Float32Array(p.length);
    VertexData.ComputeNormals(p, idx, n);
    for (let i = 0; i < p.length; i += 3) {
      const out = new Vector3(p[i]! - centre.x, p[i + 1]! - centre.y, p[i + 2]! - centre.z);
      if (Vector3.Dot(out, new Vector3(n[i]!, n[i + 1]!, n[i + 2]!)) <= 0) return false;
    }
    return true;
  }

  // A tetrahedron with counter-clockwise (right-handed) outward faces.
  const tetra: ShapeDescription = {
    kind: 'trimesh',
    vertices: [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1],
    indices: [0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3],
  };

  it('gives a trimesh outward normals in left- and right-handed scenes', () => {
    const centreEngine = new Vector3(0.25, 0.25, 0.25);
    expect(normalsPointOut(tetra, positionToScene(0.25, 0.25, 0.25, false, new Vector3()))).toBe(true);
    scene.useRightHandedSystem = true;
    expect(normalsPointOut(tetra, centreEngine)).toBe(true);
  });

  it('builds a heightfield with upward normals over the scaled square', () => {
    const heights = new Float32Array(3 * 4).fill(0.5);
    const hf: ShapeDescription = { kind: 'heightfield', nrows: 2, ncols: 3, heights, scale: { x: 30, y: 2, z: 20 } };
    const { vertices, indices } = heightfieldTriangles(hf);
    expect(vertices.length).toBe(12 * 3);
    expect(indices.length).toBe(2 * 3 * 6);
    for (const handed of [false, true]) {
      scene.useRightHandedSystem = handed;
      const mesh = createShapeMesh(scene, hf);
      const box = mesh.getBoundingInfo().boundingBox;
      expect(box.minimum.asArray()).toEqual([-15, 1, -10]);
      expect(box.maximum.asArray()).toEqual([15, 1, 10]);
      const n = mesh.getVerticesData(VertexBuffer.NormalKind)!;
      for (let i = 1; i < n.length; i += 3) expect(n[i]).toBeCloseTo(1, 6);
    }
    expectError(() => heightfieldTriangles({ ...hf, heights: new Float32Array(5) }), 'UnsupportedShape');
  });

  it('rejects non-positive sizes and out-of-range trimesh indices', () => {
    expectError(() => createShapeMesh(scene, { kind: 'ball', radius: 0 }), 'UnsupportedShape');
    expectError(() => createShapeMesh(scene, { kind: 'cuboid', hx: 1, hy: Number.NaN, hz: 1 }), 'UnsupportedShape');
    expectError(() => createShapeMesh(scene, { kind: 'trimesh', vertices: [0, 0, 0], indices: [0, 0, 1] }), 'UnsupportedShape');
  });

  it('trianglesToScene is its own inverse', () => {
    for (const rh of [false, true]) {
      const once = trianglesToScene([1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 1, 2], rh);
      const twice = trianglesToScene(once.positions, once.indices, rh);
      expect(Array.from(twice.positions)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(Array.from(twice.indices)).toEqual([0, 1, 2]);
    }
  });
});

describe('inferShape', () => {
  it('fits a cuboid to a box and a ball to a sphere, including scaling', () => {
    const box = CreateBox('b', { width: 2, height: 1, depth: 4 }, scene);
    box.scaling.set(2, 1, 1);
    expect(inferShape(box, 'auto', false)).toEqual({ kind: 'cuboid', hx: 2, hy: 0.5, hz: 2 });
    const sphere = CreateSphere('s', { diameter: 3, segments: 12 }, scene);
    const ball = inferShape(sphere, 'auto', false);
    expect(ball.kind).toBe('ball');
    expect((ball as { radius: number }).radius).toBeCloseTo(1.5, 3);
  });

  it('fits a capsule along Y', () => {
    const capsule = CreateCapsule('c', { radius: 0.5, height: 3 }, scene);
    const shape = inferShape(capsule, 'capsule', false) as { kind: string; radius: number; halfHeight: number };
    expect(shape.kind).toBe('capsule');
    expect(shape.radius).toBeCloseTo(0.5, 3);
    expect(shape.halfHeight).toBeCloseTo(1, 3);
  });

  it('refuses an off-centre mesh except as a trimesh', () => {
    const box = CreateBox('b', {}, scene);
    box.bakeTransformIntoVertices(Matrix.Translation(0, 1, 0));
    expect(expectError(() => inferShape(box, 'auto', false), 'UnsupportedMesh').message).toContain('not at its origin');
    expect(inferShape(box, 'trimesh', false).kind).toBe('trimesh');
  });
});

describe('createEntityFromMesh', () => {
  it('gives a new entity a body fitted to the mesh at its pose in engine space, and binds it', () => {
    const runtime: PeerComputeRuntime = attachPeerCompute(scene, { world, scheduler });
    const mesh = CreateBox('crate', { width: 1, height: 2, depth: 3 }, scene);
    mesh.position.set(1, 2, 3); // scene space, left-handed: engine z = -3
    mesh.rotation.y = Math.PI / 2;
    const eid = runtime.createEntityFromMesh(mesh, { density: 2, friction: 0.9 });
    expect(runtime.meshOf(eid)).toBe(mesh);
    const t = getFields(world, eid, Transform);
    expect([t.px, t.py, t.pz]).toEqual([1, 2, -3]);
    // 90 degrees about scene +Y in a mirrored scene is -90 degrees about engine +Y.
    expect(t.qy).toBeCloseTo(-Math.SQRT1_2, 6);
    expect(t.qw).toBeCloseTo(Math.SQRT1_2, 6);
    const c = getFields(world, eid, Collider);
    expect([c.shape, c.hx, c.hy, c.hz, c.friction]).toEqual([ShapeKind.Cuboid, 0.5, 1, 1.5, Math.fround(0.9)]);
    expect(c.density).toBe(2);
    expect(getFields(world, eid, RigidBody).kind).toBe(BodyKind.Dynamic);
    // The mesh keeps its place once bound (same pose, now as a quaternion).
    expect(mesh.position.asArray()).toEqual([1, 2, 3]);
    const back = mesh.rotationQuaternion!.toEulerAngles();
    expect(back.y).toBeCloseTo(Math.PI / 2, 6);
  });

  it('fits balls and capsules, and registers trimeshes under the given id', () => {
    const runtime = attachPeerCompute(scene, { world, scheduler });
    const ball = runtime.createEntityFromMesh(CreateSphere('s', { diameter: 1 }, scene));
    expect(getFields(world, ball, Collider).shape).toBe(ShapeKind.Ball);
    const capsule = runtime.createEntityFromMesh(CreateCapsule('c', { radius: 0.3, height: 2 }, scene), { shape: 'capsule', lockRotations: true });
    expect(getFields(world, capsule, Collider).halfHeight).toBeCloseTo(0.7, 5);
    expect(getFields(world, capsule, RigidBody).lockRotations).toBe(1);
    const ramp = CreateBox('ramp', {}, scene);
    expectError(() => runtime.createEntityFromMesh(ramp, { shape: 'trimesh' }), 'InvalidConfig');
    const eid = runtime.createEntityFromMesh(ramp, { shape: 'trimesh', trimeshId: 5, kind: BodyKind.Fixed });
    expect(getFields(world, eid, Collider).shapeRef).toBe(5);
    expect(getTrimesh(world, 5)?.indices.length).toBe(36);
  });
});

describe('createBabylonEngine', () => {
  it('rejects an unknown preference', async () => {
    await expect(createBabylonEngine({} as HTMLCanvasElement, { prefer: 'vulkan' as 'webgl' })).rejects.toMatchObject({ code: 'InvalidConfig' });
  });
});

describe('overlay text', () => {
  it('shows every figure', () => {
    const text = formatOverlayText({
      backend: 'webgl2', fps: 59.6, tick: 1234, ticksPerSecond: 60.04, tickRate: 60, avgTickMs: 0.4321,
      entities: 57, boundMeshes: 55, alpha: 0.256, droppedMs: 0,
    });
    expect(text).toContain('webgl2');
    expect(text).toContain('60 fps');
    expect(text).toContain('1234');
    expect(text).toContain('60.0');
    expect(text).toContain('0.432');
    expect(text).toContain('57');
    expect(text).toContain('0.26');
  });
});
