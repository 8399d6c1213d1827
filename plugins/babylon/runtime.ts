/**
 * The runtime that connects a PeerCompute world to a Babylon scene.
 *
 * {@link attachPeerCompute} registers one observer on the scene. Every rendered frame it
 *
 * 1. advances the fixed-step scheduler by the frame's duration (`engine.getDeltaTime()`, ms),
 *    which runs 0..`maxCatchUpSteps` whole ticks (the first frame after attaching advances by 0:
 *    its delta includes loading time);
 * 2. writes every bound mesh's `position` and `rotationQuaternion` from the entity's
 *    `Transform`, interpolated between the previous and the current tick with
 *    `alpha = scheduler.alpha` (lerp for position, slerp for rotation), so motion is smooth at
 *    any frame rate although the simulation runs at a fixed tick rate;
 * 3. notifies {@link PeerComputeRuntime.onFrameObservable} (follow cameras go there).
 *
 * The observer is on `scene.onBeforeAnimationsObservable`, which Babylon fires before it updates
 * cameras: a camera locked on a bound mesh sees the mesh's pose of this frame, not the last one.
 *
 * The poses of the previous and current tick are render-side state owned by the runtime (plain
 * arrays per binding, never in a snapshot or checksum). A system registered in
 * `Phase.RenderSync` (named `babylonRenderSync#<n>`) shifts them after every tick; `dispose()`
 * unregisters it.
 *
 * Coordinates: the engine is right-handed, Y up. In a left-handed scene (Babylon's default) the
 * runtime mirrors Z; in a scene with `useRightHandedSystem = true` it copies coordinates as they
 * are (see `coordinates.ts`). Both work; the handedness is read every frame.
 *
 * @example
 * ```ts
 * const runtime = attachPeerCompute(scene, { world, scheduler });
 * const ball = runtime.createEntityFromMesh(sphereMesh, { shape: 'ball', density: 2 }); // dynamic body
 * const crate = spawnSomeBox(world);                    // an entity with Transform + Collider
 * runtime.createMeshForEntity(crate, { material: wood });
 * engine.runRenderLoop(() => scene.render());           // the runtime ticks the world
 * runtime.dispose();                                    // removes observers, system, overlay, created meshes
 * ```
 */
import type { Material } from '@babylonjs/core/Materials/material.js';
import { Quaternion, Vector3 } from '@babylonjs/core/Maths/math.vector.pure.js';
import type { AbstractMesh } from '@babylonjs/core/Meshes/abstractMesh.js';
import type { Mesh } from '@babylonjs/core/Meshes/mesh.pure.js';
import type { TransformNode } from '@babylonjs/core/Meshes/transformNode.js';
import { Observable, type Observer } from '@babylonjs/core/Misc/observable.pure.js';
import type { Node } from '@babylonjs/core/node.js';
import type { Scene } from '@babylonjs/core/scene.js';
import {
  addBody,
  entityCount,
  Collider,
  getHeightfield,
  getTrimesh,
  hasComponent,
  isAlive,
  onComponentRemoved,
  Phase,
  registerTrimesh,
  ShapeKind,
  spawn,
  storeOf,
  Transform,
  type BodyOptions,
  type GameWorld,
  type Scheduler,
} from '../../engine/index.ts';
import { interpolatePose, positionFromScene, positionToScene, rotationFromScene, rotationToScene } from './coordinates.ts';
import { backendOf } from './engineFactory.ts';
import { BabylonPluginError } from './errors.ts';
import { createShapeMesh, inferShape, type ShapeDescription, type ShapeHint } from './meshes.ts';
import { DebugOverlay } from './overlay.ts';

/** Default key (`KeyboardEvent.code`) that toggles the debug overlay: the key left of `1`. */
export const DEFAULT_OVERLAY_KEY = 'Backquote';

/** Options of the debug overlay. */
export interface OverlayOptions {
  /** Shown from the start. Default `false` (press the toggle key). */
  readonly visible?: boolean;
  /** `KeyboardEvent.code` toggling it, or `null` for no key. Default {@link DEFAULT_OVERLAY_KEY}. */
  readonly toggleKey?: string | null;
}

