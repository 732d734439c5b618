/**
 * `npm run bench -- report`: the whole `pefuse report` (every output kind: sensitivity and heatmap
 * figures as .vl.json/.svg/.png, results and compute tables in three formats with bootstrap intervals,
 * a qualitative grid, the self-contained page) of a 30-point × 3-repeat synthetic sweep, whole process.
 * Target: under 5 s. Reference in the same run: `pefuse status` on the same database, whole process.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRow, printTable } from './table.js';

const BIN = fileURLToPath(new URL('../bin/pefuse.js', import.meta.url));

export const SPEC = `experiment: bench-report
datasets:
  - { name: synthetic, seed: 11, n_gallery: 120, n_queries: 40 }
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
diffusion: { backend: dummy, pipeline: dummy, steps: 10 }
retrieval: { backend: dummy, model: dummy }
repeats: 3
sweep:
  union:
    - grid: { mode: [t2i, t2t], mllm.temperature: [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] }
    - grid: { mode: [i2i, i2t], diffusion.guidance_scale: [1.5, 3.0, 4.5, 6.0, 7.5, 9.0] }
    - grid: { mllm.top_p: [0.5, 0.6, 0.7, 0.8, 0.9, 1.0] }
report:
  - figure: sensitivity
    metric: mean_recall
    series: mode
  - figure: heatmap
    metric: recall@10
    x: mllm.temperature
    y: mode
  - table: results
    metric: recall@10
  - table: compute
    metric: recall@10
  - grid: best
    count: 4
`;

function timedCli(args: string[]): number {
  const t0 = performance.now();
  execFileSync(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return (performance.now() - t0) / 1000;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pefuse-bench-report-'));
  try {
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, SPEC);
    const cache = join(dir, 'cache');
    const tRun = timedCli(['--cache', cache, 'run', spec, '--reporter', 'plain']);
    const best = (n: number, f: () => number) => Math.min(...Array.from({ length: n }, f));
    const tStatus = best(3, () => timedCli(['--cache', cache, 'status']));
    const out = join(dir, 'out');
    const tReport = best(3, () => timedCli(['--cache', cache, 'report', spec, '--out', out]));
    const tTables = best(3, () =>
      timedCli(['--cache', cache, 'report', spec, '--out', out, '--format', 'md,tex,html']),
    );
    const tBest = best(3, () => timedCli(['--cache', cache, 'report', spec, '--best', 'recall@10']));
    const row = (name: string, s: number): BenchRow => ({ name, seconds: s, 'vs status': s / tStatus });
    printTable(
      '`pefuse report`: 30 configurations × 3 repeats (90 points, 40 queries each), whole process, best of 3',
      [
        row('reference: pefuse status (same database)', tStatus),
        row('pefuse report (all outputs; target < 5 s)', tReport),
        row('pefuse report --format md,tex,html (tables only)', tTables),
        row('pefuse report --best recall@10', tBest),
      ],
      ['seconds', 'vs status'],
    );
    console.log(`\n(the sweep itself: ${tRun.toFixed(1)} s with dummy backends, not part of the comparison)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
