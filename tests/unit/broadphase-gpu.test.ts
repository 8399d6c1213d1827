/**
 * Broadphase and scan kernels on WebGPU (Dawn, SwiftShader) equal their CPU twins exactly, and the
 * GPU-resident encode() path works (truncation at maxPairs keeps the first pairs in order, a
 * consumer pass in the same command encoder reads the pairs, buffers are reused).
 *
 * Dawn only finds SwiftShader when the process starts with LD_LIBRARY_PATH etc. (see
 * shaders/node-gpu.ts), so the kernels run in a child process (fixtures/broadphase-gpu-child.ts)
 * that compares GPU and CPU itself and reports as JSON. Skipped, naming why, only when no adapter
 * can be created.
 */
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { gpuReportOrSkip } from './gpu-child.ts';
import type { ChildReport } from './fixtures/broadphase-gpu-child.ts';

const CHILD = fileURLToPath(new URL('./fixtures/broadphase-gpu-child.ts', import.meta.url));

test('broadphase and scan kernels on WebGPU (Dawn) equal their CPU twins; encode() feeds a consumer pass', async (ctx) => {
  const report = await gpuReportOrSkip<ChildReport>(ctx, CHILD);
  const big = report.cases.find((c) => c.name.includes('n=100000'));
  console.log(
    `broadphase on ${report.adapter}: 100k uniform boxes (${(big?.size ?? 0) / 2} pairs) GPU ${big?.gpuMs.toFixed(0)} ms ` +
      `(with upload and readback), CPU twin ${big?.cpuMs.toFixed(0)} ms`,
  );
  expect(report.cases.length).toBeGreaterThanOrEqual(27);
  // Overlap queries (trigger volumes) compared too, with real hits.
  expect(report.cases.find((c) => c.name === 'queryOverlaps bodies')?.size).toBeGreaterThan(20);
  expect(report.cases.filter((c) => c.mismatches !== 0)).toEqual([]);
  // The comparisons are not of empty arrays.
  expect(report.cases.find((c) => c.name.startsWith('broadphase identical'))?.size).toBe(700 * 699);
  expect(report.cases.filter((c) => c.name.startsWith('broadphase') && c.size > 1000).length).toBeGreaterThanOrEqual(8);

  for (const e of report.errors) {
    expect(e.gpu, e.name).toBe(e.cpu);
    expect(e.gpu, e.name).toMatch(/^InvalidOption/);
  }

  const enc = report.encode;
  expect(enc.cpuTotal).toBeGreaterThan(3000);
  const maxPairs = Math.floor(enc.cpuTotal / 3);
  expect(enc.truncatedCount).toEqual([enc.cpuTotal, maxPairs, 0, 3000]);
  expect(enc.truncatedPrefixEqual).toBe(true);
  expect(enc.consumerChecksum).toBe(enc.cpuChecksum);
  expect(enc.fullEqual).toBe(true);
  expect(enc.buffersReused).toBe(true);
  expect(enc.oversized).toBeGreaterThan(0);
}, 120_000);