/** Options of {@link attachPeerCompute}. */
export interface AttachOptions {
  /** The world whose entities are rendered. */
  readonly world: GameWorld;
  /** The scheduler of that world. */
  readonly scheduler: Scheduler;
  /**
   * Call `scheduler.advance(engine.getDeltaTime())` every frame. Default `true`. Set `false`
   * when something else drives ticks (a rollback session, a second view of the same world):
   * the runtime then only interpolates and renders. One scheduler may be driven by one
   * runtime at most.
   */
  readonly driveScheduler?: boolean;
  /**
   * Interpolate between the previous and the current tick. Default `true`. `false` renders
   * each tick's pose as it is (visible stepping when the frame rate differs from the tick rate).
   */
  readonly interpolate?: boolean;
  /**
   * The debug overlay (backend, tick, ticks/s, tick ms, entities, alpha). `true`: shown;
   * `false`: not created at all (no key listener). Default: created hidden, toggled with
   * {@link DEFAULT_OVERLAY_KEY}. Only in pages (no overlay where `document` is missing).
   */
  readonly overlay?: boolean | OverlayOptions;
}

/**
 * What to do with a bound mesh when its entity loses `Transform` (despawned, or the component
 * removed): `'dispose'` the mesh, `'hide'` it (`setEnabled(false)`), or `'keep'` it as it is.
 */
export type DespawnAction = 'dispose' | 'hide' | 'keep';

/** Options of {@link PeerComputeRuntime.bindMesh}. */
export interface BindOptions {
  /**
   * Action on despawn. Default `'hide'` for meshes you bind, `'dispose'` for meshes the runtime
   * created ({@link PeerComputeRuntime.createMeshForEntity}).
   */
  readonly onDespawn?: DespawnAction;
  /** Dispose the mesh when the runtime is disposed or the mesh unbound. Default `false` for your meshes. */
  readonly owned?: boolean;
}

/** Options of {@link PeerComputeRuntime.createMeshForEntity}. */
export interface CreateMeshOptions {
  /** Material of the new mesh. Default none (the scene's default material). */
  readonly material?: Material | null;
  /** Mesh name. Default `'peercompute-<eid>'`. */
  readonly name?: string;
  /** Sphere segments / capsule tessellation. Default 24. */
  readonly segments?: number;
  /** One normal per triangle (faceted), for low-poly trimeshes. Default `false`. */
  readonly flatShading?: boolean;
  /** Action on despawn. Default `'dispose'`. */
  readonly onDespawn?: DespawnAction;
}

/**
 * Body settings of {@link PeerComputeRuntime.createEntityFromMesh}: every `addBody` option
 * except the shape, its sizes and the pose, which come from the mesh.
 */
export interface EntityFromMeshOptions extends Omit<BodyOptions, 'shape' | 'position' | 'rotation' | 'radius' | 'hx' | 'hy' | 'hz' | 'halfHeight' | 'shapeRef'> {
  /**
   * Collider shape fitted to the mesh (see `inferShape`): `'auto'` (ball for sphere meshes,
   * else cuboid), `'ball'`, `'cuboid'`, `'capsule'`, `'trimesh'`. Default `'auto'`.
   */
  readonly shape?: ShapeHint;
  /**
   * Id under which the mesh's triangles are registered (`registerTrimesh`) for
   * `shape: 'trimesh'`; required then. Every peer must use the same id for the same mesh.
   */
  readonly trimeshId?: number;
  /** Action on despawn. Default `'hide'`. */
  readonly onDespawn?: DespawnAction;
}

/** Passed to {@link PeerComputeRuntime.onFrameObservable} after meshes were written. */
export interface FrameInfo {
  /** Wall-clock duration of the frame, ms (what the scheduler was advanced by when driving). */
  readonly elapsedMs: number;
  /** Ticks run during this frame (0 when not driving the scheduler). */
  readonly ticks: number;
  /** Interpolation factor used for this frame's poses, in [0, 1]. */
  readonly alpha: number;
}

/** Passed to {@link PeerComputeRuntime.onUnbindObservable}. */
export interface UnbindInfo {
  readonly eid: number;
  readonly node: TransformNode;
  /** Why: `'unbind'` (explicit call), `'despawn'` (entity lost `Transform`), `'disposed'` (mesh or runtime disposed). */
  readonly reason: 'unbind' | 'despawn' | 'disposed';
}

