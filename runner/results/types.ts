/**
 * The results database API (architecture §7). One DuckDB file, default `<cache>/results.duckdb`
 * (`--db FILE`). Open it with `openResults(file)` from runner/results/db.ts.
 *
 * DuckDB is single-writer-process: while one process has the file open, no other process may open it,
 * not even read-only. So no process holds it for long: every write batch opens the file, writes in one
 * transaction, and closes it again once no further call came for `lingerMs` (group commit: calls made
 * while a batch is being written go into the next batch). A second `pefuse run` (or `pefuse status`) therefore gets in between two batches; when
 * the file is locked it retries with backoff for `lockTimeoutMs` and then gives up with a `locked`
 * error that says which process holds it.
 *
 * Every `record*` call is idempotent by key (upsert, or delete-then-insert by stage key), so a re-run
 * that records the same stage again replaces its rows instead of duplicating them.
 */

import type { Failure } from '../contract/failure.js';
import type { KeyRecord, StageKey, StageKind } from '../contract/stage.js';
import type { Point } from '../plan/types.js';
import type { ItemRecord } from '../store/types.js';
import type { JsonValue } from '../util/json.js';
import type { Result } from '../util/result.js';
import type { PerQuery } from './query-results.js';

/** Why a results-database call did not happen. These are run-time problems, not bugs. */
export interface ResultsError {
  /**
   * `locked`: another process held the file past the timeout. `missing`: read of a DB not created yet.
   * `damaged`: the file is not a readable DuckDB database (truncated, corrupt); the message says to
   * delete it (the cache holds everything, a re-run records it again). `io`: anything else.
   */
  kind: 'locked' | 'missing' | 'damaged' | 'io';
  file: string;
  /** One line for the user, e.g. "results database …/results.duckdb is locked by another process (pid 4242): …". */
  message: string;
}

export type ResultsResult<T = void> = Result<T, ResultsError>;

export interface ResultsOptions {
  /** How long to retry when another process holds the file (default 30 000 ms). */
  lockTimeoutMs?: number;
  /**
   * Keep the file open after a batch for this long, in case more writes follow (default 1000 ms);
   * another process waits at most this long plus one batch.
   */
  lingerMs?: number;
  /** Keep the file open until `close()` (single-process tools, the benchmark). Default false. */
  keepOpen?: boolean;
  /** Open read-only (status, reports); every `record*` then fails. Default false. */
  readOnly?: boolean;
}

/** One `pefuse run` invocation. */
export interface RunRow {
  /** `<ISO start time>-<pid>` (the executor's default): the pid lets a later run see that this one died. */
  id: string;
  experiment: string;
  specFile: string;
  startedAt: Date;
  finishedAt?: Date | null;
  /**
   * `running` while it runs; then `ok`, `failed` (some stage failed) or `interrupted`. `killed`: the
   * process died without finishing (kill -9, power cut); set by a later run on the same host.
   */
  status: 'running' | 'ok' | 'failed' | 'interrupted' | 'killed';
  host: string;
  /** The command line, for the record. */
  argv?: string[];
}

export interface ExperimentRow {
  name: string;
  specFile: string;
  /** sha256 of the spec file's text. */
  specSha256?: string | null;
  nPoints: number;
  /** The spec's `report` block, opaque. */
  report?: JsonValue;
}

/** Stage state as recorded: `published` computed in this run, `cached` reused, `failed`, `skipped` (upstream failed). */
export type StageStatus = 'running' | 'published' | 'cached' | 'failed' | 'skipped';

export interface StageRow {
  key: StageKey;
  kind: StageKind;
  /**
   * The backend label exactly as the plan shows it (`pefuse plan`, backend column): `dummy` for dummy
   * backends, `BACKEND:MODEL` for MLLM/diffusion (`vllm:Qwen/Qwen2.5-VL-7B-Instruct`), the model for
   * retrieval (`ViT-L-14`).
   */
  backend: string;
  record: KeyRecord;
  status: StageStatus;
  /** Compute seconds (wall) of the stage; null when unknown (never ran). */
  seconds?: number | null;
  items?: number | null;
  cachedItems?: number | null;
  failedItems?: number | null;
  attempts?: number;
  failure?: Failure | null;
  host?: string | null;
  device?: string | null;
  peakMemMb?: number | null;
  startedAt?: Date | null;
  finishedAt?: Date | null;
  runId?: string | null;
  /** MLLM stages over a server: the model it reported serving, and its version when it says. */
  servedModel?: string | null;
  serverVersion?: string | null;
}

/** Metric values of one `metrics` stage for one point (`MetricsOutput` of stages/contracts.ts). */
export interface MetricsInput {
  experiment: string;
  pointId: string;
  stageKey: StageKey;
  runId?: string | null;
  dataset: string;
  split: string;
  subset: string | null;
  n: number;
  /** Percentages keyed `recall@K`, `recall_subset@K`, `map@K`, `map@10/<aspect>`; parsed into metric, k, aspect. */
  metrics: Record<string, number>;
  hits?: Record<string, number>;
  /** Per-query values (`query_results`), written once per stage key; replaces the stage's earlier rows. */
  perQuery?: PerQuery | null;
}

