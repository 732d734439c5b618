/**
 * The `score` stage: query embeddings x gallery embeddings -> top-K per query under the dataset's rule
 * (stages/score/rules.ts), published as a ScoreOutput (stages/contracts.ts).
 *
 * Inputs (by name): `dataset` (DatasetOutput), `queries` and `gallery` (EmbedOutput). Param: `k`
 * (default `SCORE_DEFAULTS.k`). Queries without an embedding (an upstream item failed) are skipped and counted in the
 * log, so one bad image does not cost the whole ranking; `query_ids` lists the queries actually scored.
 */
import { type Failure, failure } from '../../runner/exec/failure.js';
import type { StageRunContext, StageRunner, StageRunOutput } from '../../runner/exec/stage-run.js';
import { readJsonObject } from '../../runner/store/json.js';
import type { ObjectRef, StageManifest } from '../../runner/store/types.js';
import type { JsonValue } from '../../runner/util/json.js';
import { encodeNpy, parseNpy } from '../../runner/util/npy.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import type { DatasetName, DatasetOutput, EmbedOutput, QueryRecord, ScoreOutput } from '../contracts.js';
import { SCORE_DEFAULTS } from '../defaults.js';
import { topKPerSample } from './per-sample.js';
import { scoringPlan } from './rules.js';
import { subsetOrder } from './subset.js';
import { type TopKError, type TopKResult, topK } from './topk.js';

interface Matrix {
  data: Float32Array;
  rows: number;
  dim: number;
  ids: string[];
}

export const runScore: StageRunner = async (ctx) => {
  const k = ctx.record.params.k ?? ctx.node.params.k ?? SCORE_DEFAULTS.k;
  if (typeof k !== 'number' || !Number.isInteger(k) || k <= 0)
    return err(
      failure('bad-input', `score: parameter k must be a positive integer, got ${JSON.stringify(k)}`),
    );

  const ds = datasetOutput(ctx.inputs.dataset);
  if (!ds.ok) return ds;
  const queryRecords = await readJson(ctx, ds.value.queries, 'dataset queries');
  if (!queryRecords.ok) return queryRecords;
  if (!Array.isArray(queryRecords.value))
    return err(failure('bad-input', 'score: the dataset queries object is not a JSON array'));
  const records = queryRecords.value as unknown as QueryRecord[];
  const qm = await readMatrix(ctx, 'queries');
  if (!qm.ok) return qm;
  const gm = await readMatrix(ctx, 'gallery');
  if (!gm.ok) return gm;
  if (qm.value.dim !== gm.value.dim)
    return err(
      failure(
        'bad-input',
        `score: query embeddings have ${qm.value.dim} dimensions but gallery embeddings ${gm.value.dim}; use the same embedding model for both`,
      ),
    );

  const selected = selectQueries(ctx, ds.value.dataset, records, qm.value, gm.value);
  if (!selected.ok) return selected;
  const { queries, rows, plan } = selected.value;
  const dim = qm.value.dim;
  const qdata = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    qdata.set(qm.value.data.subarray(r * dim, (r + 1) * dim), i * dim);
  });

  if (ctx.signal.aborted) return err(failure('cancelled', 'score: cancelled before scoring'));
  const started = performance.now();
  const progress = (done: number) => ctx.notify?.({ type: 'progress', done, total: rows.length });
  const result: Result<TopKResult, TopKError> =
    plan.mode === 'shared'
      ? await topK({
          queries: qdata,
          gallery: gm.value.data,
          dim,
          k,
          exclude: plan.exclude,
          threads: ctx.resources.threads,
          onProgress: progress,
        })
      : topKPerSample({ queries: qdata, matrix: gm.value.data, dim, galleries: plan.galleries, k });
  if (plan.mode !== 'shared' && result.ok) progress(rows.length);
  if (!result.ok) return err(describeError(result.error, queries, gm.value.ids));
  const r = result.value;
  ctx.log(
    `score: ${queries.length} queries x ${plan.mode === 'shared' ? `${gm.value.rows} gallery` : 'per-sample galleries'}, top-${r.k}, ${((performance.now() - started) / 1000).toFixed(2)} s`,
  );

  const out: ScoreOutput = {
    k: r.k,
    query_ids: await ctx.objects.put(JSON.stringify(queries.map((q) => q.id))),
    gallery_ids: await ctx.objects.put(JSON.stringify(plan.mode === 'shared' ? gm.value.ids : plan.ids)),
    indices: await ctx.objects.put(
      encodeNpy({ dtype: '<i4', shape: [queries.length, r.k], data: r.indices }),
    ),
    scores: await ctx.objects.put(encodeNpy({ dtype: '<f4', shape: [queries.length, r.k], data: r.scores })),
  };
  // CIRR Recall_subset: the members' order in the full ranking (the top-K alone may not hold them all).
  const subset =
    ds.value.dataset === 'cirr' && queries.some((q) => q.subset)
      ? await ctx.objects.put(
          JSON.stringify(subsetOrder(queries, qdata, gm.value.data, dim, indexOf(gm.value.ids))),
        )
      : undefined;
  // No peak_mem_mb: the process's maxRSS is pefuse's own high-water mark over its whole life, not this
  // stage's (the compute table's memory column is what model workers report).
  const output: StageRunOutput = { output: scoreOutputJson(out, subset), device: 'cpu' };
  return ok(output);
};

