/**
 * Authority of the ECS binding's document layout (`ecs.ts`), enforced on every received update
 * through the provider's `beforeApply` hook, before anything touches the document.
 *
 * Layout it guards (other root types are not its business and pass):
 * - `c`: client id → peer id claims. Key = the writing struct's own Yjs client id, value = a
 *   peer id string. In a live update (`'update'` message) the value must be the authenticated
 *   sender; a claim contradicting a known binding is refused (`ForgedClaim`).
 * - `e:<X>`: only peer X writes. Its entries: key `g` holding a `Y.Map` (the generation map),
 *   whose entries are `<netId>` → `Uint8Array`. A struct written into `e:<X>` (at any depth) must
 *   come from a Yjs client bound to X (`ForeignWriter`, or `UnboundClient` when bound to nobody);
 *   in a live update the sender must also be X. Other keys (`InvalidKey`), other values
 *   (`InvalidValue`) and deeper nesting are refused. In a live update, deleting anything in
 *   `e:<X>` is refused unless the sender is X (`ForeignDelete`).
 * - `s`: shared fields: `<netId>/<component>/<field>` → finite number, anyone writes.
 *
 * Binding client id → peer id, first binding wins: (1) awareness: the provider binds each
 * awareness client id (= the peer's `doc.clientID`) to the authenticated transport sender that
 * announced it ({@link YRoomProvider.peerOfAwarenessClient}); we keep it after the peer leaves;
 * (2) claims in `c`, which the replicator writes in the same transaction as its first entity.
 *
 * Where a struct writes: a new map entry names its parent (root name, or the id of the item
 * holding a nested type) and key; an overwrite only points (`origin`) at the entry it replaces,
 * found in the update itself or in the document's store. An origin we do not hold yet:
 * - same client as the struct: accepted; Yjs integrates it only after its origin, which is
 *   checked when it arrives, and it lands where its origin is (same author, same verdict).
 * - another client (e.g. an overwrite in `s` racing the update it overwrites): accepted and
 *   counted `deferred`; the replicator's reader ignores any entry of `e:<X>` whose author is
 *   not bound to X (counted `forgedEntries`), so a forgery slipping through this way is never
 *   believed. Refusing instead would cut an honest peer off for good (see `provider.ts`).
 *
 * Limits (no signatures): a step 2 relays everyone's history and a delete set does not say who
 * deleted. So in a step 2 we check struct authors against bindings but not deletes, and accept
 * relayed claims for clients we know nothing of: a lying peer answering a late joiner's first
 * sync can feed it invented history for peers it has never seen. Live updates are fully checked.
 */
import * as Y from 'yjs';
import type { PeerId } from '../transport/types.ts';
import { isNetId } from './ecs-codec.ts';
import type { BeforeApply, YRoomProvider } from './provider.ts';

/** Root map of client id claims. */
export const CLAIMS_ROOT = 'c';
/** Root map of shared fields. */
export const SHARED_ROOT = 's';
/** Prefix of writer maps: `e:<peerId>`. */
export const WRITER_ROOT_PREFIX = 'e:';
/** Key of the generation map inside a writer map. */
export const GENERATION_KEY = 'g';

