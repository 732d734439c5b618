/**
 * Everything a user can see about a run is one of these events (wireit's `event.ts` model): the
 * executor emits them, reporters (`tty`, `plain`, `json`) only consume them. Events are plain JSON data
 * so the `json` reporter can print them as they are and other tools can read them back.
 */
import type { Failure } from '../contract/failure.js';
import type { WorkerIdentity } from '../contract/run.js';
import type { StageKind } from '../contract/stage.js';

/** What identifies a stage in every stage event. */
export interface StageRef {
  key: string;
  kind: StageKind;
  /** The node's role in its point, e.g. `query-text`. */
  role: string;
  /** Human label of the backend (`dummy`, `Qwen/Qwen2.5-VL-7B-Instruct`). */
  backend: string;
}

/** What the scheduler granted a stage. */
export interface GrantedResources {
  gpus: string[];
  threads: number;
  http: string | null;
}

export type RunEvent =
  | {
      type: 'run-started';
      experiment: string;
      specFile: string;
      points: number;
      stages: number;
      gpus: string[];
      cpuSlots: number;
      pid: number;
    }
  | (StageRef & {
      type: 'stage-planned';
      /** Item count when known before upstream runs. */
      items: number | null;
      status: 'cached' | 'run';
      reason: string;
      points: number[];
    })
  /** Found published: by an earlier run, or by another runner since this one first looked (after its lock). */
  | (StageRef & { type: 'stage-cached'; items: number; by: 'store' | 'other-runner' })
  /** Another process holds this stage's lock; this runner waits, then reuses or resumes. */
  | (StageRef & { type: 'stage-waiting-lock'; holder: string })
  | (StageRef & {
      type: 'stage-started';
      attempt: number;
      /** Total items when the stage knows them upfront, else null (set later by `stage-items`). */
      items: number | null;
      /** Items already journaled by an interrupted attempt (skipped now). */
      resumed: number;
      resources: GrantedResources;
    })
  /** A stage learned its item count after starting (e.g. after reading the upstream query list). */
  | (StageRef & { type: 'stage-items'; items: number })
  | (StageRef & { type: 'worker-ready'; worker: number; gpu: string | null; identity: WorkerIdentity })
  | (StageRef & { type: 'worker-restarted'; worker: number; failure: Failure; restarts: number })
  | (StageRef & { type: 'item-done'; item: string; seconds: number; cached: boolean })
  /**
   * Live progress of an in-process stage that does not journal its items (embedding, scoring): `done`
   * of `items` so far, `seconds` since the attempt started, `rate` in items/s and `eta` in seconds (null
   * until there is a rate). Not journaled; at most about one a second per stage, plus the last.
   */
  | (StageRef & {
      type: 'stage-progress';
      done: number;
      items: number;
      seconds: number;
      rate: number;
      eta: number | null;
    })
  | (StageRef & {
      type: 'item-failed';
      item: string;
      attempt: number;
      failure: Failure;
      /** True when the item will be tried again (after `delayMs`). */
      willRetry: boolean;
      delayMs: number;
    })
  | (StageRef & { type: 'stage-retry'; attempt: number; delayMs: number; failure: Failure })
  | (StageRef & { type: 'stage-published'; items: number; seconds: number; attempts: number })
  | (StageRef & {
      type: 'stage-failed';
      failure: Failure;
      attempts: number;
      /** Items journaled (kept for the next run) and items that failed in the last attempt. */
      done: number;
      failedItems: number;
      /** Last lines of the stage log (worker stderr), shown by reporters only on failure. */
      log: string[];
    })
  /**
   * `--executor slurm`: a stage's job array was submitted, re-attached to after a restart, a shard
   * started running, finished, failed and is resubmitted, failed for good, or was cancelled (scancel).
   */
  | (StageRef & {
      type: 'slurm-job';
      action: 'submitted' | 'attached' | 'running' | 'done' | 'resubmitting' | 'failed' | 'cancelled';
      /** The array's job id. */
      job: string;
      /** Shard indices (= array task ids) the event is about. */
      shards: number[];
      /** The stage's shard count. */
      of: number;
      attempt?: number;
      node?: string | null;
      /** Why a shard failed (state, exit code, node). */
      message?: string;
    })
  | { type: 'warning'; message: string; key?: string }
  | { type: 'interrupt'; force: boolean; message: string }
  | {
      type: 'run-finished';
      ok: boolean;
      seconds: number;
      counts: RunCounts;
      failures: FailureSummary[];
      interrupted: boolean;
    };

export type RunEventType = RunEvent['type'];

export interface RunCounts {
  stages: number;
  cached: number;
  published: number;
  failed: number;
  cancelled: number;
  itemsDone: number;
  itemsFailed: number;
}

/** One line of the end-of-run failure summary. */
export interface FailureSummary {
  key: string;
  kind: StageKind;
  role: string;
  reason: Failure['reason'];
  message: string;
  item?: string;
}

/** Where events go. Must be cheap: it is called once per finished item. */
export type EventSink = (event: RunEvent) => void;

export function stageRef(s: StageRef): StageRef {
  return { key: s.key, kind: s.kind, role: s.role, backend: s.backend };
}

/** `a1b2c3d4e5f6`: the short form of a stage key used in human output. */
export function shortKey(key: string): string {
  return key.slice(0, 12);
}
