/**
 * What each stage kind publishes: the shapes of `StageManifest.output` and `ItemRecord.output` per
 * kind, for downstream stages, the results recorder and reports, and checked readers for the engine,
 * which reads outputs only through them (never by guessing at fields). Object references point into
 * the content-addressed store.
 *
 *   dataset ──▶ mllm.compose ──▶ embed.text ──┐
 *      │   └──▶ diffusion.edit ─▶ embed.image ─┼─▶ score ─▶ metrics
 *      └──▶ (gallery) embed.image / mllm.caption ─▶ embed.text ──┘
 */
import { isJsonObject, type JsonObject, type JsonValue } from '../util/json.js';
import type { ObjectRef } from './records.js';
import type { StageKind } from './stage.js';

export type DatasetName = 'fashioniq' | 'cirr' | 'circo' | 'genecis' | 'synthetic';

/** `dataset` stage output. `queries` is a JSON array of QueryRecord; `gallery` a JSON array of GalleryItem. */
export interface DatasetOutput {
  dataset: DatasetName;
  split: string;
  subset: string | null;
  queries: ObjectRef;
  gallery: ObjectRef;
  n_queries: number;
  n_gallery: number;
  /** Images referenced by the annotation files but not found on disk (first few listed in `missing`). */
  missing_count: number;
  missing: string[];
}

/** Item output of `mllm.compose` (item = query id) and `mllm.caption` (item = gallery id). */
export interface TextItemOutput {
  text: string;
  /** Present when the backend reported it (for the compute table). */
  tokens?: number;
  /** `mllm.descriptions` > 1: every description (`text` is the first); embed.text averages them. */
  texts?: string[];
  /** HTTP backends: how the answer ended (`stop`, `length`), token counts, seconds, request seed. */
  finish_reason?: string | null;
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  latency_s?: number;
  seed?: number;
}

/** Item output of `diffusion.edit` (item = query id): the generated PNG. */
export interface ImageItemOutput {
  image: ObjectRef;
}

/** `embed.text` / `embed.image` stage output: one L2-normalised float32 row per item, in `ids` order. */
export interface EmbedOutput {
  /** `.npy` float32 [n, dim]. */
  matrix: ObjectRef;
  /** JSON array of item ids, row order of `matrix`. */
  ids: ObjectRef;
  n: number;
  dim: number;
  /** Texts that were longer than the context and got truncated (embed.text only). */
  truncated?: number;
}

/** `score` stage output: top-K per query, in dataset query order. */
export interface ScoreOutput {
  k: number;
  /** JSON array of query ids (row order). */
  query_ids: ObjectRef;
  /** JSON array of gallery ids (the column space `indices` refer to). GeneCIS: per-query galleries, see `indices`. */
  gallery_ids: ObjectRef;
  /** `.npy` int32 [nQ, K]: gallery row indices, best first (GeneCIS: index into the query's own gallery). */
  indices: ObjectRef;
  /** `.npy` float32 [nQ, K]: cosine similarities. */
  scores: ObjectRef;
  /**
   * CIRR only: JSON `{query id: [img_set members, reference removed, in full-ranking order]}`, so
   * Recall_subset stays exact when a member ranks below K.
   */
  subset_order?: ObjectRef;
}

/** `metrics` stage output: the same shape as `pefuse evaluate --json`. */
export interface MetricsOutput {
  dataset: DatasetName;
  split: string;
  subset: string | null;
  n: number;
  /** Percentages, keyed `recall@K`, `recall_subset@K`, `map@K`, `map@10/<aspect>`. */
  metrics: Record<string, number>;
  hits: Record<string, number>;
  /**
   * Only in the `metrics` stage's output: each metric's per-query values in percent (100/0 for a recall
   * hit, 100 × AP for mAP), in the order of `ids`; what the report's paired bootstrap resamples.
   */
  per_query?: { ids: string[]; values: Record<string, number[]> };
}

/** `mllm.compose` / `mllm.caption` stage output: what served it (HTTP backends), else null. */
export interface ServedOutput {
  served_model?: string;
  server_version?: string | null;
  /** The command of the servers pefuse started (`mllm.server`), with `{port}` left as a placeholder. */
  server_command?: string;
}

