/**
 * The data stages pass around: query and gallery records (inside dataset objects), and, re-exported
 * from the stage contract (runner/contract/outputs.ts), what each kind publishes. The shapes
 * of `StageManifest.output` and of `ItemRecord.output` per kind. Object references point into the
 * content-addressed store (`ObjectStore.read`).
 *
 *   dataset ──▶ mllm.compose ──▶ embed.text ──┐
 *      │   └──▶ diffusion.edit ─▶ embed.image ─┼─▶ score ─▶ metrics
 *      └──▶ (gallery) embed.image / mllm.caption ─▶ embed.text ──┘
 */
// The published outputs are part of the stage contract (the engine reads them too): defined there.
export type {
  DatasetName,
  DatasetOutput,
  EmbedOutput,
  ImageItemOutput,
  MetricsOutput,
  ScoreOutput,
  ServedOutput,
  TextItemOutput,
} from '../runner/contract/outputs.js';

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
