/**
 * Types of the part of y-leveldb 0.2 the archive uses. y-leveldb ships declarations
 * (`dist/src/y-leveldb.d.ts`) but its package.json `exports` map has no `types` condition, so
 * TypeScript with `moduleResolution: "Bundler"` cannot find them. Method names and shapes follow
 * y-leveldb's `LeveldbPersistence` (src/y-leveldb.js).
 */
declare module 'y-leveldb' {
  import type * as Y from 'yjs';

  /** Stores Yjs documents in a LevelDB database (classic-level in Node), one update per write. */
  export class LeveldbPersistence {
    /**
     * Opens (lazily, at the first operation) the database in directory `location`.
     * @param options.levelOptions options passed to the `level` constructor.
     */
    constructor(location: string, options?: { Level?: unknown; levelOptions?: object });
    /**
     * Runs `f` with the underlying `level` database after every earlier operation of this
     * object. Errors thrown by `f` are logged by y-leveldb and resolve to `null` (y-leveldb
     * calls it private; the archive uses it once, to open the database and see open errors).
     */
    _transact<T>(f: (db: { open(): Promise<void>; status: string }) => Promise<T>): Promise<T | null>;
    /** Loads every stored update of `docName` into a new document (merges them once more than 500). */
    getYDoc(docName: string): Promise<Y.Doc>;
    /** Appends one update of `docName`; resolves with its sequence number. */
    storeUpdate(docName: string, update: Uint8Array): Promise<number>;
    /** Merges the stored updates of `docName` into one. */
    flushDocument(docName: string): Promise<void>;
    /** The encoded state vector of the stored `docName`. */
    getStateVector(docName: string): Promise<Uint8Array>;
    /** Names of every stored document. */
    getAllDocNames(): Promise<string[]>;
    /** Deletes `docName`. */
    clearDocument(docName: string): Promise<void>;
    /** Closes the database after every pending operation. */
    destroy(): Promise<void>;
  }
}
