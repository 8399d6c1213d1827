/**
 * Broadphase CPU twin (uniform grid + counting sort) against the O(N^2) brute force: identical
 * arrays on seeded and random box sets, output invariants, validation errors; and the CPU scan
 * the GPU kernels share (shaders/common/scan-cpu.ts).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  bruteForcePairs, exclusiveScan, exclusiveScanCpu, findPairs, findPairsCpu, invCellSizeF32, minCellSize, cpuBackend,
  MAX_PAIRS, ShadersError,
} from '../../shaders/index.ts';
import { clusteredBoxes, identicalBoxes, mixedBoxes, touchingBoxes, uniformBoxes } from './fixtures/broadphase-boxes.ts';

/** Asserts i < j within pairs and strictly increasing (i, j) order. */
function expectSortedPairs(pairs: Uint32Array): void {
  expect(pairs.length % 2).toBe(0);
  for (let p = 0; p < pairs.length; p += 2) {
    if (!(pairs[p] < pairs[p + 1])) throw new Error(`pair ${p / 2} = (${pairs[p]}, ${pairs[p + 1]}) has i >= j`);
    if (p > 0) {
      const before = pairs[p - 2] < pairs[p] || (pairs[p - 2] === pairs[p] && pairs[p - 1] < pairs[p + 1]);
      if (!before) throw new Error(`pair ${p / 2} = (${pairs[p]}, ${pairs[p + 1]}) is not after (${pairs[p - 2]}, ${pairs[p - 1]})`);
    }
  }
}

function expectSameAsBruteForce(aabbs: Float32Array, minPairs = 0): Uint32Array {
  const grid = findPairsCpu(aabbs);
  const brute = bruteForcePairs(aabbs);
  expectSortedPairs(brute);
  expectSortedPairs(grid);
  expect(grid.length / 2).toBe(brute.length / 2);
  expect(grid).toEqual(brute);
  expect(grid.length / 2).toBeGreaterThanOrEqual(minPairs);
  return grid;
}

function shadersError(fn: () => unknown): ShadersError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ShadersError);
    return error as ShadersError;
  }
  throw new Error('expected a ShadersError');
}