/** Dataset queries that have an embedding, in dataset order, and the dataset rule for them. */
function selectQueries(
  ctx: StageRunContext,
  dataset: DatasetName,
  records: QueryRecord[],
  qm: Matrix,
  gm: Matrix,
): Result<{ queries: QueryRecord[]; rows: number[]; plan: ReturnType<typeof scoringPlan>['plan'] }, Failure> {
  const qRow = indexOf(qm.ids);
  const gRow = indexOf(gm.ids);
  let queries = records.filter((q) => qRow.has(q.id));
  const missing = records.length - queries.length;
  if (missing > 0)
    ctx.log(`score: ${missing} of ${records.length} queries have no embedding and are skipped`);
  let { plan, problems } = scoringPlan(dataset, queries, gRow);
  if (problems.length > 0) {
    for (const p of problems.slice(0, 5)) ctx.log(`score: skipped: ${p.message}`);
    if (problems.length > 5) ctx.log(`score: … and ${problems.length - 5} more skipped`);
    const bad = new Set(problems.map((p) => p.query));
    queries = queries.filter((_, i) => !bad.has(i));
    ({ plan } = scoringPlan(dataset, queries, gRow));
  }
  if (queries.length === 0)
    return err(
      failure(
        'bad-input',
        `score: none of the ${records.length} ${dataset} queries can be scored (no query embedding or gallery)`,
      ),
    );
  return ok({ queries, rows: queries.map((q) => qRow.get(q.id)!), plan });
}

function indexOf(ids: string[]): Map<string, number> {
  const m = new Map<string, number>();
  ids.forEach((id, i) => {
    if (!m.has(id)) m.set(id, i);
  });
  return m;
}

/** A TopKError as a user-facing failure that names the item, not just a row number. */
function describeError(e: TopKError, queries: QueryRecord[], galleryIds: string[]): Failure {
  if (e.row !== undefined && e.matrix === 'queries' && queries[e.row])
    return failure('bad-input', `score: query ${queries[e.row]!.id}: ${e.message}`, {
      item: queries[e.row]!.id,
    });
  if (e.row !== undefined && e.matrix === 'gallery' && galleryIds[e.row] !== undefined)
    return failure('bad-input', `score: gallery image ${galleryIds[e.row]}: ${e.message}`, {
      item: galleryIds[e.row]!,
    });
  return failure('bad-input', `score: ${e.message}`);
}

function datasetOutput(m: StageManifest | undefined): Result<DatasetOutput, Failure> {
  if (!m) return err(failure('input-missing', 'score: the `dataset` input is missing'));
  const o = m.output as unknown as Partial<DatasetOutput> | null;
  if (!o || typeof o !== 'object' || typeof o.dataset !== 'string' || !isRef(o.queries))
    return err(failure('bad-input', 'score: the `dataset` input is not a dataset stage output'));
  return ok(o as DatasetOutput);
}

async function readMatrix(
  ctx: StageRunContext,
  input: 'queries' | 'gallery',
): Promise<Result<Matrix, Failure>> {
  const m = ctx.inputs[input];
  if (!m) return err(failure('input-missing', `score: the \`${input}\` input is missing`));
  const o = m.output as unknown as Partial<EmbedOutput> | null;
  if (!o || typeof o !== 'object' || !isRef(o.matrix) || !isRef(o.ids))
    return err(failure('bad-input', `score: the \`${input}\` input is not an embedding stage output`));
  const bytes = await ctx.objects.read(o.matrix);
  if (!bytes.ok) return bytes;
  const npy = parseNpy(bytes.value);
  if (!npy.ok) return err(failure('bad-input', `score: ${input} embedding matrix: ${npy.error}`));
  const { dtype, shape, data } = npy.value;
  if (dtype !== '<f4' || shape.length !== 2)
    return err(
      failure(
        'bad-input',
        `score: ${input} embedding matrix must be a 2-D float32 array, got ${dtype} with shape [${shape.join(', ')}]`,
      ),
    );
  const ids = await readJson(ctx, o.ids, `${input} ids`);
  if (!ids.ok) return ids;
  const [rows, dim] = shape as [number, number];
  if (!Array.isArray(ids.value) || ids.value.length !== rows || ids.value.some((x) => typeof x !== 'string'))
    return err(
      failure(
        'bad-input',
        `score: ${input} ids must be a JSON array of ${rows} strings (one per matrix row)`,
      ),
    );
  return ok({ data: data as Float32Array, rows, dim, ids: ids.value as string[] });
}

function readJson(ctx: StageRunContext, ref: ObjectRef, what: string): Promise<Result<JsonValue, Failure>> {
  return readJsonObject<JsonValue>(ctx.objects, ref, `score: ${what}`);
}

function isRef(v: unknown): v is ObjectRef {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as ObjectRef).sha256 === 'string' &&
    typeof (v as ObjectRef).size === 'number'
  );
}

/**
 * The manifest output: a ScoreOutput, plus for CIRR `subset_order` (JSON `{query id: member ids}`), the
 * field the metrics stage reads for Recall_subset.
 */
function scoreOutputJson(o: ScoreOutput, subset: ObjectRef | undefined): JsonValue {
  const ref = (r: ObjectRef): JsonValue => ({ sha256: r.sha256, size: r.size });
  return {
    k: o.k,
    query_ids: ref(o.query_ids),
    gallery_ids: ref(o.gallery_ids),
    indices: ref(o.indices),
    scores: ref(o.scores),
    ...(subset ? { subset_order: ref(subset) } : {}),
  };
}
