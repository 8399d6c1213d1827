/**
 * Overlap queries (shaders/broadphase/query.ts): the bodies touching each query box equal a
 * brute-force check, in ascending order, on the CPU backend (the GPU broadphase returns the same
 * pair list, see broadphase-gpu.test.ts); bad boxes are refused naming the argument.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { cpuBackend, queryOverlaps, ShadersError } from '../../shaders/index.ts';
import { clusteredBoxes, uniformBoxes } from './fixtures/broadphase-boxes.ts';

const cpu = cpuBackend('preferred', 'test');

function overlaps(a: Float32Array, i: number, b: Float32Array, j: number): boolean {
  for (let axis = 0; axis < 3; axis++) {
    if (a[6 * i + axis]! > b[6 * j + 3 + axis]! || b[6 * j + axis]! > a[6 * i + 3 + axis]!) return false;
  }
  return true;
}

function bruteForce(bodies: Float32Array, queries: Float32Array): number[][] {
  const out: number[][] = [];
  for (let q = 0; q < queries.length / 6; q++) {
    const hits: number[] = [];
    for (let b = 0; b < bodies.length / 6; b++) if (overlaps(bodies, b, queries, q)) hits.push(b);
    out.push(hits);
  }
  return out;
}

function lists(result: { offsets: Uint32Array; bodies: Uint32Array }): number[][] {
  const out: number[][] = [];
  for (let q = 0; q < result.offsets.length - 1; q++) out.push([...result.bodies.subarray(result.offsets[q], result.offsets[q + 1])]);
  return out;
}

describe('queryOverlaps', () => {
  test('equals brute force on uniform and clustered bodies with trigger-sized queries', async () => {
    for (const [bodies, queries] of [
      [uniformBoxes(2000, 1), uniformBoxes(50, 2)],
      [clusteredBoxes(1500, 3), clusteredBoxes(40, 4)],
      [uniformBoxes(10, 5), new Float32Array(0)],
      [new Float32Array(0), uniformBoxes(5, 6)],
    ] as const) {
      const result = await queryOverlaps(cpu, bodies, queries);
      expect(lists(result)).toEqual(bruteForce(bodies, queries));
    }
    // The comparison is not of empty lists.
    const some = await queryOverlaps(cpu, uniformBoxes(2000, 1), uniformBoxes(50, 2));
    expect(some.bodies.length).toBeGreaterThan(20);
  });

  test('property: arbitrary small integer boxes', async () => {
    const box = fc.tuple(fc.integer({ min: -8, max: 8 }), fc.integer({ min: -8, max: 8 }), fc.integer({ min: -8, max: 8 }), fc.integer({ min: 0, max: 3 }))
      .map(([x, y, z, e]) => [x, y, z, x + e, y + e, z + e]);
    await fc.assert(fc.asyncProperty(fc.array(box, { maxLength: 40 }), fc.array(box, { maxLength: 10 }), async (b, q) => {
      const bodies = new Float32Array(b.flat());
      const queries = new Float32Array(q.flat());
      expect(lists(await queryOverlaps(cpu, bodies, queries))).toEqual(bruteForce(bodies, queries));
    }), { numRuns: 200 });
  });

  test('malformed boxes are refused naming the argument and the box', async () => {
    const bad = new Float32Array([0, 0, 0, 1, 1, 1, 2, 2, 2, 1, 3, 3]); // box 1: min x > max x
    const error = await queryOverlaps(cpu, uniformBoxes(4, 1), bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShadersError);
    expect((error as ShadersError).code).toBe('InvalidOption');
    expect((error as ShadersError).message).toMatch(/queries/);
    expect((error as ShadersError).data.option).toBe('queries');
  });
});
