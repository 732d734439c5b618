/**
 * `pefuse export --run POINT`: the rankings a run stored (score stage manifest in the store, found
 * through the results database) become a submission file, as with --scores or --rankings.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KeyRecord, StageKey } from '../../runner/contract/stage.js';
import type { Point } from '../../runner/plan/types.js';
import { openResults } from '../../runner/results/index.js';
import { openStore } from '../../runner/store/index.js';
import { encodeNpy } from '../../runner/util/npy.js';
import { loadDataset } from '../../stages/datasets/index.js';
import { needShared, pefuse, SHARED, tempDir } from '../helpers/cli.js';

const CIRCO_TEST = needShared('datasets/circo/annotations/test.json');
describe.skipIf(CIRCO_TEST.skip)(
  CIRCO_TEST.title('export --run (CIRCO test annotations from ../shared)'),
  () => {
    it('writes the CIRCO submission from a stored score stage', async () => {
      const root = join(SHARED, 'datasets', 'circo');
      const loaded = await loadDataset({ dataset: 'circo', split: 'test', root });
      if (!loaded.ok) throw new Error(loaded.error.message);
      const queries = loaded.value.queries.map((q) => q.id);
      const cache = tempDir();
      const store = openStore(cache);
      const k = 50;
      const galleryIds = Array.from({ length: 120 }, (_, i) => String(1000 + i));
      const indices = new Int32Array(queries.length * k);
      queries.forEach((_, r) => {
        for (let j = 0; j < k; j++) indices[r * k + j] = (r + j) % galleryIds.length;
      });
      const output = {
        k,
        query_ids: await store.objects.put(JSON.stringify(queries)),
        gallery_ids: await store.objects.put(JSON.stringify(galleryIds)),
        indices: await store.objects.put(
          encodeNpy({ dtype: '<i4', shape: [queries.length, k], data: indices }),
        ),
        scores: await store.objects.put(
          encodeNpy({ dtype: '<f4', shape: [queries.length, k], data: new Float32Array(queries.length * k) }),
        ),
      };
      const key = 'ab'.repeat(32) as StageKey;
      const record = {
        scheme: 1,
        kind: 'score',
        impl_version: 1,
        params: {},
        model: null,
        inputs: {},
        data: null,
      } as KeyRecord;
      await store.stages.publish({
        format: 'pefuse-stage/1',
        key,
        record,
        items: [],
        output,
        seconds: 0,
        host: 'test',
        device: null,
        peak_mem_mb: null,
        attempts: 1,
        finished_at: new Date(0).toISOString(),
      });
      const db = openResults(join(cache, 'results.duckdb'));
      const point: Point = { index: 0, id: 'c0ffee123456', params: {}, config: {}, stages: { score: key } };
      const rec = await db.recordPoints('circo-test', [point]);
      expect(rec.ok).toBe(true);
      await db.close();

      const out = join(cache, 'sub');
      const r = await pefuse([
        'export',
        '--dataset',
        'circo',
        '--split',
        'test',
        '--data-root',
        root,
        '--run',
        'c0ffee',
        '--out',
        out,
        '--cache',
        cache,
      ]);
      // The shared copy has no COCO image-info file or image folder: the loader warns, export still works.
      expect(r.stderr).toMatch(/^pefuse export: warning: CIRCO gallery unknown/);
      expect(r.exitCode).toBe(0);
      const sub = JSON.parse(readFileSync(join(out, 'circo_test_submission.json'), 'utf8')) as Record<
        string,
        number[]
      >;
      expect(Object.keys(sub)).toHaveLength(queries.length);
      expect(sub[queries[1]!]!.slice(0, 2)).toEqual([1001, 1002]);

      const none = await pefuse([
        'export',
        '--dataset',
        'circo',
        '--split',
        'test',
        '--data-root',
        root,
        '--run',
        'beef',
        '--out',
        out,
        '--cache',
        cache,
      ]);
      expect(none.exitCode).toBe(2);
      expect(none.stderr).toContain(
        `pefuse export: --run beef: no point with a score stage in ${join(cache, 'results.duckdb')}\n`,
      );

      // A point of another benchmark: say so instead of "query 0 has no stored ranking".
      const dsKey = 'cd'.repeat(32) as StageKey;
      await store.stages.publish({
        format: 'pefuse-stage/1',
        key: dsKey,
        record: { ...record, kind: 'dataset' },
        items: [],
        output: { dataset: 'synthetic', split: 'val', subset: null },
        seconds: 0,
        host: 'test',
        device: null,
        peak_mem_mb: null,
        attempts: 1,
        finished_at: new Date(0).toISOString(),
      });
      const db2 = openResults(join(cache, 'results.duckdb'));
      const other: Point = {
        index: 0,
        id: 'deadbeef0001',
        params: {},
        config: {},
        stages: { dataset: dsKey, score: key },
      };
      expect((await db2.recordPoints('demo', [other])).ok).toBe(true);
      await db2.close();
      const wrong = await pefuse([
        'export',
        '--dataset',
        'circo',
        '--split',
        'test',
        '--data-root',
        root,
        '--run',
        'DEADBEEF',
        '--out',
        out,
        '--cache',
        cache,
      ]);
      expect(wrong.exitCode).toBe(2);
      expect(wrong.stderr).toContain(
        'pefuse export: --run DEADBEEF: point deadbeef0001 is a run of synthetic val, not CIRCO test; give a point of a CIRCO test run (see `pefuse status`)\n',
      );
    });
  },
);
