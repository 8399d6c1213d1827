/**
 * ECS binding of replication: components of entities marked {@link Replicated} live in the
 * room's Yjs document, written by their owner once per network tick and read by everyone else
 * through snapshot interpolation.
 *
 * @example
 * ```ts
 * const Position = defineComponent('Position', { x: { type: 'f32', unit: 'm' }, y: { type: 'f32', unit: 'm' } });
 * const Door = defineComponent('Door', { open: 'u8' });
 * const components = [
 *   defineReplicated(Position, { fields: { x: { kind: 'float', step: 0.001 }, y: { kind: 'float', step: 0.001 } } }),
 *   defineReplicated(Door, { authority: 'shared' }),
 * ];                                                       // same list, same order, on every peer
 * const authority = new EcsAuthority();
 * const provider = new YRoomProvider(doc, room, { beforeApply: authority.beforeApply });
 * const repl = replicateWorld(world, provider, { components, authority, clock });
 * const e = spawn(world);
 * addComponent(world, e, Position, { x: 1, y: 2 });
 * addComponent(world, e, Replicated);                      // replicated from the next network tick
 * scheduler.addSystem(Phase.RenderSync, () => repl.interpolate());
 * ```
 *
 * Document layout (one `Y.Doc` shared by the room, see `ecs-authority.ts` for what is enforced):
 * - `c`: Yjs client id → peer id (each replicator writes its own claim with its first write).
 * - `e:<P>`: written only by peer P (structural authority: no honest peer ever writes another
 *   peer's map, so no honest update is ever vetoed). Holds one key `g`, a `Y.Map` (the
 *   generation) of `<netId>` → entity blob (`ecs-codec.ts`: versioned header with ownership
 *   epoch, writer tick, `adoptedFrom`; then the owner components present, quantized, in
 *   ordinal then field order). Spawn sets a key, despawn deletes it.
 * - `s`: `<netId>/<component>/<field>` → number for `shared` components (any peer writes;
 *   Yjs last-writer-wins per field). Values are quantized before writing and only written when
 *   the quantized value changed.
 *
 * Network ids: `<spawner peerId>/<counter base 36>`, e.g. `p0/1a`; stable for the entity's
 * life, whoever owns it later. The local eid of an entity differs per peer; the
 * {@link Replicated} marker holds only an index into this replicator's table (0: not yet seen).
 *
 * Writing (one network tick, {@link Replicator.flush}): one transaction, origin the replicator,
 * holding for each owned entity whose quantized body changed its new blob (the whole entity:
 * all its owner components; unchanged entities are not written), deletions of despawned ones,
 * and changed shared fields. Nothing changed: no transaction. Why whole entities rather than
 * single fields of owner components: one Yjs map entry per field costs its own item header
 * (key, parent, client/clock) on every write. Measured with Yjs 13.6, 60 entities, fields as
 * small integers: 35.3 B per entity update when all 3 fields change and 12.1 B when one changes,
 * against 17.3 B for one blob holding the 3 fields. Moving things change most of their fields
 * each tick, so the blob is the cheaper unit; unchanged entities are not written at all. Measured (3 fields at 1 mm,
 * every entity moving every tick, compactions included): 18.8 B per entity update in Yjs
 * updates for 60 entities (22.2 KiB/s to each other peer) and 19.7 B for 500 (193.7 KiB/s),
 * against 9.2 and 10.2 B for a raw stream of (varuint index, quantized fields): ratio about 2.
 *
 * Document growth and compaction. Overwriting a map key leaves a tombstone item in Yjs (about
 * 9 bytes for a map entry: measured 100 entities at 20 Hz grow a document 10.8 MB in 10 minutes).
 * Tombstones inside a deleted nested type become GC structs that merge with their neighbours,
 * so every `compactIntervalMs` (default 5 s) the writer replaces its generation map `g` with a
 * fresh one holding the latest blob of each owned entity: everything written into the old
 * generation collapses. What stays per compaction is one tombstone of the `g` entry. Measured
 * (tests/unit/replication-ecs-growth.test.ts, 100 entities moving every tick at 20 Hz, 3 fields
 * at 1 mm, compaction every 5 s), document bytes (`Y.encodeStateAsUpdate`), same on writer and
 * reader: 2 669 after 10 s and 3 730 after 10 min (both just after a compaction); 50 083 at
 * 9.5 s and 57 727 at 599.5 s (just before one: ~100 ticks of tombstones). Without compaction:
 * 105 340 after 10 s, 705 339 after 60 s (about 10 MB per 10 min). Residual growth: ~9 B per
 * compaction after it, ~65 B per compaction at the peak (about 1.4 MB a day at 5 s; a room that
 * must live for weeks should also be re-created from a snapshot now and then: left out).
 * The cost: one full rewrite of the writer's entities per compaction.
 *
 * Reading (remote transactions): changed generation entries are decoded (malformed → counted
 * `malformedBlob`, ignored); an entry whose Yjs author is not bound to the map's peer is ignored
 * (`forgedEntry`). Copies of one netId in several writer maps (transfer, adoption) resolve to
 * the highest `(epoch, writer peer id)`, compared as (number, string); a peer that finds a
 * higher copy than its own deletes its own at its next network tick and stops writing.
 * First sight creates a local eid with the components of the blob (plus `Replicated`); a
 * resolved entity disappearing from every map despawns it.
 *
 * Interpolation ({@link Replicator.interpolate}): each remote entity keeps its last
 * `maxSnapshots` (16) states with the writer's tick. A writer's tick `k` is placed on the local
 * timeline at `k × tickMs + offset`, `offset` = the smallest `receive time − k × tickMs` seen
 * from that writer (the fastest delivery), so jitter does not move samples: states keep the
 * writer's even spacing. The render time is `now − interpolationDelayMs`; between two states
 * float fields blend linearly, int fields take the older state; before the first state the
 * first is shown, after the last the last is held (no extrapolation). An entity at rest is not
 * rewritten, so the next state after a rest interpolates over the rest (error below one tick's
 * motion). Jitter up to `interpolationDelayMs − tickMs` is thus invisible; the one visible
 * effect is the offset estimate improving when a faster delivery arrives (measured at 2 m/s,
 * 40 ± 30 ms: rendered steps per 10 ms between 0.0200 and 0.0244 m instead of 0.0200).
 *
 * Ownership: {@link Replicator.requestOwnership} sends a request on `repl/own`; the owner (if
 * `allowTransfer` agrees, default yes) stops writing at once and sends the grant with the latest
 * blob and `epoch + 1`; the new owner takes the entity from that state and writes it into its
 * own map with the new epoch at its next tick. The old owner keeps its (frozen) copy until it
 * sees the new one, then deletes it (deleting it with the grant would make readers despawn
 * and respawn the entity during the hand-over). At every instant at most one peer writes the
 * entity. The granter takes the entity back with `epoch + 2` when the grantee leaves before
 * writing, when the grantee answers with a `decline` (it dropped the grant: its view changed
 * while the grant was in flight), and when no copy of the grantee appears within
 * `GRANT_TIMEOUT_TICKS` (10 s: a grant or decline lost to a partition; a late copy then simply
 * loses to the higher epoch). A grantee that despawns the entity before the granter saw its copy
 * publishes its copy first and deletes it once the granter's frozen copy is gone (at most
 * `GRANT_HOLD_TICKS`, 5 s), or the frozen copy would win everywhere. Disconnect: when the owner leaves the room, the lowest peer id among the
 * remaining members (and us) adopts its entities: `epoch + 1`, `adoptedFrom` set, from their
 * newest received state. Peers that disagree about who is lowest (partition) both adopt; the
 * copy rule leaves one. A returning owner finds higher copies and drops its own.
 *
 * Tested by a seeded 5-peer fuzz (tests/unit/replication-ecs-fuzz.test.ts: loss, duplication,
 * reordering, a partition, a timed-out peer, ownership churn): every peer ends with the same
 * entities, values and single owner per entity.
 *
 * Left out: shared components are applied directly (not interpolated); components removed
 * from a remote entity are not removed locally; a remote entity despawned locally is re-created
 * on its next change; orphans of a peer that left before anyone could adopt them (room empty)
 * are adopted by nobody.
 */
