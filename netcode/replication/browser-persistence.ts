/**
 * Browser persistence of a replicated document: y-indexeddb's `IndexeddbPersistence`, which
 * stores every update of the document in an IndexedDB database (one database per name, object
 * store `updates`, merged into one entry once 500 accumulate) and loads them back into the
 * document when created. A page that reloads gets its world back before (and without) any peer.
 *
 * Loading applies the stored updates with the persistence object as transaction origin, which
 * is not the provider's, so a provider on the same document sends what was stored to the room:
 * edits made offline reach the others.
 *
 * @example
 * ```ts
 * const doc = new Y.Doc();
 * const stored = persistInBrowser(doc, `peercompute/${roomId}`);
 * await stored.whenLoaded;            // the document holds what this browser stored
 * const provider = new YRoomProvider(doc, room);
 * // ...
 * await stored.destroy();             // stop storing (data stays); clearData() deletes it
 * ```
 */
import type * as Y from 'yjs';
import { IndexeddbPersistence } from 'y-indexeddb';
import { NetcodeError } from '../errors.ts';

/** A document persisted in IndexedDB, from {@link persistInBrowser}. */
export interface BrowserPersistence {
  /** IndexedDB database name. */
  readonly name: string;
  /** The y-indexeddb object (escape hatch: `get`/`set` of its `custom` store). */
  readonly persistence: IndexeddbPersistence;
  /**
   * Resolves once the stored updates are applied to the document. Rejects with NetcodeError
   * `Persistence` when IndexedDB refuses to open the database (private mode, quota, blocked).
   */
  readonly whenLoaded: Promise<void>;
  /** Stops storing updates and closes the database; the data stays. Idempotent. */
  destroy(): Promise<void>;
  /** Stops storing and deletes the database. */
  clearData(): Promise<void>;
}

/**
 * Stores `doc` in the browser's IndexedDB under database `name` and loads what was stored.
 *
 * @param doc The document (the same one a `YRoomProvider` replicates).
 * @param name Database name, non-empty; e.g. `peercompute/<room id>`. One document per name.
 * @throws NetcodeError `Persistence` when `globalThis.indexedDB` is missing (Node, a worker
 *   without it, some privacy modes); `InvalidConfig` for an empty name.
 */
export function persistInBrowser(doc: Y.Doc, name: string): BrowserPersistence {
  if (typeof name !== 'string' || name === '') throw new NetcodeError('InvalidConfig', `persistInBrowser: name must be a non-empty string, got ${String(name)}`, { option: 'name' });
  if ((globalThis as { indexedDB?: IDBFactory }).indexedDB == null) {
    throw new NetcodeError('Persistence', `persistInBrowser('${name}'): IndexedDB is not available in this runtime (browsers only; in Node use the relay's archive)`, { name });
  }
  const persistence = new IndexeddbPersistence(name, doc);
  const opened = persistence._db.then(
    () => new Promise<never>(() => {}),
    (err: unknown) => {
      throw new NetcodeError('Persistence', `persistInBrowser('${name}'): IndexedDB could not open the database: ${String((err as Error)?.message ?? err)}`, { name });
    },
  );
  const whenLoaded = Promise.race([persistence.whenSynced.then(() => undefined), opened]);
  // Nobody may await it: a failure must not become an unhandled rejection.
  whenLoaded.catch(() => {});
  let destroying: Promise<void> | undefined;
  return {
    name,
    persistence,
    whenLoaded,
    destroy: () => (destroying ??= persistence.destroy().catch(() => {})),
    clearData: () => persistence.clearData(),
  };
}
