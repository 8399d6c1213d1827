/**
 * Persistent identity of a relay (or a Node peer): an Ed25519 private key in a key file, so
 * the peer id stays the same across restarts and clients can pin it in the relay multiaddr.
 *
 * File format (JSON, mode 600, created if missing, parent folders mode 700):
 * `{ "version": 1, "peerId": "12D3KooW...", "privateKey": "<base64 of the libp2p protobuf key>" }`.
 * Node-only.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import { NetcodeError } from '../errors.ts';

/** A loaded or created key. */
export interface KeyFileResult {
  readonly privateKey: PrivateKey;
  readonly peerId: string;
  /** Absolute path of the key file. */
  readonly path: string;
  /** `true` when the file did not exist and was created now. */
  readonly created: boolean;
  /** Set when the file is readable by group or others (it should be mode 600). */
  readonly warning: string | undefined;
}

/**
 * Loads the key in `file`, or creates the file with a new Ed25519 key when it does not exist.
 * Safe against two processes creating the same file at once (exclusive create, then load).
 *
 * @throws NetcodeError `InvalidConfig` when the file exists but is not a key file (bad JSON,
 *   bad key, or a peer id that does not match the key), or cannot be read or written.
 */
export async function loadOrCreateKey(file: string): Promise<KeyFileResult> {
  const absolute = path.resolve(file);
  const existing = await readKeyFile(absolute);
  if (existing !== undefined) return existing;
  const privateKey = await generateKeyPair('Ed25519');
  const peerId = peerIdFromPrivateKey(privateKey).toString();
  const body = JSON.stringify({ version: 1, peerId, privateKey: Buffer.from(privateKeyToProtobuf(privateKey)).toString('base64') }, null, 2);
  try {
    await mkdir(path.dirname(absolute), { recursive: true, mode: 0o700 });
    await writeFile(absolute, body + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const raced = await readKeyFile(absolute);
      if (raced !== undefined) return raced;
    }
    throw new NetcodeError('InvalidConfig', `cannot create key file ${absolute}: ${String(err)}`, { path: absolute });
  }
  return { privateKey, peerId, path: absolute, created: true, warning: undefined };
}

async function readKeyFile(absolute: string): Promise<KeyFileResult | undefined> {
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new NetcodeError('InvalidConfig', `cannot read key file ${absolute}: ${String(err)}`, { path: absolute });
  }
  let privateKey: PrivateKey;
  let peerId: string;
  try {
    const json = JSON.parse(text) as { version?: unknown; peerId?: unknown; privateKey?: unknown };
    if (json.version !== 1 || typeof json.privateKey !== 'string') throw new Error('expected { version: 1, privateKey }');
    privateKey = privateKeyFromProtobuf(Buffer.from(json.privateKey, 'base64'));
    peerId = peerIdFromPrivateKey(privateKey).toString();
    if (json.peerId !== undefined && json.peerId !== peerId) throw new Error(`peerId ${String(json.peerId)} does not match the key (${peerId})`);
  } catch (err) {
    throw new NetcodeError('InvalidConfig', `${absolute} is not a key file: ${err instanceof Error ? err.message : String(err)}`, { path: absolute });
  }
  const mode = (await stat(absolute)).mode & 0o777;
  const warning = (mode & 0o077) !== 0
    ? `key file ${absolute} has mode ${mode.toString(8)}; run chmod 600 on it`
    : undefined;
  return { privateKey, peerId, path: absolute, created: false, warning };
}
