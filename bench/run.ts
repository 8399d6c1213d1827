/**
 * `npm run bench`: runs every benchmark group, prints one table, writes JSON to
 * `bench/results/bench-<timestamp>.json` and `bench/results/latest.json`.
 *
 * Groups are chosen with `--only <substring>` (repeatable). Figures are wall-clock on this
 * machine; compare ratios within a run, not absolute numbers across machines.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import os from 'node:os';
import { formatTable, type BenchRow } from './harness.ts';
import { benchCompute } from './compute.bench.ts';
import { benchNet } from './net.bench.ts';
import { benchPhysicsStep, benchSnapshot } from './physics.bench.ts';
import { benchReplication } from './replication.bench.ts';
import { benchRollback } from './rollback.bench.ts';
import { benchRoomCompute } from './room-compute.bench.ts';
import { benchScheduler } from './scheduler.bench.ts';
import { benchSwarm } from './swarm.bench.ts';
import { benchWebrtc } from './webrtc.bench.ts';
import { benchWorkers } from './workers.bench.ts';

const groups: Record<string, () => Promise<BenchRow[]>> = {
  scheduler: benchScheduler,
  physics: benchPhysicsStep,
  snapshot: benchSnapshot,
  webrtc: benchWebrtc,
  net: benchNet,
  rollback: benchRollback,
  'room-compute': benchRoomCompute,
  replication: benchReplication,
  compute: benchCompute,
  swarm: benchSwarm,
  workers: benchWorkers,
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(`usage: npm run bench [-- --only <group>...]\ngroups: ${Object.keys(groups).join(', ')}`);
    return;
  }
  const chosen = Object.entries(groups).filter(([name]) => !values.only || values.only.some((o) => name.includes(o)));
  const rows: BenchRow[] = [];
  for (const [name, run] of chosen) {
    process.stderr.write(`running ${name}...\n`);
    rows.push(...(await run()));
  }
  console.log(formatTable(rows));
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    rows,
  };
  const json = JSON.stringify(report, null, 2);
  const file = join(dir, `bench-${report.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, json);
  writeFileSync(join(dir, 'latest.json'), json);
  console.log(`\nwrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