import * as Y from 'yjs';
import {
  addComponent, defineComponent, despawn, hasComponent, isAlive, onComponentAdded, onComponentRemoved, query,
  spawn, storeOf, type ComponentDef, type FieldArray, type GameWorld, type Schema,
} from '../../engine/index.ts';
import { NetcodeError } from '../errors.ts';
import type { Clock } from '../transport/clock.ts';
import type { MessageEvent, PeerId } from '../transport/types.ts';
import { CLAIMS_ROOT, GENERATION_KEY, SHARED_ROOT, WRITER_ROOT_PREFIX, type EcsAuthority } from './ecs-authority.ts';
import {
  MAX_REPLICATED_COMPONENTS, decodeBlob, decodeOwnership, defaultQuantization, encodeBlob, encodeBlobBody, encodeOwnership,
  formatNetId, isNetId, type BlobLayout, type DecodedBlob, type Quantization, type QuantizedField,
} from './ecs-codec.ts';
import type { YRoomProvider } from './provider.ts';

/** Default network tick rate, Hz (one transaction at most every 50 ms). */
export const DEFAULT_NETWORK_HZ = 20;
/** Default interpolation delay, ms: remote entities are shown this far in the past. */
export const DEFAULT_INTERPOLATION_DELAY_MS = 100;
/** Default interval between compactions of a writer's generation map, ms. */
export const DEFAULT_COMPACT_INTERVAL_MS = 5000;
/** Default states kept per remote entity. */
export const DEFAULT_MAX_SNAPSHOTS = 16;
/** Default channel of ownership requests and grants. */
export const DEFAULT_OWNERSHIP_CHANNEL = 'repl/own';

/**
 * The replication marker: entities having it are replicated. Its one field is this peer's
 * index into the replicator's network id table (0: not registered yet; set by the replicator,
 * never by game code). Not rolled back (it is local bookkeeping).
 */
export const Replicated = defineComponent('Replicated', { index: 'u32' }, { rollback: false, doc: 'replicated entity: index into the network id table' });

const REPLICATED_ONLY = [Replicated] as const;

/**
 * Network ticks a grantee that despawns an entity soon after its grant keeps its copy while
 * waiting for the grantor's frozen copy to go (5 s at 20 Hz); see {@link Replicator.flush}.
 */
const GRANT_HOLD_TICKS = 100;
/**
 * Network ticks a grantor waits for its grantee's copy before taking the entity back (at the
 * grant's epoch + 1, so above any copy the grantee may still write): 10 s at 20 Hz. A grant or
 * its decline lost to a partition or a reconnect would otherwise leave the entity with no writer.
 * If the grantee did take it and its copy was only late, the two copies resolve like any others
 * (the higher epoch wins) and the grantee stops writing.
 */
const GRANT_TIMEOUT_TICKS = 200;

/** `'owner'`: one peer writes, the others read (interpolated). `'shared'`: any peer writes, last writer wins per field. */
export type Authority = 'owner' | 'shared';

/** A component declared replicated. */
export interface ReplicatedComponent<S extends Schema = Schema> {
  readonly def: ComponentDef<S>;
  readonly authority: Authority;
  /** Fields in declaration order with their quantization. */
  readonly fields: readonly QuantizedField[];
}

/** Options of {@link defineReplicated}. */
export interface ReplicatedOptions<S extends Schema> {
  /** Default `'owner'`. */
  readonly authority?: Authority;
  /** Quantization per field; fields not named get {@link defaultQuantization} of their type. */
  readonly fields?: { readonly [K in keyof S]?: Quantization };
}

/**
 * Declares `def` replicated. Pass the results to {@link replicateWorld} in the same order on
 * every peer (the order gives the ordinals of the blob's component mask).
 * @throws NetcodeError `InvalidConfig` for a field name not in the schema, or a float step that
 *   is not a finite number > 0.
 */
