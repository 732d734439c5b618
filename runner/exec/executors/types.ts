/**
 * The executor seam: WHERE a stage's items are computed. Everything around it is common to every
 * executor and stays in the orchestrator (`runPlan`, `executeStage`): the DAG, resource grants, stage
 * locks (the orchestrator is their only holder), journals, healing, publishing, events and results.
 *
 *   executeStage: cached? ─▶ lock ─▶ resume from journals ─▶ grant ─▶ executor.computeStage(job) ─▶ publish
 *                                                                  │
 *        local:      job.run(job.ctx) in this process (its worker pool, its threads)
 *        subprocess: description ─▶ `pefuse __shard` × n here ─▶ adopt shard journals ─▶ job.run (output)
 *        slurm:      description ─▶ sbatch --array of `pefuse __shard` ─▶ poll ─▶ adopt ─▶ job.run (output)
 *
 * A shard executor never builds a stage output elsewhere: shards compute and journal items (or chunks);
 * the orchestrator adopts them, then runs the stage's runner with every item done, which only
 * assembles the output (and computes nothing else). `computeInShards` (shards.ts) is that sequence.
 */
import type { Failure } from '../../contract/failure.js';
import type { StageRunContext, StageRunner, StageRunOutput } from '../../contract/run.js';
import type { ShardResult, StagePart } from '../../contract/shard.js';
import type { ShardUnit, StageResource } from '../../contract/stage.js';
import type { PlannedStage } from '../../plan/types.js';
import type { Result } from '../../util/result.js';

export interface Executor {
  /** `local`, `subprocess`, `slurm`: for logs and the run's events. */
  readonly name: string;
  /**
   * Computes one stage whose lock this process holds, for one attempt: every item journaled through
   * `job` (directly, or adopted from shard journals), then the runner's result (the stage output).
   * Item failures go through `job.ctx.itemFailed`; a stage-level failure is the `err` result.
   */
  computeStage(job: StageJob): Promise<Result<StageRunOutput, Failure>>;
  /** Ends what the executor holds at the end of the run (queued jobs, pollers). */
  close(): Promise<void>;
}

/** One attempt of one locked stage, as the orchestrator hands it to an executor. */
export interface StageJob {
  readonly stage: PlannedStage;
  /** The runner context in the orchestrator: its journal, events, granted resources, signals. */
  readonly ctx: StageRunContext;
  /** The stage's runner (the catalog's), to compute here or to build the output once all is done. */
  readonly run: StageRunner;
  /** How the stage's work splits into shards; `none`: compute it with `run` (in the orchestrator). */
  readonly unit: ShardUnit;
  /** What one shard occupies (a GPU, CPU slots, an HTTP window): what a cluster job must request. */
  readonly resource: StageResource;
  /** The shared cache folder the shards work against (`--cache`). */
  readonly cacheRoot: string;
  /** `stages/<key>/shards/`: where shards put their journals, results and logs. */
  readonly shardsDir: string;
  /** The orchestrator's attempt number of this stage (1 on the first try). */
  readonly attempt: number;
  /** Writes the stage's self-contained description into its folder; resolves to the file's path. */
  describe(): Promise<string>;
  /**
   * Adopts what shards did: every record in the stage's shard journals that is not done yet becomes
   * done (an `item-done` event; chunks count silently), and each result's failed items and unreadable
   * objects are reported as if computed here. Resolves to the number of records adopted. Safe to call
   * while shards still run (with no results: progress), never twice at once.
   */
  adopt(results: readonly ShardResult[]): Promise<number>;
  /** A line for the stage log. */
  log(line: string): void;
}

export type { ShardResult, StagePart };
