/**
 * The typed `report:` block: located errors for a metric the dataset lacks, an axis the sweep does not
 * vary, options of another kind; every shipped spec's report block passes.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pefuse, tempDir } from '../helpers/cli.js';

const HEAD = `experiment: bad-report
datasets:
  - { name: synthetic, n_gallery: 60, n_queries: 20 }
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
retrieval: { backend: dummy, model: dummy }
sweep:
  grid: { mllm.temperature: [0.0, 0.5] }
`;

async function validate(report: string) {
  const dir = tempDir('pefuse-report-spec-');
  const file = join(dir, 'spec.yaml');
  writeFileSync(file, HEAD + report);
  return pefuse(['validate', file]);
}

describe('report: block', () => {
  it('names a metric the dataset does not record, at its place, with the choices', async () => {
    const r = await validate('report:\n  - figure: sensitivity\n    metric: map@5\n');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/spec\.yaml:11:13: error: synthetic has no metric `map@5`/);
    expect(r.stderr).toContain(
      'hint: synthetic records recall@1, recall@5, recall@10, recall@50, mean_recall',
    );
  });

  it('names an axis that is not swept, with a suggestion', async () => {
    const r = await validate('report:\n  - figure: heatmap\n    x: mllm.temperatur\n    y: mllm.top_p\n');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/spec\.yaml:11:8: error: x `mllm\.temperatur` is not swept in this spec/);
    expect(r.stderr).toContain('did you mean `mllm.temperature`');
    expect(r.stderr).toMatch(/spec\.yaml:12:8: error: y `mllm\.top_p` is not swept in this spec/);
  });

  it('refuses options of another kind and two kinds in one item', async () => {
    const r = await validate(
      'report:\n  - table: compute\n    series: mode\n  - figure: scaling\n    table: results\n',
    );
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/spec\.yaml:11:5: error: `series` does not apply to table `compute`/);
    expect(r.stderr).toContain('one item makes one thing, but this one has `figure` and `table`');
  });

  it('an unknown kind is a located schema error', async () => {
    const r = await validate('report:\n  - figure: pie\n');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(
      /spec\.yaml:10:13: error: `report\[0\]\.figure` must be one of sensitivity, scaling, heatmap/,
    );
  });

  it('the old opaque form is a located schema error', async () => {
    const r = await validate('report:\n  figure: sensitivity\n');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/spec\.yaml:10:3: error: `report` must be a list \(got a mapping\)/);
  });

  it('every shipped experiment spec has a valid report block', async () => {
    const specs = readdirSync('experiments')
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => join('experiments', f));
    const r = await pefuse(['validate', ...specs]);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const s of specs) expect(r.stdout).toContain(`${s}: ok`);
  });

  it('pefuse report before any run says to run the spec first', async () => {
    const cache = join(tempDir('pefuse-report-none-'), 'cache');
    const r = await pefuse(['--cache', cache, 'report', 'experiments/demo.yaml']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(
      `pefuse report: no results database at ${join(cache, 'results.duckdb')} yet; run \`pefuse run experiments/demo.yaml\` first\n`,
    );
  });
});