export function defineReplicated<S extends Schema>(def: ComponentDef<S>, options: ReplicatedOptions<S> = {}): ReplicatedComponent<S> {
  const authority = options.authority ?? 'owner';
  if (authority !== 'owner' && authority !== 'shared') {
    throw new NetcodeError('InvalidConfig', `defineReplicated(${def.name}): authority must be 'owner' or 'shared', got ${String(authority)}`, { component: def.name });
  }
  const given = (options.fields ?? {}) as Record<string, Quantization | undefined>;
  for (const name of Object.keys(given)) {
    if (!def.fields.some((f) => f.name === name)) {
      throw new NetcodeError('InvalidConfig', `defineReplicated(${def.name}): no field ${name}`, { component: def.name, field: name });
    }
  }
  const fields = def.fields.map((f) => {
    const q = given[f.name] ?? defaultQuantization(f.type);
    if (q.kind === 'float' && !(Number.isFinite(q.step) && q.step > 0)) {
      throw new NetcodeError('InvalidConfig', `defineReplicated(${def.name}): field ${f.name} needs a step > 0, got ${String(q.step)}`, { component: def.name, field: f.name });
    }
    return { name: f.name, type: f.type, q, linear: q.kind !== 'int' };
  });
  return Object.freeze({ def, authority, fields: Object.freeze(fields) });
}

/** Options of {@link replicateWorld}. */
export interface ReplicateWorldOptions {
  /** Replicated components, same list and order on every peer. */
  readonly components: readonly ReplicatedComponent[];
  /** The guard installed as the provider's `beforeApply` (see {@link EcsAuthority}). */
  readonly authority: EcsAuthority;
  /** Network ticks per second. Default {@link DEFAULT_NETWORK_HZ}. */
  readonly networkHz?: number;
  /** Render delay of remote entities, ms. Default {@link DEFAULT_INTERPOLATION_DELAY_MS}. */
  readonly interpolationDelayMs?: number;
  /** Compaction interval, ms; 0 turns compaction off. Default {@link DEFAULT_COMPACT_INTERVAL_MS}. */
  readonly compactIntervalMs?: number;
  /** States kept per remote entity (>= 2). Default {@link DEFAULT_MAX_SNAPSHOTS}. */
  readonly maxSnapshots?: number;
  /**
   * Clock of network ticks and receive times. With one, `flush` runs by itself every
   * `1000 / networkHz` ms; without one, call {@link Replicator.flush} each network tick and
   * pass times to `interpolate` (receive times then use `performance.now()`).
   */
  readonly clock?: Clock;
  /** Channel of ownership messages. Default {@link DEFAULT_OWNERSHIP_CHANNEL}. */
  readonly ownershipChannel?: string;
  /** Whether to grant `netId` to `to` when asked. Default: always. */
  readonly allowTransfer?: (netId: string, to: PeerId) => boolean;
}

/** Counters of a {@link Replicator}. */
export interface ReplicatorStats {
  /** Entities in the table now, owned here and remote. */
  readonly owned: number;
  readonly remote: number;
  /** Network ticks run, and those that wrote a transaction. */
  readonly ticks: number;
  readonly transactions: number;
  /** Bytes of the Yjs updates of our transactions (what the provider broadcasts). */
  readonly updateBytes: number;
  /** Entity blobs and shared fields written. */
  readonly blobsWritten: number;
  readonly sharedWritten: number;
  readonly compactions: number;
  /** Grants taken back because no copy of the grantee appeared in time (lost grant or decline). */
  readonly grantsTimedOut: number;
  /** Dropped input from peers: undecodable blobs, entries by an author not bound to the map's peer, bad shared values, bad ownership messages, grants we did not expect. */
  readonly drops: Readonly<Record<'malformedBlob' | 'forgedEntry' | 'invalidShared' | 'malformedMessage' | 'unexpectedGrant', number>>;
}

interface Snapshot { readonly tick: number; readonly mask: number; readonly values: Float64Array }

interface Entry {
  readonly netId: string;
  readonly index: number;
  eid: number;
  owned: boolean;
  /** Ownership epoch of our copy (owned) or of the resolved copy (remote). */
  epoch: number;
  adoptedFrom: string;
  /** Remote: the peer whose copy wins. Owned: us. */
  owner: PeerId;
  /** Owned: last body written, and the full blob (for compaction and grants). */
  lastBody: Uint8Array | undefined;
  lastBlob: Uint8Array | undefined;
  /** Owned, despawned locally: delete at the next tick. */
  removed: boolean;
  /** Granted to this peer, its copy not seen yet. */
  grantedTo: PeerId | undefined;
  /** Tick after which an unanswered grant is taken back ({@link GRANT_TIMEOUT_TICKS}). */
  grantUntil: number;
  /** Owned by grant from this peer, whose frozen copy may still be in its map (see {@link Replicator.flush}). */
  heldFrom: PeerId | undefined;
  /** Whether the grantor's copy was seen since the grant, and the tick after which we stop waiting for it to go. */
  heldSeen: boolean;
  heldUntil: number;
  /** Remote: received states, oldest first. */
  snaps: Snapshot[];
}

/**
 * Binds a world to a provider's document; see the module doc. Call {@link dispose} to stop.
 * @throws NetcodeError `InvalidConfig` for bad options (named in the message), more than
 *   {@link MAX_REPLICATED_COMPONENTS} owner components, or a component listed twice.
 */
export function replicateWorld(world: GameWorld, provider: YRoomProvider, options: ReplicateWorldOptions): Replicator {
  return new Replicator(world, provider, options);
}

/** A world bound to a room's document. Made by {@link replicateWorld}. */
export class Replicator {
  readonly world: GameWorld;
  readonly provider: YRoomProvider;
  readonly peerId: PeerId;
  /** Network tick period, ms. */
  readonly tickMs: number;
  readonly interpolationDelayMs: number;

