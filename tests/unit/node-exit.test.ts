/**
 * `createNode().stop()` releases everything: a Node process whose node had a WebGPU device
 * (Dawn on SwiftShader), a worker pool and a tick timer exits by itself after `stop()` (the
 * child, fixtures/node-exit-child.ts, never calls process.exit). Its GPU and worker results
 * equal the CPU twin. Without an adapter the node runs on the CPU and the test still checks the
 * exit, naming the reason.
 */
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { runGpuChild } from './gpu-child.ts';
import type { NodeExitReport } from './fixtures/node-exit-child.ts';

const CHILD = fileURLToPath(new URL('./fixtures/node-exit-child.ts', import.meta.url));

test('a node with a GPU device, workers and a tick timer lets Node exit after stop()', async (ctx) => {
  const report = await runGpuChild<NodeExitReport>(CHILD); // rejects if the child fails; hangs (test timeout) if it never exits
  if (report.adapter === null) ctx.annotate(`no WebGPU adapter in Node (CPU backend): ${report.reason}`);
  expect(report.states).toEqual(['starting', 'running', 'stopping', 'stopped']);
  expect(report.gpuEqual).toBe(true);
  expect(report.workerEqual).toBe(true);
  expect(report.ticks).toBeGreaterThan(3);
}, 60_000);