interface Binding {
  readonly eid: number;
  readonly node: TransformNode;
  readonly owned: boolean;
  readonly onDespawn: DespawnAction;
  /** Previous tick's pose [0..7) and current tick's pose [7..14), engine space, Transform field order. */
  readonly poses: Float64Array;
  readonly disposeObserver: Observer<Node> | null;
}

const runtimes = new WeakMap<Scene, PeerComputeRuntime>();
const drivers = new WeakMap<Scheduler, PeerComputeRuntime>();
let nextRuntimeId = 1;

/**
 * Attaches a PeerCompute world to a Babylon scene and returns the runtime.
 *
 * Attaching again to the same scene with the same world and scheduler returns the runtime that
 * is already attached (registration is idempotent; the second call's other options are
 * ignored). A disposed runtime does not count: a new one is created.
 *
 * @throws BabylonPluginError `AlreadyAttached` when the scene already has a runtime for another
 *   world or scheduler; `InvalidConfig` when `driveScheduler` is true and another live runtime
 *   already drives this scheduler.
 */
export function attachPeerCompute(scene: Scene, options: AttachOptions): PeerComputeRuntime {
  const existing = runtimes.get(scene);
  if (existing && !existing.isDisposed) {
    if (existing.world === options.world && existing.scheduler === options.scheduler) return existing;
    throw new BabylonPluginError(
      'AlreadyAttached',
      `scene ${scene.uid} already has a PeerCompute runtime for another world or scheduler; dispose it first (runtime.dispose())`,
      { scene: scene.uid },
    );
  }
  const driveScheduler = options.driveScheduler ?? true;
  if (driveScheduler) {
    const driver = drivers.get(options.scheduler);
    if (driver && !driver.isDisposed) {
      throw new BabylonPluginError(
        'InvalidConfig',
        `this scheduler is already driven by the PeerCompute runtime of scene ${driver.scene.uid}; pass driveScheduler: false for a second view`,
        { option: 'driveScheduler', value: true, scene: driver.scene.uid },
      );
    }
  }
  const runtime = new PeerComputeRuntime(scene, options, driveScheduler);
  runtimes.set(scene, runtime);
  if (driveScheduler) drivers.set(options.scheduler, runtime);
  return runtime;
}

/** The live runtime attached to `scene`, or `undefined`. */
export function getPeerComputeRuntime(scene: Scene): PeerComputeRuntime | undefined {
  const runtime = runtimes.get(scene);
  return runtime && !runtime.isDisposed ? runtime : undefined;
}

/** A world attached to a scene. Create with {@link attachPeerCompute}. */
export class PeerComputeRuntime {
  readonly scene: Scene;
  readonly world: GameWorld;
  readonly scheduler: Scheduler;
  /** Whether this runtime calls `scheduler.advance` each frame. */
  readonly drivesScheduler: boolean;
  /** Whether poses are interpolated between ticks. */
  readonly interpolate: boolean;
  /** Fires once per frame after bound meshes were written. */
  readonly onFrameObservable = new Observable<FrameInfo>();
  /** Fires when a binding ends, with the entity, the node and the reason. */
  readonly onUnbindObservable = new Observable<UnbindInfo>();
  /** Name of the RenderSync system this runtime registered. */
  readonly systemName: string;

  readonly #bindings: Binding[] = [];
  readonly #byEntity = new Map<number, Binding>();
  readonly #byNode = new Map<TransformNode, Binding>();
  readonly #frameObserver: Observer<Scene>;
  readonly #sceneDisposeObserver: Observer<Scene>;
  readonly #removeSystem: () => void;
  readonly #stopRemovedWatch: () => void;
  readonly #overlay: DebugOverlay | null;
  readonly #scratch = new Float64Array(7);
  readonly #position = new Vector3();
  readonly #rotation = new Quaternion();
  #lastAlpha = 0;
  #firstFrame = true;
  #disposed = false;

