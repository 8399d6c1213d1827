/**
 * Helpers of the benchmarks that time WebGPU kernels: Dawn finds SwiftShader only in a process
 * STARTED with `nodeGpuEnv()` (docs/pitfalls.md), so a GPU bench file runs itself again as a
 * child (`--child`) that prints one JSON line starting with `{"adapter"`, and the parent turns
 * the samples into rows next to its CPU rows. Slow kernels are timed run by run after a warm-up
 * (tinybench's minimum sample count would take minutes), so p99 is the slowest sample.
 */
import { runGpuChild } from '../tests/unit/gpu-child.ts';
import type { BenchRow } from './harness.ts';

/** Samples of one measured case. */
export interface Timing {
  readonly name: string;
  readonly samples: number[];
  /** Extra figures of the case (pairs found, bodies). */
  readonly extra?: Record<string, number>;
}

/** What a GPU child prints: no adapter (with the reason), or its timings. */
export type GpuChildOutput = { adapter: null; reason: string } | { adapter: string; timings: Timing[] };

/** Runs `fn` once to warm up, then `runs` times; returns the durations, ms. */
export async function timeRuns(runs: number, fn: () => unknown): Promise<number[]> {
  await fn();
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return samples;
}

/**
 * Runs `file --child` under tsx with the GPU environment and parses its report (the helper the
 * Node GPU tests use).
 * @throws Error when the child fails or prints no report.
 */
export function runGpuBenchChild(file: string): Promise<GpuChildOutput> {
  return runGpuChild<GpuChildOutput>(file, ['--child']);
}

/** A report row from samples, with the ratio to `baseline` when given. */
export function sampleRow(group: string, name: string, samples: number[], baseline?: BenchRow, extra?: Record<string, number | string>): BenchRow {
  const meanMs = samples.reduce((a, b) => a + b, 0) / samples.length;
  return {
    group, name, meanMs, p99Ms: Math.max(...samples), samples: samples.length,
    baseline: baseline?.name, ratio: baseline ? meanMs / baseline.meanMs : undefined, extra,
  };
}
