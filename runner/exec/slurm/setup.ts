/**
 * What `pefuse run --executor slurm` adds to a run, in one call from the CLI (which loads this module
 * only for that executor): the preflight (Slurm tools, refusals, the cache's filesystem), where each
 * stage goes, the plan as the orchestrator schedules it, the executor, and the summary line.
 */
import type { EventSink } from '../../events/event.js';
import type { Plan } from '../../plan/types.js';
import type { ResultsDb } from '../../results/types.js';
import { err, ok, type Result } from '../../util/result.js';
import type { Executor } from '../executors/types.js';
import { commandClient, runCommand, type SlurmClient } from './client.js';
import { placements, remotePlan, slurmExecutor } from './executor.js';
import { slurmOptions } from './options.js';
import { preflight } from './preflight.js';

export interface SlurmRun {
  /** The plan to hand to runPlan (Slurm stages ask the submit host for no resource). */
  plan: Plan;
  /** The executor, once the run's reporter and results database are open. */
  executor(emit: EventSink, results: ResultsDb | null): Executor;
  /** Lines for the run's summary: how the plan splits, and the cache's filesystem. */
  summary: string[];
}

export async function setupSlurmRun(
  plan: Plan,
  ctx: { cacheRoot: string; cwd: string; runId: string; client?: SlurmClient },
): Promise<Result<SlurmRun, string[]>> {
  const options = slurmOptions(plan.slurm);
  const client = ctx.client ?? commandClient(runCommand());
  const pre = await preflight(plan, client, ctx.cacheRoot);
  if (pre.errors.length > 0) return err(pre.errors);
  const placed = placements(plan, options);
  const toRun = plan.stages.filter((s) => s.status === 'run');
  const onSlurm = toRun.filter((s) => placed.get(s.key)?.where === 'slurm');
  const shards = onSlurm.reduce((n, s) => {
    const p = placed.get(s.key);
    return n + (p?.where === 'slurm' ? p.shards.length : 0);
  }, 0);
  return ok({
    plan: remotePlan(plan, placed),
    executor: (emit, results) =>
      slurmExecutor(
        {
          options,
          client,
          cwd: ctx.cwd,
          emit,
          // Recorded as states change; the results database batches the writes (group commit).
          onJob: (row) => void results?.recordSlurmJobs([{ ...row, runId: ctx.runId }]),
        },
        placed,
      ),
    summary: [
      `slurm: ${onSlurm.length} stage${onSlurm.length === 1 ? '' : 's'} as job arrays (${shards} shard${shards === 1 ? '' : 's'}), ${toRun.length - onSlurm.length} on the submit host`,
      `slurm: ${pre.sharedFs.message}`,
    ],
  });
}
