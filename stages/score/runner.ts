/**
 * The `score` stage: query embeddings x gallery embeddings -> top-K per query under the dataset's rule
 * (stages/score/rules.ts), published as a ScoreOutput (stages/contracts.ts).
 *
 * Inputs (by name): `dataset` (DatasetOutput), `queries` and `gallery` (EmbedOutput). Param: `k`
 * (default `SCORE_DEFAULTS.k`). Queries without an embedding (an upstream item failed) are skipped and counted in the
 * log, so one bad image does not cost the whole ranking; `query_ids` lists the queries actually scored.
 */
import { type Failure, failure } from '../../runner/contract/failure.js';
import type { StageRunContext, StageRunner, StageRunOutput } from '../../runner/contract/run.js';
import { type Chunk, chunksOf, shardOf } from '../../runner/contract/shard.js';
import { readJsonObject } from '../../runner/store/json.js';
import type { ObjectRef, StageManifest } from '../../runner/store/types.js';
import type { JsonValue } from '../../runner/util/json.js';
import { encodeNpy, parseNpy } from '../../runner/util/npy.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import { journalChunk, loadChunk } from '../chunks.js';
import type { DatasetName, DatasetOutput, EmbedOutput, QueryRecord, ScoreOutput } from '../contracts.js';
import { SCORE_DEFAULTS } from '../defaults.js';
import { topKPerSample } from './per-sample.js';
import { scoringPlan } from './rules.js';
import { subsetOrder } from './subset.js';
import {
  type ChunkPlan,
  DEFAULT_MAX_SCORE_BYTES,
  planChunks,
  type TopKError,
  type TopKResult,
  topK,
} from './topk.js';

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
  const scoreRows = (from: number, to: number, chunk?: ChunkPlan) =>
    plan.mode === 'shared'
      ? topK({
          queries: qdata.subarray(from * dim, to * dim),
          gallery: gm.value.data,
          dim,
          k,
          exclude: plan.exclude?.slice(from, to),
          threads: ctx.resources.threads,
          chunk,
          onProgress: (n) => progress(from + n),
        })
      : Promise.resolve(
          topKPerSample({
            queries: qdata.subarray(from * dim, to * dim),
            matrix: gm.value.data,
            dim,
            galleries: plan.galleries.slice(from, to),
            k,
          }),
        );
  // Shards split the queries into the chunks topK runs anyway, so a shard's GEMMs are the whole
  // stage's, row for row: the same bytes whichever executor computed them.
  const cp = planChunks(rows.length, gm.value.rows, DEFAULT_MAX_SCORE_BYTES);
  const chunks = shardOf(chunksOf(rows.length, cp.queries), ctx.part);
  if (ctx.part) {
    for (const c of chunks) {
      if (ctx.done.has(c.id)) continue;
      const t0 = performance.now();
      const part = await scoreRows(c.start, c.end, cp);
      if (!part.ok) return err(describeError(shift(part.error, c.start), queries, gm.value.ids));
      const m = c.end - c.start;
      await journalChunk(
        ctx,
        c,
        queries.slice(c.start, c.end).map((q) => q.id),
        {
          indices: { dtype: '<i4', shape: [m, part.value.k], data: part.value.indices },
          scores: { dtype: '<f4', shape: [m, part.value.k], data: part.value.scores },
        },
        (performance.now() - t0) / 1000,
      );
    }
    return ok({ output: null });
  }
  const reused = await doneChunks(ctx, chunks);
  const result: Result<TopKResult, TopKError> =
    reused.size === 0
      ? await scoreRows(0, rows.length)
      : await assemble(chunks, reused, rows.length, cp, scoreRows);
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

/** The ranking rows of the chunks a shard journaled (unusable ones are left out: recomputed). */
async function doneChunks(ctx: StageRunContext, chunks: readonly Chunk[]): Promise<Map<number, TopKResult>> {
  const out = new Map<number, TopKResult>();
  for (const c of chunks) {
    if (!ctx.done.has(c.id)) continue;
    const got = await loadChunk(ctx, c, ['indices', 'scores']);
    const ix = got?.arrays.indices;
    const sc = got?.arrays.scores;
    if (!ix || !sc || !(ix.data instanceof Int32Array) || !(sc.data instanceof Float32Array)) continue;
    out.set(c.index, { k: ix.shape[1] ?? 0, indices: ix.data, scores: sc.data });
  }
  return out;
}

/** The whole ranking from the chunks shards journaled and the others computed here, in query order. */
async function assemble(
  chunks: readonly Chunk[],
  reused: ReadonlyMap<number, TopKResult>,
  n: number,
  cp: ChunkPlan,
  scoreRows: (from: number, to: number, chunk?: ChunkPlan) => Promise<Result<TopKResult, TopKError>>,
): Promise<Result<TopKResult, TopKError>> {
  let k = -1;
  let indices = new Int32Array(0);
  let scores = new Float32Array(0);
  for (const c of chunks) {
    let part = reused.get(c.index);
    if (!part) {
      const r = await scoreRows(c.start, c.end, cp);
      if (!r.ok) return err(shift(r.error, c.start));
      part = r.value;
    }
    if (k === -1) {
      k = part.k;
      indices = new Int32Array(n * k);
      scores = new Float32Array(n * k);
    }
    if (part.k !== k) return err({ message: `chunk ${c.index} ranks top-${part.k}, the others top-${k}` });
    indices.set(part.indices, c.start * k);
    scores.set(part.scores, c.start * k);
  }
  return ok({ k: Math.max(0, k), indices, scores });
}

/** A chunk's error with its row counted from the first query of the stage. */
function shift(e: TopKError, start: number): TopKError {
  return e.row !== undefined && e.matrix === 'queries' ? { ...e, row: e.row + start } : e;
}

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
