/**
 * Swarm physics: the GPU kernels (swarm.wgsl chained with the GPU broadphase) on Dawn
 * (SwiftShader) give the CPU twin's state bit for bit, step after step, also when pairs overflow
 * the capacity and when the swarm moves between backends mid-run. Runs in a child process
 * (fixtures/swarm-gpu-child.ts, see gpu-child.ts); skipped, naming why, only without an adapter.
 */
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { gpuReportOrSkip } from './gpu-child.ts';
import type { SwarmChildReport } from './fixtures/swarm-gpu-child.ts';

const CHILD = fileURLToPath(new URL('./fixtures/swarm-gpu-child.ts', import.meta.url));

test('swarm on WebGPU (Dawn) equals the CPU twin at every checkpoint, sizes 1..3000', async (ctx) => {
  const report = await gpuReportOrSkip<SwarmChildReport>(ctx, CHILD);
  expect(report.cases).toHaveLength(4);
  for (const c of report.cases) {
    expect(c.gpu, JSON.stringify(c.options)).toEqual(c.cpu);
    expect(c.differingBodies).toBe(0);
    expect(c.pairs.gpu).toBe(c.pairs.cpu);
  }
  // The dense cases really collide (the comparison covers contacts, not just free fall).
  expect(report.cases[2]!.pairs.cpu).toBeGreaterThan(3000);
  expect(report.cases[3]!.pairs.cpu).toBeGreaterThan(900); // over the capacity: some dropped
  expect(report.switching.backends).toEqual(['webgpu', 'cpu', 'webgpu']);
  expect(report.switching.gpu).toBe(report.switching.cpu);
}, 120_000);
