/**
 * Side-by-side benchmark helpers: every measured case names the baseline it is compared with in
 * the same run, and the report gives the ratio (case mean / baseline mean; below 1 is faster).
 * Timing uses tinybench (warm-up, then at least `time` ms or `iterations` samples per case).
 */
import { Bench } from 'tinybench';

/** One row of the report. */
export interface BenchRow {
  /** Group, e.g. "scheduler 10k entities". Ratios compare rows of one group. */
  readonly group: string;
  readonly name: string;
  /** Mean time per iteration, ms. */
  readonly meanMs: number;
  /** 99th percentile of samples, ms; NaN where one figure was measured (shown as -). */
  readonly p99Ms: number;
  readonly samples: number;
  /** Name of the baseline row in the group, or undefined for the baseline itself. */
  readonly baseline?: string;
  /** meanMs / baseline meanMs. */
  ratio?: number;
  /** Extra figures, e.g. bytes per body. */
  readonly extra?: Readonly<Record<string, number | string>>;
}

/** A case: a function timed per iteration, with optional setup run before timing. */
export interface BenchCase {
  readonly name: string;
  readonly fn: () => void;
  /** Name of the case of the same group it is compared with; omit for the baseline. */
  readonly baseline?: string;
  readonly extra?: Readonly<Record<string, number | string>>;
}

/** Options of {@link runGroup}. Defaults: 400 ms and 20 iterations minimum per case. */
export interface GroupOptions {
  readonly time?: number;
  readonly iterations?: number;
}

/** Times every case of a group in one tinybench run and fills in ratios. */
export async function runGroup(group: string, cases: readonly BenchCase[], options: GroupOptions = {}): Promise<BenchRow[]> {
  const bench = new Bench({ time: options.time ?? 400, iterations: options.iterations ?? 20, warmup: true });
  for (const c of cases) bench.add(c.name, c.fn);
  await bench.run();
  const rows: BenchRow[] = bench.tasks.map((task, i) => {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`bench ${group} / ${task.name}: ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`);
    const c = cases[i]!;
    return {
      group,
      name: c.name,
      meanMs: r.latency.mean,
      p99Ms: r.latency.p99,
      samples: r.latency.samplesCount,
      baseline: c.baseline,
      extra: c.extra,
    };
  });
  for (const row of rows) {
    if (!row.baseline) continue;
    const base = rows.find((r) => r.name === row.baseline);
    if (!base) throw new Error(`bench ${group}: case ${row.name} names unknown baseline ${row.baseline}`);
    row.ratio = row.meanMs / base.meanMs;
  }
  return rows;
}

/** Formats rows as an aligned text table. */
export function formatTable(rows: readonly BenchRow[]): string {
  const header = ['group', 'case', 'mean ms', 'p99 ms', 'samples', 'vs baseline', 'extra'];
  const body = rows.map((r) => [
    r.group,
    r.name,
    r.meanMs.toFixed(4),
    Number.isFinite(r.p99Ms) ? r.p99Ms.toFixed(4) : '-',
    String(r.samples),
    r.ratio === undefined ? '(baseline)' : `${r.ratio.toFixed(2)}x ${r.baseline}`,
    r.extra ? Object.entries(r.extra).map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toFixed(3) : v}`).join(' ') : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)].join('\n');
}
