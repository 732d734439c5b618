/**
 * What each stage kind publishes, so downstream stages (and reports) can read it. These are the shapes
 * of `StageManifest.output` and of `ItemRecord.output` per kind. Object references point into the
 * content-addressed store (`ObjectStore.read`).
 *
 *   dataset ──▶ mllm.compose ──▶ embed.text ──┐
 *      │   └──▶ diffusion.edit ─▶ embed.image ─┼─▶ score ─▶ metrics
 *      └──▶ (gallery) embed.image / mllm.caption ─▶ embed.text ──┘
 */
import type { ObjectRef } from '../runner/store/types.js';

export type DatasetName = 'fashioniq' | 'cirr' | 'circo' | 'genecis' | 'synthetic';

/** One CIR query as every stage sees it, whatever the benchmark. */
export interface QueryRecord {
  /** Query key: CIRR pairid, CIRCO id, Fashion-IQ / GeneCIS row index (as a string). */
  id: string;
  /** Reference image id and absolute path (GeneCIS attribute tasks: the crop is made by the loader). */
  reference: { id: string; path: string; bbox?: [number, number, number, number] };
  /** The modification text as the benchmark gives it (Fashion-IQ: both captions kept in `captions`). */
  text: string;
  captions?: string[];
  /** Ground-truth target ids (CIRR/Fashion-IQ: one; CIRCO: all GTs, first is the annotated target; test split: empty). */
  targets: string[];
  /** CIRR: the img_set members (for Recall_subset). */
  subset?: string[];
  /** GeneCIS: the per-sample gallery `[target] + gallery` ids. */
  gallery?: string[];
  /** CIRCO: semantic aspects. */
  aspects?: string[];
  /** Extra per-benchmark fields kept for prompts (e.g. CIRCO shared concept). */
  extra?: Record<string, string>;
}

export interface GalleryItem {
  id: string;
  path: string;
}

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
