/**
 * `pefuse export --run POINT`: the rankings a run stored for one point. The point id (or a unique
 * prefix, as `pefuse status` and `pefuse plan --json` print it) is looked up in the results database
 * (`point_stages`, role `score`); the score stage's published manifest in the store gives the top-K
 * lists and, for CIRR, the img_set order for Recall_subset.
 */

import type { StageKey } from '../../runner/contract/stage.js';
import { openResults } from '../../runner/results/index.js';
import { openStore } from '../../runner/store/index.js';
import type { ObjectRef } from '../../runner/store/types.js';
import { parseNpy } from '../../runner/util/npy.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import type { DatasetOutput, ScoreOutput } from '../contracts.js';
import type { LoadedDataset } from '../datasets/types.js';
import { datasetLabel } from './describe.js';
import type { RankedQuery } from './recall.js';

export async function readRunRankings(
  loaded: LoadedDataset,
  pointArg: string,
  opts: { dbFile: string; cacheRoot: string },
): Promise<Result<RankedQuery[], string>> {
  const where = 'as `pefuse status` or `pefuse plan --json` print it';
  if (!/^[0-9a-fA-F]+$/.test(pointArg))
    return err(`--run ${pointArg}: a point id is hexadecimal (digits 0-9 and letters a-f), ${where}`);
  if (pointArg.length < 4 || pointArg.length > 64)
    return err(`--run ${pointArg}: give at least 4 (and at most 64) characters of the point id, ${where}`);
  const point = pointArg.toLowerCase();
  const db = openResults(opts.dbFile, { readOnly: true });
  const rows = await db.query(
    "SELECT DISTINCT point_id, stage_key FROM point_stages WHERE role = 'score' AND starts_with(point_id, $p)",
    { p: point },
  );
  const dsRows =
    rows.ok && rows.value.length === 1
      ? await db.query(
          "SELECT DISTINCT stage_key FROM point_stages WHERE role = 'dataset' AND point_id = $p",
          { p: String(rows.value[0]!.point_id) },
        )
      : null;
  await db.close();
  if (!rows.ok) return err(`--run: cannot read the results database ${opts.dbFile}: ${rows.error.message}`);
  if (rows.value.length === 0) return err(`--run ${pointArg}: no point with a score stage in ${opts.dbFile}`);
  if (rows.value.length > 1)
    return err(
      `--run ${pointArg} is ambiguous (${rows.value.map((r) => String(r.point_id)).join(', ')}); give more characters`,
    );
  const key = String(rows.value[0]!.stage_key) as StageKey;
  const pointId = String(rows.value[0]!.point_id);
  const store = openStore(opts.cacheRoot);
  // A point of another benchmark or split has no ranking for these queries: say which run it is.
  const dsKey = dsRows?.ok && dsRows.value.length === 1 ? String(dsRows.value[0]!.stage_key) : null;
  const ds = dsKey !== null ? await store.stages.readManifest(dsKey as StageKey) : null;
  if (ds?.ok && ds.value) {
    const d = ds.value.output as unknown as DatasetOutput;
    const split = d.split === 'test1' ? 'test' : d.split;
    if (d.dataset !== loaded.dataset || split !== loaded.split || d.subset !== loaded.subset)
      return err(
        `--run ${pointArg}: point ${pointId} is a run of ${datasetLabel({ dataset: d.dataset, split: d.split, subset: d.subset })}, ` +
          `not ${datasetLabel(loaded)}; give a point of a ${datasetLabel(loaded)} run (see \`pefuse status\`)`,
      );
  }
  const m = await store.stages.readManifest(key);
  if (!m.ok) return err(`--run ${pointArg}: ${m.error.message}`);
  if (!m.value)
    return err(
      `--run ${pointArg}: its score stage ${key.slice(0, 12)} is not in the cache at ${opts.cacheRoot} (re-run the spec)`,
    );
  const out = m.value.output as unknown as ScoreOutput;
  const json = async <T>(ref: ObjectRef): Promise<T | null> => {
    const r = await store.objects.read(ref);
    return r.ok ? (JSON.parse(Buffer.from(r.value).toString('utf8')) as T) : null;
  };
  const queryIds = await json<string[]>(out.query_ids);
  const galleryIds = await json<string[]>(out.gallery_ids);
  const subsets = out.subset_order ? await json<Record<string, string[]>>(out.subset_order) : {};
  const idx = await store.objects.read(out.indices);
  if (!queryIds || !galleryIds || !subsets || !idx.ok)
    return err(`--run ${pointArg}: the stored rankings are incomplete or corrupt (re-run the spec)`);
  const parsed = parseNpy(idx.value);
  if (!parsed.ok) return err(`--run ${pointArg}: ${parsed.error}`);
  const indices = parsed.value.data as Int32Array;
  const row = new Map(queryIds.map((id, i) => [id, i]));
  const ranked: RankedQuery[] = [];
  for (const q of loaded.queries) {
    const r = row.get(q.id);
    if (r === undefined)
      return err(
        `--run ${pointArg}: query ${q.id} of ${loaded.dataset} ${loaded.split} has no stored ranking (was the run made on this split?)`,
      );
    const ids: string[] = [];
    for (let j = 0; j < out.k; j++) {
      const g = indices[r * out.k + j]!;
      if (g >= 0) ids.push(galleryIds[g]!);
    }
    const subset = subsets[q.id];
    ranked.push(subset ? { ids, subset } : { ids });
  }
  return ok(ranked);
}
