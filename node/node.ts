/**
 * `createNode`: one call that assembles a PeerCompute peer from a typed options object (see
 * options.ts): the world and its fixed-step scheduler, physics, input, the room (libp2p or an
 * injected transport), a replication or rollback session, the compute backend (WebGPU or the
 * CPU twins), a worker pool, compute shared with the room, and in a browser the Babylon plugin.
 *
 * Lifecycle: `createNode()` checks the options and builds nothing that needs releasing;
 * `start()` builds and connects (on failure it releases what it built and rejects with
 * `StartFailed`); `stop()` releases everything: no timer, socket, worker or GPU device of the
 * node remains. `getStatus()` reports peers (RTT, connection kind), the session, replication,
 * compute (backend, queues) and tick timing at any time. Works in Node (headless bots) and in
 * browsers alike.
 *
 * @example
 * ```ts
 * const node = createNode({
 *   network: { room: 'world-main', relays: ['/ip4/127.0.0.1/tcp/9091/p2p/12D3KooW...'] },
 *   session: { kind: 'replication', components: WORLD_COMPONENTS },
 *   input: new WorldBot(7),
 * });
 * node.on('peer:join', ({ peerId }) => console.log('hello', peerId));
 * await node.start();
 * const heights = await node.submitTask('terrain.chunk', encodeTerrainChunkInput({ seed: 1, chunkX: 0, chunkZ: 0 }));
 * console.log(node.getStatus().peers);
 * await node.stop();
 * ```
 */
import * as Y from 'yjs';
import {
  COMPUTE_TASKS, createInputSystem, createPhysics, createWorld, findResource, initPhysics, installComputeTasks, Phase, Scheduler,
  uninstallComputeTasks,
  type ComputeTasks, type ComputeTaskStats, type GameWorld, type SchedulerStats,
} from '../engine/index.ts';
import {
  attachRollback, createPeer, createRoomCompute, discoverRelays, EcsAuthority, joinRoom, persistInBrowser, RealClock, replicateWorld,
  SessionBuilder, YRoomProvider,
  type BrowserPersistence, type ComputePeerInfo, type ConnectionKind, type P2PSession, type Peer, type PeerId, type Replicator, type ReplicatorStats,
  type RollbackSystem, type RollbackSystemStats, type RoomCompute, type RoomComputeStats, type RoomTransport,
} from '../netcode/index.ts';
import {
  acquireCompute, createWorkerPool, getKernel, prepareKernelTask, runPrepared, type ComputeBackend, type PreparedKernelTask, type WorkerPool,
  type WorkerPoolStats,
} from '../shaders/index.ts';
import { NodeError } from './errors.ts';
import { checkNodeOptions, DEFAULT_NODE_TICK_RATE, type NodeOptions, type RollbackGame } from './options.ts';

/** Where a node is in its life. */
export type NodeState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/** One remote member of the room. */
export interface NodePeerStatus {
  readonly peerId: PeerId;
  /** Round-trip time, ms; undefined before the first ping. */
  readonly rttMs: number | undefined;
  readonly connection: ConnectionKind;
}

/** What {@link PeerComputeNode.getStatus} returns (a fresh object each call). */
export interface NodeStatus {
  readonly state: NodeState;
  /** This peer's id once networked, else undefined. */
  readonly peerId: PeerId | undefined;
  readonly room: string | undefined;
  readonly peers: readonly NodePeerStatus[];
  readonly session:
    | { readonly kind: 'none' }
    | { readonly kind: 'replication'; readonly stats: ReplicatorStats }
    | {
      readonly kind: 'rollback';
      /** `'waiting'` for players, then the session's state (`'synchronizing'`, `'running'`). */
      readonly state: string;
      readonly localSlot: number | undefined;
      readonly frame: number | undefined;
      readonly confirmedFrame: number | undefined;
      readonly stats: RollbackSystemStats | undefined;
    };
  readonly compute: {
    readonly backend: 'webgpu' | 'cpu' | 'none';
    /** Adapter name on WebGPU, the fallback reason on the CPU. */
    readonly detail: string;
    readonly tasks: ComputeTaskStats | undefined;
    readonly workers: WorkerPoolStats | undefined;
    readonly room: RoomComputeStats | undefined;
    /** What the room's peers advertise for room compute (capability undefined before their first presence). */
    readonly peers: readonly ComputePeerInfo[];
  };
  readonly tick: {
    readonly tick: number;
    readonly tickRate: number;
    readonly timing: Readonly<SchedulerStats>;
  } | undefined;
}