/** Top-K rankings of one `score` stage (`ScoreOutput`), stored once per stage key. */
export interface RankingsInput {
  stageKey: StageKey;
  /** Row order of `indices`/`scores`. */
  queryIds: readonly string[];
  /** The gallery the indices point into; per-query galleries (GeneCIS) as one array per query. */
  galleryIds: readonly string[] | readonly (readonly string[])[];
  /** [nQ, k] row-major gallery indices, best first; -1 = no entry (short gallery). */
  indices: Int32Array;
  /** [nQ, k] row-major similarities. */
  scores: Float32Array;
  k: number;
}

/** One generated item text/image (mllm.compose, mllm.caption, diffusion.edit). */
export interface GenerationRow {
  itemId: string;
  text?: string | null;
  tokens?: number | null;
  /** sha256 of a generated image object. */
  image?: string | null;
  /** The image object's file in the store (absolute), for reports that show the images. */
  imagePath?: string | null;
  /** Prompt tokens cut at the model's context (diffusion.edit: 77 CLIP tokens). */
  truncatedTokens?: number | null;
  /** Which description of the item (0 when one per item; `mllm.descriptions` > 1 gives 0…N-1). */
  description?: number;
  promptTokens?: number | null;
  completionTokens?: number | null;
  /** `stop`, `length` (cut at max_tokens), … as the server said. */
  finishReason?: string | null;
  /** Seconds the request took, retries excluded. */
  latencyS?: number | null;
}

/** One shard of a stage run as a Slurm array task (`--executor slurm`): table `slurm_jobs`. */
export interface SlurmJobRow {
  stageKey: StageKey;
  /** The array's job id (as sbatch printed it). */
  jobId: string;
  /** The array task id, which is the shard index. */
  shard: number;
  /** 1 for the first submission of the shard, 2 for its first resubmission, … */
  attempt: number;
  /** The last state seen: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, PREEMPTED, … */
  state: string;
  exitCode?: number | null;
  node?: string | null;
  logPath?: string | null;
  submittedAt?: Date | null;
  finishedAt?: Date | null;
  runId?: string | null;
}

/** What the database already holds for one stage key, so a cached re-run records only what is missing. */
export interface RecordedStage {
  timings: boolean;
  generations: boolean;
  rankings: boolean;
  /** Points whose latest metrics (view `latest_metrics`) come from this stage. */
  metricPoints: string[];
  /** The stage's row, if it has one: its status and when the computation it records finished. */
  row: { status: string; finishedAt: string | null } | null;
}

export interface ResultsDb {
  readonly file: string;
  /**
   * The first write that failed since the file was opened (locked past the wait, damaged file, disk
   * full), or null when every write so far was recorded. `pefuse run` words its last line with it.
   */
  readonly writeError: ResultsError | null;
  /** Whether at least one write was recorded (a partial recording reads differently from none). */
  readonly wroteAny: boolean;
  /**
   * The file's identity taken right after `close()` closed it from read-write use (see
   * deferred.ts), or null (not closed yet, read-only, or a WAL left beside it).
   */
  readonly closedIdentity?: string | null;
  /** Creates the tables and views if needed (the first write does this too). */
  init(): Promise<ResultsResult>;
  recordRun(run: RunRow): Promise<ResultsResult>;
  recordExperiment(e: ExperimentRow): Promise<ResultsResult>;
  /** Points of an experiment with typed params (`points`, `point_params`) and their stages (`point_stages`). */
  recordPoints(experiment: string, points: readonly Point[], runId?: string | null): Promise<ResultsResult>;
  recordStage(s: StageRow): Promise<ResultsResult>;
  /** Many stage rows in one statement (a later row for the same key wins). */
  recordStages(rows: readonly StageRow[]): Promise<ResultsResult>;
  /** Per-item compute seconds of a stage (replaces the stage's earlier rows). */
  recordItemTimings(stageKey: StageKey, items: readonly ItemRecord[]): Promise<ResultsResult>;
  recordMetrics(m: MetricsInput): Promise<ResultsResult>;
  /** Appender ingest (millions of rows/s); replaces the stage's earlier rankings. */
  recordRankings(r: RankingsInput): Promise<ResultsResult>;
  recordGenerations(
    stageKey: StageKey,
    kind: StageKind,
    backend: string,
    rows: readonly GenerationRow[],
  ): Promise<ResultsResult>;
  /** Slurm array tasks of stages (upsert by job id and shard). */
  recordSlurmJobs(rows: readonly SlurmJobRow[]): Promise<ResultsResult>;
  /** What is already recorded for these stage keys (one query; keys absent from the map have nothing). */
  recorded(
    experiment: string,
    keys: readonly StageKey[],
  ): Promise<ResultsResult<Map<StageKey, RecordedStage>>>;
  /**
   * Marks runs of this host still `running` whose process is gone as `killed` (a kill -9 or power cut
   * never records the end of a run). Returns how many were marked.
   */
  markDeadRuns(host: string, alive: (pid: number) => boolean): Promise<ResultsResult<number>>;
  /** Runs a read query (status, reports). Values are converted to plain JSON (bigint → number). */
  query(
    sql: string,
    params?: Record<string, string | number | boolean | null>,
  ): Promise<ResultsResult<Record<string, JsonValue>[]>>;
  /** Waits for queued writes. */
  flush(): Promise<ResultsResult>;
  /** Flushes and closes the file. */
  close(): Promise<ResultsResult>;
}
