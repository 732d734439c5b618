/** The plain data of a worker client (worker.ts): how to start it, its timeouts, what an item yields. */

import type { Failure } from '../contract/failure.js';
import type { JsonObject, JsonValue } from '../util/json.js';

/** How to start a worker: the program, its arguments and extra environment. */
export interface WorkerCommand {
  file: string;
  args: readonly string[];
  /** Added to the orchestrator's environment (e.g. `CUDA_VISIBLE_DEVICES`). */
  env?: Record<string, string>;
  cwd?: string;
}

export interface WorkerTimeouts {
  /** Loading a model can download weights: minutes, not seconds. */
  readyMs: number;
  /** Per item, counted from when the item reaches the head of the worker's queue. */
  itemMs: number;
  /** Max silence (no line at all) while items are in flight; 0 disables the watchdog. */
  heartbeatMs: number;
}

export const DEFAULT_TIMEOUTS: WorkerTimeouts = { readyMs: 600_000, itemMs: 600_000, heartbeatMs: 0 };

export interface WorkerClientOptions {
  configure: { kind: string; params: JsonObject; model: JsonValue };
  timeouts: WorkerTimeouts;
  /** Each stderr line (goes to the stage log). */
  onStderr?: (line: string) => void;
  /** A short name for messages, e.g. `worker 1 (gpu 0)`. */
  label: string;
}

export type ItemOutcome =
  | { ok: true; id: string; output: JsonValue; seconds: number; peak_mem_mb?: number }
  /** `blamed` false: the worker died while busy with another item; retry this one for free. */
  | { ok: false; id: string; failure: Failure; blamed: boolean };
