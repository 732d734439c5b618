/**
 * A results database from a small synthetic run (the demo's generated dataset and `dummy` backends),
 * made with the real CLI, and the spec whose `report:` block asks for every output kind.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { pefuse, tempDir } from '../helpers/cli.js';

export const SPEC = `experiment: report-test
datasets:
  - { name: synthetic, seed: 3, n_gallery: 60, n_queries: 30 }
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
diffusion: { backend: dummy, pipeline: dummy, steps: 10 }
retrieval: { backend: dummy, model: dummy }
repeats: 2
sweep:
  union:
    - grid: { mode: [t2i, t2t], mllm.temperature: [0.0, 0.4, 0.8] }
    - grid: { mode: [i2i], diffusion.guidance_scale: [1.5, 7.5] }
    - grid: { retrieval.model: [openclip-vit-l-14, openclip-vit-b-32] }
report:
  - figure: sensitivity
    metric: mean_recall
    series: mode
    base: { mllm.temperature: 0.4 }
  - figure: scaling
    metric: recall@10
  - figure: heatmap
    metric: recall@10
    x: mllm.temperature
    y: mode
  - table: results
    metric: recall@1
    baselines: baselines.json
  - table: compute
    metric: recall@10
  - grid: best
    count: 2
`;

export const BASELINES = {
  source: 'a test paper, Table 9',
  table: 'table9',
  columns: ['R@1', 'R@10', 'R@50', 'R@7'],
  lost_cells: ['table9 / Old: R@50 = null (lost in extraction)'],
  rows: [
    {
      method: 'Old',
      retrieval_model: 'CLIP',
      backbone: 'ViT-B/32',
      origin: 'from-original-papers',
      marker: '†',
      values: { 'R@1': 12.5, 'R@10': 99.5, 'R@50': null },
      uncertain: ['R@50'],
    },
  ],
};

export interface Fixture {
  dir: string;
  spec: string;
  cache: string;
  db: string;
  out: string;
}

/** Runs the sweep and the report; about 15 s on two cores. */
export async function makeFixture(): Promise<Fixture> {
  const dir = tempDir('pefuse-report-');
  const spec = join(dir, 'spec.yaml');
  writeFileSync(spec, SPEC);
  writeFileSync(join(dir, 'baselines.json'), JSON.stringify(BASELINES, null, 2));
  const cache = join(dir, 'cache');
  const run = await pefuse(['--cache', cache, 'run', spec, '--reporter', 'plain']);
  expect(run.exitCode, run.stderr).toBe(0);
  const rep = await pefuse(['--cache', cache, 'report', spec, '--out', join(dir, 'out')]);
  expect(rep.exitCode, rep.stderr).toBe(0);
  return { dir, spec, cache, db: join(cache, 'results.duckdb'), out: join(dir, 'out', 'report-test') };
}
