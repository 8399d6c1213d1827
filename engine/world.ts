/**
 * The game world: a bitECS 0.4 world plus what a deterministic simulation needs around it
 * (fixed-step clock, seeded PRNG, component registry with per-world stores, resources).
 *
 * A `GameWorld` IS a bitECS world (bitECS's `createWorld(context)` returns the context), so raw
 * bitECS calls work on it with the stores from {@link storeOf}. The wrappers here add what the
 * engine relies on: capacity checks, component registration by definition, and cached queries.
 *
 * @example
 * ```ts
 * const world = createWorld({ seed: 42, maxEntities: 10_000 });
 * const Position = defineComponent('Position', { x: { type: 'f32', unit: 'm' } });
 * const eid = spawn(world);
 * addComponent(world, eid, Position, { x: 3 });
 * for (const e of query(world, [Position])) storeOf(world, Position).x[e] += 1;
 * ```
 */
import {
  addComponent as ecsAddComponent,
  addEntity,
  createWorld as createEcsWorld,
  entityExists,
  getAllEntities,
  hasComponent as ecsHasComponent,
  Not,
  observe,
  onAdd,
  onRemove,
  query as ecsQuery,
  registerComponent,
  removeComponent as ecsRemoveComponent,
  removeEntity,
  type World,
} from 'bitecs';
import { createStore, type ComponentDef, type FieldArray, type FieldValues, type Schema, type Store } from './components.ts';
import { EngineError } from './errors.ts';
import { Rng } from './rng.ts';

/** Default `maxEntities` of {@link createWorld}. */
export const DEFAULT_MAX_ENTITIES = 16_384;
/** Default tick rate of a world, in ticks per second (Hz). */
export const DEFAULT_TICK_RATE = 60;

/** Options of {@link createWorld}. */
export interface WorldOptions {
  /** Seed of `world.rng` (low 32 bits used). Default 0. Peers of one match must use the same. */
  readonly seed?: number;
  /**
   * Exclusive upper bound of entity ids, hence the length of every component array.
   * Default {@link DEFAULT_MAX_ENTITIES} (16384). Memory per component is `maxEntities * bytes`.
   */
  readonly maxEntities?: number;
  /** Simulation rate in ticks per second. Default 60. `time.dt` is `1 / tickRate` seconds. */
  readonly tickRate?: number;
}

/** The simulation clock. `tick` is part of every snapshot. */
export interface WorldTime {
  /** Number of simulated ticks so far (the frame number of the next tick to simulate). */
  tick: number;
  /** Ticks per second (Hz). */
  readonly tickRate: number;
  /** Seconds per tick: `1 / tickRate`. */
  readonly dt: number;
}

/** A typed key for a world resource (a singleton that is not per-entity, e.g. the physics world). */
export interface ResourceKey<T> {
  readonly name: string;
  /** Phantom field carrying the value type; never set. */
  readonly __type?: T;
}

/**
 * Extra state that snapshots carry besides components, e.g. the physics engine's world.
 * Extensions are saved and loaded in name order, after components are restored.
 */
export interface SnapshotExtension {
  /** Unique name; also the key in `WorldSnapshot.extensions`. */
  readonly name: string;
  /**
   * Serializes the extension's state. `previous` is what this extension returned for the same
   * snapshot object last time (`undefined` on a fresh snapshot): its memory is free to reuse, so
   * a ring of snapshots saves without new buffers at steady state. Return a view of exactly the
   * bytes written; never keep a reference to it (the snapshot owns it).
   */
  save(world: GameWorld, previous?: Uint8Array): Uint8Array;
  /** Restores state saved by `save`. Component state is already restored when this runs. */
  load(world: GameWorld, bytes: Uint8Array): void;
}

