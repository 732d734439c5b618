/**
 * A planned stage as data: everything a process on another host needs to compute the stage, or a
 * shard of it, against the shared cache without planning the spec again. The orchestrator writes it
 * into the stage folder (`stages/<key>/description.json`) before it starts shards; `pefuse __shard`
 * reads it back.
 *
 *   PlannedStage (key, record, node, definition) ──describeStage()──▶ StageDescription (JSON, this file)
 *        └─ node.settings: dataset roots, model folders, endpoints, batch sizes, devices (not in the key)
 *   StageDescription ──parseDescription()──▶ checked data ──catalog──▶ the same runner, same inputs
 *
 * Item enumeration: the description says how the work splits (`shards.unit`) and the planned count; the
 * items themselves are listed by the stage's runner from its inputs (published, immutable manifests) in a
 * fixed order, so every shard on every host sees the same list and takes its run of it (`shardOf`).
 *
 * What is *not* in it: the worker program's path and interpreter. They are derived on the shard's host
 * from the node (backend, model folder, `python` setting) by the runner, exactly as the orchestrator's
 * host would; `pefuse` records its version so a shard refuses a description written by another one.
 */
import { isJsonObject, type JsonObject, type JsonValue } from '../util/json.js';
import { err, ok, type Result } from '../util/result.js';
import type { RetryPolicy } from './run.js';
import type { KeyRecord, ShardUnit, StageKey, StageNodeSpec, StageResource } from './stage.js';

export const DESCRIPTION_FORMAT = 'pefuse-stage-description/1';
/** The file name inside the stage folder. */
export const DESCRIPTION_FILE = 'description.json';

export interface StageDescription {
  format: typeof DESCRIPTION_FORMAT;
  /** The pefuse version that wrote it; a shard of another version refuses it (runners may differ). */
  pefuse: string;
  key: StageKey;
  /** The key record (what determines the output). */
  record: KeyRecord;
  /**
   * The node: params, model, settings (dataset roots, model folders, endpoints: what the runner reads
   * that is not in the key), backend label, planned item count.
   */
  node: StageNodeSpec;
  /** Upstream stages by input name: a shard reads their published manifests from the cache. */
  inputs: Record<string, StageKey>;
  /** What one shard occupies (the executor maps it to GPUs, CPU slots, an HTTP window). */
  resource: StageResource;
  /** How the work splits (`item`, `chunk`), and the planned item count when known before inputs run. */
  shards: { unit: ShardUnit; items: number | null };
  /** The run's item-level retry policy: retries after the first try, and the delay before each. */
  retry: { retries: number; backoff_ms: number[] };
  /** The orchestrator's attempt of this stage the shards belong to (1 on the first try). */
  attempt: number;
}

/** The description of a stage for `attempt`, under `retry`. */
export function describeStage(s: {
  pefuse: string;
  key: StageKey;
  record: KeyRecord;
  node: StageNodeSpec;
  resource: StageResource;
  unit: ShardUnit;
  retry: RetryPolicy;
  attempt: number;
}): StageDescription {
  const backoff: number[] = [];
  for (let a = 2; a <= s.retry.retries + 1; a++) backoff.push(s.retry.backoffMs(a));
  return {
    format: DESCRIPTION_FORMAT,
    pefuse: s.pefuse,
    key: s.key,
    record: s.record,
    node: s.node,
    inputs: { ...s.record.inputs },
    resource: s.resource,
    shards: { unit: s.unit, items: s.node.items },
    retry: { retries: s.retry.retries, backoff_ms: backoff },
    attempt: s.attempt,
  };
}

/** The retry policy a description carries (the last delay repeats past the list). */
export function retryOf(d: StageDescription): RetryPolicy {
  const list = d.retry.backoff_ms;
  return {
    retries: d.retry.retries,
    backoffMs: (attempt) => list[Math.min(list.length - 1, Math.max(0, attempt - 2))] ?? 0,
  };
}

/**
 * Checks parsed JSON against the description's shape (a file another process wrote, possibly torn or
 * hand-edited): an error names the first problem in one line.
 */
export function parseDescription(text: string, key: StageKey): Result<StageDescription, string> {
  let v: JsonValue;
  try {
    v = JSON.parse(text) as JsonValue;
  } catch {
    return err('not valid JSON (a torn or truncated write?)');
  }
  if (!isJsonObject(v)) return err('not a JSON object');
  if (v.format !== DESCRIPTION_FORMAT)
    return err(`format ${JSON.stringify(v.format ?? null)} instead of "${DESCRIPTION_FORMAT}"`);
  if (v.key !== key) return err(`it describes stage ${String(v.key).slice(0, 12)}, not ${key.slice(0, 12)}`);
  if (typeof v.pefuse !== 'string') return err('"pefuse" (the version that wrote it) is missing');
  const problem =
    field(v, 'record', isJsonObject) ??
    field(v, 'node', isJsonObject) ??
    field(v, 'inputs', isJsonObject) ??
    field(v, 'shards', isJsonObject) ??
    field(v, 'retry', isJsonObject) ??
    field(v, 'attempt', (x) => typeof x === 'number') ??
    field(v, 'resource', (x) => typeof x === 'string');
  if (problem) return err(problem);
  const node = v.node as JsonObject;
  if (typeof node.kind !== 'string' || !isJsonObject(node.params) || !isJsonObject(node.settings))
    return err('"node" lacks its kind, params or settings');
  const retry = v.retry as JsonObject;
  if (typeof retry.retries !== 'number' || !Array.isArray(retry.backoff_ms))
    return err('"retry" lacks retries or backoff_ms');
  return ok(v as unknown as StageDescription);
}

function field(o: JsonObject, name: string, check: (x: JsonValue) => boolean): string | null {
  const x = o[name];
  return x !== undefined && check(x) ? null : `"${name}" is missing or malformed`;
}
