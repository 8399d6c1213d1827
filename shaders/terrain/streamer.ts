/**
 * Terrain streaming: which chunks should exist around the viewers, at which level of detail,
 * generated a few at a time, and evicted when the viewers walk away. Engine-free: the
 * generator is injected (default: {@link generateChunk} on a backend), and the streamer only
 * reports what happened through `ready` / `evicted` / `error` listeners.
 *
 * Rules (distances in metres, from a viewer's `(x, z)` to the nearest point of a chunk's
 * square, 0 inside it; with several viewers the nearest viewer counts):
 * - **Rings.** `lodRadii[l]` is the outer radius of LOD `l`: a chunk at distance `d` wants the
 *   first `l` with `d < lodRadii[l]`; chunks at `d >= lodRadii.at(-1)` are not wanted.
 * - **Hysteresis.** A resident chunk is evicted only at `d >= lodRadii.at(-1) + hysteresis`,
 *   and coarsened from LOD `c` only at `d >= lodRadii[c] + hysteresis`; refining happens at
 *   once. Walking back and forth over a ring boundary therefore does not regenerate chunks.
 * - **Order.** Chunks to generate are started nearest first; ties by chunks with nothing shown
 *   first, then ascending `chunkZ`, then ascending `chunkX`. At most `maxInFlight` generations
 *   run at once; when one settles the next is started.
 * - **Swaps.** A chunk changing LOD stays shown at its old LOD until the new one is ready; then
 *   `ready(chunk, previous)` fires once (replace `previous` by `chunk`). `evicted(chunk)` fires
 *   when a column leaves entirely. A generation whose chunk is no longer wanted (or wanted at
 *   another LOD) is aborted through its `AbortSignal` and its result dropped.
 * - **Failures.** A rejected generation fires `error(request, error, willRetry)` and is retried
 *   up to `maxRetries` times in all; after that the column stays empty until it leaves the
 *   wanted set.
 *
 * Every chunk is generated with a one-vertex border and cut down, so its normals are seamless
 * (see normals.ts), and carries `hash` = {@link heightmapChecksum} of its own heights: peers
 * with the same settings get the same hashes for the same `(chunkX, chunkZ, lod)`.
 *
 * @example
 * ```ts
 * const streamer = new TerrainStreamer({ seed: 7, lodRadii: [48, 96, 160] });
 * streamer.on('ready', (chunk, previous) => { show(chunk); if (previous) hide(previous); });
 * streamer.on('evicted', (chunk) => hide(chunk));
 * streamer.update([{ x: player.x, z: player.z }]);   // call again whenever viewers move
 * await streamer.settled();                           // tests: wait until nothing is pending
 * ```
 */
import { ShadersError } from '../errors.ts';
import { cpuBackend, type ComputeBackend } from '../runtime.ts';
import { generateChunk } from './heightmap.ts';
import { heightmapChecksum, type HeightmapOptions } from './heightmap-cpu.ts';
import { chunkInterior, chunkNormals } from './normals.ts';
import { resolveTerrainSettings, type ResolvedTerrainSettings, type TerrainSettings } from './sample.ts';

/** Default outer radius of each LOD ring, metres (LOD 0 within 64 m, LOD 1 within 128 m, ...). */
export const DEFAULT_LOD_RADII: readonly number[] = [64, 128, 256];
/** Default of {@link TerrainStreamerOptions.maxInFlight}. */
export const DEFAULT_STREAM_MAX_IN_FLIGHT = 2;
/** Default of {@link TerrainStreamerOptions.maxRetries}. */
export const DEFAULT_STREAM_MAX_RETRIES = 3;
/** Most chunks a streamer keeps wanted at once; larger ring settings throw. */
export const MAX_STREAM_CHUNKS = 16384;

/** A point the terrain streams around, metres (engine x and z). */
export interface TerrainViewer {
  readonly x: number;
  readonly z: number;
}