describe('broadphase CPU twin equals brute force', () => {
  test('N = 0, 1 and 2', () => {
    expect(findPairsCpu(new Float32Array(0))).toEqual(new Uint32Array(0));
    expect(findPairsCpu(new Float32Array([0, 0, 0, 1, 1, 1]))).toEqual(new Uint32Array(0));
    expect(findPairsCpu(new Float32Array([0, 0, 0, 1, 1, 1, 0.5, 0.5, 0.5, 2, 2, 2]))).toEqual(new Uint32Array([0, 1]));
    expect(findPairsCpu(new Float32Array([0, 0, 0, 1, 1, 1, 1.5, 0.5, 0.5, 2, 2, 2]))).toEqual(new Uint32Array(0));
  });

  test.each([100, 2000])('uniform random boxes, N = %i, several seeds', (n) => {
    for (const seed of [1, 2, 3]) expectSameAsBruteForce(uniformBoxes(n, seed), n / 4);
  });

  test('dense uniform boxes (about 20 partners each)', () => {
    expectSameAsBruteForce(uniformBoxes(1500, 9, { overlaps: 20 }), 1500 * 5);
  });

  test('clustered boxes', () => {
    expectSameAsBruteForce(clusteredBoxes(2000, 4), 2000);
  });

  test('many identical boxes: every pair', () => {
    const pairs = expectSameAsBruteForce(identicalBoxes(300));
    expect(pairs.length / 2).toBe((300 * 299) / 2);
  });

  test('touching boxes (faces, edges, corners) count as overlapping', () => {
    // 6^3 lattice: pairs of distinct cells whose coordinates differ by at most 1 per axis.
    const pairs = expectSameAsBruteForce(touchingBoxes(6));
    const line = 6 + 2 * 5; // per axis: same (6) or adjacent either order (2 * 5) ordered pairs
    expect(pairs.length / 2).toBe((line ** 3 - 6 ** 3) / 2);
  });

  test('negative and large coordinates', () => {
    expectSameAsBruteForce(touchingBoxes(5, -1_000_000));
    expectSameAsBruteForce(touchingBoxes(4, 4_000_000)); // spacing of f32 at 4e6 is 0.25: still exact
    expectSameAsBruteForce(uniformBoxes(1000, 5, { origin: -3.0e7, maxExtent: 20 }), 100);
    expectSameAsBruteForce(uniformBoxes(1000, 6, { origin: 1.0e30, maxExtent: 1e25, overlaps: 3 }), 100);
  });

  test('mixed sizes, including points', () => {
    expectSameAsBruteForce(mixedBoxes(2000, 8), 50);
  });

  test('one huge box: correct, every box pairs with it', () => {
    const aabbs = uniformBoxes(500, 11);
    aabbs.set([-1e4, -1e4, -1e4, 1e4, 1e4, 1e4], 6 * 123);
    const pairs = expectSameAsBruteForce(aabbs);
    let withHuge = 0;
    for (let p = 0; p < pairs.length; p += 2) if (pairs[p] === 123 || pairs[p + 1] === 123) withHuge++;
    expect(withHuge).toBe(499);
  });

  test('random boxes of arbitrary f32 values (signed zeros, subnormals, extremes)', () => {
    const coordinate = fc.float({ noNaN: true, noDefaultInfinity: true });
    const box = fc.tuple(coordinate, coordinate, coordinate, coordinate, coordinate, coordinate);
    fc.assert(fc.property(fc.array(box, { maxLength: 60 }), (boxes) => {
      const aabbs = new Float32Array(6 * boxes.length);
      boxes.forEach((b, k) => {
        for (let axis = 0; axis < 3; axis++) {
          aabbs[6 * k + axis] = Math.min(b[axis], b[axis + 3]);
          aabbs[6 * k + 3 + axis] = Math.max(b[axis], b[axis + 3]);
        }
      });
      expect(findPairsCpu(aabbs)).toEqual(bruteForcePairs(aabbs));
    }), { numRuns: 300, seed: 20241123 });
  });

  test('random small boxes on a small lattice (many exact touches and hash collisions)', () => {
    const corner = fc.integer({ min: -8, max: 8 });
    const size = fc.integer({ min: 0, max: 3 });
    const box = fc.tuple(corner, corner, corner, size, size, size);
    fc.assert(fc.property(fc.array(box, { maxLength: 200 }), fc.constantFrom(0.5, 1, 1024), (boxes, unit) => {
      const aabbs = new Float32Array(6 * boxes.length);
      boxes.forEach(([x, y, z, sx, sy, sz], k) => aabbs.set([x * unit, y * unit, z * unit, (x + sx) * unit, (y + sy) * unit, (z + sz) * unit], 6 * k));
      const pairs = findPairsCpu(aabbs);
      expectSortedPairs(pairs);
      expect(pairs).toEqual(bruteForcePairs(aabbs));
    }), { numRuns: 200, seed: 7 });
  });

  test('a larger cell size gives the same pairs', () => {
    const aabbs = uniformBoxes(1000, 12);
    const reference = findPairsCpu(aabbs);
    for (const cellSize of [minCellSize(aabbs), 2, 10, 1e6]) expect(findPairsCpu(aabbs, { cellSize })).toEqual(reference);
  });

  test('findPairs on a CPU backend runs the twin', async () => {
    const aabbs = clusteredBoxes(500, 3);
    expect(await findPairs(cpuBackend('preferred', 'test'), aabbs)).toEqual(findPairsCpu(aabbs));
  });
});

describe('broadphase cell size', () => {
  test('the f32 inverse never makes the cell smaller than asked', () => {
    fc.assert(fc.property(fc.double({ min: 2 ** -120, max: 1e38, noNaN: true }), (cellSize) => {
      const inv = invCellSizeF32(cellSize);
      expect(Math.fround(inv)).toBe(inv);
      expect(1 / inv).toBeGreaterThanOrEqual(cellSize * (1 - 2 ** -52));
      expect(1 / inv).toBeLessThanOrEqual(cellSize * (1 + 2 ** -22));
    }), { numRuns: 500, seed: 3 });
  });

  test('minCellSize covers the largest extent plus a margin that grows with |coordinates|', () => {
    expect(minCellSize(new Float32Array([0, 0, 0, 2, 1, 1]))).toBeGreaterThan(2);
    expect(minCellSize(new Float32Array([0, 0, 0, 2, 1, 1]))).toBeLessThan(2.0001);
    expect(minCellSize(new Float32Array([1e6, 0, 0, 1e6, 0, 0]))).toBeGreaterThanOrEqual(1e6 * 2 ** -16);
    expect(minCellSize(new Float32Array(0))).toBeGreaterThan(0);
  });
});