const PEER_ID = /^[A-Za-z0-9._:@-]{1,160}$/;
const SHARED_KEY = /^[A-Za-z0-9._:@-]{1,160}\/[0-9a-z]{1,12}\/[A-Za-z_][A-Za-z0-9_.:-]*\/[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Why an update was refused; see the module doc. */
export type AuthorityRejectReason =
  | 'ForeignWriter' | 'UnboundClient' | 'ForgedClaim' | 'InvalidKey' | 'InvalidValue' | 'ForeignDelete';

const REASONS: readonly AuthorityRejectReason[] = ['ForeignWriter', 'UnboundClient', 'ForgedClaim', 'InvalidKey', 'InvalidValue', 'ForeignDelete'];

/** Counters of an {@link EcsAuthority}. */
export interface AuthorityStats {
  readonly checked: number;
  readonly rejected: Readonly<Record<AuthorityRejectReason, number>>;
  /** Structs accepted whose target could not be resolved yet (origin of another client not held). */
  readonly deferred: number;
  /** The last rejection, for logs. */
  readonly lastDetail: string;
}

/** Where a struct writes: root map name, depth below it (1 = entry of the root) and key (null: not a map entry). */
interface Where {
  readonly root: string;
  readonly depth: number;
  readonly key: string | null;
}
type Resolved = Where | 'unknown' | 'gone';

interface Range { readonly start: number; readonly end: number; readonly where: Resolved }

/**
 * The authority guard. Create it before the provider, install its hook, then let
 * `replicateWorld` attach it:
 *
 * ```ts
 * const authority = new EcsAuthority();
 * const provider = new YRoomProvider(doc, room, { beforeApply: authority.beforeApply });
 * const replicator = replicateWorld(world, provider, { components, authority });
 * ```
 *
 * Until attached, the hook accepts everything (attach synchronously after creating the
 * provider: no message is delivered in between).
 */
export class EcsAuthority {
  /** The hook to pass as `YRoomProviderOptions.beforeApply`. Never throws on bad input. */
  readonly beforeApply: BeforeApply = (update, from, info) => this.check(from, info.kind, info.decoded);

  private provider: YRoomProvider | undefined;
  /** Client id → peer id, first binding wins, kept after the peer leaves. */
  private readonly bindings = new Map<number, PeerId>();
  private readonly rootNames = new Map<unknown, string>();
  private checked = 0;
  private deferred = 0;
  private lastDetail = '';
  private readonly rejected = Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<AuthorityRejectReason, number>;

  /** @internal Called by `replicateWorld`. */
  attach(provider: YRoomProvider): void {
    this.provider = provider;
  }

  /** Peer bound to Yjs client `clientID` (awareness first, then the document's claims), if any. */
  peerOf(clientID: number): PeerId | undefined {
    const known = this.bindings.get(clientID);
    if (known !== undefined) return known;
    const p = this.provider;
    if (p === undefined) return undefined;
    const aware = p.peerOfAwarenessClient(clientID);
    if (aware !== undefined) {
      this.bindings.set(clientID, aware);
      return aware;
    }
    const claim = p.doc.share.has(CLAIMS_ROOT) ? p.doc.getMap<unknown>(CLAIMS_ROOT).get(String(clientID)) : undefined;
    if (typeof claim === 'string') {
      this.bindings.set(clientID, claim);
      return claim;
    }
    return undefined;
  }

  /** Current counters. */
  stats(): AuthorityStats {
    return { checked: this.checked, rejected: { ...this.rejected }, deferred: this.deferred, lastDetail: this.lastDetail };
  }

  private reject(reason: AuthorityRejectReason, detail: string): false {
    this.rejected[reason]++;
    this.lastDetail = `${reason}: ${detail}`;
    return false;
  }

  private check(from: PeerId, kind: 'step2' | 'update', decoded: ReturnType<typeof Y.decodeUpdate>): boolean {
    const provider = this.provider;
    if (provider === undefined) return true;
    this.checked++;
    const doc = provider.doc;
    const ranges = new Map<number, Range[]>();
    const resolveId = (id: Y.ID): Resolved => {
      for (const r of ranges.get(id.client) ?? []) if (id.clock >= r.start && id.clock < r.end) return r.where;
      if (id.clock >= Y.getState(doc.store, id.client)) return 'unknown';
      const s = Y.getItem(doc.store, id);
      return s instanceof Y.Item ? this.whereOfItem(doc, s, 0) : 'gone';
    };
    const items: { item: Y.Item; where: Resolved }[] = [];
    for (const s of decoded.structs) {
      if (!(s instanceof Y.Item)) continue;
      let where: Resolved;
      if (typeof s.parent === 'string') where = { root: s.parent, depth: 1, key: s.parentSub };
      else if (s.parent !== null && !(s.parent instanceof Y.AbstractType)) {
        const holder = resolveId(s.parent as Y.ID);
        where = typeof holder === 'string' ? holder : { root: holder.root, depth: holder.depth + 1, key: s.parentSub };
      } else {
        const o = s.origin ?? s.rightOrigin;
        const w = o === null ? 'gone' : resolveId(o);
        if (w === 'unknown' && o !== null && o.client !== s.id.client) this.deferred++;
        where = w;
      }
      const list = ranges.get(s.id.client) ?? [];
      list.push({ start: s.id.clock, end: s.id.clock + s.length, where });
      ranges.set(s.id.client, list);
      items.push({ item: s, where });
    }
    // Claims first: they may bind the authors of the structs after them.
    const claims = new Map<number, PeerId>();
    for (const { item, where } of items) {
      if (typeof where === 'string' || where.root !== CLAIMS_ROOT) continue;
      const c = item.id.client;
      if (where.depth !== 1 || where.key !== String(c)) return this.reject('InvalidKey', `claim key ${String(where.key)} written by client ${c}`);
      if (item.content instanceof Y.ContentDeleted) continue;
      const v = item.content instanceof Y.ContentAny ? item.content.arr : undefined;
      if (v === undefined || v.length !== 1 || typeof v[0] !== 'string' || !PEER_ID.test(v[0])) return this.reject('InvalidValue', `claim of client ${c} is not a peer id`);
      const peer = v[0];
      if (kind === 'update' && peer !== from) return this.reject('ForgedClaim', `${from} claims client ${c} for ${peer}`);
      const known = claims.get(c) ?? this.peerOf(c);
      if (known !== undefined && known !== peer) return this.reject('ForgedClaim', `client ${c} is bound to ${known}, ${from} relays a claim for ${peer}`);
      claims.set(c, peer);
    }
    for (const { item, where } of items) {
      if (typeof where === 'string') continue;
      const c = item.id.client;
      if (where.root.startsWith(WRITER_ROOT_PREFIX)) {
        const owner = where.root.slice(WRITER_ROOT_PREFIX.length);
        const author = claims.get(c) ?? this.peerOf(c);
        if (author === undefined) return this.reject('UnboundClient', `client ${c} (via ${from}) writes ${where.root} and is bound to no peer`);
        if (author !== owner) return this.reject('ForeignWriter', `client ${c} of ${author} (via ${from}) writes ${where.root}`);
        if (kind === 'update' && from !== owner) return this.reject('ForeignWriter', `${from} sends a live write into ${where.root}`);
        if (item.content instanceof Y.ContentDeleted) continue;
        if (where.depth === 1) {
          if (where.key !== GENERATION_KEY) return this.reject('InvalidKey', `key ${String(where.key)} in ${where.root}`);
          if (!(item.content instanceof Y.ContentType && item.content.type instanceof Y.Map)) return this.reject('InvalidValue', `${where.root}.g is not a Y.Map`);
        } else if (where.depth === 2) {
          if (!isNetId(where.key)) return this.reject('InvalidKey', `key ${String(where.key)} in ${where.root}.g is not a network id`);
          if (!(item.content instanceof Y.ContentBinary)) return this.reject('InvalidValue', `${where.root}.g.${where.key} is not binary`);
        } else {
          return this.reject('InvalidKey', `nesting depth ${where.depth} in ${where.root}`);
        }
      } else if (where.root === SHARED_ROOT) {
        if (item.content instanceof Y.ContentDeleted) continue;
        if (where.depth !== 1 || where.key === null || !SHARED_KEY.test(where.key)) return this.reject('InvalidKey', `shared key ${String(where.key)}`);
        const v = item.content instanceof Y.ContentAny ? item.content.arr : undefined;
        if (v === undefined || v.length !== 1 || typeof v[0] !== 'number' || !Number.isFinite(v[0])) return this.reject('InvalidValue', `shared ${where.key} is not a finite number`);
      }
    }
    if (kind === 'update') {
      for (const [client, deletes] of decoded.ds.clients) {
        for (const d of deletes) {
          let clock = d.clock;
          const end = Math.min(d.clock + d.len, Y.getState(doc.store, client));
          while (clock < end) {
            const s = Y.getItem(doc.store, Y.createID(client, clock));
            if (s instanceof Y.Item) {
              const w = this.whereOfItem(doc, s, 0);
              if (typeof w !== 'string' && w.root.startsWith(WRITER_ROOT_PREFIX) && w.root !== `${WRITER_ROOT_PREFIX}${from}`) {
                return this.reject('ForeignDelete', `${from} deletes in ${w.root}`);
              }
              if (typeof w !== 'string' && w.root === CLAIMS_ROOT) return this.reject('ForeignDelete', `${from} deletes a claim`);
            }
            clock = s.id.clock + s.length;
          }
        }
      }
    }
    return true;
  }

  /** Where an item of the document sits (root name, depth, key). */
  private whereOfItem(doc: Y.Doc, item: Y.Item, depth: number): Resolved {
    if (depth > 8) return 'gone';
    const parent = item.parent;
    if (!(parent instanceof Y.AbstractType)) return 'gone';
    const holder = parent._item;
    if (holder === null) {
      const root = this.rootName(doc, parent);
      return root === undefined ? 'gone' : { root, depth: 1, key: item.parentSub };
    }
    const up = this.whereOfItem(doc, holder, depth + 1);
    return typeof up === 'string' ? up : { root: up.root, depth: up.depth + 1, key: item.parentSub };
  }

  /** Name of a root type (matched by identity, or by its entry map when Yjs replaced a placeholder type). */
  private rootName(doc: Y.Doc, type: Y.AbstractType<unknown>): string | undefined {
    const cached = this.rootNames.get(type._map);
    if (cached !== undefined) return cached;
    for (const [name, t] of doc.share) this.rootNames.set(t._map, name);
    return this.rootNames.get(type._map);
  }
}
