/**
 * Terrain heightmap: the WGSL kernel on Dawn (SwiftShader) equals the CPU twin bit for bit.
 *
 * Dawn only finds SwiftShader when the process starts with LD_LIBRARY_PATH etc. (see
 * shaders/node-gpu.ts), so the kernel runs in a child process (fixtures/terrain-gpu-child.ts)
 * that compares GPU and CPU itself and reports mismatches as JSON. Skipped, naming why, only
 * when no adapter can be created.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { CHROMIUM_LIB_DIR, SWIFTSHADER_ICD, nodeGpuEnv } from '../../shaders/node-gpu.ts';
import type { ChildReport } from './fixtures/terrain-gpu-child.ts';

const CHILD = fileURLToPath(new URL('./fixtures/terrain-gpu-child.ts', import.meta.url));

function runChild(): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: nodeGpuEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

test('heightmap kernel on WebGPU (Dawn) equals the CPU twin over sizes 1..256, seeds and chunks', async (ctx) => {
  if (!existsSync(`${CHROMIUM_LIB_DIR}/libvulkan.so.1`) || !existsSync(SWIFTSHADER_ICD)) {
    ctx.skip(`no WebGPU adapter possible: ${CHROMIUM_LIB_DIR} lacks libvulkan.so.1 or vk_swiftshader_icd.json (install Debian's chromium)`);
  }
  const result = await runChild();
  expect(result.code, `child exited ${result.code} ${result.signal ?? ''}: ${result.stderr.slice(-2000)}`).toBe(0);
  const report = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as ChildReport;
  if (report.adapter === null) {
    ctx.skip(`no WebGPU adapter in Node: ${report.reason}`);
    return;
  }
  console.log(
    `terrain 256 chunk on ${report.adapter}: GPU ${report.timing.gpuMs.toFixed(1)} ms (with readback), ` +
      `CPU twin ${report.timing.cpuMs.toFixed(1)} ms`,
  );
  expect(report.cases.length).toBeGreaterThanOrEqual(16);
  expect(report.cases.filter((c) => c.mismatches !== 0)).toEqual([]);
}, 60_000);