  private readonly doc: Y.Doc;
  private readonly authority: EcsAuthority;
  private readonly clock: Clock | undefined;
  private readonly compactIntervalMs: number;
  private readonly maxSnapshots: number;
  private readonly channel: string;
  private readonly allowTransfer: (netId: string, to: PeerId) => boolean;
  private readonly layout: BlobLayout;
  private readonly owner: readonly ReplicatedComponent[];
  private readonly shared: readonly ReplicatedComponent[];
  private readonly table: (Entry | undefined)[] = [undefined];
  private readonly byNetId = new Map<string, Entry>();
  /** netId → writer → decoded copy (valid entries of every writer map, ours included). */
  private readonly copies = new Map<string, Map<PeerId, DecodedBlob>>();
  private readonly generations = new Map<PeerId, Y.Map<unknown>>();
  /** Per writer: smallest (receive time − tick × tickMs), ms. */
  private readonly offsets = new Map<PeerId, number>();
  /** Shared key → canonical value last written or received. */
  private readonly lastShared = new Map<string, number>();
  private readonly requested = new Set<string>();
  private readonly unsubscribe: (() => void)[] = [];
  private netCounter = 0;
  private tick = 0;
  private lastCompactMs: number;
  private claimed = false;
  private adding = false;
  private disposed = false;
  private cancelTick: (() => void) | undefined;
  private readonly counters = { ticks: 0, transactions: 0, updateBytes: 0, blobsWritten: 0, sharedWritten: 0, compactions: 0, grantsTimedOut: 0 };
  private readonly dropCounts = { malformedBlob: 0, forgedEntry: 0, invalidShared: 0, malformedMessage: 0, unexpectedGrant: 0 };

  /** @internal Use {@link replicateWorld}. */
  constructor(world: GameWorld, provider: YRoomProvider, options: ReplicateWorldOptions) {
    const networkHz = options.networkHz ?? DEFAULT_NETWORK_HZ;
    if (!(Number.isFinite(networkHz) && networkHz > 0 && networkHz <= 1000)) throw config('networkHz', networkHz, 'a number in (0, 1000]');
    const delay = options.interpolationDelayMs ?? DEFAULT_INTERPOLATION_DELAY_MS;
    if (!(Number.isFinite(delay) && delay >= 0)) throw config('interpolationDelayMs', delay, 'a finite number >= 0');
    const compact = options.compactIntervalMs ?? DEFAULT_COMPACT_INTERVAL_MS;
    if (!(Number.isFinite(compact) && compact >= 0)) throw config('compactIntervalMs', compact, 'a finite number >= 0');
    const maxSnapshots = options.maxSnapshots ?? DEFAULT_MAX_SNAPSHOTS;
    if (!(Number.isInteger(maxSnapshots) && maxSnapshots >= 2)) throw config('maxSnapshots', maxSnapshots, 'an integer >= 2');
    if (options.authority === undefined) throw config('authority', undefined, 'the EcsAuthority installed as the provider\'s beforeApply');
    const names = new Set<string>();
    for (const c of options.components) {
      if (names.has(c.def.name)) throw config('components', c.def.name, 'a list without duplicates');
      names.add(c.def.name);
    }
    this.owner = options.components.filter((c) => c.authority === 'owner');
    this.shared = options.components.filter((c) => c.authority === 'shared');
    if (this.owner.length > MAX_REPLICATED_COMPONENTS) throw config('components', this.owner.length, `at most ${MAX_REPLICATED_COMPONENTS} owner components`);
    this.layout = { components: this.owner.map((c) => ({ def: c.def, fields: c.fields })) };
    this.world = world;
    this.provider = provider;
    this.doc = provider.doc;
    this.peerId = provider.room.localPeerId;
    this.tickMs = 1000 / networkHz;
    this.interpolationDelayMs = delay;
    this.compactIntervalMs = compact;
    this.maxSnapshots = maxSnapshots;
    this.clock = options.clock;
    this.channel = options.ownershipChannel ?? DEFAULT_OWNERSHIP_CHANNEL;
    this.allowTransfer = options.allowTransfer ?? (() => true);
    this.authority = options.authority;
    this.authority.attach(provider);
    this.lastCompactMs = this.now();
    for (const c of options.components) storeOf(world, c.def);

    this.unsubscribe.push(
      onComponentAdded(world, Replicated, (eid) => {
        if (!this.adding) storeOf(world, Replicated).index[eid] = 0;
      }),
      onComponentRemoved(world, Replicated, (eid) => this.onLocalRemove(eid)),
      provider.room.on('message', (e) => this.onMessage(e)),
      provider.room.on('peer:leave', ({ peerId }) => this.onPeerLeave(peerId)),
    );
    const onTx = (tr: Y.Transaction): void => {
      if (provider.isOwnOrigin(tr.origin)) this.onRemoteTransaction(tr);
    };
    const onUpdate = (update: Uint8Array, origin: unknown): void => {
      if (origin === this) this.counters.updateBytes += update.length;
    };
    this.doc.on('afterTransaction', onTx);
    this.doc.on('update', onUpdate);
    this.unsubscribe.push(() => this.doc.off('afterTransaction', onTx), () => this.doc.off('update', onUpdate));
    // Whatever the document already holds (persistence, an earlier session of this peer id).
    this.readAll();
    if (this.clock !== undefined) this.scheduleTick();
  }

  /** The network id of local entity `eid`, if replicated and registered. */
  netIdOf(eid: number): string | undefined {
    if (!hasComponent(this.world, eid, Replicated)) return undefined;
    const e = this.table[storeOf(this.world, Replicated).index[eid]!];
    return e !== undefined && e.eid === eid ? e.netId : undefined;
  }

  /** The local entity of network id `netId`, if known here. */
  eidOf(netId: string): number | undefined {
    return this.byNetId.get(netId)?.eid;
  }

  /** Whether this peer writes entity `netId` now. */
  owns(netId: string): boolean {
    const e = this.byNetId.get(netId);
    return e !== undefined && e.owned && !e.removed;
  }

  /** The peer whose copy of `netId` wins here (us for owned entities), if known. */
  ownerOf(netId: string): PeerId | undefined {
    const e = this.byNetId.get(netId);
    return e === undefined ? undefined : e.owned ? this.peerId : e.grantedTo ?? e.owner;
  }