/** Events of a node. */
export interface NodeEvents {
  /** The state changed. */
  state: { readonly state: NodeState };
  'peer:join': { readonly peerId: PeerId };
  'peer:leave': { readonly peerId: PeerId };
  /** A rollback match started: this node's slot and the players. */
  match: { readonly localSlot: number; readonly peers: readonly PeerId[] };
  /** A part failed while running (the node keeps running where it can). */
  error: { readonly part: string; readonly error: unknown };
}

/** Where {@link PeerComputeNode.submitTask} runs a task. */
export type TaskPlacement = 'auto' | 'local' | 'worker' | 'room';

/** Options of {@link PeerComputeNode.submitTask}. */
export interface SubmitTaskOptions {
  /**
   * `'auto'` (default): the local GPU when this node has one and the kernel a GPU path; else the
   * room when a peer with WebGPU offers capacity (a peer without WebGPU gets GPU results); else a
   * worker; else the calling thread. `'local'`: this node's backend on the calling thread;
   * `'worker'`: the worker pool; `'room'`: room compute (verified).
   */
  readonly where?: TaskPlacement;
  readonly signal?: AbortSignal;
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string'
  && typeof (globalThis as { document?: unknown }).document === 'undefined';

type Handler<K extends keyof NodeEvents> = (event: NodeEvents[K]) => void;

/** A rollback session's parts: undefined while waiting for the players. */
interface RollbackState {
  session: P2PSession | undefined;
  system: RollbackSystem | undefined;
  localSlot: number | undefined;
}

/** A PeerCompute peer assembled by {@link createNode}. */
export class PeerComputeNode {
  #state: NodeState = 'created';
  readonly #options: NodeOptions;
  readonly #handlers = new Map<keyof NodeEvents, Set<Handler<keyof NodeEvents>>>();
  /** Undo steps of what start() built, run in reverse by stop(). */
  readonly #cleanup: { part: string; run: () => unknown }[] = [];
  #world: GameWorld | undefined;
  #scheduler: Scheduler | undefined;
  #tasks: ComputeTasks | undefined;
  #backend: ComputeBackend | undefined;
  #pool: WorkerPool | undefined;
  #peer: Peer | undefined;
  #room: RoomTransport | undefined;
  #roomCompute: RoomCompute | undefined;
  #replicator: Replicator | undefined;
  #provider: YRoomProvider | undefined;
  #rollback: RollbackState | undefined;

  /** @throws NodeError `InvalidConfig` (see `checkNodeOptions`). */
  constructor(options: NodeOptions = {}) {
    checkNodeOptions(options);
    this.#options = options;
  }

  /** Current state. */
  get state(): NodeState {
    return this.#state;
  }