/** One chunk to generate, handed to the generator. */
export interface ChunkRequest {
  /** `"chunkX,chunkZ@lod"`. */
  readonly key: string;
  readonly chunkX: number;
  readonly chunkZ: number;
  readonly lod: number;
  /** Kernel options: the terrain's noise, `size = chunkCells`, this chunk, `lod`, `border: 1`. */
  readonly options: HeightmapOptions;
}

/**
 * Generates one chunk: resolves with `generateChunk(backend, request.options)`'s heights
 * (`(chunkCells / 2^lod + 3)^2` values with the border). `signal` aborts when the chunk is no
 * longer wanted (the result is dropped either way).
 */
export type ChunkGenerator = (request: ChunkRequest, signal: AbortSignal) => Promise<Int32Array>;

/** A generated chunk. */
export interface TerrainChunk {
  /** `"chunkX,chunkZ@lod"`. */
  readonly key: string;
  readonly chunkX: number;
  readonly chunkZ: number;
  readonly lod: number;
  /** Cells per side at this LOD: `chunkCells / 2^lod`; the chunk has `(cells + 1)^2` vertices. */
  readonly cells: number;
  /** Distance between vertices, metres: `vertexSpacing * 2^lod`. */
  readonly spacing: number;
  /** World x and z of vertex (0, 0), metres: `chunkX * chunkMetres`, `chunkZ * chunkMetres`. */
  readonly originX: number;
  readonly originZ: number;
  /** `(cells + 1)^2` heights in 1/1024 m, row-major by z: vertex `(i, j)` at `j * (cells + 1) + i`. */
  readonly heights: Int32Array;
  /** `(cells + 1)^2 * 3` unit normals, same order (see normals.ts). */
  readonly normals: Float32Array;
  /** {@link heightmapChecksum} of `heights`. */
  readonly hash: number;
  /** Lowest and highest of `heights`, 1/1024 m. */
  readonly minHeight: number;
  readonly maxHeight: number;
}

/** Listeners of a {@link TerrainStreamer}. */
export interface TerrainStreamerEvents {
  /** A chunk is ready; `previous` is the same column at another LOD, which it replaces. */
  ready: (chunk: TerrainChunk, previous: TerrainChunk | undefined) => void;
  /** A resident chunk left (its column is no longer wanted). */
  evicted: (chunk: TerrainChunk) => void;
  /** A generation failed; `willRetry` tells whether the streamer will try it again. */
  error: (request: ChunkRequest, error: unknown, willRetry: boolean) => void;
}

/** Options of {@link TerrainStreamer}: the terrain's settings plus how to stream it. */
export interface TerrainStreamerOptions extends TerrainSettings {
  /**
   * Outer radius of each LOD ring, metres, strictly increasing, at most `maxLod + 1` entries;
   * default {@link DEFAULT_LOD_RADII} (trimmed to the chunk's possible LODs).
   */
  readonly lodRadii?: readonly number[];
  /** Extra distance before coarsening or evicting, metres, >= 0; default half a chunk. */
  readonly hysteresis?: number;
  /** Most generations running at once, an integer >= 1; default 2. */
  readonly maxInFlight?: number;
  /** Attempts per chunk before giving up, an integer >= 1; default 3. */
  readonly maxRetries?: number;
  /** The generator; default `generateChunk` on `backend`. */
  readonly generate?: ChunkGenerator;
  /** Backend of the default generator; default the CPU twin. */
  readonly backend?: ComputeBackend;
}

/** Counters of a streamer. */
export interface TerrainStreamerStats {
  /** Chunks shown now. */
  resident: number;
  /** Generations running now. */
  inFlight: number;
  /** Chunks that became ready. */
  generated: number;
  /** Chunks evicted (whole columns). */
  evicted: number;
  /** Chunks replaced by another LOD. */
  swapped: number;
  /** Generations aborted because their chunk was no longer wanted. */
  aborted: number;
  /** Generations that failed. */
  failed: number;
}

