/**
 * `npm run bench -- plan`: expanding and planning grids of 1k, 10k and 100k points (5 axes) over the
 * paper's longest chain (i2t with MLLM-conditioned edits: 8 stages per point), against an empty cache.
 * Reference measured in the same run: the bare Cartesian expansion of the same axes (no keys, no
 * DAG), so the ratio shows what keying and dedup cost on top. Goal: 10k points under 1 s, linear; µs per point reported. Medians of 5 runs (`--repeat N`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planStoreAt } from '../runner/cli/plan-store.js';
import { planFile } from '../runner/frontend.js';
import { createPipeline } from '../stages/catalog.js';
import { type BenchRow, peakRssMb, printTable, repeated, repeats, showSpread } from './table.js';

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
  const cases: [string, [number, number, number, number, number], number][] = [
    ['1k', [5, 5, 5, 4, 2], repeats(5)],
    ['10k', [10, 10, 10, 5, 2], repeats(5)],
    ['100k', [10, 10, 10, 10, 10], Math.min(repeats(5), 2)],
  ];
  const rows: BenchRow[] = [];
  const pipeline = createPipeline();
  let perPoint10k = 0;
  let seconds10k = 0;
  for (const [name, sizes, reps] of cases) {
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
    await planFile(file, opts); // warm-up (JIT)
    let points = 0;
    let stages = 0;
    const plan = await repeated(reps, async () => {
      const t0 = performance.now();
      const r = await planFile(file, opts);
      const s = (performance.now() - t0) / 1000;
      if (!r.ok) throw new Error('bench spec failed to plan');
      points = r.value.points.length;
      stages = r.value.stages.length;
      return s;
    });
    const bare = await repeated(reps, async () => {
      const b0 = performance.now();
      bareExpansion(a);
      return (performance.now() - b0) / 1000;
    });
    const perPoint = plan.median / points;
    if (name === '10k') {
      perPoint10k = perPoint;
      seconds10k = plan.median;
    }
    rows.push({
      name: `${name} points × 5 axes`,
      points,
      stages,
      'plan s median (min–max)': showSpread(plan),
      'µs/point': perPoint * 1e6,
      'bare expansion s (reference)': bare.median,
      'ratio plan/bare': plan.median / Math.max(bare.median, 1e-6),
      'vs 10k µs/point': perPoint10k > 0 ? perPoint / perPoint10k : '',
    });
  }
  rows.push({ name: 'peak RSS (MB)', points: '', stages: '', 'plan s median (min–max)': peakRssMb() });
  printTable('plan: expand + key + dedup + cache status (in-process, warm)', rows, [
    'points',
    'stages',
    'plan s median (min–max)',
    'µs/point',
    'bare expansion s (reference)',
    'ratio plan/bare',
    'vs 10k µs/point',
  ]);
  console.log(
    `\ngoal: 10k points under 1 s (${seconds10k.toFixed(3)} s, ${(perPoint10k * 1e6).toFixed(1)} µs/point: ` +
      `${seconds10k < 1 ? 'meets' : 'misses'}); linear growth (µs/point roughly constant from 1k to 100k)`,
  );
  rmSync(dir, { recursive: true, force: true });
}
