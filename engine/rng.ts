/**
 * Deterministic pseudo-random numbers for simulation code.
 *
 * Algorithm: xoshiro128** 1.1 (Blackman and Vigna, "Scrambled Linear Pseudorandom Number
 * Generators", ACM TOMS 2021), seeded through SplitMix32 so any 32-bit seed (including 0) gives
 * a well-mixed non-zero state. All arithmetic is 32-bit integer (`Math.imul`, shifts), so every
 * peer on every platform draws the same sequence. The 128-bit state lives in the world and is
 * part of every snapshot: a rollback restores it, so re-simulated frames draw the same numbers.
 *
 * Never use `Math.random` in a system that runs inside rollback; use `world.rng`.
 */

/** A seeded generator whose whole state is `state` (4 x u32), copied by snapshots. */
export class Rng {
  /** The generator state, 4 x u32. Snapshots copy it; do not hold on to derived values. */
  readonly state = new Uint32Array(4);

  /** @param seed any integer; only its low 32 bits are used. Default 0. */
  constructor(seed = 0) {
    this.seed(seed);
  }

  /** Resets the state from a 32-bit seed (SplitMix32 expansion). */
  seed(seed: number): void {
    let s = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.state[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** Next uniformly distributed unsigned 32-bit integer in `[0, 2^32)`. */
  nextU32(): number {
    const s = this.state;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform float in `[0, 1)` with 24 bits of precision (exactly representable in f32). */
  nextFloat(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }

  /**
   * Uniform integer in `[0, n)`, unbiased (rejection sampling).
   * @throws RangeError when `n` is not an integer in `[1, 2^32]`.
   */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new RangeError(`nextInt: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }

  /** Uniform float in `[min, max)`. */
  range(min: number, max: number): number {
    return min + (max - min) * this.nextFloat();
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
