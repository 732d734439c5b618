/**
 * The Slurm executor (`pefuse run SPEC --executor slurm`): the orchestrator on the submit host keeps the
 * DAG, the stage locks, the journals, publishing and the results database; the items of each stage that
 * placement.ts sends to Slurm are computed by one job array of `pefuse __shard` tasks against the
 * shared cache (runArray), then adopted and published as with any shard executor (computeInShards).
 *
 *   stage ─▶ placeStage ─┬─ submit host (HTTP, small, no items) ─▶ job.run(ctx), as the local executor
 *                        └─ Slurm ─▶ description ─▶ sbatch --array ─▶ poll / resubmit ─▶ adopt ─▶ output
 *
 * Stages placed on Slurm hold no resource of the submit host while their jobs run (`remotePlan`), so
 * the number of arrays in flight is Slurm's business, not the login node's CPU count.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { failure } from '../../contract/failure.js';
import { type ShardResult, type StagePart, shardRange } from '../../contract/shard.js';
import { type StageKey, stageResource, stageShardUnit } from '../../contract/stage.js';
import type { RunEvent, StageRef } from '../../events/event.js';
import type { Plan, PlannedStage } from '../../plan/types.js';
import type { SlurmJobRow } from '../../results/types.js';
import { computeInShards, lostShard, readShardResult } from '../executors/shards.js';
import type { Executor, StageJob } from '../executors/types.js';
import { type ArrayNotice, type ArrayOutcome, runArray, type ShardJob } from './array.js';
import type { SlurmClient } from './client.js';
import { scriptInput, stageDirOf } from './layout.js';
import type { SlurmOptions } from './options.js';
import { type Placement, placeStage } from './placement.js';
import { renderScript, slurmDir } from './script.js';

export interface SlurmExecutorOptions {
  options: SlurmOptions;
  client: SlurmClient;
  /** The orchestrator's working directory (the jobs' --chdir). */
  cwd: string;
  /** Where the user sees what the jobs do (the run's reporter). */
  emit(e: RunEvent): void;
  /** Each shard job's state, for the results database (`slurm_jobs`). */
  onJob?(row: SlurmJobRow): void;
}

/** Where each stage of the plan goes (computed once, before the run). */
export function placements(plan: Plan, o: SlurmOptions): Map<StageKey, Placement> {
  return new Map(
    plan.stages.map((s) => [
      s.key,
      placeStage(
        {
          kind: s.node.kind,
          resource: stageResource(s.definition, s.node),
          items: s.node.items,
          unit: stageShardUnit(s.definition, s.node),
        },
        o,
      ),
    ]),
  );
}

/**
 * The plan as the orchestrator schedules it: a stage computed by Slurm jobs asks the submit host for no
 * resource (its GPU or CPU slot is the cluster's), so as many arrays are in flight as the DAG allows.
 */
export function remotePlan(plan: Plan, placed: ReadonlyMap<StageKey, Placement>): Plan {
  return {
    ...plan,
    stages: plan.stages.map(
      (s): PlannedStage =>
        placed.get(s.key)?.where === 'slurm'
          ? { ...s, definition: { ...s.definition, resource: 'none', resourceOf: () => 'none' } }
          : s,
    ),
  };
}

export function slurmExecutor(o: SlurmExecutorOptions, placed: ReadonlyMap<StageKey, Placement>): Executor {
  return {
    name: 'slurm',
    async computeStage(job) {
      const place = placed.get(job.stage.key);
      if (job.unit === 'none' || place === undefined || place.where === 'local') return job.run(job.ctx);
      const n = place.shards.length;
      return computeInShards(job, n, (parts) => runOnSlurm(job, place.gpu, parts, o));
    },
    close: async () => {},
  };
}

