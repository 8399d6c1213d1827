/**
 * Node persistence of a replicated document: y-leveldb's `LeveldbPersistence` (the store the
 * relay's archive uses), for headless peers (bots, servers) that should keep their world between
 * runs. The twin of `persistInBrowser` for Node. Node only (LevelDB is a native module): import
 * it from `netcode/relay/index.ts`, never from browser code.
 *
 * Loading applies the stored state to the document before the document is watched, so nothing is
 * stored twice; then every update of the document is stored. `destroy()` waits for pending
 * writes, merges the stored updates into one and closes the database. One process at a time per
 * directory (LevelDB holds a lock).
 *
 * @example
 * ```ts
 * const doc = new Y.Doc();
 * const stored = persistInLevelDb(doc, '.peercompute/bot', roomId);
 * await stored.whenLoaded;            // the document holds what this directory stored
 * const provider = new YRoomProvider(doc, room);
 * // ...
 * await stored.destroy();             // data stays on disk
 * ```
 */
import { mkdir } from 'node:fs/promises';
import { LeveldbPersistence } from 'y-leveldb';
import * as Y from 'yjs';
import { NetcodeError } from '../errors.ts';

/** A document persisted in LevelDB, from {@link persistInLevelDb}. */
export interface LevelDbPersistence {
  /** Directory of the database and name of the document in it. */
  readonly dir: string;
  readonly name: string;
  /**
   * Resolves once the stored state is applied to the document. Rejects with NetcodeError
   * `Persistence` when the directory cannot be created or the database opened (another process
   * holds it).
   */
  readonly whenLoaded: Promise<void>;
  /** Stops storing, waits for pending writes, compacts and closes; the data stays. Idempotent. */
  destroy(): Promise<void>;
}

/**
 * Stores `doc` in the LevelDB database at `dir` under `name` and loads what was stored.
 *
 * @param doc The document (the same one a `YRoomProvider` replicates).
 * @param dir Database directory (created if missing).
 * @param name Document name in the database, non-empty; e.g. the room id.
 * @throws NetcodeError `InvalidConfig` for an empty `dir` or `name` (failures to open the
 *   database reject `whenLoaded` instead).
 */
export function persistInLevelDb(doc: Y.Doc, dir: string, name: string): LevelDbPersistence {
  for (const [option, value] of [['dir', dir], ['name', name]] as const) {
    if (typeof value !== 'string' || value === '') {
      throw new NetcodeError('InvalidConfig', `persistInLevelDb: ${option} must be a non-empty string, got ${String(value)}`, { option });
    }
  }
  let store: LeveldbPersistence | undefined;
  const writes = new Set<Promise<unknown>>();
  let stopped = false;
  const onUpdate = (update: Uint8Array): void => {
    if (store === undefined || stopped) return;
    const write = store.storeUpdate(name, update).catch((error: unknown) => {
      console.error(`persistInLevelDb(${dir}, ${name}): storing an update failed`, error);
    });
    writes.add(write);
    void write.finally(() => writes.delete(write));
  };
  const whenLoaded = (async () => {
    try {
      await mkdir(dir, { recursive: true });
      store = new LeveldbPersistence(dir);
      const stored = await store.getYDoc(name);
      Y.applyUpdate(doc, Y.encodeStateAsUpdate(stored), store);
      stored.destroy();
    } catch (error) {
      const message = (error as Error & { cause?: Error })?.cause?.message ?? (error as Error)?.message ?? String(error);
      await store?.destroy().catch(() => {});
      store = undefined;
      throw new NetcodeError('Persistence', `persistInLevelDb: cannot open ${dir} (${name}): ${message}. Is another process using it?`, { dir, name });
    }
    if (!stopped) doc.on('update', onUpdate);
  })();
  whenLoaded.catch(() => {}); // nobody may await it: no unhandled rejection
  let destroying: Promise<void> | undefined;
  return {
    dir,
    name,
    whenLoaded,
    destroy: () => (destroying ??= (async () => {
      stopped = true;
      doc.off('update', onUpdate);
      await whenLoaded.catch(() => {});
      await Promise.all([...writes]);
      if (store !== undefined) {
        await store.flushDocument(name).catch(() => {});
        await store.destroy().catch(() => {});
      }
    })()),
  };
}
