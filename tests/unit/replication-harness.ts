/**
 * Helpers of the replication tests: peers with a document and a provider each on one
 * `MemoryNetwork` (manual clock), seeded random edits, and comparison of documents.
 */
import * as Y from 'yjs';
import { Rng } from '../../engine/index.ts';
import {
  MemoryNetwork, YRoomProvider, type ConditionerOptions, type MemoryRoomTransport, type YRoomProviderOptions,
} from '../../netcode/index.ts';

/** One peer of a test room. */
export interface TestPeer {
  readonly id: string;
  readonly doc: Y.Doc;
  readonly room: MemoryRoomTransport;
  readonly provider: YRoomProvider;
}

/** Options of {@link createRoom}. */
export interface TestRoomOptions {
  readonly peers: number;
  readonly seed: number;
  readonly conditioner?: ConditionerOptions;
  readonly provider?: YRoomProviderOptions;
  readonly roomId?: string;
}

/** `peers` members `p0`, `p1`, ... of one room, with client ids 1, 2, ... (deterministic Yjs ordering). */
export async function createRoom(options: TestRoomOptions): Promise<{ net: MemoryNetwork; peers: TestPeer[]; rng: Rng }> {
  const net = new MemoryNetwork({ seed: options.seed, clock: 'manual', conditioner: options.conditioner });
  const rng = new Rng(options.seed);
  const peers: TestPeer[] = [];
  for (let i = 0; i < options.peers; i++) peers.push(await addPeer(net, `p${i}`, i + 1, rng, options.provider, options.roomId));
  return { net, peers, rng };
}

/** Joins one more peer with a fresh document (client id `clientID`). */
export async function addPeer(net: MemoryNetwork, id: string, clientID: number, rng: Rng, provider: YRoomProviderOptions = {}, roomId = 'world'): Promise<TestPeer> {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  const room = await net.join(roomId, id);
  return { id, doc, room, provider: new YRoomProvider(doc, room, { clock: net.clock, random: () => rng.nextFloat(), ...provider }) };
}

/** JSON with object keys sorted, so two equal documents give equal strings whatever their insertion order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : v));
}

/**
 * The content of the roots the tests write (`map`, `arr`, `m`, `a`), canonical. A document only
 * lists in `toJSON()` the root types it has accessed, so the roots are read by name.
 */
export function contentOf(doc: Y.Doc): string {
  return canonical({ map: doc.getMap('map').toJSON(), arr: doc.getArray('arr').toJSON(), m: doc.getMap('m').toJSON(), a: doc.getArray('a').toJSON() });
}

/** A document's state vector (from `Y.encodeStateVector`) as sorted `[client, clock]` pairs. */
export function stateVector(doc: Y.Doc): [number, number][] {
  return [...Y.decodeStateVector(Y.encodeStateVector(doc)).entries()].sort((a, b) => a[0] - b[0]);
}

/** Whether every document has the same state vector and the same content. */
export function converged(docs: readonly Y.Doc[]): boolean {
  const sv = JSON.stringify(stateVector(docs[0]!));
  const json = contentOf(docs[0]!);
  return docs.every((d) => JSON.stringify(stateVector(d)) === sv && contentOf(d) === json);
}

const KEYS = 24;

/**
 * One random transaction on `doc`: a map set (number, string or small object), a map delete, an
 * array insert at a random position, an array delete, or a nested map write.
 */
export function randomEdit(doc: Y.Doc, rng: Rng): void {
  const map = doc.getMap<unknown>('map');
  const arr = doc.getArray<unknown>('arr');
  const r = rng.nextFloat();
  doc.transact(() => {
    if (r < 0.35) {
      const v = rng.nextFloat();
      map.set(`k${rng.nextInt(KEYS)}`, v < 0.4 ? rng.nextInt(1000) : v < 0.8 ? `s${rng.nextInt(1e6)}` : { x: rng.nextInt(100), tag: 't' });
    } else if (r < 0.5) {
      const keys = [...map.keys()];
      if (keys.length > 0) map.delete(keys[rng.nextInt(keys.length)]!);
    } else if (r < 0.8) {
      arr.insert(rng.nextInt(arr.length + 1), [`${doc.clientID}:${rng.nextInt(1e6)}`]);
    } else if (r < 0.9) {
      if (arr.length > 0) {
        const at = rng.nextInt(arr.length);
        arr.delete(at, Math.min(arr.length - at, 1 + rng.nextInt(2)));
      }
    } else {
      let nested = map.get('nested');
      if (!(nested instanceof Y.Map)) {
        nested = new Y.Map<unknown>();
        map.set('nested', nested);
      }
      (nested as Y.Map<unknown>).set(`n${rng.nextInt(6)}`, rng.nextInt(100));
    }
  });
}

/** Sum of a drop reason over peers. */
export function drops(peers: readonly TestPeer[], reason: keyof ReturnType<YRoomProvider['stats']>['drops']): number {
  return peers.reduce((n, p) => n + p.provider.stats().drops[reason], 0);
}
