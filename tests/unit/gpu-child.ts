/**
 * Running a WebGPU fixture in a child Node process: Dawn finds SwiftShader only when the process
 * STARTS with LD_LIBRARY_PATH etc. (see shaders/node-gpu.ts), so GPU tests spawn their fixture
 * with `nodeGpuEnv()` and read the JSON report it prints last: an object starting `{"adapter"`
 * (Dawn may print warnings on stdout before it).
 */
import { spawn } from 'node:child_process';
import type { TestContext } from 'vitest';
import { existsSync } from 'node:fs';
import { CHROMIUM_LIB_DIR, SWIFTSHADER_ICD, nodeGpuEnv } from '../../shaders/node-gpu.ts';

/** Why no adapter can exist on this machine, or `null` when Dawn may find SwiftShader. */
export function noGpuReason(): string | null {
  if (!existsSync(`${CHROMIUM_LIB_DIR}/libvulkan.so.1`) || !existsSync(SWIFTSHADER_ICD)) {
    return `no WebGPU adapter possible: ${CHROMIUM_LIB_DIR} lacks libvulkan.so.1 or vk_swiftshader_icd.json (install Debian's chromium)`;
  }
  return null;
}

/**
 * Runs `node --import tsx <fixture> ...args` with the GPU environment and parses the report it
 * printed last (from the last `{"adapter"` on stdout).
 *
 * @throws Error with the exit code and the end of stderr when the child fails or prints no JSON.
 */
export async function runGpuChild<T>(fixture: string, args: string[] = []): Promise<T> {
  const result = await new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], { env: nodeGpuEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  if (result.code !== 0) {
    throw new Error(`${fixture} exited ${result.code} ${result.signal ?? ''}: ${result.stderr.slice(-2000)}`);
  }
  const at = result.stdout.lastIndexOf('{"adapter"');
  try {
    return JSON.parse(result.stdout.slice(at < 0 ? 0 : at)) as T;
  } catch {
    throw new Error(`${fixture} printed no JSON report: ${result.stdout.slice(-1000)} ${result.stderr.slice(-1000)}`);
  }
}

/**
 * The GPU test preamble: skips (naming why) when no adapter can exist here or the child found
 * none, else returns the child's report.
 */
export async function gpuReportOrSkip<T extends { adapter: string | null }>(ctx: TestContext, fixture: string): Promise<Extract<T, { adapter: string }>> {
  const missing = noGpuReason();
  if (missing !== null) ctx.skip(missing);
  const report = await runGpuChild<T & { reason?: string }>(fixture);
  if (report.adapter === null) ctx.skip(`no WebGPU adapter in Node: ${report.reason ?? 'unknown'}`);
  return report as Extract<T, { adapter: string }>;
}
