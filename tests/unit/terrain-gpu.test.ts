/**
 * Terrain heightmap: the WGSL kernel on Dawn (SwiftShader) equals the CPU twin bit for bit.
 *
 * Dawn only finds SwiftShader when the process starts with LD_LIBRARY_PATH etc. (see
 * shaders/node-gpu.ts), so the kernel runs in a child process (fixtures/terrain-gpu-child.ts)
 * that compares GPU and CPU itself and reports mismatches as JSON. Skipped, naming why, only
 * when no adapter can be created.
 */
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { gpuReportOrSkip } from './gpu-child.ts';
import { cpuBackend } from '../../shaders/index.ts';
import type { ChildReport } from './fixtures/terrain-gpu-child.ts';
import { walkStreamer } from './fixtures/terrain-walk.ts';

const CHILD = fileURLToPath(new URL('./fixtures/terrain-gpu-child.ts', import.meta.url));

test('heightmap kernel on WebGPU (Dawn) equals the CPU twin over sizes 1..256, seeds, chunks, LODs and borders; a streamer walk gives the same hashes', async (ctx) => {
  const report = await gpuReportOrSkip<ChildReport>(ctx, CHILD);
  console.log(
    `terrain 256 chunk on ${report.adapter}: GPU ${report.timing.gpuMs.toFixed(1)} ms (with readback), ` +
      `CPU twin ${report.timing.cpuMs.toFixed(1)} ms`,
  );
  expect(report.cases.length).toBeGreaterThanOrEqual(21);
  expect(report.cases.filter((c) => c.mismatches !== 0)).toEqual([]);
  expect(report.cases.filter((c) => (c.options.lod ?? 0) > 0 || (c.options.border ?? 0) > 0)).toHaveLength(5);
  // The streamer walking the same path with chunks from the GPU gives the CPU's hash sequence.
  const cpu = await walkStreamer(cpuBackend('preferred', 'test'));
  expect(cpu.filter((e) => e.startsWith('evicted')).length).toBeGreaterThan(0);
  expect(cpu.length).toBeGreaterThan(60);
  expect(report.stream).toEqual(cpu);
  console.log(`terrain streamer walk: ${cpu.length} events, GPU and CPU hash sequences identical`);
}, 90_000);
