/**
 * `npm run bench -- plan`: expanding and planning grids of 1k, 10k and 100k points (5 axes) over the
 * paper's longest chain (i2t with MLLM-conditioned edits: 8 stages per point), against an empty cache.
 * Reference measured in the same run: the bare Cartesian expansion of the same axes (no keys, no
 * DAG), so the ratio shows what keying and dedup cost on top. Target: 10k points under 1 s, linear.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planStoreAt } from '../runner/cli/plan-store.js';
import { buildPlan } from '../runner/plan/build.js';
import { createPipeline } from '../stages/catalog.js';
import { type BenchRow, peakRssMb, printTable } from './table.js';

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

function axes(sizes: [number, number, number, number, number]): Record<string, number[]> {
  return {
    'mllm.temperature': range(sizes[0], (i) => Math.round((i / sizes[0]) * 100) / 100),
    'mllm.top_p': range(sizes[1], (i) => Math.round((0.5 + (i / sizes[1]) * 0.5) * 100) / 100),
    'mllm.top_k': range(sizes[2], (i) => 1 + i * 10),
    'diffusion.guidance_scale': range(sizes[3], (i) => 1 + i),
    'diffusion.steps': range(sizes[4], (i) => 10 + i * 10),
  };
}

function specText(a: Record<string, number[]>): string {
  const grid = Object.entries(a)
    .map(([k, v]) => `    ${k}: [${v.join(', ')}]`)
    .join('\n');
  return `experiment: bench-plan
datasets: [{ name: synthetic }]
mode: i2t
mllm: { backend: dummy, model: dummy-mllm }
diffusion: { backend: dummy, pipeline: dummy, text: mllm }
retrieval: { backend: dummy, model: dummy }
sweep:
  grid:
${grid}
`;
}

function bareExpansion(a: Record<string, number[]>): number {
  let points: Record<string, number>[] = [{}];
  for (const [k, values] of Object.entries(a)) {
    const next: Record<string, number>[] = [];
    for (const p of points) for (const v of values) next.push({ ...p, [k]: v });
    points = next;
  }
  return points.length;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pefuse-bench-plan-'));
  const cases: [string, [number, number, number, number, number]][] = [
    ['1k', [5, 5, 5, 4, 2]],
    ['10k', [10, 10, 10, 5, 2]],
    ['100k', [10, 10, 10, 10, 10]],
  ];
  const rows: BenchRow[] = [];
  const pipeline = createPipeline();
  let perPoint10k = 0;
  for (const [name, sizes] of cases) {
    const a = axes(sizes);
    const file = join(dir, `grid-${name}.yaml`);
    writeFileSync(file, specText(a));
    const opts = {
      overrides: [],
      cwd: dir,
      env: process.env,
      cacheRoot: join(dir, 'cache'),
      pipeline,
      store: planStoreAt(join(dir, 'cache')),
    };
    await buildPlan(file, opts); // warm-up (JIT, ajv compile)
    const t0 = performance.now();
    const r = await buildPlan(file, opts);
    const t1 = performance.now();
    if (!r.ok) throw new Error('bench spec failed to plan');
    const b0 = performance.now();
    const n = bareExpansion(a);
    const b1 = performance.now();
    const s = (t1 - t0) / 1000;
    if (name === '10k') perPoint10k = s / n;
    rows.push({
      name: `${name} points × 5 axes`,
      points: r.value.points.length,
      stages: r.value.stages.length,
      'plan s': s,
      'µs/point': (s / n) * 1e6,
      'bare expansion s': (b1 - b0) / 1000,
      'ratio plan/bare': (t1 - t0) / Math.max(b1 - b0, 1e-3),
      'vs 10k µs/point': perPoint10k > 0 ? s / n / perPoint10k : '',
    });
  }
  rows.push({ name: 'peak RSS (MB)', points: '', stages: '', 'plan s': peakRssMb() });
  printTable('plan: expand + key + dedup + cache status (in-process, warm)', rows, [
    'points',
    'stages',
    'plan s',
    'µs/point',
    'bare expansion s',
    'ratio plan/bare',
    'vs 10k µs/point',
  ]);
  console.log('\ntarget: 10k points under 1 s; linear growth (µs/point roughly constant from 1k to 100k)');
  rmSync(dir, { recursive: true, force: true });
}