  /** Network ids of every replicated entity known here, sorted. */
  netIds(): string[] {
    return [...this.byNetId.keys()].sort();
  }

  /**
   * Asks the owner of `netId` to hand it over (message on the ownership channel). Returns
   * false when the entity is unknown, already ours, or its owner is not a member now.
   */
  requestOwnership(netId: string): boolean {
    const e = this.byNetId.get(netId);
    if (e === undefined || e.owned || !this.provider.room.peers().includes(e.owner)) return false;
    this.requested.add(netId);
    try {
      this.provider.room.send(e.owner, this.channel, encodeOwnership({ kind: 'request', netId }));
      return true;
    } catch {
      this.requested.delete(netId);
      return false;
    }
  }

  /**
   * One network tick: registers new `Replicated` entities, then writes in one transaction the
   * changed owned entities, deletions, changed shared fields and (when due) a compaction.
   * Runs by itself with a `clock`; safe to call by hand too.
   */
  flush(): void {
    if (this.disposed) return;
    this.tick++;
    this.counters.ticks++;
    const now = this.now();
    const w = this.world;
    const rep = storeOf(w, Replicated);
    for (const eid of query(w, REPLICATED_ONLY)) {
      if (rep.index[eid] === 0) this.register(eid);
    }
    const root = this.doc.getMap<unknown>(`${WRITER_ROOT_PREFIX}${this.peerId}`);
    const sharedMap = this.doc.getMap<unknown>(SHARED_ROOT);
    const writes: [string, Uint8Array][] = [];
    const deletes: string[] = [];
    for (const e of this.byNetId.values()) {
      const copies = this.copies.get(e.netId);
      if (e.heldFrom !== undefined) {
        const held = copies?.has(e.heldFrom) === true;
        if ((e.heldSeen && !held) || this.tick > e.heldUntil || !this.provider.room.peers().includes(e.heldFrom)) e.heldFrom = undefined;
        e.heldSeen ||= held;
      }
      if (e.removed) {
        // Despawned while the grantor still holds its frozen copy: deleting ours now would leave
        // that copy winning everywhere (the grantor only lets go on seeing ours). Publish ours
        // first and delete it once the grantor's copy is gone.
        if (e.heldFrom !== undefined) {
          if (!copies?.has(this.peerId) && e.lastBlob !== undefined) writes.push([e.netId, e.lastBlob]);
          continue;
        }
        deletes.push(e.netId);
        continue;
      }
      if (!e.owned && e.grantedTo !== undefined && this.tick > e.grantUntil) {
        // Our grant was never answered by a copy (lost grant or decline): take it back above it.
        e.grantedTo = undefined;
        e.owned = true;
        e.owner = this.peerId;
        e.epoch += 2;
        e.lastBody = undefined;
        this.counters.grantsTimedOut++;
      }
      if (!e.owned) {
        if (this.copies.get(e.netId)?.has(this.peerId) && e.grantedTo === undefined) deletes.push(e.netId);
        continue;
      }
      const { mask, values } = this.readLocal(e.eid);
      const body = encodeBlobBody(this.layout, mask, values);
      if (e.lastBody !== undefined && equalBytes(body, e.lastBody)) continue;
      e.lastBody = body;
      e.lastBlob = encodeBlob({ epoch: e.epoch, tick: this.tick, adoptedFrom: e.adoptedFrom }, body);
      writes.push([e.netId, e.lastBlob]);
    }
    const shared: [string, number][] = [];
    for (const e of this.byNetId.values()) {
      if (e.removed || !isAlive(w, e.eid)) continue;
      for (const c of this.shared) {
        if (!hasComponent(w, e.eid, c.def)) continue;
        const store = storeOf(w, c.def) as Record<string, FieldArray>;
        for (const f of c.fields) {
          const key = `${e.netId}/${c.def.name}/${f.name}`;
          const v = canonical(f, store[f.name]![e.eid]!);
          if (this.lastShared.get(key) !== v) shared.push([key, v]);
        }
      }
    }
    const compact = this.compactIntervalMs > 0 && now - this.lastCompactMs >= this.compactIntervalMs && root.has(GENERATION_KEY);
    if (writes.length === 0 && deletes.length === 0 && shared.length === 0 && !compact && this.claimed) return;
    this.counters.transactions++;
    this.doc.transact(() => {
      if (!this.claimed) {
        this.doc.getMap<unknown>(CLAIMS_ROOT).set(String(this.doc.clientID), this.peerId);
        this.claimed = true;
      }
      let gen = root.get(GENERATION_KEY);
      if (compact || !(gen instanceof Y.Map)) {
        const fresh = new Y.Map<unknown>();
        for (const e of this.byNetId.values()) {
          if (e.owned && (!e.removed || e.heldFrom !== undefined) && e.lastBlob !== undefined) fresh.set(e.netId, e.lastBlob);
          else if (!e.owned && e.grantedTo !== undefined && e.lastBlob !== undefined) fresh.set(e.netId, e.lastBlob);
        }
        root.set(GENERATION_KEY, fresh);
        if (compact) this.counters.compactions++;
        this.lastCompactMs = now;
        gen = fresh;
      } else {
        for (const [k, v] of writes) (gen as Y.Map<unknown>).set(k, v);
        for (const k of deletes) (gen as Y.Map<unknown>).delete(k);
      }
      for (const [k, v] of shared) {
        sharedMap.set(k, v);
        this.lastShared.set(k, v);
      }
      this.generations.set(this.peerId, gen as Y.Map<unknown>);
    }, this);
    this.counters.blobsWritten += writes.length;
    this.counters.sharedWritten += shared.length;
    for (const [k, v] of writes) this.setCopy(k, this.peerId, decodeBlob(this.layout, v));
    for (const k of deletes) {
      this.copies.get(k)?.delete(this.peerId);
      const e = this.byNetId.get(k);
      if (e !== undefined && e.removed) this.forget(e);
      else this.resolve(k); // our stale copy gone: the entity follows the remaining copies, or despawns when none is left
    }
  }