  /**
   * The world. With a rollback session it exists once the match started (`match` event).
   * @throws NodeError `InvalidState` before `start()` or before the match.
   */
  get world(): GameWorld {
    if (this.#world === undefined) throw new NodeError('InvalidState', `the node has no world yet (state ${this.#state})`, { state: this.#state });
    return this.#world;
  }

  /** The world's scheduler. @throws NodeError `InvalidState` as {@link world}. */
  get scheduler(): Scheduler {
    if (this.#scheduler === undefined) throw new NodeError('InvalidState', `the node has no scheduler yet (state ${this.#state})`, { state: this.#state });
    return this.#scheduler;
  }

  /** The compute backend (after `start()`). */
  get backend(): ComputeBackend | undefined {
    return this.#backend;
  }

  /** The room transport (after `start()` of a networked node). */
  get room(): RoomTransport | undefined {
    return this.#room;
  }

  /** The replicator of a replication session (after `start()`). */
  get replicator(): Replicator | undefined {
    return this.#replicator;
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof NodeEvents>(event: K, handler: (event: NodeEvents[K]) => void): () => void {
    let set = this.#handlers.get(event);
    if (set === undefined) this.#handlers.set(event, (set = new Set()));
    const h = handler as Handler<keyof NodeEvents>;
    set.add(h);
    return () => void set.delete(h);
  }

  #emit<K extends keyof NodeEvents>(event: K, payload: NodeEvents[K]): void {
    for (const h of [...(this.#handlers.get(event) ?? [])]) {
      try {
        (h as Handler<K>)(payload);
      } catch (error) {
        if (event !== 'error') this.#emit('error', { part: `${String(event)} handler`, error });
        else console.error('createNode: error handler threw', error);
      }
    }
  }

  #setState(state: NodeState): void {
    this.#state = state;
    this.#emit('state', { state });
  }

  #onCleanup(part: string, run: () => unknown): void {
    this.#cleanup.push({ part, run });
  }

  /**
   * Builds and connects everything the options ask for, in this order: compute backend,
   * worker pool, world (physics, input), room, session, room compute, ticking.
   * @returns When the node runs (a rollback match starts later, when its players are there).
   * @throws NodeError `InvalidState` when not in state `created`; `NoWebGpu`, `NoRelay`, or
   *   `StartFailed` (with the failing part and the cause) after releasing what was built.
   */
  start(): Promise<void> {
    if (this.#state !== 'created') return Promise.reject(new NodeError('InvalidState', `start() in state ${this.#state}`, { state: this.#state }));
    this.#starting = this.#start();
    return this.#starting;
  }

  #starting: Promise<void> | undefined;

  async #start(): Promise<void> {
    this.#setState('starting');
    let part = 'compute';
    try {
      await this.#startCompute();
      part = 'world';
      await this.#startWorld();
      if (this.#options.network !== undefined) {
        part = 'network';
        await this.#startNetwork();
        part = 'session';
        await this.#startSession();
        part = 'room compute';
        this.#startRoomCompute();
      }
      part = 'ticking';
      await this.#startTicking();
    } catch (error) {
      await this.#release();
      this.#setState('failed');
      if (error instanceof NodeError && error.code !== 'StartFailed') throw error;
      throw new NodeError('StartFailed', `createNode: starting ${part} failed: ${(error as Error)?.message ?? String(error)}`, {
        part, reason: (error as Error)?.message ?? String(error),
      }, { cause: error });
    }
    this.#setState('running');
  }

  async #startCompute(): Promise<void> {
    const mode = this.#options.webgpu ?? 'auto';
    let backend: ComputeBackend;
    if (mode === 'off') {
      backend = await acquireCompute({ prefer: 'cpu' });
    } else if (isNode) {
      // Node-only module, loaded by a computed URL so that browser bundles never see it.
      const nodeGpu = new URL('../shaders/node-gpu.ts', import.meta.url).href;
      const { acquireNodeCompute } = (await import(/* @vite-ignore */ nodeGpu)) as typeof import('../shaders/node-gpu.ts');
      backend = await acquireNodeCompute();
    } else {
      backend = await acquireCompute();
    }
    this.#backend = backend;
    this.#onCleanup('compute backend', () => backend.dispose());
    if (mode === 'require' && backend.kind !== 'webgpu') {
      throw new NodeError('NoWebGpu', `createNode: webgpu 'require' but no WebGPU device: ${backend.reason}`, { reason: backend.reason });
    }
    const hardware = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 2;
    const size = this.#options.workers ?? (isNode ? 0 : Math.max(1, hardware - 1));
    if (size > 0) {
      const pool = createWorkerPool({ size });
      this.#pool = pool;
      this.#onCleanup('worker pool', () => pool.close());
    }
  }

  async #startWorld(): Promise<void> {
    const o = this.#options;
    if (o.session?.kind === 'rollback') return; // the match makes the game
    const world = o.world ?? createWorld({
      seed: o.seed ?? 1, tickRate: o.tickRate ?? DEFAULT_NODE_TICK_RATE, ...(o.maxEntities === undefined ? {} : { maxEntities: o.maxEntities }),
    });
    const scheduler = o.scheduler ?? new Scheduler(world);
    await this.#setUpWorld(world, scheduler, true);
  }

