/**
 * Test harness of the rollback sessions: a toy deterministic game (integer state updated from
 * inputs, no engine), a toy "engine" that carries out requests with a snapshot ring buffer the
 * size the session asks for (so a load of an evicted frame fails loudly), and a runner that
 * ticks several P2P sessions over the in-memory transport in virtual time.
 */
import { Rng, fnv1a32 } from '../../engine/index.ts';
import {
  SessionBuilder,
  type AdvanceResult, type AdvanceStatus, type P2PSession, type PlayerInput, type SessionEvent, type SessionRequest,
} from '../../netcode/rollback/index.ts';
import { MemoryNetwork, type ConditionerOptions, type MemoryRoomTransport } from '../../netcode/transport/index.ts';

/** Status codes mixed into the toy state, so a wrong status changes the state. */
const STATUS_CODE = { confirmed: 1, predicted: 1, disconnected: 7 } as const;

/** A snapshot of the toy game. */
export interface ToySnapshot {
  readonly frame: number;
  readonly pos: Int32Array;
  readonly score: number;
  readonly checksum: number;
}

/**
 * The toy game: per slot a position, and a global score, both i32, updated from the input bytes
 * and statuses of each frame. `bug(frame)` lets a test add non-determinism or divergence.
 */
export class ToyGame {
  frame: number;
  pos: Int32Array;
  score = 0;
  bug: ((game: ToyGame, frame: number) => void) | undefined;

  constructor(readonly numPlayers: number, startFrame = 0) {
    this.frame = startFrame;
    this.pos = new Int32Array(numPlayers);
  }

  step(frame: number, inputs: readonly PlayerInput[]): void {
    if (frame !== this.frame) throw new Error(`advance of frame ${frame} while the game is at ${this.frame}`);
    if (inputs.length !== this.numPlayers) throw new Error(`advance with ${inputs.length} inputs for ${this.numPlayers} players`);
    for (let s = 0; s < this.numPlayers; s++) {
      const b = inputs[s]!.bytes;
      const buttons = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
      const axis = (b[4]! << 24) >> 24;
      this.pos[s] = (Math.imul(this.pos[s]!, 31) + buttons + axis * 3 + STATUS_CODE[inputs[s]!.status] * 1000) | 0;
      this.score = (Math.imul(this.score ^ this.pos[s]!, 0x01000193) + s) | 0;
    }
    this.bug?.(this, frame);
    this.frame++;
  }

  checksum(): number {
    const bytes = new Uint8Array(4 * (this.numPlayers + 2));
    const v = new DataView(bytes.buffer);
    v.setInt32(0, this.frame, true);
    v.setInt32(4, this.score, true);
    for (let s = 0; s < this.numPlayers; s++) v.setInt32(8 + 4 * s, this.pos[s]!, true);
    return fnv1a32(bytes);
  }

  snapshot(): ToySnapshot {
    return { frame: this.frame, pos: this.pos.slice(), score: this.score, checksum: this.checksum() };
  }

  restore(s: ToySnapshot): void {
    this.frame = s.frame;
    this.pos = s.pos.slice();
    this.score = s.score;
  }
}

/** Field-level differences between two toy snapshots, in the engine's `SnapshotDifference` shape. */
export function diffToy(a: ToySnapshot, b: ToySnapshot): { component: string; field: string; eid: number; a: number; b: number }[] {
  const out: { component: string; field: string; eid: number; a: number; b: number }[] = [];
  if (a.frame !== b.frame) out.push({ component: 'tick', field: 'tick', eid: 0, a: a.frame, b: b.frame });
  for (let s = 0; s < a.pos.length; s++) if (a.pos[s] !== b.pos[s]) out.push({ component: 'Position', field: 'x', eid: s, a: a.pos[s]!, b: b.pos[s]! });
  if (a.score !== b.score) out.push({ component: 'Score', field: 'value', eid: 0, a: a.score, b: b.score });
  return out;
}

/** What a toy engine needs from a session. */
export interface ChecksumSink {
  reportChecksum(frame: number, checksum: number): boolean;
}

/**
 * Carries out requests like the engine's Network-phase system would: a ring buffer of
 * `window` snapshots indexed by `frame % window`, checksums reported after every save.
 */
export class ToyEngine {
  readonly game: ToyGame;
  readonly ring: (ToySnapshot | undefined)[];
  /** Inputs each frame was last advanced with. */
  readonly inputsOf = new Map<number, PlayerInput[]>();
  /** Checksum of the state of frame f (after advancing f - 1), latest simulation. */
  readonly stateOf = new Map<number, number>();
  /** Snapshot of every checksum frame (kept for desync diffs). */
  readonly kept = new Map<number, ToySnapshot>();
  readonly counts = { save: 0, load: 0, advance: 0 };
  /** Called when `reportChecksum` returns false, with the first and the new snapshot. */
  onMismatch: ((frame: number, first: ToySnapshot, now: ToySnapshot) => void) | undefined;