  /** @internal Use {@link attachPeerCompute}. */
  constructor(scene: Scene, options: AttachOptions, driveScheduler: boolean) {
    this.scene = scene;
    this.world = options.world;
    this.scheduler = options.scheduler;
    if (this.scheduler.world !== this.world) {
      throw new BabylonPluginError('InvalidConfig', 'attachPeerCompute: options.scheduler runs another world than options.world', { option: 'scheduler' });
    }
    this.drivesScheduler = driveScheduler;
    this.interpolate = options.interpolate ?? true;
    this.systemName = `babylonRenderSync#${nextRuntimeId++}`;
    this.#removeSystem = this.scheduler.addSystem(Phase.RenderSync, (world) => this.#renderSync(world), this.systemName);
    this.#stopRemovedWatch = onComponentRemoved(this.world, Transform, (eid) => this.#onTransformRemoved(eid));
    this.#frameObserver = scene.onBeforeAnimationsObservable.add(() => {
      // The first frame's delta spans everything since the engine's previous frame (loading,
      // shader compilation): it would only be dropped by the catch-up limit, so skip it.
      const elapsed = this.#firstFrame ? 0 : scene.getEngine().getDeltaTime();
      this.#firstFrame = false;
      this.frame(elapsed);
    });
    this.#sceneDisposeObserver = scene.onDisposeObservable.add(() => this.dispose());
    this.#overlay = createOverlay(scene, options.overlay);
  }

  /** Whether `dispose()` was called. */
  get isDisposed(): boolean {
    return this.#disposed;
  }

  /** Backend the scene renders with: `'webgpu'`, `'webgl2'`, `'webgl1'` or `'null'`. */
  get backend(): string {
    return backendOf(this.scene.getEngine());
  }

  /** Number of entities bound to nodes. */
  get boundCount(): number {
    return this.#bindings.length;
  }

  /** Interpolation factor used for the last frame, in [0, 1]. */
  get alpha(): number {
    return this.#lastAlpha;
  }

  /** Whether the debug overlay is shown (`false` when it was not created). */
  get overlayVisible(): boolean {
    return this.#overlay?.visible ?? false;
  }

  set overlayVisible(value: boolean) {
    if (this.#overlay) this.#overlay.visible = value;
  }

  /** The overlay element, or `null` when the overlay was not created. */
  get overlayElement(): HTMLElement | null {
    return this.#overlay?.element ?? null;
  }

  /**
   * Runs one render-side frame: advances the scheduler by `elapsedMs` (when driving it), then
   * writes bound meshes and notifies {@link onFrameObservable}. The scene observer calls this
   * with `engine.getDeltaTime()`; call it yourself only to drive a scene without a render loop
   * (tests, offline rendering).
   * @param elapsedMs wall-clock time since the previous frame, ms; negative or non-finite counts as 0.
   * @throws BabylonPluginError `Disposed` after dispose.
   */
  frame(elapsedMs: number): void {
    this.#assertLive('frame');
    const ticks = this.drivesScheduler ? this.scheduler.advance(elapsedMs) : 0;
    this.syncMeshes();
    this.#overlay?.update(performance.now(), this.scheduler.stats.ticks, (ticksPerSecond) => ({
      backend: this.backend,
      fps: this.scene.getEngine().getFps(),
      tick: this.world.time.tick,
      ticksPerSecond,
      tickRate: this.world.time.tickRate,
      avgTickMs: this.scheduler.stats.avgTickMs,
      entities: entityCount(this.world),
      boundMeshes: this.#bindings.length,
      alpha: this.#lastAlpha,
      droppedMs: this.scheduler.stats.droppedMs,
    }));
    this.onFrameObservable.notifyObservers({ elapsedMs: Number.isFinite(elapsedMs) && elapsedMs > 0 ? elapsedMs : 0, ticks, alpha: this.#lastAlpha });
  }

  /**
   * Writes every bound node's pose for the current `scheduler.alpha` (or the current tick's pose
   * when not interpolating). Called by {@link frame}.
   */
  syncMeshes(): void {
    const alpha = this.interpolate ? Math.min(1, Math.max(0, this.scheduler.alpha)) : 1;
    this.#lastAlpha = alpha;
    const rh = this.scene.useRightHandedSystem;
    const s = this.#scratch;
    for (let i = 0; i < this.#bindings.length; i++) {
      const b = this.#bindings[i]!;
      interpolatePose(b.poses, 0, b.poses, 7, alpha, s, 0);
      const node = b.node;
      positionToScene(s[0]!, s[1]!, s[2]!, rh, node.position);
      const q = node.rotationQuaternion ?? (node.rotationQuaternion = new Quaternion());
      rotationToScene(s[3]!, s[4]!, s[5]!, s[6]!, rh, q);
    }
  }

  /**
   * Binds entity `eid` to `node` (a mesh or any transform node): from now on the node's
   * `position` and `rotationQuaternion` follow the entity's `Transform` (world space), and its
   * `rotation` Euler angles are ignored (Babylon uses the quaternion once set). Scaling is left
   * alone. The node is placed at the entity's pose at once.
   *
   * @throws BabylonPluginError `UnknownEntity` when `eid` is not alive or has no `Transform`;
   *   `AlreadyBound` when `eid` or `node` is bound already; `UnsupportedMesh` when `node` has a
   *   parent (bound nodes are placed in world space: call `node.setParent(null)` first) or
   *   belongs to another scene; `Disposed` after dispose.
   */
  bindMesh(eid: number, node: TransformNode, options: BindOptions = {}): void {
    this.#assertLive('bindMesh');
    this.#requireTransform(eid, 'bindMesh');
    if (this.#byEntity.has(eid)) {
      throw new BabylonPluginError('AlreadyBound', `entity ${eid} is already bound to node ${JSON.stringify(this.#byEntity.get(eid)!.node.name)}; unbind it first`, {
        eid,
        mesh: this.#byEntity.get(eid)!.node.name,
      });
    }
    const other = this.#byNode.get(node);
    if (other) {
      throw new BabylonPluginError('AlreadyBound', `node ${JSON.stringify(node.name)} is already bound to entity ${other.eid}`, { eid: other.eid, mesh: node.name });
    }
    if (node.getScene() !== this.scene) {
      throw new BabylonPluginError('UnsupportedMesh', `node ${JSON.stringify(node.name)} belongs to another scene`, { mesh: node.name, reason: 'other scene' });
    }
    if (node.parent) {
      throw new BabylonPluginError(
        'UnsupportedMesh',
        `node ${JSON.stringify(node.name)} has a parent (${JSON.stringify(node.parent.name)}); bound nodes are placed in world space: call node.setParent(null) first`,
        { mesh: node.name, reason: 'parented' },
      );
    }
    const owned = options.owned ?? false;
    const poses = new Float64Array(14);
    this.#readTransform(eid, poses, 7);
    poses.copyWithin(0, 7, 14);
    const binding: Binding = {
      eid,
      node,
      owned,
      onDespawn: options.onDespawn ?? (owned ? 'dispose' : 'hide'),
      poses,
      disposeObserver: node.onDisposeObservable.add(() => this.#unbind(binding, 'disposed', false)),
    };
    this.#bindings.push(binding);
    this.#byEntity.set(eid, binding);
    this.#byNode.set(node, binding);
    const rh = this.scene.useRightHandedSystem;
    positionToScene(poses[7]!, poses[8]!, poses[9]!, rh, node.position);
    const q = node.rotationQuaternion ?? (node.rotationQuaternion = new Quaternion());
    rotationToScene(poses[10]!, poses[11]!, poses[12]!, poses[13]!, rh, q);
  }

  /**
   * Ends the binding of `eid`. The node stays where it is unless `dispose` is true.
   * @param dispose dispose the node too. Default: `true` for nodes the runtime created, else `false`.
   * @returns whether `eid` was bound.
   */
  unbindMesh(eid: number, dispose?: boolean): boolean {
    const binding = this.#byEntity.get(eid);
    if (!binding) return false;
    this.#unbind(binding, 'unbind', dispose ?? binding.owned);
    return true;
  }

  /** The node bound to `eid`, or `undefined`. */
  meshOf(eid: number): TransformNode | undefined {
    return this.#byEntity.get(eid)?.node;
  }

  /** The entity bound to `node`, or `undefined`. */
  entityOf(node: TransformNode): number | undefined {
    return this.#byNode.get(node)?.eid;
  }

  /** Entity ids of all bindings, in binding order (a new array). */
  boundEntities(): number[] {
    return this.#bindings.map((b) => b.eid);
  }

  /**
   * Forgets the interpolation history of `eid` so the next frames show its current pose without
   * sliding from the previous one (after a teleport or respawn). Also writes the node now.
   * @returns whether `eid` is bound.
   */
  snap(eid: number): boolean {
    const b = this.#byEntity.get(eid);
    if (!b || !hasComponent(this.world, eid, Transform)) return false;
    this.#readTransform(eid, b.poses, 7);
    b.poses.copyWithin(0, 7, 14);
    const rh = this.scene.useRightHandedSystem;
    positionToScene(b.poses[7]!, b.poses[8]!, b.poses[9]!, rh, b.node.position);
    rotationToScene(b.poses[10]!, b.poses[11]!, b.poses[12]!, b.poses[13]!, rh, b.node.rotationQuaternion!);
    return true;
  }

  /**
   * Builds a mesh from entity `eid`'s `Collider` shape (sphere, box, capsule along Y,
   * heightfield, trimesh) and binds it; the runtime owns it (disposed on despawn, unbind and
   * runtime dispose unless told otherwise).
   *
   * @throws BabylonPluginError `UnknownEntity` when `eid` is not alive or lacks `Transform` or
   *   `Collider`; `UnsupportedShape` for a heightfield/trimesh `shapeRef` with no registered
   *   data, or bad dimensions; `AlreadyBound`; `Disposed`.
   */
  createMeshForEntity(eid: number, options: CreateMeshOptions = {}): Mesh {
    this.#assertLive('createMeshForEntity');
    this.#requireTransform(eid, 'createMeshForEntity');
    if (!hasComponent(this.world, eid, Collider)) {
      throw new BabylonPluginError('UnknownEntity', `createMeshForEntity: entity ${eid} has no Collider component`, { eid, component: Collider.name });
    }
    if (this.#byEntity.has(eid)) {
      throw new BabylonPluginError('AlreadyBound', `entity ${eid} is already bound to node ${JSON.stringify(this.#byEntity.get(eid)!.node.name)}`, {
        eid,
        mesh: this.#byEntity.get(eid)!.node.name,
      });
    }
    const shape = this.shapeOf(eid);
    const mesh = createShapeMesh(this.scene, shape, {
      name: options.name ?? `peercompute-${eid}`,
      material: options.material ?? null,
      ...(options.segments === undefined ? {} : { segments: options.segments }),
      flatShading: options.flatShading ?? false,
    });
    this.bindMesh(eid, mesh, { owned: true, onDespawn: options.onDespawn ?? 'dispose' });
    return mesh;
  }

  /**
   * The engine-space shape of entity `eid`'s `Collider`.
   * Heightfield and trimesh data come from the world's shape registry (`getHeightfield`,
   * `getTrimesh`).
   * @throws BabylonPluginError `UnknownEntity` without a Collider; `UnsupportedShape` for unknown
   *   shape kinds or a `shapeRef` with no registered data.
   */
  shapeOf(eid: number): ShapeDescription {
    if (!hasComponent(this.world, eid, Collider)) {
      throw new BabylonPluginError('UnknownEntity', `entity ${eid} has no Collider component`, { eid, component: Collider.name });
    }
    const c = storeOf(this.world, Collider);
    const kind = c.shape[eid]!;
    switch (kind) {
      case ShapeKind.Ball:
        return { kind: 'ball', radius: c.radius[eid]! };
      case ShapeKind.Cuboid:
        return { kind: 'cuboid', hx: c.hx[eid]!, hy: c.hy[eid]!, hz: c.hz[eid]! };
      case ShapeKind.Capsule:
        return { kind: 'capsule', radius: c.radius[eid]!, halfHeight: c.halfHeight[eid]! };
      case ShapeKind.Heightfield: {
        const ref = c.shapeRef[eid]!;
        const data = getHeightfield(this.world, ref);
        if (!data) {
          throw new BabylonPluginError('UnsupportedShape', `entity ${eid}: no heightfield is registered under shapeRef ${ref} (registerHeightfield)`, {
            eid,
            shape: kind,
            shapeRef: ref,
          });
        }
        return { kind: 'heightfield', nrows: data.nrows, ncols: data.ncols, heights: data.heights, scale: data.scale };
      }
      case ShapeKind.Trimesh: {
        const ref = c.shapeRef[eid]!;
        const data = getTrimesh(this.world, ref);
        if (!data) {
          throw new BabylonPluginError('UnsupportedShape', `entity ${eid}: no trimesh is registered under shapeRef ${ref} (registerTrimesh)`, {
            eid,
            shape: kind,
            shapeRef: ref,
          });
        }
        return { kind: 'trimesh', vertices: data.vertices, indices: data.indices };
      }
      default:
        throw new BabylonPluginError('UnsupportedShape', `entity ${eid}: unknown Collider shape ${kind}`, { eid, shape: kind });
    }
  }

  /**
   * Creates an entity for an existing mesh: fits a collider shape to the mesh as it is scaled
   * (see `inferShape`), spawns an entity and gives it a body (`addBody`) at the mesh's world pose
   * converted to engine space, then binds the mesh. The mesh stays yours: hidden on despawn by
   * default, never disposed by the runtime. The body is created at the next Physics phase.
   *
   * @returns the new entity id.
   * @throws BabylonPluginError `UnsupportedMesh` when the mesh has a parent, no vertices, or an
   *   off-centre bounding box (for shapes other than trimesh); `InvalidConfig` for
   *   `shape: 'trimesh'` without `trimeshId`; `AlreadyBound` when the mesh is bound; `Disposed`.
   *   EngineError `InvalidConfig` from `registerTrimesh` when `trimeshId` holds other data.
   */
  createEntityFromMesh(mesh: AbstractMesh, options: EntityFromMeshOptions = {}): number {
    this.#assertLive('createEntityFromMesh');
    if (this.#byNode.has(mesh)) {
      throw new BabylonPluginError('AlreadyBound', `mesh ${JSON.stringify(mesh.name)} is already bound to entity ${this.#byNode.get(mesh)!.eid}`, {
        eid: this.#byNode.get(mesh)!.eid,
        mesh: mesh.name,
      });
    }
    if (mesh.parent) {
      throw new BabylonPluginError(
        'UnsupportedMesh',
        `mesh ${JSON.stringify(mesh.name)} has a parent (${JSON.stringify(mesh.parent.name)}); call mesh.setParent(null) first`,
        { mesh: mesh.name, reason: 'parented' },
      );
    }
    const { shape: hint = 'auto', trimeshId, onDespawn = 'hide', ...body } = options;
    if (hint === 'trimesh' && (trimeshId === undefined || !Number.isInteger(trimeshId) || trimeshId < 0)) {
      throw new BabylonPluginError('InvalidConfig', `createEntityFromMesh(${JSON.stringify(mesh.name)}): shape 'trimesh' needs an integer trimeshId >= 0, got ${trimeshId}`, {
        option: 'trimeshId',
        value: trimeshId,
        mesh: mesh.name,
      });
    }
    const rh = this.scene.useRightHandedSystem;
    const shape = inferShape(mesh, hint, rh);
    const p = positionFromScene(mesh.position.x, mesh.position.y, mesh.position.z, rh, new Vector3());
    const sceneQ = mesh.rotationQuaternion ?? Quaternion.FromEulerVector(mesh.rotation);
    const q = rotationFromScene(sceneQ.x, sceneQ.y, sceneQ.z, sceneQ.w, rh, new Quaternion()).normalize();
    const pose = { position: { x: p.x, y: p.y, z: p.z }, rotation: { x: q.x, y: q.y, z: q.z, w: q.w } };
    let sized: BodyOptions;
    switch (shape.kind) {
      case 'ball':
        sized = { ...body, ...pose, shape: ShapeKind.Ball, radius: shape.radius };
        break;
      case 'capsule':
        sized = { ...body, ...pose, shape: ShapeKind.Capsule, radius: shape.radius, halfHeight: shape.halfHeight };
        break;
      case 'trimesh':
        registerTrimesh(this.world, trimeshId!, { vertices: Float32Array.from(shape.vertices), indices: Uint32Array.from(shape.indices) });
        sized = { ...body, ...pose, shape: ShapeKind.Trimesh, shapeRef: trimeshId! };
        break;
      case 'cuboid':
        sized = { ...body, ...pose, shape: ShapeKind.Cuboid, hx: shape.hx, hy: shape.hy, hz: shape.hz };
        break;
      default:
        throw new BabylonPluginError('UnsupportedShape', `createEntityFromMesh: cannot fit a ${shape.kind} to a mesh`, { shape: shape.kind, mesh: mesh.name });
    }
    const eid = spawn(this.world);
    addBody(this.world, eid, sized);
    this.bindMesh(eid, mesh, { onDespawn });
    return eid;
  }

  /**
   * Detaches from the scene: removes the frame and dispose observers, unregisters the
   * RenderSync system, stops watching despawns, removes the overlay, ends every binding and
   * disposes the meshes the runtime created (when `disposeCreatedMeshes`, default `true`).
   * Your own bound meshes are left in place. Safe to call twice.
   */
  dispose(options: { disposeCreatedMeshes?: boolean } = {}): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const disposeCreated = options.disposeCreatedMeshes ?? true;
    this.scene.onBeforeAnimationsObservable.remove(this.#frameObserver);
    this.scene.onDisposeObservable.remove(this.#sceneDisposeObserver);
    this.#removeSystem();
    this.#stopRemovedWatch();
    this.#overlay?.dispose();
    for (const b of [...this.#bindings]) this.#unbind(b, 'disposed', disposeCreated && b.owned);
    this.onFrameObservable.clear();
    this.onUnbindObservable.clear();
    if (runtimes.get(this.scene) === this) runtimes.delete(this.scene);
    if (drivers.get(this.scheduler) === this) drivers.delete(this.scheduler);
  }

  #renderSync(world: GameWorld): void {
    const t = storeOf(world, Transform);
    for (let i = 0; i < this.#bindings.length; i++) {
      const b = this.#bindings[i]!;
      const p = b.poses;
      const e = b.eid;
      p.copyWithin(0, 7, 14);
      p[7] = t.px[e]!; p[8] = t.py[e]!; p[9] = t.pz[e]!;
      p[10] = t.qx[e]!; p[11] = t.qy[e]!; p[12] = t.qz[e]!; p[13] = t.qw[e]!;
    }
  }

  #onTransformRemoved(eid: number): void {
    const b = this.#byEntity.get(eid);
    if (!b) return;
    if (b.onDespawn === 'hide') b.node.setEnabled(false);
    this.#unbind(b, 'despawn', b.onDespawn === 'dispose');
  }

  #unbind(b: Binding, reason: UnbindInfo['reason'], dispose: boolean): void {
    if (this.#byEntity.get(b.eid) !== b) return;
    this.#byEntity.delete(b.eid);
    this.#byNode.delete(b.node);
    const i = this.#bindings.indexOf(b);
    const last = this.#bindings.pop()!;
    if (last !== b) this.#bindings[i] = last;
    if (b.disposeObserver) b.node.onDisposeObservable.remove(b.disposeObserver);
    this.onUnbindObservable.notifyObservers({ eid: b.eid, node: b.node, reason });
    if (dispose && !b.node.isDisposed()) b.node.dispose();
  }

  #readTransform(eid: number, out: Float64Array, offset: number): void {
    const t = storeOf(this.world, Transform);
    out[offset] = t.px[eid]!; out[offset + 1] = t.py[eid]!; out[offset + 2] = t.pz[eid]!;
    out[offset + 3] = t.qx[eid]!; out[offset + 4] = t.qy[eid]!; out[offset + 5] = t.qz[eid]!; out[offset + 6] = t.qw[eid]!;
  }

  #requireTransform(eid: number, method: string): void {
    if (!isAlive(this.world, eid)) {
      throw new BabylonPluginError('UnknownEntity', `${method}: entity ${eid} is not alive`, { eid });
    }
    if (!hasComponent(this.world, eid, Transform)) {
      throw new BabylonPluginError('UnknownEntity', `${method}: entity ${eid} has no Transform component`, { eid, component: Transform.name });
    }
  }

  #assertLive(method: string): void {
    if (this.#disposed) throw new BabylonPluginError('Disposed', `${method}: this PeerCompute runtime was disposed`, { method });
  }
}

function createOverlay(scene: Scene, option: AttachOptions['overlay']): DebugOverlay | null {
  if (option === false || typeof document === 'undefined' || typeof window === 'undefined') return null;
  const opts: OverlayOptions = option === true ? { visible: true } : option ?? {};
  const canvas = scene.getEngine().getRenderingCanvas();
  const element = canvas instanceof HTMLCanvasElement ? canvas : null;
  return new DebugOverlay(element, opts.visible ?? false, opts.toggleKey === undefined ? DEFAULT_OVERLAY_KEY : opts.toggleKey);
}
