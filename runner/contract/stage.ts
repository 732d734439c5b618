/**
 * The stage interface: how stages (in `stages/`) slot into the engine (in `runner/`).
 *
 * The engine knows no model. A stage definition says which parameters it *declares* (only those enter
 * its key), what it needs from upstream, how many items it has, and how to run. The pipeline
 * (`stages/pipeline.ts`) turns one sweep point into a chain of `StageNodeSpec`s according to the
 * conversion mode; the planner hashes them into keys and merges identical ones across points.
 */

import type { JsonObject, JsonValue } from '../util/json.js';
import type { StageRunner } from './run.js';

/** Every stage kind of the stage catalog (architecture §3). */
export type StageKind =
  | 'dataset'
  | 'mllm.compose'
  | 'mllm.caption'
  | 'diffusion.edit'
  | 'embed.text'
  | 'embed.image'
  | 'score'
  | 'metrics';

export const STAGE_KINDS: readonly StageKind[] = [
  'dataset',
  'mllm.compose',
  'mllm.caption',
  'diffusion.edit',
  'embed.text',
  'embed.image',
  'score',
  'metrics',
];

/**
 * What each kind is in a point's pipeline, as the results' `compute_table` view counts it: the query
 * `generator` (MLLM composition, diffusion edit), gallery `caption`ing, `embedder`s, and the model-free
 * `data`, `score` and `metrics` stages. A Record, so a new kind must be placed here.
 */
export type KindClass = 'data' | 'generator' | 'caption' | 'embedder' | 'score' | 'metrics';
export const KIND_CLASS: Readonly<Record<StageKind, KindClass>> = {
  dataset: 'data',
  'mllm.compose': 'generator',
  'mllm.caption': 'caption',
  'diffusion.edit': 'generator',
  'embed.text': 'embedder',
  'embed.image': 'embedder',
  score: 'score',
  metrics: 'metrics',
};

/** What a stage occupies while it runs; the scheduler grants these. */
export type StageResource = 'cpu' | 'gpu' | 'http' | 'none';

/** A sha256 over the canonical JSON of a KeyRecord (64 hex chars). */
export type StageKey = string & { readonly __brand: 'StageKey' };

/**
 * Everything that determines a stage's output, and nothing else. Printed by `pefuse explain`.
 * Field by field:
 * - `scheme`: the key recipe's version; bumping it invalidates every cache entry at once.
 * - `kind` + `impl_version`: a change in how a stage computes (bug fix, new prompt handling) bumps
 *   `impl_version` and reruns that kind only.
 * - `params`: only the parameters this stage declares (a temperature change does not touch the gallery
 *   embedding).
 * - `model`: the backend identity (model id + revision, server-reported model, ONNX file hashes).
 * - `inputs`: upstream stage keys by role, so a changed input changes every key downstream.
 * - `data`: content hashes of external files read (annotation files, prompt templates).
 */
export interface KeyRecord {
  scheme: number;
  kind: StageKind;
  impl_version: number;
  params: JsonObject;
  model: JsonValue;
  inputs: Record<string, StageKey>;
  data: JsonValue;
}

/** One stage of one point, before hashing. Produced by the pipeline. */
export interface StageNodeSpec {
  kind: StageKind;
  /** Role of this node within its point's chain, e.g. `query-text`, `gallery-embed`, `score`. */
  role: string;
  params: JsonObject;
  model: JsonValue;
  data: JsonValue;
  /** Upstream nodes of the same point, by input name → role. */
  inputs: Record<string, string>;
  /** Number of items (queries, gallery images), or null when unknown before upstream runs. */
  items: number | null;
  /** A human label for plan output, e.g. `dummy` or `Qwen/Qwen2.5-VL-7B-Instruct`. */
  backend: string;
  /**
   * What the runner needs that is NOT part of the key, because it does not change results: dataset
   * roots, server endpoints, model folders, batch sizes, devices. (The model folder's *content* is in
   * `model`; its path is here.)
   */
  settings: JsonObject;
  /** Set when the output depends on something not in the record; such a stage is never cached. */
  uncacheable?: string;
}

