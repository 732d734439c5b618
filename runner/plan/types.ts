/**
 * The plan: sweep points and the deduplicated stage DAG, with cache status per stage.
 *
 *   spec (YAML) ─▶ normalised spec ─▶ points (typed params) ─▶ stage node specs per point
 *        ─▶ key records ─▶ sha256 keys (identical keys merge) ─▶ DAG ─▶ cache status per stage
 */

import type { KeyRecord, StageDefinition, StageKey, StageNodeSpec, Unresolved } from '../contract/stage.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import type { JsonObject, JsonValue } from '../util/json.js';

/** A typed parameter value as written in YAML (1 and "1" stay distinct). */
export type ParamValue = string | number | boolean | null;

export interface Point {
  /** 0-based position in expansion order. */
  index: number;
  /** Short stable id: first 12 hex of sha256(canonical params). */
  id: string;
  /** Swept parameters by dotted path (plus `dataset` and `repeat`), typed. */
  params: Record<string, ParamValue>;
  /** The full resolved configuration of this point (spec defaults with the point's values applied). */
  config: JsonObject;
  /** Stage keys of this point's chain, by role. */
  stages: Record<string, StageKey>;
  /**
   * What did not resolve for this point (absent when everything did): its keys are not the ones its real
   * inputs would give, so `run` refuses it and `gc` will not delete on the strength of it.
   */
  unresolved?: Unresolved[];
}

/** Why a stage will run (or that it will not): `unresolved` = only unresolved points use it. */
export type PlanStatus = 'cached' | 'run' | 'unresolved';

export interface PlannedStage {
  key: StageKey;
  record: KeyRecord;
  /** The node spec from the first point that planned this stage. */
  node: StageNodeSpec;
  definition: StageDefinition;
  /** Indices of the points that use this stage. */
  points: number[];
  /** Upstream stage keys (same as `record.inputs` values). */
  upstream: StageKey[];
  status: PlanStatus;
  /** `cached`, `new`, `param temperature changed`, `input changed`, `version bumped`, … */
  reason: string;
  /**
   * Where this stage sits in the experiment, e.g. `circo/val:query-text`: the history of records run in
   * this slot explains why a new key runs ("param temperature changed (0.1 → 0.5)").
   */
  slot: string;
}

export interface Plan {
  experiment: string;
  specFile: string;
  points: Point[];
  /** Stages in a topological order (every stage after its upstream stages). */
  stages: PlannedStage[];
  /** Extra data for reports (the spec's `report` block, kept opaque). */
  report: JsonValue;
  /** The spec's `resources` block (GPUs, CPU slots, HTTP concurrency), if any. */
  resources: JsonObject;
  /** The spec's `slurm` block (how `--executor slurm` submits), if any; never part of a key. */
  slurm?: JsonObject;
  /** Non-fatal problems (a dataset root or model folder not found yet, …). */
  warnings: Diagnostic[];
}