  /** Physics, input (unless rollback feeds it) and compute tasks on a world. */
  async #setUpWorld(world: GameWorld, scheduler: Scheduler, withInput: boolean): Promise<void> {
    const o = this.#options;
    if (o.physics !== undefined && o.physics !== false) {
      await initPhysics();
      const physics = createPhysics(world, scheduler, o.physics === true ? {} : o.physics);
      this.#onCleanup('physics', () => physics.dispose?.());
    }
    if (withInput && o.input !== undefined) {
      const remove = scheduler.addSystem(Phase.Input, createInputSystem(o.input), 'nodeInputSystem');
      this.#onCleanup('input', remove);
    }
    this.#useComputeTasks(world, scheduler);
  }

  /** The world's compute task queue: the one the game installed (e.g. the terrain plugin), or a new one. */
  #useComputeTasks(world: GameWorld, scheduler: Scheduler): void {
    const existing = findResource(world, COMPUTE_TASKS);
    if (existing !== undefined) {
      this.#tasks = existing;
    } else {
      this.#tasks = installComputeTasks(scheduler);
      this.#onCleanup('compute tasks', () => uninstallComputeTasks(scheduler));
    }
    this.#world = world;
    this.#scheduler = scheduler;
  }

  async #startNetwork(): Promise<void> {
    const network = this.#options.network!;
    let room = network.transport;
    if (room === undefined) {
      let relays = network.relays;
      if (relays === undefined || relays.length === 0) {
        if (isNode) throw new NodeError('NoRelay', 'createNode: network.relays is required in Node (e.g. the main job\'s TCP relay address)', { option: 'network.relays' });
        relays = (await discoverRelays()).relays;
        if (relays.length === 0) throw new NodeError('NoRelay', 'createNode: the server names no relay (start it with "npm start", or add ?relay=<multiaddr>)', {});
      }
      const peer = await createPeer({ ...network.peer, relays: [...relays] });
      this.#peer = peer;
      this.#onCleanup('peer', () => peer.close());
      room = await joinRoom(peer, network.room, this.#options.topology === undefined ? {} : { topology: this.#options.topology });
    }
    const joined = room;
    this.#room = joined;
    this.#onCleanup('room', () => joined.close());
    const offJoin = joined.on('peer:join', ({ peerId }) => this.#emit('peer:join', { peerId }));
    const offLeave = joined.on('peer:leave', ({ peerId }) => this.#emit('peer:leave', { peerId }));
    this.#onCleanup('room events', () => { offJoin(); offLeave(); });
  }

  async #startSession(): Promise<void> {
    const session = this.#options.session;
    const room = this.#room!;
    if (session === undefined) return;
    if (session.kind === 'replication') {
      const doc = new Y.Doc();
      this.#onCleanup('document', () => doc.destroy());
      const storage = this.#options.storage;
      if (storage === 'indexeddb') {
        const stored: BrowserPersistence = persistInBrowser(doc, `peercompute/${room.roomId}`);
        this.#onCleanup('storage', () => stored.destroy());
        await stored.whenLoaded;
      } else if (typeof storage === 'object') {
        // Node only (LevelDB is native): loaded by a computed URL so that bundles never see it.
        const nodeOnly = new URL('../netcode/relay/index.ts', import.meta.url).href;
        const { persistInLevelDb } = (await import(/* @vite-ignore */ nodeOnly)) as typeof import('../netcode/relay/index.ts');
        const stored = persistInLevelDb(doc, storage.leveldb, room.roomId);
        this.#onCleanup('storage', () => stored.destroy());
        await stored.whenLoaded;
      }
      const authority = new EcsAuthority();
      const provider = new YRoomProvider(doc, room, { beforeApply: authority.beforeApply });
      this.#provider = provider;
      this.#onCleanup('provider', () => provider.destroy());
      const replicator = replicateWorld(this.#world!, provider, {
        components: session.components, authority, clock: new RealClock(),
        ...(session.networkHz === undefined ? {} : { networkHz: session.networkHz }),
      });
      this.#replicator = replicator;
      this.#onCleanup('replicator', () => replicator.dispose());
      if (session.presence !== undefined) provider.awareness.setLocalState(session.presence);
      return;
    }
    // Rollback: wait for the players, then build the game and the session.
    const rollback: RollbackState = { session: undefined, system: undefined, localSlot: undefined };
    this.#rollback = rollback;
    const tryStart = (): void => {
      if (rollback.session !== undefined || this.#state === 'stopping' || this.#state === 'stopped') return;
      const members = [room.localPeerId, ...room.peers()].sort();
      if (members.length < session.players) return;
      const peers = members.slice(0, session.players);
      const localSlot = peers.indexOf(room.localPeerId);
      if (localSlot < 0) return; // more peers than players: the lowest ids play
      try {
        this.#startMatch(session, peers, localSlot);
      } catch (error) {
        this.#emit('error', { part: 'rollback match', error });
      }
    };
    const off = room.on('peer:join', tryStart);
    this.#onCleanup('match wait', off);
    queueMicrotask(tryStart);
  }

  #startMatch(session: Extract<NonNullable<NodeOptions['session']>, { kind: 'rollback' }>, peers: readonly PeerId[], localSlot: number): void {
    const rollback = this.#rollback!;
    const game: RollbackGame = session.createGame({ peers, localSlot });
    this.#useComputeTasks(game.world, game.scheduler);
    const builder = new SessionBuilder().withNumPlayers(session.players).withInputDelay(session.inputDelay ?? 2);
    peers.forEach((id, slot) => builder.addPlayer(slot === localSlot ? { kind: 'local' } : { kind: 'remote', peerId: id }, slot));
    const p2p = builder.startP2PSession(this.#room!);
    rollback.session = p2p;
    rollback.localSlot = localSlot;
    this.#onCleanup('rollback session', () => p2p.close());
    const system = attachRollback(game.world, game.scheduler, p2p, {
      players: game.players,
      ...(this.#options.input === undefined ? {} : { localInput: this.#options.input }),
      ...(session.onChecksum === undefined ? {} : { onChecksum: session.onChecksum }),
    });
    rollback.system = system;
    this.#onCleanup('rollback system', () => system.dispose());
    if ((this.#options.tick ?? 'auto') === 'auto' && this.#ticking === 'timer') this.#tickTarget = game.scheduler;
    this.#emit('match', { localSlot, peers });
  }

  #startRoomCompute(): void {
    const setting = this.#options.roomCompute ?? true;
    if (setting === false) return;
    const backend = this.#backend!;
    const hardware = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 2;
    const slots = typeof setting === 'object' && setting.slots !== undefined ? setting.slots : Math.max(1, this.#pool?.stats.size ?? hardware - 1);
    const roomCompute = createRoomCompute(this.#room!, {
      capability: {
        webgpu: backend.kind === 'webgpu',
        adapter: backend.kind === 'webgpu' ? backend.adapterName.slice(0, 120) : '',
        slots,
      },
      // Tasks from the room run here like our own 'auto' tasks, never in the room again.
      execute: (kernel, input, signal) => this.#runHere(prepareKernelTask(kernel, input), kernel, input, signal),
      validate: (kernel, input) => void prepareKernelTask(kernel, input),
      maxOutputBytes: (kernel) => getKernel(kernel)?.maxOutputBytes,
      // submitTask decides when to run here; the room is for other peers (here only as the last resort).
      local: 'fallback',
      ...(typeof setting === 'object' && setting.verify !== undefined ? { verify: setting.verify } : {}),
    });
    this.#roomCompute = roomCompute;
    this.#onCleanup('room compute', () => roomCompute.close());
  }

  #ticking: 'timer' | 'babylon' | 'manual' = 'manual';
  #tickTarget: Scheduler | undefined;

  async #startTicking(): Promise<void> {
    const o = this.#options;
    if (o.babylon !== undefined) {
      if (this.#scheduler === undefined) throw new NodeError('InvalidConfig', 'babylon cannot be used with a rollback session', { option: 'babylon' });
      const { attachPeerCompute } = await import('../plugins/babylon/index.ts');
      const runtime = attachPeerCompute(o.babylon.scene as Parameters<typeof attachPeerCompute>[0], {
        world: this.#world!, scheduler: this.#scheduler, driveScheduler: (o.tick ?? 'auto') === 'auto',
        ...(o.babylon.overlay === undefined ? {} : { overlay: o.babylon.overlay }),
      });
      this.#ticking = 'babylon';
      this.#onCleanup('babylon plugin', () => runtime.dispose());
      return;
    }
    if ((o.tick ?? 'auto') === 'manual') return;
    this.#ticking = 'timer';
    this.#tickTarget = this.#scheduler;
    let last = performance.now();
    const stepMs = 1000 / (o.tickRate ?? this.#scheduler?.world.time.tickRate ?? DEFAULT_NODE_TICK_RATE);
    const timer = setInterval(() => {
      const now = performance.now();
      const elapsed = now - last;
      last = now;
      try {
        this.#tickTarget?.advance(elapsed);
      } catch (error) {
        this.#emit('error', { part: 'tick', error });
      }
    }, Math.max(1, Math.floor(stepMs / 2)));
    this.#onCleanup('tick timer', () => clearInterval(timer));
  }

  /** Runs a checked task on this node: GPU when it has one and the kernel a GPU path, else a worker, else here. */
  async #runHere(task: PreparedKernelTask, name: string, input: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const backend = this.#backend!;
    if (backend.kind === 'webgpu' && task.kernel.run !== undefined) return runPrepared(backend, task);
    if (this.#pool !== undefined) return this.#pool.run(name, input, { transfer: false, ...(signal === undefined ? {} : { signal }) });
    return runPrepared(backend, task);
  }

  /**
   * Runs a registered kernel (`shaders/kernels.ts`) by name on bytes, where `options.where`
   * says. The result is the kernel's output bytes, identical wherever it ran.
   * @throws NodeError `InvalidState` unless running; `InvalidConfig` for a placement the node
   *   lacks (`'worker'` without workers, `'room'` without room compute); ShadersError
   *   `UnknownKernel`/`MalformedInput`/`InvalidOption` for a bad task; NetcodeError
   *   `ComputeFailed` from the room.
   */
  async submitTask(kernel: string, input: Uint8Array, options: SubmitTaskOptions = {}): Promise<Uint8Array> {
    if (this.#state !== 'running') throw new NodeError('InvalidState', `submitTask() in state ${this.#state}`, { state: this.#state });
    const task = prepareKernelTask(kernel, input);
    const where = options.where ?? 'auto';
    const signal = options.signal;
    if (where === 'local') return runPrepared(this.#backend!, task);
    if (where === 'worker') {
      if (this.#pool === undefined) throw new NodeError('InvalidConfig', 'submitTask where: \'worker\' but the node has no workers (option workers)', { option: 'workers' });
      return this.#pool.run(kernel, input, { transfer: false, ...(signal === undefined ? {} : { signal }) });
    }
    if (where === 'room') {
      if (this.#roomCompute === undefined) throw new NodeError('InvalidConfig', 'submitTask where: \'room\' but the node has no room compute', { option: 'roomCompute' });
      return this.#roomCompute.submit(kernel, input, signal === undefined ? {} : { signal });
    }
    const gpuHere = this.#backend!.kind === 'webgpu' && task.kernel.run !== undefined;
    if (!gpuHere && this.#roomCompute !== undefined && this.#roomCompute.peers().some((p) => p.capability?.webgpu === true && !p.excluded && p.capability.slots > 0)) {
      return this.#roomCompute.submit(kernel, input, signal === undefined ? {} : { signal });
    }
    return this.#runHere(task, kernel, input, signal);
  }

  /** A snapshot of the node's figures (see {@link NodeStatus}). */
  getStatus(): NodeStatus {
    const room = this.#room;
    const stats = room?.stats();
    const peers: NodePeerStatus[] = (stats?.peers ?? []).map((p) => ({ peerId: p.peerId, rttMs: p.rttMs, connection: p.connection }));
    const backend = this.#backend;
    let session: NodeStatus['session'] = { kind: 'none' };
    if (this.#replicator !== undefined) session = { kind: 'replication', stats: this.#replicator.stats() };
    else if (this.#rollback !== undefined) {
      const r = this.#rollback;
      session = {
        kind: 'rollback',
        state: r.session?.state ?? 'waiting',
        localSlot: r.localSlot,
        frame: r.session?.currentFrame,
        confirmedFrame: r.session?.confirmedFrame,
        stats: r.system?.stats === undefined ? undefined : { ...r.system.stats },
      };
    }
    const scheduler = this.#scheduler;
    return {
      state: this.#state,
      peerId: room?.localPeerId,
      room: room?.roomId,
      peers,
      session,
      compute: {
        backend: backend === undefined ? 'none' : backend.kind,
        detail: backend === undefined ? '' : backend.kind === 'webgpu' ? backend.adapterName : backend.reason,
        tasks: this.#tasks === undefined ? undefined : { ...this.#tasks.stats },
        workers: this.#pool?.stats,
        room: this.#roomCompute?.stats(),
        peers: this.#roomCompute?.peers() ?? [],
      },
      tick: scheduler === undefined ? undefined : {
        tick: scheduler.world.time.tick, tickRate: scheduler.world.time.tickRate, timing: { ...scheduler.stats },
      },
    };
  }

  /**
   * Releases everything `start()` built, newest first: ticking, room compute, session, room,
   * peer, compute tasks, physics, worker pool, GPU device. Safe to call twice and in any state
   * (during `start()` it waits for it to end first); a part that fails to release is reported on
   * `error` and the others are still released.
   */
  async stop(): Promise<void> {
    if (this.#state === 'starting') await this.#starting?.catch(() => undefined); // then stop what it built
    if (this.#state === 'stopped' || this.#state === 'stopping' || this.#state === 'failed') return;
    if (this.#state === 'created') {
      this.#setState('stopped');
      return;
    }
    this.#setState('stopping');
    await this.#release();
    this.#setState('stopped');
  }

  async #release(): Promise<void> {
    while (this.#cleanup.length > 0) {
      const { part, run } = this.#cleanup.pop()!;
      try {
        await run();
      } catch (error) {
        this.#emit('error', { part: `stop ${part}`, error });
      }
    }
    this.#tickTarget = undefined;
    this.#roomCompute = undefined;
    this.#pool = undefined;
  }
}

/**
 * Creates a node (nothing starts until {@link PeerComputeNode.start}).
 * @param options See `NodeOptions` (options.ts); every field has a default.
 * @throws NodeError `InvalidConfig` naming the offending option.
 */
export function createNode(options: NodeOptions = {}): PeerComputeNode {
  return new PeerComputeNode(options);
}
