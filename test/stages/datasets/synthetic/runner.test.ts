import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { DatasetOutput, QueryRecord } from '../../../../stages/contracts.js';
import { loadSyntheticDataset } from '../../../../stages/datasets/synthetic/load.js';
import { syntheticDatasetRunner, syntheticDir } from '../../../../stages/datasets/synthetic/runner.js';
import { tempDir } from '../../../helpers/cli.js';
import { fakeCtx, fsStore } from '../../dummy/harness.js';

const params = { name: 'synthetic', split: 'val', seed: 1, n_gallery: 30, n_queries: 12 };

describe('syntheticDatasetRunner', () => {
  it('generates once under the store root and publishes the query and gallery lists', async () => {
    const store = fsStore(tempDir());
    const first = fakeCtx(store, 'dataset', params);
    const r = await syntheticDatasetRunner(first);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const out = r.value.output as unknown as DatasetOutput;
    expect(out).toMatchObject({
      dataset: 'synthetic',
      split: 'val',
      subset: null,
      n_gallery: 30,
      n_queries: 12,
      missing_count: 0,
    });
    const dir = syntheticDir(store.root, { seed: 1, split: 'val', n_gallery: 30, n_queries: 12 });
    expect(first.lines[0]).toMatch(
      new RegExp(`^synthetic: generated 30 images and 12 queries in ${dir} \\(`),
    );
    const queries = JSON.parse(readFileSync(store.pathOf(out.queries.sha256), 'utf8')) as QueryRecord[];
    expect(queries[0]).toMatchObject({ id: 'q0000', targets: [expect.stringMatching(/^g\d{4}$/)] });
    expect(queries[0]!.reference.path.startsWith(dir)).toBe(true);
    expect(queries[0]!.extra!.reference_caption).toMatch(/background$/);

    const again = fakeCtx(store, 'dataset', params);
    const r2 = await syntheticDatasetRunner(again);
    expect(again.lines).toEqual([`synthetic: reusing ${dir}`]);
    expect(r2.ok && r2.value.output).toEqual(r.value.output);
  });

  it('keeps the first `limit` queries and the whole gallery', async () => {
    const r = await syntheticDatasetRunner(fakeCtx(fsStore(tempDir()), 'dataset', { ...params, limit: 5 }));
    const out = r.ok ? (r.value.output as unknown as DatasetOutput) : null;
    expect([out?.n_queries, out?.n_gallery]).toEqual([5, 30]);
  });

  it('rejects out-of-range parameters with a message naming the field', async () => {
    const r = await syntheticDatasetRunner(
      fakeCtx(fsStore(tempDir()), 'dataset', { ...params, n_gallery: 5 }),
    );
    expect(r.ok ? null : [r.error.reason, r.error.message]).toEqual([
      'bad-input',
      'synthetic dataset: n_gallery must be an integer from 10 to 432 (got 5)',
    ]);
  });

  it('refuses other datasets', async () => {
    const r = await syntheticDatasetRunner(
      fakeCtx(fsStore(tempDir()), 'dataset', { name: 'cirr', split: 'val' }),
    );
    expect(r.ok ? null : [r.error.reason, r.error.message]).toEqual([
      'not-implemented',
      'the synthetic loader cannot load dataset "cirr"',
    ]);
  });
});

describe('loadSyntheticDataset', () => {
  it('says which file is missing', async () => {
    const dir = tempDir();
    const r = await loadSyntheticDataset(dir);
    expect(r.ok ? null : r.error).toBe(
      `${dir}/annotations.json: not found (the synthetic dataset was not generated, or generation was interrupted)`,
    );
  });

  it('refuses a gallery file outside the dataset folder', async () => {
    const dir = tempDir();
    const file = `${dir}/annotations.json`;
    writeFileSync(
      file,
      JSON.stringify({
        format: 'pefuse-synthetic/1',
        gallery: [{ id: 'g0', file: '../../etc/hostname', oracle_caption: 'x' }],
        queries: [],
      }),
    );
    const r = await loadSyntheticDataset(dir);
    expect(r.ok ? null : r.error).toBe(
      `${file}: record "gallery[0]", field "file": the image path /etc/hostname leaves the dataset root ${dir}; annotation files may only name images inside them (refused: check where this file came from)`,
    );
  });
});