  /**
   * Writes interpolated values of every remote entity into its local components, for render
   * time `nowMs − interpolationDelayMs` (see the module doc). `nowMs` defaults to the clock's
   * time. Call once per rendered frame (e.g. from a `Phase.RenderSync` system).
   */
  interpolate(nowMs: number = this.now()): void {
    if (this.disposed) return;
    const render = nowMs - this.interpolationDelayMs;
    for (const e of this.byNetId.values()) {
      if (e.owned || e.snaps.length === 0 || !isAlive(this.world, e.eid)) continue;
      const off = this.offsets.get(e.owner) ?? 0;
      const snaps = e.snaps;
      let i = -1;
      while (i + 1 < snaps.length && snaps[i + 1]!.tick * this.tickMs + off <= render) i++;
      if (i < 0) {
        this.writeValues(e.eid, snaps[0]!.mask, snaps[0]!.values);
        continue;
      }
      if (i > 1) snaps.splice(0, i - 1); // keep one state before the pair, for late arrivals
      const ia = Math.min(i, 1);
      const a = snaps[ia]!;
      const b = snaps[ia + 1];
      if (b === undefined || b.mask !== a.mask) {
        this.writeValues(e.eid, a.mask, a.values);
        continue;
      }
      const ta = a.tick * this.tickMs + off;
      const tb = b.tick * this.tickMs + off;
      const alpha = tb > ta ? Math.min(1, Math.max(0, (render - ta) / (tb - ta))) : 1;
      this.writeBlend(e.eid, a, b, alpha);
    }
  }

  /** Current counters. */
  stats(): ReplicatorStats {
    let owned = 0;
    let remote = 0;
    for (const e of this.byNetId.values()) {
      if (e.owned && !e.removed) owned++;
      else if (!e.owned) remote++;
    }
    return { owned, remote, ...this.counters, drops: { ...this.dropCounts } };
  }

  /** Stops: unsubscribes, cancels the network tick. Leaves entities and document as they are. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cancelTick?.();
    for (const u of this.unsubscribe) u();
    this.unsubscribe.length = 0;
  }

  // ----- internals ---------------------------------------------------------------------------

  private now(): number {
    return this.clock !== undefined ? this.clock.now() : performance.now();
  }

  private scheduleTick(): void {
    const clock = this.clock!;
    this.cancelTick = clock.schedule(clock.now() + this.tickMs, () => {
      if (this.disposed) return;
      this.scheduleTick();
      this.flush();
    });
  }

  private newEntry(netId: string, eid: number, owned: boolean, owner: PeerId, epoch: number, adoptedFrom: string): Entry {
    const e: Entry = {
      netId, index: this.table.length, eid, owned, epoch, adoptedFrom, owner,
      lastBody: undefined, lastBlob: undefined, removed: false, grantedTo: undefined, grantUntil: 0, heldFrom: undefined, heldSeen: false, heldUntil: 0, snaps: [],
    };
    this.table.push(e);
    this.byNetId.set(netId, e);
    storeOf(this.world, Replicated).index[eid] = e.index;
    return e;
  }

  /** A local entity got `Replicated`: give it a network id; we own it. */
  private register(eid: number): void {
    let netId: string;
    do netId = formatNetId(this.peerId, ++this.netCounter);
    while (this.byNetId.has(netId));
    this.newEntry(netId, eid, true, this.peerId, 0, '');
  }

  private onLocalRemove(eid: number): void {
    const e = this.table[storeOf(this.world, Replicated).index[eid]!];
    if (e === undefined || e.eid !== eid || this.adding) return;
    if (e.owned) e.removed = true;
    else this.forget(e);
  }

  private forget(e: Entry): void {
    this.byNetId.delete(e.netId);
    this.table[e.index] = undefined;
    this.requested.delete(e.netId);
  }

  /** Flat values of the owner components `eid` has, and their mask. */
  private readLocal(eid: number): { mask: number; values: number[] } {
    let mask = 0;
    const values: number[] = [];
    this.owner.forEach((c, i) => {
      if (!hasComponent(this.world, eid, c.def)) return;
      mask |= 1 << i;
      const store = storeOf(this.world, c.def) as Record<string, FieldArray>;
      for (const f of c.fields) values.push(store[f.name]![eid]!);
    });
    return { mask, values };
  }

  /** Adds missing components of `mask` to `eid` and writes the values. */
  private writeValues(eid: number, mask: number, values: ArrayLike<number>): void {
    let k = 0;
    this.owner.forEach((c, i) => {
      if ((mask & (1 << i)) === 0) return;
      if (!hasComponent(this.world, eid, c.def)) addComponent(this.world, eid, c.def);
      const store = storeOf(this.world, c.def) as Record<string, FieldArray>;
      for (const f of c.fields) store[f.name]![eid] = values[k++]!;
    });
  }

  private writeBlend(eid: number, a: Snapshot, b: Snapshot, alpha: number): void {
    let k = 0;
    this.owner.forEach((c, i) => {
      if ((a.mask & (1 << i)) === 0) return;
      if (!hasComponent(this.world, eid, c.def)) addComponent(this.world, eid, c.def);
      const store = storeOf(this.world, c.def) as Record<string, FieldArray>;
      for (const f of c.fields) {
        const va = a.values[k]!;
        store[f.name]![eid] = f.linear ? va + (b.values[k]! - va) * alpha : va;
        k++;
      }
    });
  }

  private setCopy(netId: string, writer: PeerId, blob: DecodedBlob | undefined): void {
    if (blob === undefined) return;
    let m = this.copies.get(netId);
    if (m === undefined) this.copies.set(netId, (m = new Map()));
    m.set(writer, blob);
  }

  /** Full read of every writer map (startup). */
  private readAll(): void {
    const dirty = new Set<string>();
    for (const name of [...this.doc.share.keys()]) {
      if (name.startsWith(WRITER_ROOT_PREFIX)) this.readWriter(name.slice(WRITER_ROOT_PREFIX.length), undefined, dirty);
    }
    this.readShared(undefined);
    for (const id of dirty) this.resolve(id);
  }

