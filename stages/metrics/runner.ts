/**
 * The `metrics` stage: the score stage's top-K rankings + the dataset's queries → the official metrics
 * (the same code as `pefuse evaluate`). Queries the score stage did not rank count as misses, so a
 * failed item can never raise a number. Test splits (no ground truth) publish no metrics and say how to
 * get them (`pefuse export` for the evaluation server).
 */
import { failure } from '../../runner/contract/failure.js';
import type { StageRunContext, StageRunner } from '../../runner/contract/run.js';
import { readJsonObject } from '../../runner/store/json.js';
import type { ObjectRef } from '../../runner/store/types.js';
import type { JsonObject } from '../../runner/util/json.js';
import { parseNpy } from '../../runner/util/npy.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import type { DatasetOutput, GalleryItem, MetricsOutput, QueryRecord, ScoreOutput } from '../contracts.js';
import type { BenchmarkName, LoadedDataset } from '../datasets/types.js';
import { evaluateRankingsPerQuery, noGroundTruth, type RankedQuery } from './evaluate.js';
import { SYNTHETIC_KS } from './ks.js';
import { fashionIqRecall } from './recall.js';

export const metricsRunner: StageRunner = async (ctx) => {
  const ds = ctx.inputs.dataset?.output as unknown as DatasetOutput | undefined;
  const sc = ctx.inputs.score?.output as unknown as ScoreOutput | undefined;
  if (!ds || !sc) return err(failure('bad-input', 'metrics: missing the dataset or score input'));
  const queries = await readJson<QueryRecord[]>(ctx, ds.queries);
  const gallery = await readJson<GalleryItem[]>(ctx, ds.gallery);
  const queryIds = await readJson<string[]>(ctx, sc.query_ids);
  const galleryIds = await readJson<string[]>(ctx, sc.gallery_ids);
  const subsetOrder = sc.subset_order
    ? await readJson<Record<string, string[]>>(ctx, sc.subset_order)
    : ok<Record<string, string[]>>({});
  if (!queries.ok) return queries;
  if (!gallery.ok) return gallery;
  if (!queryIds.ok) return queryIds;
  if (!galleryIds.ok) return galleryIds;
  if (!subsetOrder.ok) return subsetOrder;
  const indices = await ctx.objects.read(sc.indices);
  if (!indices.ok) return indices;
  const parsed = parseNpy(indices.value);
  if (!parsed.ok || parsed.value.dtype !== '<i4')
    return err(failure('bad-input', 'metrics: the score indices are not an int32 .npy'));
  const k = sc.k;
  const idx = parsed.value.data as Int32Array;
  const rowOf = new Map(queryIds.value.map((id, i) => [id, i]));
  let unranked = 0;
  const ranked: RankedQuery[] = queries.value.map((q) => {
    const row = rowOf.get(q.id);
    if (row === undefined) {
      unranked++;
      return { ids: [] };
    }
    const ids: string[] = [];
    for (let j = 0; j < k; j++) {
      const g = idx[row * k + j]!;
      if (g < 0) break;
      // GeneCIS ranks positions in the query's own gallery (as the metrics expect); others, gallery ids.
      ids.push(ds.dataset === 'genecis' ? String(g) : galleryIds.value[g]!);
    }
    const subset = subsetOrder.value[q.id];
    return subset ? { ids, subset } : { ids };
  });
  if (unranked > 0)
    ctx.log(`metrics: ${unranked} of ${queries.value.length} queries have no ranking and count as misses`);

  let result: Result<MetricsOutput, string>;
  if (ds.dataset === 'synthetic') {
    const v = fashionIqRecall(queries.value, ranked, SYNTHETIC_KS);
    result = ok({
      dataset: 'synthetic',
      split: ds.split,
      subset: null,
      n: queries.value.length,
      metrics: v.metrics,
      hits: v.hits,
      per_query: { ids: queries.value.map((q) => q.id), values: v.perQuery },
    });
  } else {
    const loaded: LoadedDataset = {
      dataset: ds.dataset as BenchmarkName,
      split: ds.split === 'val' ? 'val' : 'test',
      subset: ds.subset,
      root: '',
      queries: queries.value,
      gallery: gallery.value,
      galleryKnown: true,
      hasGroundTruth: queries.value.some((q) => q.targets.length > 0),
      contentHash: '',
      files: [],
      warnings: [],
    };
    const noGt = noGroundTruth(loaded);
    if (noGt !== null) {
      ctx.log(`metrics: ${noGt}`);
      const empty: MetricsOutput = {
        dataset: loaded.dataset,
        split: ds.split,
        subset: ds.subset,
        n: queries.value.length,
        metrics: {},
        hits: {},
      };
      return ok({ output: { ...empty, note: noGt } as unknown as JsonObject });
    }
    const r = evaluateRankingsPerQuery(loaded, ranked);
    result = r.ok
      ? ok({
          ...r.value.output,
          per_query: { ids: queries.value.map((q) => q.id), values: r.value.perQuery },
        })
      : r;
  }
  if (!result.ok) return err(failure('bad-input', `metrics: ${result.error}`));
  return ok({ output: result.value as unknown as JsonObject, device: 'cpu' });
};

function readJson<T>(ctx: StageRunContext, ref: ObjectRef): Promise<Result<T, ReturnType<typeof failure>>> {
  return readJsonObject<T>(ctx.objects, ref, 'metrics input');
}