interface Pending {
  readonly request: ChunkRequest;
  readonly controller: AbortController;
}

interface Column {
  readonly chunkX: number;
  readonly chunkZ: number;
  /** Squared distance to the nearest viewer at the last update, m^2. */
  d2: number;
  /** LOD wanted at the last update. */
  target: number;
  resident: TerrainChunk | undefined;
  pending: Pending | undefined;
  /** Failed attempts at `failedLod`. */
  failures: number;
  failedLod: number;
}

type Listeners = { [K in keyof TerrainStreamerEvents]: TerrainStreamerEvents[K][] };

function invalid(option: string, value: unknown, expected: string): ShadersError {
  return new ShadersError('InvalidOption', `terrain streamer option ${option} = ${JSON.stringify(value)}: expected ${expected}`, { option, value });
}

/** `"chunkX,chunkZ@lod"`, the key of a chunk at one LOD. */
export function chunkKey(chunkX: number, chunkZ: number, lod: number): string {
  return `${chunkX},${chunkZ}@${lod}`;
}

/**
 * Streams the chunks of one terrain around a set of viewers (see the module doc for the rules).
 * Not simulation state: what is resident depends on timing; heights and hashes do not.
 */
export class TerrainStreamer {
  readonly settings: ResolvedTerrainSettings;
  readonly lodRadii: readonly number[];
  readonly hysteresis: number;
  readonly maxInFlight: number;
  readonly maxRetries: number;
  readonly stats: TerrainStreamerStats = { resident: 0, inFlight: 0, generated: 0, evicted: 0, swapped: 0, aborted: 0, failed: 0 };
  readonly #generate: ChunkGenerator;
  readonly #columns = new Map<string, Column>();
  /** Columns in start order (computed by the last update). */
  #order: Column[] = [];
  readonly #listeners: Listeners = { ready: [], evicted: [], error: [] };
  #waiters: Array<() => void> = [];
  #disposed = false;