  private onRemoteTransaction(tr: Y.Transaction): void {
    if (this.disposed) return;
    const dirty = new Set<string>();
    for (const name of [...this.doc.share.keys()]) {
      if (!name.startsWith(WRITER_ROOT_PREFIX)) continue;
      const writer = name.slice(WRITER_ROOT_PREFIX.length);
      if (writer === this.peerId) continue;
      this.readWriter(writer, tr, dirty);
    }
    for (const id of dirty) this.resolve(id);
    const shared = this.doc.getMap<unknown>(SHARED_ROOT);
    const keys = tr.changed.get(shared as unknown as Parameters<Y.Transaction['changed']['get']>[0]);
    if (keys !== undefined) this.readShared(keys);
  }

  /** Reads writer `writer`'s generation: all of it when it is new (or at startup), else the keys `tr` changed. */
  private readWriter(writer: PeerId, tr: Y.Transaction | undefined, dirty: Set<string>): void {
    const root = this.doc.getMap<unknown>(`${WRITER_ROOT_PREFIX}${writer}`);
    const genValue = root.get(GENERATION_KEY);
    const gen = genValue instanceof Y.Map && this.authoredBy(genValue._item, writer) ? (genValue as Y.Map<unknown>) : undefined;
    if (genValue instanceof Y.Map && gen === undefined) this.dropCounts.forgedEntry++;
    const previous = this.generations.get(writer);
    let keys: Iterable<string>;
    if (gen === undefined || gen !== previous || tr === undefined) {
      // New generation: everything of this writer may have changed.
      const had = [...this.copies].filter(([, m]) => m.has(writer)).map(([id]) => id);
      for (const id of had) {
        this.copies.get(id)!.delete(writer);
        dirty.add(id);
      }
      if (gen === undefined) {
        this.generations.delete(writer);
        return;
      }
      this.generations.set(writer, gen);
      keys = [...gen.keys()];
    } else {
      const changed = tr.changed.get(gen as unknown as Parameters<Y.Transaction['changed']['get']>[0]);
      if (changed === undefined) return;
      keys = [...changed].filter((k): k is string => k !== null);
    }
    for (const id of keys) {
      dirty.add(id);
      this.copies.get(id)?.delete(writer);
      if (!isNetId(id)) continue;
      const item = gen._map.get(id);
      if (item === undefined || item.deleted) continue;
      if (!this.authoredBy(item, writer)) {
        this.dropCounts.forgedEntry++;
        continue;
      }
      const blob = decodeBlob(this.layout, gen.get(id));
      if (blob === undefined) {
        this.dropCounts.malformedBlob++;
        continue;
      }
      this.setCopy(id, writer, blob);
      if (writer !== this.peerId) this.noteReceive(writer, blob.tick);
    }
  }

  private authoredBy(item: Y.Item | null, writer: PeerId): boolean {
    return item !== null && this.authority.peerOf(item.id.client) === writer;
  }

  private noteReceive(writer: PeerId, tick: number): void {
    const off = this.now() - tick * this.tickMs;
    const cur = this.offsets.get(writer);
    if (cur === undefined || off < cur) this.offsets.set(writer, off);
  }

  /** Applies the winning copy of `netId` (see the module doc). */
  private resolve(netId: string): void {
    const copies = this.copies.get(netId);
    let winner: PeerId | undefined;
    let best: DecodedBlob | undefined;
    for (const [writer, blob] of copies ?? []) {
      if (best === undefined || blob.epoch > best.epoch || (blob.epoch === best.epoch && writer > winner!)) {
        winner = writer;
        best = blob;
      }
    }
    if (copies !== undefined && copies.size === 0) this.copies.delete(netId);
    let e = this.byNetId.get(netId);
    if (winner === undefined || best === undefined) {
      if (e !== undefined && !e.owned && e.grantedTo === undefined) this.despawnRemote(e);
      return;
    }
    if (winner === this.peerId) {
      if (e === undefined) {
        // Our own entity from an earlier session: take it back.
        const eid = this.spawnWith(best);
        e = this.newEntry(netId, eid, true, this.peerId, best.epoch, best.adoptedFrom);
      }
      return;
    }
    if (e !== undefined && e.grantedTo !== undefined) {
      // Our frozen copy stays until the grantee's appears, or any copy above the grant (the
      // grantee handed it on before writing it).
      if (winner !== e.grantedTo && best.epoch <= e.epoch) return;
      e.grantedTo = undefined;
      e.lastBlob = undefined;
    }
    if (e !== undefined && e.owned) {
      if (e.removed) return;
      if (best.epoch < e.epoch || (best.epoch === e.epoch && winner < this.peerId)) return;
      e.owned = false; // a higher copy exists: we stop writing, our copy goes at the next tick
      e.lastBody = undefined;
      e.lastBlob = undefined;
      e.snaps = [];
    }
    if (e === undefined) {
      const eid = this.spawnWith(best);
      e = this.newEntry(netId, eid, false, winner, best.epoch, best.adoptedFrom);
      // Shared values already in the document.
      this.readShared(this.shared.flatMap((c) => c.fields.map((f) => `${netId}/${c.def.name}/${f.name}`)).filter((k) => this.doc.getMap(SHARED_ROOT).has(k)));
    }
    if (e.owner !== winner || e.epoch !== best.epoch) {
      e.owner = winner;
      e.epoch = best.epoch;
      e.adoptedFrom = best.adoptedFrom;
      e.snaps = [];
    }
    const last = e.snaps.at(-1);
    if (last !== undefined && best.tick <= last.tick) return;
    if (last === undefined && !isAlive(this.world, e.eid)) return;
    if (last === undefined) this.writeValues(e.eid, best.mask, best.values);
    e.snaps.push({ tick: best.tick, mask: best.mask, values: best.values });
    if (e.snaps.length > this.maxSnapshots) e.snaps.shift();
    for (const id of this.requested) if (id === netId && winner === this.peerId) this.requested.delete(id);
  }