/** The definition of a stage kind, registered once (see `stages/catalog.ts`). */
export interface StageDefinition {
  kind: StageKind;
  /** Bumped whenever the implementation's outputs could change for the same record. */
  implVersion: number;
  description: string;
  resource: StageResource;
  /**
   * The resource for one node when it depends on the backend (a `dummy` MLLM needs no GPU); defaults
   * to `resource`.
   */
  resourceOf?: (node: StageNodeSpec) => StageResource;
  /**
   * How the stage runs; absent when no backend can run it yet (planning still works, running reports
   * a `not-implemented` failure).
   */
  run?: StageRunner;
  /**
   * How a node's work splits into shards that other processes compute (see shard.ts): per `item`
   * (worker stages), per `chunk` of items (in-process embedding and scoring), or `none` (absent: the
   * orchestrator computes the stage whole, as the local executor does for every stage).
   */
  shardUnit?: (node: StageNodeSpec) => ShardUnit;
}

/** The unit a stage's work is split in for shards; `none`: not split (computed by the orchestrator). */
export type ShardUnit = 'item' | 'chunk' | 'none';

/**
 * The stage side of planning, handed to the planner by the composition root (the CLI) so that the
 * engine never imports stage internals: the definitions, plan-time facts about external inputs
 * (dataset hashes, prompt hashes, model identities) and the mode → chain mapping.
 */
export interface Pipeline<Facts = unknown> {
  definitions: ReadonlyMap<StageKind, StageDefinition>;
  /** Resolves facts for each point's configuration (memoised per distinct input). */
  facts(
    configs: readonly import('../spec/types.js').PointConfig[],
    ctx: PlanContext,
  ): Promise<{ facts: Facts[]; diagnostics: import('../diagnostics/diagnostic.js').Diagnostic[] }>;
  chain(config: import('../spec/types.js').PointConfig, facts: Facts): StageNodeSpec[];
  /** What in a point's facts did not resolve (its keys are then not the real ones): empty when all did. */
  unresolved(facts: Facts): readonly Unresolved[];
  /** A readable dataset label (`circo/val`) used in point params and plan slots. */
  datasetLabel(d: import('../spec/types.js').DatasetSpec): string;
}

/**
 * An external input of a point that did not resolve (a dataset root or model folder that is not there,
 * a gallery that cannot be built): the point's stage keys are then not the ones its real inputs give,
 * so `run` refuses the point and `gc` refuses to delete on the strength of it.
 */
export interface Unresolved {
  /** What did not resolve, for people: "dataset root not found: /data/cirr". */
  reason: string;
  /** The path that was looked for, when there is one. */
  path?: string;
  /** `${env:VAR}` variables written in that value and unset in the environment (their default was used). */
  variables: string[];
  /** Where the value is written in the spec. */
  span: import('../diagnostics/diagnostic.js').SourceSpan | null;
}

export interface PlanContext {
  /** Directory of the spec file (prompt paths are relative to it). */
  specDir: string;
  cwd: string;
  /** The environment the spec was read with (`~` expansion, naming unset variables). */
  env: NodeJS.ProcessEnv;
  cacheRoot: string;
  /**
   * Locates a spec path for diagnostics, e.g. ['datasets', 0, 'root']; null when the path is absent or,
   * given `value`, when the node holds another value (the point's value came from a sweep).
   */
  spanOf(
    path: readonly (string | number)[],
    value?: unknown,
  ): import('../diagnostics/diagnostic.js').SourceSpan | null;
  /** Resolves a relative path written at a spec path against the directory of the file it is written in. */
  resolveFrom(path: readonly (string | number)[], relative: string): string;
}

/** How a planned stage's work splits into shards. */
export function stageShardUnit(definition: StageDefinition, node: StageNodeSpec): ShardUnit {
  return definition.shardUnit?.(node) ?? 'none';
}

/** What a planned stage occupies while it runs. */
export function stageResource(definition: StageDefinition, node: StageNodeSpec): StageResource {
  return definition.resourceOf?.(node) ?? definition.resource;
}