/** The engine context attached to a bitECS world. */
export interface WorldContext {
  readonly maxEntities: number;
  readonly time: WorldTime;
  /** Seeded PRNG; its state is snapshotted. Use it instead of `Math.random` in simulation code. */
  readonly rng: Rng;
  readonly components: ComponentRegistry;
  readonly resources: Map<string, unknown>;
  readonly snapshotExtensions: Map<string, SnapshotExtension>;
}

/** A bitECS world carrying the engine context. */
export type GameWorld = World<WorldContext>;

/**
 * Knows every component used in a world, its store, and which are rolled back.
 * Components register on first use; order of registration does not matter to snapshots,
 * which sort by name.
 */
export class ComponentRegistry {
  readonly #world: GameWorld;
  readonly #capacity: number;
  readonly #stores = new Map<ComponentDef, Store<Schema>>();
  readonly #byName = new Map<string, ComponentDef>();
  #sortedRollback: ComponentDef[] | undefined;
  #sortedAll: ComponentDef[] | undefined;

  constructor(world: GameWorld, capacity: number) {
    this.#world = world;
    this.#capacity = capacity;
  }

  /**
   * Registers `def` (idempotent) and returns its store.
   * @throws EngineError `DuplicateComponent` when another definition has the same name.
   */
  register<S extends Schema>(def: ComponentDef<S>): Store<S> {
    const existing = this.#stores.get(def);
    if (existing) return existing as Store<S>;
    const other = this.#byName.get(def.name);
    if (other) {
      throw new EngineError('DuplicateComponent', `two component definitions are named ${JSON.stringify(def.name)}`, { name: def.name });
    }
    const store = createStore(def, this.#capacity);
    registerComponent(this.#world, store);
    this.#stores.set(def, store);
    this.#byName.set(def.name, def);
    this.#sortedRollback = undefined;
    this.#sortedAll = undefined;
    return store;
  }

  /** The store of `def`, registering it on first use. */
  storeOf<S extends Schema>(def: ComponentDef<S>): Store<S> {
    return (this.#stores.get(def) as Store<S> | undefined) ?? this.register(def);
  }

  /** The definition registered under `name`, or undefined. */
  byName(name: string): ComponentDef | undefined {
    return this.#byName.get(name);
  }

  /** Every registered definition, sorted by name. */
  all(): readonly ComponentDef[] {
    return (this.#sortedAll ??= [...this.#stores.keys()].sort(byName));
  }

  /** Registered definitions with `rollback: true`, sorted by name: the snapshot/checksum order. */
  rollback(): readonly ComponentDef[] {
    return (this.#sortedRollback ??= this.all().filter((d) => d.rollback));
  }

  /** The field arrays of `def`'s store, in the definition's field order. */
  fieldArrays(def: ComponentDef): FieldArray[] {
    const store = this.storeOf(def) as Record<string, FieldArray>;
    return def.fields.map((f) => store[f.name]!);
  }
}

function byName(a: ComponentDef, b: ComponentDef): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Creates a world.
 * @throws EngineError `InvalidConfig` when `maxEntities` is not an integer in [2, 2^24] or
 *   `tickRate` is not a finite number in (0, 1000].
 */
export function createWorld(options: WorldOptions = {}): GameWorld {
  const maxEntities = options.maxEntities ?? DEFAULT_MAX_ENTITIES;
  const tickRate = options.tickRate ?? DEFAULT_TICK_RATE;
  if (!Number.isInteger(maxEntities) || maxEntities < 2 || maxEntities > 1 << 24) {
    throw new EngineError('InvalidConfig', `maxEntities must be an integer in [2, 16777216], got ${maxEntities}`, { maxEntities });
  }
  if (!Number.isFinite(tickRate) || tickRate <= 0 || tickRate > 1000) {
    throw new EngineError('InvalidConfig', `tickRate must be in (0, 1000] Hz, got ${tickRate}`, { tickRate });
  }
  const context = {
    maxEntities,
    time: { tick: 0, tickRate, dt: 1 / tickRate },
    rng: new Rng(options.seed ?? 0),
    resources: new Map<string, unknown>(),
    snapshotExtensions: new Map<string, SnapshotExtension>(),
  } as Omit<WorldContext, 'components'> & { components: ComponentRegistry };
  const world = createEcsWorld(context) as GameWorld;
  (context as { components: ComponentRegistry }).components = new ComponentRegistry(world, maxEntities);
  return world;
}

/** The per-world store of `def` (registered on first use): `storeOf(world, Position).x[eid]`. */
export function storeOf<S extends Schema>(world: GameWorld, def: ComponentDef<S>): Store<S> {
  return world.components.storeOf(def);
}

/**
 * Creates an entity and returns its id (an integer in `[1, maxEntities)`).
 * @throws EngineError `EntityLimit` when no id below `maxEntities` is free.
 */
export function spawn(world: GameWorld): number {
  const eid = addEntity(world);
  if (eid >= world.maxEntities) {
    removeEntity(world, eid);
    throw new EngineError('EntityLimit', `world is full: entity id ${eid} >= maxEntities ${world.maxEntities}`, { eid, maxEntities: world.maxEntities });
  }
  return eid;
}

/** Removes an entity and all its components. Removing a dead entity does nothing. */
export function despawn(world: GameWorld, eid: number): void {
  removeEntity(world, eid);
}

/** Number of live entities in `world`. */
export function entityCount(world: GameWorld): number {
  return getAllEntities(world).length;
}

/** Whether `eid` is a live entity of `world`. */
export function isAlive(world: GameWorld, eid: number): boolean {
  return entityExists(world, eid);
}

/**
 * Adds `def` to entity `eid` and sets the given field values (other fields keep what the store
 * holds, which is 0 for a never-used id: call with values for every field that matters).
 * @throws EngineError `UnknownEntity` when `eid` is not alive.
 */
export function addComponent<S extends Schema>(world: GameWorld, eid: number, def: ComponentDef<S>, values?: FieldValues<S>): void {
  if (!entityExists(world, eid)) {
    throw new EngineError('UnknownEntity', `cannot add ${def.name} to entity ${eid}: it is not alive`, { eid, component: def.name });
  }
  const store = storeOf(world, def);
  ecsAddComponent(world, eid, store);
  if (values) setFields(world, eid, def, values);
}

/** Removes `def` from `eid` (no-op when absent). */
export function removeComponent(world: GameWorld, eid: number, def: ComponentDef): void {
  if (entityExists(world, eid)) ecsRemoveComponent(world, eid, storeOf(world, def));
}

/** Whether `eid` has `def`. */
export function hasComponent(world: GameWorld, eid: number, def: ComponentDef): boolean {
  return entityExists(world, eid) && ecsHasComponent(world, eid, storeOf(world, def));
}

/** Writes field values of `def` for `eid` (fields not named are left as they are). */
export function setFields<S extends Schema>(world: GameWorld, eid: number, def: ComponentDef<S>, values: FieldValues<S>): void {
  const store = storeOf(world, def) as Record<string, FieldArray>;
  for (const key in values) {
    const arr = store[key];
    if (!arr) throw new EngineError('InvalidConfig', `component ${def.name} has no field ${key}`, { component: def.name, field: key });
    arr[eid] = values[key]!;
  }
}

/** Reads every field of `def` for `eid` into a plain object (allocates: for tools and tests). */
export function getFields<S extends Schema>(world: GameWorld, eid: number, def: ComponentDef<S>): { [K in keyof S]: number } {
  const store = storeOf(world, def) as Record<string, FieldArray>;
  const out: Record<string, number> = {};
  for (const f of def.fields) out[f.name] = store[f.name]![eid]!;
  return out as { [K in keyof S]: number };
}

/** Options of {@link query}. */
export interface QueryOptions {
  /** Entities must NOT have any of these. */
  readonly without?: readonly ComponentDef[];
}

const termCache = new WeakMap<GameWorld, WeakMap<readonly ComponentDef[], unknown[]>>();

function termsFor(world: GameWorld, defs: readonly ComponentDef[], without: readonly ComponentDef[] | undefined): unknown[] {
  if (without && without.length > 0) {
    return [...defs.map((d) => storeOf(world, d)), ...without.map((d) => Not(storeOf(world, d)))];
  }
  let perWorld = termCache.get(world);
  if (!perWorld) termCache.set(world, (perWorld = new WeakMap()));
  let terms = perWorld.get(defs);
  if (!terms) perWorld.set(defs, (terms = defs.map((d) => storeOf(world, d))));
  return terms;
}

/**
 * Entities having every component of `defs`. Order is unspecified and changes with add/remove
 * history: systems whose result depends on order must use {@link orderedQuery}.
 * Pass a module-level constant array for `defs`; its store lookup is cached by identity.
 */
export function query(world: GameWorld, defs: readonly ComponentDef[], options?: QueryOptions): readonly number[] {
  return ecsQuery(world, termsFor(world, defs, options?.without)) as readonly number[];
}

/**
 * Like {@link query} but sorted by ascending entity id: the stable entity order that rollback
 * and cross-peer determinism need (same ids on every peer after the same operations).
 * Allocates one `Uint32Array` per call.
 */
export function orderedQuery(world: GameWorld, defs: readonly ComponentDef[], options?: QueryOptions): Uint32Array {
  return Uint32Array.from(query(world, defs, options)).sort();
}

/**
 * Calls `callback(eid)` when `def` is added to an entity. Returns an unsubscribe function.
 * Callbacks run synchronously inside the add, including adds done by `restore`.
 */
export function onComponentAdded(world: GameWorld, def: ComponentDef, callback: (eid: number) => void): () => void {
  return observe(world, onAdd(storeOf(world, def)), callback);
}

/** Calls `callback(eid)` when `def` is removed from an entity (also on despawn and restore). */
export function onComponentRemoved(world: GameWorld, def: ComponentDef, callback: (eid: number) => void): () => void {
  return observe(world, onRemove(storeOf(world, def)), callback);
}

/** Creates a typed resource key. Keys are compared by name: use a unique, namespaced name. */
export function resourceKey<T>(name: string): ResourceKey<T> {
  return { name };
}

/** Sets a world resource (replacing any previous value). */
export function setResource<T>(world: GameWorld, key: ResourceKey<T>, value: T): void {
  world.resources.set(key.name, value);
}

/**
 * Reads a world resource.
 * @throws EngineError `MissingResource` when it was never set.
 */
export function getResource<T>(world: GameWorld, key: ResourceKey<T>): T {
  if (!world.resources.has(key.name)) {
    throw new EngineError('MissingResource', `world resource ${key.name} is not set`, { resource: key.name });
  }
  return world.resources.get(key.name) as T;
}

/** Reads a world resource, or `undefined` when it was never set. */
export function findResource<T>(world: GameWorld, key: ResourceKey<T>): T | undefined {
  return world.resources.get(key.name) as T | undefined;
}

/** Removes a world resource; returns whether it was set. */
export function deleteResource(world: GameWorld, key: ResourceKey<unknown>): boolean {
  return world.resources.delete(key.name);
}

/**
 * Registers state that snapshots must carry beyond components (e.g. physics).
 * Registering the same extension object twice is a no-op.
 * @throws EngineError `InvalidConfig` when another extension has the same name.
 */
export function registerSnapshotExtension(world: GameWorld, ext: SnapshotExtension): void {
  const existing = world.snapshotExtensions.get(ext.name);
  if (existing === ext) return;
  if (existing) throw new EngineError('InvalidConfig', `a snapshot extension named ${ext.name} is already registered`, { name: ext.name });
  world.snapshotExtensions.set(ext.name, ext);
}

/** Unregisters a snapshot extension by name (no-op when absent). */
export function unregisterSnapshotExtension(world: GameWorld, name: string): void {
  world.snapshotExtensions.delete(name);
}