  private spawnWith(blob: DecodedBlob): number {
    this.adding = true;
    try {
      const eid = spawn(this.world);
      this.writeValues(eid, blob.mask, blob.values);
      addComponent(this.world, eid, Replicated);
      return eid;
    } finally {
      this.adding = false;
    }
  }

  private despawnRemote(e: Entry): void {
    this.forget(e);
    if (isAlive(this.world, e.eid)) {
      this.adding = true;
      try {
        despawn(this.world, e.eid);
      } finally {
        this.adding = false;
      }
    }
  }

  /** Applies shared values: `keys` changed, or every key (startup). */
  private readShared(keys: Iterable<string | null> | undefined): void {
    const map = this.doc.getMap<unknown>(SHARED_ROOT);
    for (const key of keys ?? [...map.keys()]) {
      if (key === null) continue;
      const value = map.get(key);
      const parts = key.split('/');
      if (parts.length !== 4) {
        this.dropCounts.invalidShared++;
        continue;
      }
      const netId = `${parts[0]}/${parts[1]}`;
      const c = this.shared.find((s) => s.def.name === parts[2]);
      const f = c?.fields.find((x) => x.name === parts[3]);
      if (c === undefined || f === undefined || (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value)))) {
        this.dropCounts.invalidShared++;
        continue;
      }
      if (value === undefined) continue;
      const e = this.byNetId.get(netId);
      if (e === undefined || e.removed || !isAlive(this.world, e.eid)) continue;
      if (!hasComponent(this.world, e.eid, c.def)) addComponent(this.world, e.eid, c.def);
      const arr = (storeOf(this.world, c.def) as Record<string, FieldArray>)[f.name]!;
      arr[e.eid] = value;
      this.lastShared.set(key, canonical(f, arr[e.eid]!));
    }
  }

  private onPeerLeave(peer: PeerId): void {
    if (this.disposed) return;
    const members = this.provider.room.peers();
    const lowest = [this.peerId, ...members].sort()[0];
    for (const e of this.byNetId.values()) {
      if (e.grantedTo === peer) {
        // The grantee left before writing: take it back above any copy it may have written.
        e.grantedTo = undefined;
        e.owned = true;
        e.epoch += 2;
        e.lastBody = undefined;
        continue;
      }
      if (e.owned || e.owner !== peer || lowest !== this.peerId) continue;
      const last = e.snaps.at(-1);
      if (last !== undefined && isAlive(this.world, e.eid)) this.writeValues(e.eid, last.mask, last.values);
      e.owned = true;
      e.epoch += 1;
      e.adoptedFrom = peer;
      e.owner = this.peerId;
      e.lastBody = undefined;
      e.snaps = [];
    }
  }

  private onMessage(ev: MessageEvent): void {
    if (this.disposed || ev.channel !== this.channel) return;
    const m = decodeOwnership(ev.data);
    if (m === undefined) {
      this.dropCounts.malformedMessage++;
      return;
    }
    const e = this.byNetId.get(m.netId);
    if (m.kind === 'request') {
      if (e === undefined || !e.owned || e.removed || !this.allowTransfer(m.netId, ev.from)) return;
      const { mask, values } = this.readLocal(e.eid);
      const body = encodeBlobBody(this.layout, mask, values);
      const epoch = e.epoch + 1;
      const blob = encodeBlob({ epoch, tick: this.tick, adoptedFrom: '' }, body);
      try {
        this.provider.room.send(ev.from, this.channel, encodeOwnership({ kind: 'grant', netId: m.netId, epoch, blob }));
      } catch {
        return; // requester gone: we keep it
      }
      e.owned = false;
      e.grantedTo = ev.from;
      e.grantUntil = this.tick + GRANT_TIMEOUT_TICKS;
      e.owner = ev.from;
      e.snaps = [];
      return;
    }
    if (m.kind === 'decline') {
      // The grantee did not take our grant: nobody writes the entity; take it back above the grant.
      if (e === undefined || e.grantedTo !== ev.from || m.epoch !== e.epoch + 1) return;
      e.grantedTo = undefined;
      e.owned = true;
      e.owner = this.peerId;
      e.epoch += 2;
      e.lastBody = undefined;
      return;
    }
    // Grant: only one we asked for, from the peer that owns it here.
    const blob = decodeBlob(this.layout, m.blob);
    if (e === undefined || e.owned || !this.requested.has(m.netId) || e.owner !== ev.from || blob === undefined || m.epoch <= e.epoch) {
      this.dropCounts.unexpectedGrant++;
      // Tell the granter, which stopped writing for us and would otherwise wait for our copy forever.
      try {
        this.provider.room.send(ev.from, this.channel, encodeOwnership({ kind: 'decline', netId: m.netId, epoch: m.epoch }));
      } catch {
        // granter gone: whoever adopts its entities takes this one too
      }
      return;
    }
    this.requested.delete(m.netId);
    if (isAlive(this.world, e.eid)) this.writeValues(e.eid, blob.mask, blob.values);
    e.owned = true;
    e.owner = this.peerId;
    e.epoch = m.epoch;
    e.adoptedFrom = '';
    e.lastBody = undefined;
    e.lastBlob = encodeBlob({ epoch: m.epoch, tick: this.tick, adoptedFrom: '' }, encodeBlobBody(this.layout, blob.mask, blob.values));
    e.grantedTo = undefined;
    e.heldFrom = ev.from;
    e.heldSeen = false;
    e.heldUntil = this.tick + GRANT_HOLD_TICKS;
    e.snaps = [];
  }
}

/** The value a shared field holds once quantized (stable through the field's storage type). */
function canonical(f: QuantizedField, v: number): number {
  switch (f.q.kind) {
    case 'float': return Number.isFinite(v) ? Math.round(v / f.q.step) * f.q.step : 0;
    case 'f32': return Math.fround(v);
    case 'f64': return v;
    case 'int': return Number.isFinite(v) ? Math.trunc(v) : 0;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function config(option: string, value: unknown, expected: string): NetcodeError {
  return new NetcodeError('InvalidConfig', `replicateWorld: ${option} must be ${expected}, got ${String(value)}`, { option });
}