  /** @throws ShadersError `InvalidOption` naming the bad setting or option. */
  constructor(options: TerrainStreamerOptions) {
    this.settings = resolveTerrainSettings(options);
    const radii = options.lodRadii ?? DEFAULT_LOD_RADII.slice(0, this.settings.maxLod + 1);
    if (!Array.isArray(radii) || radii.length < 1 || radii.length > this.settings.maxLod + 1) {
      throw invalid('lodRadii', radii, `1..${this.settings.maxLod + 1} radii (chunks of ${this.settings.chunkCells} cells have LODs 0..${this.settings.maxLod})`);
    }
    for (let l = 0; l < radii.length; l++) {
      const r = radii[l];
      if (typeof r !== 'number' || !Number.isFinite(r) || r <= 0 || (l > 0 && r <= radii[l - 1]!)) {
        throw invalid('lodRadii', radii, 'finite radii > 0 in metres, strictly increasing');
      }
    }
    this.lodRadii = Object.freeze([...radii]);
    const hysteresis = options.hysteresis ?? this.settings.chunkMetres / 2;
    if (typeof hysteresis !== 'number' || !Number.isFinite(hysteresis) || hysteresis < 0) throw invalid('hysteresis', hysteresis, 'a finite number >= 0 (metres)');
    this.hysteresis = hysteresis;
    const outer = (radii.at(-1)! + hysteresis) / this.settings.chunkMetres;
    if ((2 * outer + 2) ** 2 > MAX_STREAM_CHUNKS) {
      throw invalid('lodRadii', radii, `an outer radius of at most ~${Math.floor(Math.sqrt(MAX_STREAM_CHUNKS) / 2 - 1)} chunks`);
    }
    const maxInFlight = options.maxInFlight ?? DEFAULT_STREAM_MAX_IN_FLIGHT;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw invalid('maxInFlight', maxInFlight, 'an integer >= 1');
    this.maxInFlight = maxInFlight;
    const maxRetries = options.maxRetries ?? DEFAULT_STREAM_MAX_RETRIES;
    if (!Number.isInteger(maxRetries) || maxRetries < 1) throw invalid('maxRetries', maxRetries, 'an integer >= 1');
    this.maxRetries = maxRetries;
    if (options.generate !== undefined && typeof options.generate !== 'function') throw invalid('generate', typeof options.generate, 'a function');
    const backend = options.backend ?? cpuBackend('preferred', 'terrain streamer default');
    this.#generate = options.generate ?? ((request) => generateChunk(backend, request.options));
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof TerrainStreamerEvents>(event: K, listener: TerrainStreamerEvents[K]): () => void {
    const list = this.#listeners[event] as TerrainStreamerEvents[K][];
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** The LOD a chunk at distance `d` metres wants, or -1 when it is not wanted. */
  lodForDistance(d: number): number {
    for (let l = 0; l < this.lodRadii.length; l++) if (d < this.lodRadii[l]!) return l;
    return -1;
  }

  /** The resident chunk of column `(chunkX, chunkZ)`, if any. */
  chunk(chunkX: number, chunkZ: number): TerrainChunk | undefined {
    return this.#columns.get(`${chunkX},${chunkZ}`)?.resident;
  }

  /** Resident chunks, by ascending `chunkZ` then `chunkX`. */
  residentChunks(): TerrainChunk[] {
    const out: TerrainChunk[] = [];
    for (const c of this.#columns.values()) if (c.resident !== undefined) out.push(c.resident);
    return out.sort((a, b) => a.chunkZ - b.chunkZ || a.chunkX - b.chunkX);
  }

  /** Keys of the chunks being generated now. */
  inFlight(): string[] {
    const out: string[] = [];
    for (const c of this.#columns.values()) if (c.pending !== undefined) out.push(c.pending.request.key);
    return out.sort();
  }

  /**
   * Recomputes the wanted chunks for `viewers`, evicts and aborts what is no longer wanted
   * (firing `evicted` synchronously) and starts generations up to `maxInFlight`.
   * @param viewers Points to stream around, metres; an empty list evicts everything.
   * @throws ShadersError `InvalidOption` for a non-finite viewer coordinate, or after dispose.
   */
  update(viewers: readonly TerrainViewer[]): void {
    if (this.#disposed) throw new ShadersError('InvalidOption', 'terrain streamer was disposed', { option: 'update', value: 'disposed' });
    for (const v of viewers) {
      if (!Number.isFinite(v?.x) || !Number.isFinite(v?.z)) throw invalid('viewers', v, 'points with finite x and z (metres)');
    }
    const size = this.settings.chunkMetres;
    const outer = this.lodRadii.at(-1)!;
    const keep = outer + this.hysteresis;
    const keep2 = keep * keep;
    const near = new Map<string, { cx: number; cz: number; d2: number }>();
    for (const v of viewers) {
      const x0 = Math.floor((v.x - keep) / size);
      const x1 = Math.floor((v.x + keep) / size);
      const z0 = Math.floor((v.z - keep) / size);
      const z1 = Math.floor((v.z + keep) / size);
      for (let cz = z0; cz <= z1; cz++) {
        const dz = Math.max(cz * size - v.z, 0, v.z - (cz + 1) * size);
        for (let cx = x0; cx <= x1; cx++) {
          const dx = Math.max(cx * size - v.x, 0, v.x - (cx + 1) * size);
          const d2 = dx * dx + dz * dz;
          if (d2 >= keep2) continue;
          const key = `${cx},${cz}`;
          const seen = near.get(key);
          if (seen === undefined) near.set(key, { cx, cz, d2 });
          else if (d2 < seen.d2) seen.d2 = d2;
        }
      }
    }
    // Evict and abort first (ascending key order for determinism of the event sequence).
    const gone = [...this.#columns.entries()].filter(([key]) => !near.has(key)).map(([, c]) => c);
    gone.sort((a, b) => a.chunkZ - b.chunkZ || a.chunkX - b.chunkX);
    for (const column of gone) this.#dropColumn(column);
    // New columns (only inside the outer ring) and targets.
    const order: Column[] = [];
    for (const [key, n] of near) {
      let column = this.#columns.get(key);
      if (column === undefined) {
        if (n.d2 >= outer * outer) continue;
        column = { chunkX: n.cx, chunkZ: n.cz, d2: n.d2, target: -1, resident: undefined, pending: undefined, failures: 0, failedLod: -1 };
        this.#columns.set(key, column);
      }
      column.d2 = n.d2;
      const d = Math.sqrt(n.d2);
      let target = this.lodForDistance(d);
      const current = column.resident?.lod;
      if (current !== undefined) {
        if (target === -1 || target > current) {
          // Coarsen only beyond the current ring plus hysteresis.
          target = d >= this.lodRadii[current]! + this.hysteresis ? (target === -1 ? this.lodRadii.length - 1 : target) : current;
        }
      }
      column.target = target;
      if (column.pending !== undefined && column.pending.request.lod !== target) this.#abort(column);
      order.push(column);
    }
    order.sort((a, b) => a.d2 - b.d2 || (a.resident === undefined ? 0 : 1) - (b.resident === undefined ? 0 : 1) || a.chunkZ - b.chunkZ || a.chunkX - b.chunkX);
    this.#order = order;
    this.#startRequests();
    this.#count();
    this.#notifySettled();
  }

  /**
   * True when nothing is being generated and nothing wanted is left to start (as of the last
   * update): every wanted chunk is resident at its LOD or has failed `maxRetries` times.
   */
  get idle(): boolean {
    return this.#isSettled();
  }

  /**
   * Resolves once nothing is being generated and nothing wanted is left to start (every wanted
   * chunk is resident at its LOD or has failed `maxRetries` times). For tests and tools.
   */
  settled(): Promise<void> {
    if (this.#isSettled()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Aborts every generation and forgets every chunk (fires no events). Safe to call twice. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const column of this.#columns.values()) if (column.pending !== undefined) column.pending.controller.abort();
    this.#columns.clear();
    this.#order = [];
    for (const l of Object.values(this.#listeners)) l.length = 0;
    this.#count();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #needsRequest(column: Column): boolean {
    return column.pending === undefined && column.target >= 0 && column.resident?.lod !== column.target
      && !(column.failedLod === column.target && column.failures >= this.maxRetries);
  }

  #isSettled(): boolean {
    if (this.#disposed) return true;
    for (const column of this.#order) if (column.pending !== undefined || this.#needsRequest(column)) return false;
    return true;
  }

  #notifySettled(): void {
    if (this.#waiters.length === 0 || !this.#isSettled()) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #startRequests(): void {
    let running = 0;
    for (const column of this.#columns.values()) if (column.pending !== undefined) running++;
    for (const column of this.#order) {
      if (running >= this.maxInFlight) break;
      if (!this.#needsRequest(column) || this.#columns.get(`${column.chunkX},${column.chunkZ}`) !== column) continue;
      this.#start(column);
      running++;
    }
  }

  #start(column: Column): void {
    const lod = column.target;
    const s = this.settings;
    const request: ChunkRequest = {
      key: chunkKey(column.chunkX, column.chunkZ, lod),
      chunkX: column.chunkX,
      chunkZ: column.chunkZ,
      lod,
      options: { ...s.noise, seed: s.seed, chunkX: column.chunkX, chunkZ: column.chunkZ, size: s.chunkCells, lod, border: 1 },
    };
    const controller = new AbortController();
    const pending: Pending = { request, controller };
    column.pending = pending;
    let promise: Promise<Int32Array>;
    try {
      promise = Promise.resolve(this.#generate(request, controller.signal));
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      (heights) => this.#settle(column, pending, heights, undefined),
      (error: unknown) => this.#settle(column, pending, undefined, error ?? new Error('generation failed')),
    );
  }

  #settle(column: Column, pending: Pending, heights: Int32Array | undefined, error: unknown): void {
    if (this.#disposed || column.pending !== pending) return; // aborted or superseded
    column.pending = undefined;
    const request = pending.request;
    let chunk: TerrainChunk | undefined;
    if (error === undefined) {
      try {
        chunk = this.#buildChunk(request, heights!);
      } catch (buildError) {
        error = buildError;
      }
    }
    if (chunk === undefined) {
      if (column.failedLod !== request.lod) {
        column.failedLod = request.lod;
        column.failures = 0;
      }
      column.failures++;
      this.stats.failed++;
      this.#emit('error', request, error, column.failures < this.maxRetries);
    } else {
      const previous = column.resident;
      column.resident = chunk;
      column.failures = 0;
      column.failedLod = -1;
      this.stats.generated++;
      if (previous !== undefined) this.stats.swapped++;
      this.#emit('ready', chunk, previous);
    }
    if (!this.#disposed) this.#startRequests();
    this.#count();
    this.#notifySettled();
  }

  #buildChunk(request: ChunkRequest, bordered: Int32Array): TerrainChunk {
    const s = this.settings;
    const cells = s.chunkCells >> request.lod;
    const side = cells + 3;
    if (!(bordered instanceof Int32Array) || bordered.length !== side * side) {
      throw new ShadersError('InvalidOption', `terrain chunk ${request.key}: the generator returned ${bordered?.length} heights, expected ${side * side}`, {
        option: 'generate',
        value: bordered?.length,
      });
    }
    const spacing = s.vertexSpacing * (1 << request.lod);
    const heights = chunkInterior(bordered, side, 1);
    let min = heights[0]!;
    let max = heights[0]!;
    for (let k = 1; k < heights.length; k++) {
      const h = heights[k]!;
      if (h < min) min = h;
      if (h > max) max = h;
    }
    return {
      key: request.key,
      chunkX: request.chunkX,
      chunkZ: request.chunkZ,
      lod: request.lod,
      cells,
      spacing,
      originX: request.chunkX * s.chunkMetres,
      originZ: request.chunkZ * s.chunkMetres,
      heights,
      normals: chunkNormals(bordered, side, 1, spacing),
      hash: heightmapChecksum(heights),
      minHeight: min,
      maxHeight: max,
    };
  }

  #abort(column: Column): void {
    if (column.pending === undefined) return;
    column.pending.controller.abort(new ShadersError('InvalidOption', `terrain chunk ${column.pending.request.key} is no longer wanted`, { option: 'aborted', value: column.pending.request.key }));
    column.pending = undefined;
    this.stats.aborted++;
  }

  #dropColumn(column: Column): void {
    this.#abort(column);
    this.#columns.delete(`${column.chunkX},${column.chunkZ}`);
    if (column.resident !== undefined) {
      const chunk = column.resident;
      column.resident = undefined;
      this.stats.evicted++;
      this.#emit('evicted', chunk);
    }
  }

  #emit<K extends keyof TerrainStreamerEvents>(event: K, ...args: Parameters<TerrainStreamerEvents[K]>): void {
    for (const listener of [...this.#listeners[event]]) {
      try {
        (listener as (...a: Parameters<TerrainStreamerEvents[K]>) => void)(...args);
      } catch (error) {
        // A listener's bug must not corrupt the streamer's bookkeeping: report it uncaught.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  #count(): void {
    let resident = 0;
    let inFlight = 0;
    for (const c of this.#columns.values()) {
      if (c.resident !== undefined) resident++;
      if (c.pending !== undefined) inFlight++;
    }
    this.stats.resident = resident;
    this.stats.inFlight = inFlight;
  }
}
