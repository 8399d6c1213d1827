/**
 * Result hashing and the seeded spot-check draw of room compute.
 *
 * SHA-256 comes from WebCrypto (`globalThis.crypto.subtle`: browsers in secure contexts, Node
 * >= 19). Kernels are deterministic, so two honest peers produce equal bytes and equal hashes.
 */
import { NetcodeError } from '../errors.ts';

/**
 * SHA-256 of `bytes`, 32 bytes.
 * @throws NetcodeError `InvalidConfig` when WebCrypto is unavailable (an insecure browser
 *   context: `http:` other than localhost).
 */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined) throw new NetcodeError('InvalidConfig', 'room compute: crypto.subtle (WebCrypto) is unavailable; serve the page over https or localhost', { field: 'crypto.subtle' });
  return new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/** Whether `a` and `b` hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lower-case hexadecimal of `bytes` (for events and logs). */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** A 32-bit integer mix (the finaliser of MurmurHash3), `>>> 0`. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The spot-check draw of the `n`-th task submitted with `seed`: a number in [0, 1), a pure
 * function of `(seed, n)` (low 32 bits of each), so a run with the same seed checks the same
 * tasks.
 */
export function spotCheckDraw(seed: number, n: number): number {
  return mix32(mix32(seed) ^ mix32(n + 0x9e3779b9)) / 0x1_0000_0000;
}