/** What each kind publishes as its stage output (`StageManifest.output`). */
export interface StageOutputs {
  dataset: DatasetOutput;
  'mllm.compose': ServedOutput | null;
  'mllm.caption': ServedOutput | null;
  'diffusion.edit': null;
  'embed.text': EmbedOutput;
  'embed.image': EmbedOutput;
  score: ScoreOutput;
  metrics: MetricsOutput;
}

/**
 * A stage output read as its kind's shape, or null when it is not one (an older or damaged manifest):
 * the fields the engine reads are checked, the rest is taken as published.
 */
export function stageOutput<K extends StageKind>(kind: K, v: JsonValue): StageOutputs[K] | null {
  if (!isJsonObject(v)) return null;
  const ok = (() => {
    switch (kind) {
      case 'dataset':
        return typeof v.dataset === 'string' && isRef(v.queries) && isRef(v.gallery) && count(v.n_queries);
      case 'mllm.compose':
      case 'mllm.caption':
        return (
          optional(v.served_model, 'string') &&
          (v.server_version == null || typeof v.server_version === 'string')
        );
      case 'diffusion.edit':
        return false;
      case 'embed.text':
      case 'embed.image':
        return isRef(v.matrix) && isRef(v.ids) && count(v.n) && count(v.dim);
      case 'score':
        return (
          count(v.k) && isRef(v.query_ids) && isRef(v.gallery_ids) && isRef(v.indices) && isRef(v.scores)
        );
      case 'metrics':
        return typeof v.dataset === 'string' && isJsonObject(v.metrics) && count(v.n);
    }
    return false;
  })();
  return ok ? (v as unknown as StageOutputs[K]) : null;
}

/**
 * How many items a stage output describes, for stages that journal none: an embedding's rows, a
 * dataset's queries, the queries metrics evaluated. Null for other kinds or an unreadable output.
 */
export function outputItemCount(kind: StageKind, v: JsonValue): number | null {
  switch (kind) {
    case 'embed.text':
    case 'embed.image':
      return stageOutput(kind, v)?.n ?? null;
    case 'metrics':
      return stageOutput(kind, v)?.n ?? null;
    case 'dataset':
      return stageOutput(kind, v)?.n_queries ?? null;
    default:
      return null;
  }
}

/**
 * One generated thing of a generator item (`mllm.*`, `diffusion.edit`): a description (text and token
 * counts) or an edited image. An item holds one, or several in `descriptions` (`mllm.descriptions` > 1).
 */
export interface Generated {
  text?: string;
  tokens?: number;
  prompt_tokens?: number;
  completion_tokens?: number;
  finish_reason?: string;
  latency_s?: number;
  truncated_tokens?: number;
  image?: ObjectRef;
}

/** The generated things of one generator item output, in order (none for other kinds). */
export function generatedOf(kind: StageKind, output: JsonValue): Generated[] {
  if (kind !== 'mllm.compose' && kind !== 'mllm.caption' && kind !== 'diffusion.edit') return [];
  if (!isJsonObject(output)) return [];
  const list = Array.isArray(output.descriptions) ? output.descriptions.filter(isJsonObject) : [output];
  return list.map(generated);
}

function generated(d: JsonObject): Generated {
  const g: Generated = {};
  if (typeof d.text === 'string') g.text = d.text;
  for (const f of [
    'tokens',
    'prompt_tokens',
    'completion_tokens',
    'latency_s',
    'truncated_tokens',
  ] as const) {
    const x = d[f];
    if (typeof x === 'number') g[f] = x;
  }
  if (typeof d.finish_reason === 'string') g.finish_reason = d.finish_reason;
  if (isRef(d.image)) g.image = { sha256: d.image.sha256, size: d.image.size };
  return g;
}

/** An ObjectRef-shaped JSON value. */
export function isRef(v: JsonValue | undefined): v is ObjectRef & JsonObject {
  return isJsonObject(v) && typeof v.sha256 === 'string' && typeof v.size === 'number';
}

function count(v: JsonValue | undefined): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function optional(v: JsonValue | undefined, type: 'string'): boolean {
  return v === undefined || typeof v === type;
}