async function runOnSlurm(
  job: StageJob,
  gpu: boolean,
  parts: StagePart[],
  o: SlurmExecutorOptions,
): Promise<ShardResult[]> {
  const s = job.stage;
  const n = parts.length;
  const ref: StageRef = { key: s.key, kind: s.record.kind, role: s.node.role, backend: s.node.backend };
  const stageDir = stageDirOf(job.cacheRoot, s.key);
  const items = s.node.items ?? 0;
  const sizeOf = (i: number) => shardRange(items, { shard: i, of: n }).size;
  let doneItems = 0;
  let pollErrors = 0;
  type JobEvent = Extract<RunEvent, { type: 'slurm-job' }>;
  const emitJob = (
    action: JobEvent['action'],
    jobId: string,
    shards: number[],
    more: Pick<JobEvent, 'attempt' | 'node' | 'message'> = {},
  ) => o.emit({ ...ref, type: 'slurm-job', action, job: jobId, shards, of: n, ...more });
  const onNotice = (x: ArrayNotice) => {
    switch (x.type) {
      case 'submitted':
        job.log(
          `[slurm] submitted job ${x.job}: shards ${x.shards.join(',')} of ${n} (attempt ${x.attempt})`,
        );
        emitJob('submitted', x.job, x.shards, { attempt: x.attempt });
        return;
      case 'attached':
        job.log(
          `[slurm] re-attached to job ${x.job}: shards ${x.shards.join(',')} of ${n}, still queued or running`,
        );
        emitJob('attached', x.job, x.shards);
        return;
      case 'state':
        pollErrors = 0;
        if (x.job.state === 'RUNNING') emitJob('running', x.job.job, [x.job.shard], { node: x.job.node });
        return;
      case 'shard-done':
        // Item stages show progress as their journals are adopted (item-done); chunks count silently,
        // so their progress is the items of the shards done.
        doneItems += sizeOf(x.job.shard);
        if (job.unit === 'chunk') job.ctx.notify?.({ type: 'progress', done: doneItems, total: items });
        emitJob('done', x.job.job, [x.job.shard], { node: x.job.node });
        return;
      case 'shard-failed':
        job.log(`[slurm] shard ${x.job.shard} (job ${x.job.job}_${x.job.shard}) ${x.why}; log: ${x.job.log}`);
        emitJob(x.willResubmit ? 'resubmitting' : 'failed', x.job.job, [x.job.shard], { message: x.why });
        return;
      case 'cancelled':
        job.log(`[slurm] scancel ${x.job} (shards ${x.shards.join(',')})`);
        emitJob(
          'cancelled',
          x.job,
          x.shards,
          x.shards.length === 0
            ? { message: 'a job of an earlier cut of this stage (another shard_size)' }
            : {},
        );
        return;
      case 'poll-error':
        job.log(`[slurm] ${x.message} (polling again)`);
        // Said to the user once, then every 30th time in a row (a controller down for a while).
        if (pollErrors++ % 30 === 0)
          o.emit({
            type: 'warning',
            key: s.key,
            message: `slurm: ${x.message} (polling again every ${o.options.pollMs / 1000} s)`,
          });
        return;
    }
  };
  const outcome = await runArray(
    {
      key: s.key,
      kind: s.record.kind,
      stageDir,
      shards: n,
      async writeScript(shards, seq) {
        await mkdir(slurmDir(stageDir), { recursive: true });
        const file = join(slurmDir(stageDir), `submit-${seq}.sh`);
        await writeFile(
          file,
          renderScript(scriptInput(s, gpu, shards, n, { cacheRoot: job.cacheRoot, cwd: o.cwd }), o.options),
        );
        return file;
      },
    },
    {
      client: o.client,
      options: o.options,
      signal: job.ctx.signal,
      notify: onNotice,
      onJob: (j) => o.onJob?.(rowOf(s.key, j)),
      // Exit 2: the shard could not use its description (nothing a resubmission changes); exit 1: its
      // items failed after their own retries, so only a stage-level failure that may pass is retried.
      resubmittable: async (shard, code) => {
        if (code === 2) return false;
        if (code !== 1) return true;
        const r = await readShardResult(job.shardsDir, s.key, { shard, of: n }, '');
        return r.failure?.retryable === true;
      },
    },
  );
  await collectLogs(job, outcome, n);
  return Promise.all(parts.map((p) => resultOf(job, p, outcome)));
}

/** Each shard's Slurm log goes into the stage log (last lines of each job). */
async function collectLogs(job: StageJob, outcome: ArrayOutcome, n: number): Promise<void> {
  const last = new Map<number, ShardJob>();
  for (const j of outcome.jobs) last.set(j.shard, j);
  for (const [shard, j] of [...last].sort((a, b) => a[0] - b[0])) {
    let text: string;
    try {
      text = await readFile(j.log, 'utf8');
    } catch {
      continue;
    }
    const lines = text
      .trimEnd()
      .split('\n')
      .filter((l) => l !== '');
    const shown = lines.slice(-200);
    for (const l of shown) job.log(`[slurm shard ${shard + 1}/${n} job ${j.job}] ${l}`);
  }
}

async function resultOf(job: StageJob, part: StagePart, outcome: ArrayOutcome): Promise<ShardResult> {
  const failed = outcome.failed.get(part.shard);
  const last = [...outcome.jobs].reverse().find((j) => j.shard === part.shard);
  const detail = failed
    ? `job ${failed.job.job}_${part.shard}: ${failed.why}; log: ${failed.job.log}${failed.log.length > 0 ? `; last output: ${failed.log.slice(-5).join(' | ')}` : ''}`
    : last
      ? `job ${last.job}_${part.shard}: ${last.state}; log: ${last.log}`
      : 'never submitted';
  const r = await readShardResult(job.shardsDir, job.stage.key, part, detail);
  if (last?.state === 'COMPLETED') return r;
  // Not finished: cancelled (scancel) or never accepted by Slurm: say that rather than "no result".
  if (outcome.cancelled && r.status !== 'ok')
    return {
      ...r,
      failure: failure('cancelled', `the Slurm job of shard ${part.shard + 1} of ${part.of} was cancelled`),
    };
  if (!failed && outcome.failure !== null && r.status !== 'ok')
    return { ...lostShard(job.stage.key, part, detail), failure: outcome.failure };
  return r;
}

function rowOf(key: StageKey, j: ShardJob): SlurmJobRow {
  return {
    stageKey: key,
    jobId: j.job,
    shard: j.shard,
    attempt: j.attempt,
    state: j.state,
    exitCode: j.exitCode,
    node: j.node,
    logPath: j.log,
    submittedAt: j.submittedAt,
    finishedAt: j.finishedAt,
  };
}