  constructor(numPlayers: number, readonly window: number, startFrame = 0, readonly keepEvery = 0) {
    this.game = new ToyGame(numPlayers, startFrame);
    this.ring = Array.from({ length: Math.max(1, window) }, () => undefined);
  }

  execute(requests: readonly SessionRequest[], sink: ChecksumSink): void {
    for (const r of requests) {
      if (r.kind === 'save') {
        if (this.game.frame !== r.frame) throw new Error(`save of frame ${r.frame} while the game is at ${this.game.frame}`);
        const snap = this.game.snapshot();
        const i = r.frame % this.ring.length;
        const ok = sink.reportChecksum(r.frame, snap.checksum);
        const old = this.ring[i];
        if (!ok && old !== undefined && old.frame === r.frame) this.onMismatch?.(r.frame, old, snap);
        this.ring[i] = snap;
        if (this.keepEvery > 0 && r.frame % this.keepEvery === 0) this.kept.set(r.frame, snap);
        this.counts.save++;
      } else if (r.kind === 'load') {
        const snap = this.ring[r.frame % this.ring.length];
        if (snap === undefined || snap.frame !== r.frame) throw new Error(`load of frame ${r.frame}: not in the ring (holds ${snap?.frame})`);
        this.game.restore(snap);
        this.counts.load++;
      } else {
        this.game.step(r.frame, r.inputs);
        this.inputsOf.set(r.frame, r.inputs.map((x) => ({ bytes: x.bytes.slice(), status: x.status })));
        this.stateOf.set(r.frame + 1, this.game.checksum());
        this.counts.advance++;
      }
    }
  }
}

/** An 8-byte input: u32 buttons + 4 i8 axes (valid InputRecord bytes). */
export function inputBytes(buttons: number, axis = 0): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, buttons >>> 0, true);
  b[4] = axis & 0xff;
  return b;
}

/** Seeded input source: holds an input for a while, then changes it (probability `change` per frame). */
export class InputScript {
  private readonly rng: Rng;
  private current = inputBytes(0);
  constructor(seed: number, private readonly change = 0.2) {
    this.rng = new Rng(seed);
  }
  next(): Uint8Array {
    if (this.rng.nextFloat() < this.change) this.current = inputBytes(this.rng.nextU32(), this.rng.nextInt(255) - 127);
    return this.current;
  }
}

/** Short description of a request list, for exact-sequence assertions. */
export function describe(requests: readonly SessionRequest[]): string[] {
  return requests.map((r) => (r.kind === 'advance' ? `advance ${r.frame} ${r.inputs.map((i) => i.status[0]).join('')}` : `${r.kind} ${r.frame}`));
}

/** One peer of a {@link Mesh}. */
export interface MeshPeer {
  readonly id: string;
  readonly slot: number;
  readonly transport: MemoryRoomTransport;
  readonly session: P2PSession;
  readonly engine: ToyEngine;
  readonly script: InputScript;
  readonly events: SessionEvent[];
  readonly results: { tick: number; status: AdvanceStatus; requests: readonly SessionRequest[] }[];
  /** Whether the test still ticks this peer. */
  alive: boolean;
  /** Ticks to skip (obeying wait recommendations when `obeyWaits`). */
  skip: number;
  /** Longest run of ticks without advancing, and the current run. */
  longestStall: number;
  stall: number;
}

/** Options of {@link createMesh}. */
export interface MeshOptions {
  readonly peers: number;
  readonly seed: number;
  readonly conditioner?: ConditionerOptions;
  /** Adjusts the builder of peer `i` (after the players are added). */
  readonly configure?: (b: SessionBuilder, i: number) => SessionBuilder;
  /** Input change probability per frame. Default 0.2. */
  readonly change?: number;
  readonly peerTimeoutMs?: number;
  readonly keepEvery?: number;
}

/** Players `p0 .. p{n-1}` in one memory room, peer i playing slot i, in virtual time. */
export class Mesh {
  readonly peers: MeshPeer[] = [];
  tick = 0;
  readonly tickMs = 1000 / 60;
  obeyWaits = false;
  /** Called after every step (to tick spectators alongside). */
  readonly onStep: (() => void)[] = [];
  /** Overrides the scripts: the input peer `i` sends for `frame` (its current frame + input delay). */
  inputFor: ((i: number, frame: number) => Uint8Array) | undefined;

  private constructor(readonly net: MemoryNetwork) {}

