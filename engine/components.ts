/**
 * Component definitions with typed per-field storage.
 *
 * A component is declared once, independent of any world, with a schema of numeric fields. Each
 * world allocates its own structure-of-arrays store for it (one typed array per field, indexed by
 * entity id), so two worlds in one process (two peers in a test, a sync-test shadow world) never
 * share state.
 *
 * @example
 * ```ts
 * const Health = defineComponent('Health', { hp: { type: 'i32', unit: 'points' } });
 * const eid = spawn(world);
 * addComponent(world, eid, Health, { hp: 100 });
 * storeOf(world, Health).hp[eid] -= 10;
 * ```
 */
import { EngineError } from './errors.ts';

/** Numeric storage type of one field. All are stored in typed arrays (little-endian on the wire). */
export type FieldType = 'f32' | 'f64' | 'i8' | 'i16' | 'i32' | 'u8' | 'u16' | 'u32';

/** A field declaration: its storage type, plus optional unit and description for docs and tools. */
export interface FieldSpec {
  readonly type: FieldType;
  /** Unit of the value, e.g. `'m'`, `'m/s'`, `'rad'`, `'ticks'`. Documentation only. */
  readonly unit?: string;
  readonly doc?: string;
}

/** A component schema: field name to type (shorthand) or full {@link FieldSpec}. */
export type Schema = Readonly<Record<string, FieldType | FieldSpec>>;

/** Maps a field type to the typed array that stores it. */
export interface TypedArrayOf {
  f32: Float32Array;
  f64: Float64Array;
  i8: Int8Array;
  i16: Int16Array;
  i32: Int32Array;
  u8: Uint8Array;
  u16: Uint16Array;
  u32: Uint32Array;
}

type TypeOfSpec<F> = F extends FieldType ? F : F extends FieldSpec ? F['type'] : never;

/** The per-world store of a component: one typed array per field, indexed by entity id. */
export type Store<S extends Schema> = { readonly [K in keyof S]: TypedArrayOf[TypeOfSpec<S[K]>] };

/** Values for some fields of a component, e.g. `{ x: 1, y: 2 }`. */
export type FieldValues<S extends Schema> = { readonly [K in keyof S]?: number };

/** Any typed array a store may hold. */
export type FieldArray = TypedArrayOf[FieldType];

/** Resolved metadata of one field, in declaration order. */
export interface FieldInfo {
  readonly name: string;
  readonly type: FieldType;
  /** Bytes per value: 1, 2, 4 or 8. */
  readonly bytes: number;
  readonly unit: string | undefined;
  readonly doc: string | undefined;
}

/** Options of {@link defineComponent}. */
export interface ComponentOptions {
  /**
   * Whether the component is game state that rollback snapshots, restores and checksums.
   * Default `true`. Set `false` for render-only or local-only data (interpolation buffers,
   * debug flags): such components survive a restore untouched and never enter a checksum.
   */
  readonly rollback?: boolean;
  /** One-line description for docs and debug tools. */
  readonly doc?: string;
}

/** A component definition: name, schema and resolved field metadata. Shared by all worlds. */
export interface ComponentDef<S extends Schema = Schema> {
  /** Unique name; snapshots and checksums order components by it, so it must match across peers. */
  readonly name: string;
  readonly schema: S;
  /** Fields in declaration order. */
  readonly fields: readonly FieldInfo[];
  readonly rollback: boolean;
  readonly doc: string | undefined;
}

const TYPE_BYTES: Readonly<Record<FieldType, number>> = {
  f32: 4, f64: 8, i8: 1, i16: 2, i32: 4, u8: 1, u16: 2, u32: 4,
};

const ARRAY_CTORS: Readonly<Record<FieldType, new (n: number) => FieldArray>> = {
  f32: Float32Array, f64: Float64Array, i8: Int8Array, i16: Int16Array,
  i32: Int32Array, u8: Uint8Array, u16: Uint16Array, u32: Uint32Array,
};

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

/**
 * Declares a component.
 *
 * @param name unique component name (letters, digits, `_ . : -`; must not start with a digit).
 * @param schema field name to type, e.g. `{ x: { type: 'f32', unit: 'm' }, hp: 'i32' }`.
 *   An empty schema declares a tag component.
 * @throws EngineError `InvalidConfig` when the name or a field name/type is invalid.
 */
export function defineComponent<const S extends Schema>(
  name: string,
  schema: S,
  options: ComponentOptions = {},
): ComponentDef<S> {
  if (!NAME_PATTERN.test(name)) {
    throw new EngineError('InvalidConfig', `invalid component name ${JSON.stringify(name)}`, { name });
  }
  const fields: FieldInfo[] = [];
  for (const [field, spec] of Object.entries(schema)) {
    const type = typeof spec === 'string' ? spec : spec?.type;
    if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(field)) {
      throw new EngineError('InvalidConfig', `component ${name}: invalid field name ${JSON.stringify(field)}`, { name, field });
    }
    if (type === undefined || !(type in TYPE_BYTES)) {
      throw new EngineError('InvalidConfig', `component ${name}: field ${field} has unknown type ${JSON.stringify(type)}`, { name, field, type });
    }
    fields.push({
      name: field,
      type,
      bytes: TYPE_BYTES[type],
      unit: typeof spec === 'string' ? undefined : spec.unit,
      doc: typeof spec === 'string' ? undefined : spec.doc,
    });
  }
  return Object.freeze({
    name,
    schema,
    fields: Object.freeze(fields),
    rollback: options.rollback ?? true,
    doc: options.doc,
  });
}

/**
 * Allocates a zero-filled store for `def` with room for entity ids `0 .. capacity-1`.
 * Worlds call this; game code gets stores with `storeOf(world, def)`.
 */
export function createStore<S extends Schema>(def: ComponentDef<S>, capacity: number): Store<S> {
  const store: Record<string, FieldArray> = {};
  for (const f of def.fields) store[f.name] = new ARRAY_CTORS[f.type](capacity);
  return store as Store<S>;
}

/** Bytes one entity's values of `def` occupy (sum of field sizes). */
export function componentBytes(def: ComponentDef): number {
  let n = 0;
  for (const f of def.fields) n += f.bytes;
  return n;
}
