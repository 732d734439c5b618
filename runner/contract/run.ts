/**
 * What a stage's `run` receives and returns. The executor builds the context: upstream manifests,
 * the store, items already journaled by an interrupted attempt (so they are skipped on resume), and
 * the resources the scheduler granted.
 */
import type { JsonValue } from '../util/json.js';
import type { Result } from '../util/result.js';
import type { Failure } from './failure.js';
import type { ItemCache, ItemRecord, ObjectStore, StageManifest } from './records.js';
import type { StagePart } from './shard.js';
import type { KeyRecord, StageKey, StageNodeSpec } from './stage.js';

/** What a worker (or server) says it loaded, in its `ready` message; shown to users and recorded. */
export interface WorkerIdentity {
  /** Model id as loaded (or as reported by the server), e.g. `Qwen/Qwen2.5-VL-7B-Instruct`. */
  model: string;
  /** Backend name, e.g. `transformers`, `diffusers`, `onnxruntime`, `dummy`. */
  backend: string;
  /** Library versions that can change outputs. */
  versions: Record<string, string>;
  /** `cuda:0`, `cpu`, … */
  device: string;
}

/** How often (and how patiently) failed work is tried again. */
export interface RetryPolicy {
  /** Extra attempts after the first (`--retries N`): an item or stage is tried at most 1 + N times. */
  retries: number;
  /** Delay before attempt `attempt` (2, 3, …), in milliseconds. */
  backoffMs(attempt: number): number;
}

/** Exponential backoff: base, 2·base, 4·base … capped. */
export function exponentialBackoff(baseMs: number, capMs = 30_000): (attempt: number) => number {
  return (attempt) => Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 2));
}

/** Things a runner tells the executor that users should see (turned into events). */
export type StageNotice =
  | { type: 'items'; items: number }
  | { type: 'worker-ready'; worker: number; gpu: string | null; identity: WorkerIdentity }
  | { type: 'worker-restarted'; worker: number; failure: Failure; restarts: number }
  | { type: 'item-retry'; item: string; attempt: number; failure: Failure; delayMs: number }
  /**
   * In-process progress (embedding, scoring): `done` of `total` items computed so far in this attempt.
   * Shown live, never journaled (journaling 123K gallery images one by one would bloat the manifest).
   */
  | { type: 'progress'; done: number; total: number };

/**
 * Built by the executor, which always sets every field. The fields added with the executor (`kill`,
 * `attempt`, `retry`, `notify`, `resources.gpus`, `resources.http`) are optional so that hand-built
 * contexts in stage tests stay small; runners fall back to: no kill, attempt 1, no retries, no notices,
 * `[gpu]`, no HTTP endpoint.
 */
export interface StageRunContext {
  key: StageKey;
  record: KeyRecord;
  node: StageNodeSpec;
  /** Published manifests of upstream stages, by input name (as in `node.inputs`). */
  inputs: Record<string, StageManifest>;
  objects: ObjectStore;
  items: ItemCache;
  /** Items finished by an earlier, interrupted attempt of this stage; a runner skips them. */
  done: ReadonlyMap<string, ItemRecord>;
  /** Journal one finished item; durable when the promise resolves. */
  itemDone(item: ItemRecord): Promise<void>;
  /**
   * An item failed for good (after the runner's own retries); the stage goes on with the others
   * (keep-going) and fails at the end. `attempt`: how many times the item was tried (default 1).
   */
  itemFailed(item: string, failure: Failure, attempt?: number): void;
  /** Aborted to drain (first Ctrl-C, `--fail-fast`): take no new items, let in-flight ones finish. */
  signal: AbortSignal;
  /** Aborted to stop now (second Ctrl-C): kill workers, fail in-flight items as `cancelled`. */
  kill?: AbortSignal;
  /**
   * Which part of the stage this call computes (absent: the whole stage). In a shard, a runner
   * computes only the items (or chunks) `shardItems` gives it, journals them, and returns without
   * building the stage output; the orchestrator then runs the stage whole, with every item done, to
   * build it (see shard.ts).
   */
  part?: StagePart;
  /** Stage attempt number (1 on the first try). */
  attempt?: number;
  /** Item-level retry policy (worker crash, timeout, OOM): the runner retries items itself. */
  retry?: RetryPolicy;
  resources: {
    /** CPU slots (or HTTP request window) granted; a runner may use that many workers/requests. */
    threads: number;
    /** First granted GPU id (kept for single-GPU runners), or null. */
    gpu: string | null;
    /** All granted GPU ids: one worker per GPU. */
    gpus?: string[];
    /** The HTTP endpoint whose window this stage holds a share of, or null. */
    http?: string | null;
  };
  /** A line for the stage log (and for the reporter on failure). */
  log(line: string): void;
  /** Worker start/restart, retries, late item counts: shown to the user as events. */
  notify?(notice: StageNotice): void;
}

export interface StageRunOutput {
  /** Stage-level output recorded in the manifest (e.g. an embedding-matrix object reference). */
  output: JsonValue;
  device?: string;
  peak_mem_mb?: number;
}

export type StageRunner = (ctx: StageRunContext) => Promise<Result<StageRunOutput, Failure>>;

/** No retries (a context without a retry policy). */
export const NO_RETRY: RetryPolicy = { retries: 0, backoffMs: () => 0 };