  static async create(o: MeshOptions): Promise<Mesh> {
    const net = new MemoryNetwork({ seed: o.seed, clock: 'manual', conditioner: o.conditioner, peerTimeoutMs: o.peerTimeoutMs ?? 5000 });
    const mesh = new Mesh(net);
    const ids = Array.from({ length: o.peers }, (_, i) => `p${i}`);
    for (let i = 0; i < o.peers; i++) {
      const transport = await net.join('match', ids[i]);
      let b = new SessionBuilder().withNumPlayers(o.peers);
      ids.forEach((id, s) => (b = b.addPlayer(s === i ? { kind: 'local' } : { kind: 'remote', peerId: id }, s)));
      if (o.configure) b = o.configure(b, i);
      const session = b.startP2PSession(transport, net.clock);
      mesh.peers.push({
        id: ids[i]!, slot: i, transport, session,
        engine: new ToyEngine(o.peers, session.snapshotWindow, session.startFrame, o.keepEvery ?? 0),
        script: new InputScript(1000 + i * 7919 + o.seed, o.change ?? 0.2),
        events: [], results: [], alive: true, skip: 0, longestStall: 0, stall: 0,
      });
    }
    return mesh;
  }

  /** Advances virtual time by one tick and ticks every alive peer once. */
  step(): void {
    this.net.advance(this.tickMs);
    this.tick++;
    for (const p of this.peers) {
      if (!p.alive) continue;
      if (p.skip > 0) {
        p.skip--;
        p.session.poll();
        this.collect(p);
        continue;
      }
      const target = p.session.currentFrame + p.session.inputDelay(p.slot);
      p.session.addLocalInput(p.slot, this.inputFor ? this.inputFor(p.slot, target) : p.script.next());
      const res: AdvanceResult = p.session.advanceFrame();
      p.engine.execute(res.requests, p.session);
      p.results.push({ tick: this.tick, status: res.status, requests: res.requests });
      if (res.status === 'advanced') p.stall = 0;
      else if (res.status === 'PredictionThreshold') p.longestStall = Math.max(p.longestStall, ++p.stall);
      this.collect(p);
    }
    for (const f of this.onStep) f();
  }

  private collect(p: MeshPeer): void {
    for (const e of p.session.drainEvents()) {
      p.events.push(e);
      if (this.obeyWaits && e.kind === 'waitRecommendation') p.skip += e.skipFrames;
    }
  }

  /** Steps until every alive peer is running (or throws after `maxTicks`). */
  synchronize(maxTicks = 600): void {
    for (let i = 0; i < maxTicks; i++) {
      if (this.peers.every((p) => !p.alive || p.session.state === 'running')) return;
      this.step();
    }
    throw new Error('mesh did not synchronize');
  }

  /** Steps until every alive peer reached `frame` (or throws after `maxTicks`). */
  runUntil(frame: number, maxTicks = frame * 4 + 600): void {
    for (let i = 0; i < maxTicks; i++) {
      if (this.peers.every((p) => !p.alive || p.session.currentFrame >= frame)) return;
      this.step();
    }
    throw new Error(`mesh did not reach frame ${frame}: ${this.peers.map((p) => `${p.id}@${p.session.currentFrame}`).join(', ')}`);
  }

  /** Every event of `kind` a peer received. */
  eventsOf<K extends SessionEvent['kind']>(p: MeshPeer, kind: K): Extract<SessionEvent, { kind: K }>[] {
    return p.events.filter((e): e is Extract<SessionEvent, { kind: K }> => e.kind === kind);
  }

  /**
   * Checks what every rollback test needs: for each frame up to the lowest confirmed frame of the
   * alive peers, every alive peer's last simulation used the same input bytes and the same
   * disconnected flags, and reached the same state. Returns that frame.
   */
  assertConsistent(): number {
    const alive = this.peers.filter((p) => p.alive);
    const upTo = Math.min(...alive.map((p) => Math.min(p.session.confirmedFrame, p.session.currentFrame - 1)));
    const start = alive[0]!.session.startFrame;
    for (let f = start; f <= upTo; f++) {
      const ref = alive[0]!;
      const refInputs = ref.engine.inputsOf.get(f);
      if (refInputs === undefined) throw new Error(`${ref.id} never advanced frame ${f}`);
      for (const p of alive) {
        const inputs = p.engine.inputsOf.get(f)!;
        for (let s = 0; s < refInputs.length; s++) {
          const a = refInputs[s]!, b = inputs[s]!;
          if ((a.status === 'disconnected') !== (b.status === 'disconnected') || a.bytes.join() !== b.bytes.join()) {
            throw new Error(`frame ${f} slot ${s}: ${ref.id} used ${a.status} [${a.bytes.join()}], ${p.id} used ${b.status} [${b.bytes.join()}]`);
          }
        }
        if (p.engine.stateOf.get(f + 1) !== ref.engine.stateOf.get(f + 1)) {
          throw new Error(`state of frame ${f + 1} differs: ${ref.id} ${ref.engine.stateOf.get(f + 1)}, ${p.id} ${p.engine.stateOf.get(f + 1)}`);
        }
      }
    }
    return upTo;
  }

  async close(): Promise<void> {
    for (const p of this.peers) p.session.close();
    await this.net.close();
  }
}
