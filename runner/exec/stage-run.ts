/**
 * What a stage's `run` receives and returns. The executor builds the context: upstream manifests,
 * the store, items already journaled by an interrupted attempt (so they are skipped on resume), and
 * the resources the scheduler granted.
 */
import type { KeyRecord, StageKey, StageNodeSpec } from '../plan/stage.js';
import type { ItemCache, ItemRecord, ObjectStore, StageManifest } from '../store/types.js';
import type { JsonValue } from '../util/json.js';
import type { Result } from '../util/result.js';
import type { Failure } from './failure.js';

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
  /** An item failed; the stage goes on with the others (keep-going) unless the runner stops. */
  itemFailed(item: string, failure: Failure): void;
  signal: AbortSignal;
  resources: { threads: number; gpu: string | null };
  /** A line for the stage log (and for the reporter on failure). */
  log(line: string): void;
}

export interface StageRunOutput {
  /** Stage-level output recorded in the manifest (e.g. an embedding-matrix object reference). */
  output: JsonValue;
  device?: string;
  peak_mem_mb?: number;
}

export type StageRunner = (ctx: StageRunContext) => Promise<Result<StageRunOutput, Failure>>;