describe('broadphase validation', () => {
  test('length not a multiple of 6 names the incomplete box', () => {
    const error = shadersError(() => findPairsCpu(new Float32Array(13)));
    expect(error.code).toBe('InvalidOption');
    expect(error.message).toContain('box 2');
    expect(error.data).toMatchObject({ option: 'aabbs', box: 2 });
  });

  test.each([
    ['NaN', Number.NaN, 'non-finite'],
    ['Infinity', Number.POSITIVE_INFINITY, 'non-finite'],
    ['-Infinity', Number.NEGATIVE_INFINITY, 'non-finite'],
  ])('%s coordinate names the box', (_name, value, words) => {
    const aabbs = uniformBoxes(10, 1);
    aabbs[6 * 7 + 4] = value;
    for (const run of [() => findPairsCpu(aabbs), () => bruteForcePairs(aabbs)]) {
      const error = shadersError(run);
      expect(error.code).toBe('InvalidOption');
      expect(error.message).toContain('box 7');
      expect(error.message).toContain(words);
      expect(error.data.box).toBe(7);
    }
  });

  test('min > max names the box and axis', () => {
    const aabbs = uniformBoxes(10, 1);
    aabbs[6 * 4 + 2] = aabbs[6 * 4 + 5] + 1;
    const error = shadersError(() => findPairsCpu(aabbs));
    expect(error.code).toBe('InvalidOption');
    expect(error.message).toMatch(/box 4 has min .* > max .* on axis z/);
  });

  test('a non-Float32Array is refused', () => {
    const error = shadersError(() => findPairsCpu([0, 0, 0, 1, 1, 1] as unknown as Float32Array));
    expect(error.code).toBe('InvalidOption');
  });

  test('findPairs rejects bad boxes on the CPU backend too', async () => {
    await expect(findPairs(cpuBackend('preferred', 'test'), new Float32Array(5))).rejects.toMatchObject({ code: 'InvalidOption' });
  });

  test('cellSize below the safe minimum, or not finite, is refused', () => {
    const aabbs = uniformBoxes(100, 2, { maxExtent: 3 });
    for (const cellSize of [1, Number.NaN, Number.POSITIVE_INFINITY, -5]) {
      const error = shadersError(() => findPairsCpu(aabbs, { cellSize }));
      expect(error.code).toBe('InvalidOption');
      expect(error.data.option).toBe('cellSize');
    }
  });

  test('more pairs than maxPairs throws with the total found', () => {
    const aabbs = identicalBoxes(50); // 1225 pairs
    expect(findPairsCpu(aabbs, { maxPairs: 1225 }).length).toBe(2450);
    const error = shadersError(() => findPairsCpu(aabbs, { maxPairs: 1000 }));
    expect(error.code).toBe('InvalidOption');
    expect(error.data).toMatchObject({ option: 'maxPairs', found: 1225, maxPairs: 1000 });
    for (const maxPairs of [-1, 1.5, MAX_PAIRS + 1]) expect(shadersError(() => findPairsCpu(aabbs, { maxPairs })).data.option).toBe('maxPairs');
  });
});

describe('exclusive scan (CPU twin of scan.wgsl)', () => {
  test('exclusive sums with the total in the extra slot', () => {
    const data = new Uint32Array([3, 1, 4, 1, 5, 99]);
    expect(exclusiveScanCpu(data, 5)).toBe(14);
    expect([...data]).toEqual([0, 3, 4, 8, 9, 14]);
    const empty = new Uint32Array(1);
    expect(exclusiveScanCpu(empty, 0)).toBe(0);
  });

  test('sums saturate at 2^32 - 1 instead of wrapping', () => {
    const data = new Uint32Array([0xfffffff0, 0x10, 0x10, 7, 0]);
    expect(exclusiveScanCpu(data)).toBe(0xffffffff);
    expect([...data]).toEqual([0, 0xfffffff0, 0xffffffff, 0xffffffff, 0xffffffff]);
  });

  test('exclusiveScan on a CPU backend returns a new array and leaves the input alone', async () => {
    const values = new Uint32Array([5, 6, 7]);
    expect([...(await exclusiveScan(cpuBackend('preferred', 'test'), values))]).toEqual([0, 5, 11, 18]);
    expect([...values]).toEqual([5, 6, 7]);
  });

  test('a count beyond the buffer is refused', () => {
    expect(shadersError(() => exclusiveScanCpu(new Uint32Array(3), 3)).code).toBe('InvalidOption');
  });
});
