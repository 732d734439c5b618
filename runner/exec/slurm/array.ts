/**
 * Runs the shards of one stage as Slurm array tasks and watches them until every shard succeeded, one
 * failed for good, or the run was cancelled:
 *
 *   jobs.jsonl (earlier submissions) ─▶ re-attach to the tasks Slurm still has queued or running
 *   shards neither done nor live ─▶ one sbatch --array of them (recorded in jobs.jsonl first)
 *   poll: squeue (live) · exit markers (the script's own) · scontrol (recently ended)
 *     ├─ exit 0 ─▶ shard done
 *     ├─ failed / preempted / timed out / lost ─▶ resubmitted (in one array per poll) while attempts
 *     │                                           remain, else the stage fails with the shard's log tail
 *     └─ cancel signal ─▶ scancel every job still live, the stage is cancelled
 *
 * The shards journal their items into the shared cache as they go, so a cancelled or failed shard
 * loses only the items in flight; the next submission (or the next run) resumes from the journal.
 */
import { readFile } from 'node:fs/promises';
import { type Failure, failure } from '../../contract/failure.js';
import { sleep } from '../../util/sleep.js';
import { type SlurmClient, type TaskState, TERMINAL_STATES } from './client.js';
import { appendJob, type JobRecord, readExit, readJobs } from './jobs.js';
import type { SlurmOptions } from './options.js';
import { logFile } from './script.js';

/** One shard in one job: what the orchestrator saw of it (also a row of `slurm_jobs`). */
export interface ShardJob {
  shard: number;
  job: string;
  attempt: number;
  state: string;
  exitCode: number | null;
  node: string | null;
  log: string;
  submittedAt: Date;
  finishedAt: Date | null;
}

/** What users see while a stage's jobs run (turned into events/log lines by the executor). */
export type ArrayNotice =
  | { type: 'submitted'; job: string; shards: number[]; attempt: number }
  | { type: 'attached'; job: string; shards: number[] }
  | { type: 'state'; job: ShardJob; reason: string | null }
  | { type: 'shard-done'; job: ShardJob }
  | { type: 'shard-failed'; job: ShardJob; willResubmit: boolean; why: string }
  | { type: 'cancelled'; job: string; shards: number[] }
  | { type: 'poll-error'; message: string };

export interface ArrayStage {
  key: string;
  kind: string;
  stageDir: string;
  /** Total shards of the stage. */
  shards: number;
  /** Shards already complete (their journal says so): never submitted. */
  complete?: ReadonlySet<number>;
  /** Writes the sbatch script of a submission of these shards; returns its path. */
  writeScript(shards: readonly number[], seq: number): Promise<string>;
}

export interface ArrayDeps {
  client: SlurmClient;
  options: SlurmOptions;
  /** Aborted: scancel the stage's live jobs and stop (Ctrl-C, --fail-fast). */
  signal?: AbortSignal;
  notify?(n: ArrayNotice): void;
  /** Each shard job whose state changed (for the results database). */
  onJob?(j: ShardJob): void;
  /**
   * Whether a shard that ended with this exit code (null: killed, preempted, lost) is worth another
   * submission; default yes. A shard whose items failed for a reason no retry fixes is not.
   */
  resubmittable?(shard: number, exitCode: number | null): Promise<boolean>;
}

export interface ArrayOutcome {
  /** Every shard ended with exit 0. */
  ok: boolean;
  cancelled: boolean;
  /** Shards that failed for good (every attempt used, or not worth another): why, and their log's tail. */
  failed: Map<number, { job: ShardJob; why: string; log: string[] }>;
  /** What to report for the stage when not ok: the first shard that failed for good, a refused
   *  submission, or the cancellation. */
  failure: Failure | null;
  jobs: ShardJob[];
  /** The log tail of the shard `failure` names. */
  log: string[];
}

/** Live = Slurm will still run it (or is running it): wait, never resubmit. */
function isLive(t: TaskState): boolean {
  return !TERMINAL_STATES.has(t.state);
}

export async function runArray(stage: ArrayStage, deps: ArrayDeps): Promise<ArrayOutcome> {
  const { client, options: o } = deps;
  const notify = deps.notify ?? (() => undefined);
  const signal = deps.signal ?? new AbortController().signal;
  const all: ShardJob[] = [];
  const current = new Map<number, ShardJob>(); // shard → its latest job
  /** Attempt numbers so far, over every run (for the record). */
  const attempts = new Map<number, number>();
  /** Submissions of each shard by this run (or attached to): bounded by `max_attempts`. */
  const tried = new Map<number, number>();
  const done = new Set<number>(stage.complete ?? []);
  let seq = 0;

  const record = (j: ShardJob) => {
    deps.onJob?.({ ...j });
  };

  // 1. Earlier submissions (a restarted orchestrator): the latest job of each shard.
  const recorded = await readJobs(stage.stageDir);
  const earlier = recorded.filter((r) => r.of === stage.shards);
  seq = recorded.length;
  // Jobs of another cut of this stage (the shard size changed since): their shards are not these
  // shards; those still queued or running are cancelled rather than left to duplicate the work.
  const otherCut = [...new Set(recorded.filter((r) => r.of !== stage.shards).map((r) => r.job))];
  if (otherCut.length > 0) {
    const st = await client.states(otherCut);
    const live = st.ok ? [...new Set(st.value.filter(isLive).map((t) => t.jobId))] : [];
    if (live.length > 0) {
      await client.cancel(live);
      for (const job of live) notify({ type: 'cancelled', job, shards: [] });
    }
  }
  for (const r of earlier)
    r.shards.forEach((shard, i) => {
      attempts.set(shard, Math.max(attempts.get(shard) ?? 0, r.attempts[i] ?? 1));
      if (done.has(shard)) return;
      const j: ShardJob = {
        shard,
        job: r.job,
        attempt: r.attempts[i] ?? 1,
        state: 'UNKNOWN',
        exitCode: null,
        node: null,
        log: logFile(stage.stageDir, shard, r.job),
        submittedAt: new Date(r.submitted_at),
        finishedAt: null,
      };
      current.set(shard, j);
    });
  if (current.size > 0) {
    const states = await client.states([...new Set([...current.values()].map((j) => j.job))]);
    const live = new Set<string>();
    if (states.ok) for (const t of states.value) if (isLive(t)) live.add(`${t.jobId}_${t.task}`);
    const attached = new Map<string, number[]>();
    for (const [shard, j] of [...current]) {
      if (live.has(`${j.job}_${shard}`) || live.has(`${j.job}_null`)) {
        attached.set(j.job, [...(attached.get(j.job) ?? []), shard]);
        tried.set(shard, 1);
        all.push(j);
        continue;
      }
      // Not live: finished while no orchestrator watched. A zero exit marker means done.
      const code = await readExit(stage.stageDir, shard, j.job);
      if (code === 0) {
        done.add(shard);
        all.push({ ...j, state: 'COMPLETED', exitCode: 0 });
      }
      current.delete(shard);
    }
    for (const [job, shards] of attached) notify({ type: 'attached', job, shards });
  }

  const submit = async (shards: number[]): Promise<Failure | null> => {
    if (shards.length === 0) return null;
    const tries = shards.map((s) => (attempts.get(s) ?? 0) + 1);
    seq++;
    const file = await stage.writeScript(shards, seq);
    let id: Awaited<ReturnType<SlurmClient['submit']>> | null = null;
    // A busy controller refuses now and then ("Socket timed out", "temporarily unable"): try again.
    for (let k = 0; k < 4; k++) {
      id = await client.submit(file);
      if (id.ok || !/timed out|temporarily|try again|Resource temporarily/i.test(id.error)) break;
      if (await sleep(2_000 * 2 ** k, signal)) break;
    }
    if (id === null || !id.ok)
      return failure(
        'worker-exit',
        `Slurm did not accept the ${stage.kind} job: ${id?.error ?? 'cancelled'}`,
        {
          retryable: false,
        },
      );
    const rec: JobRecord = await appendJob(stage.stageDir, {
      job: id.value,
      shards,
      attempts: tries,
      of: stage.shards,
      submitted_at: new Date().toISOString(),
    });
    shards.forEach((shard, i) => {
      attempts.set(shard, tries[i]!);
      tried.set(shard, (tried.get(shard) ?? 0) + 1);
      const j: ShardJob = {
        shard,
        job: rec.job,
        attempt: tries[i]!,
        state: 'PENDING',
        exitCode: null,
        node: null,
        log: logFile(stage.stageDir, shard, rec.job),
        submittedAt: new Date(rec.submitted_at),
        finishedAt: null,
      };
      current.set(shard, j);
      all.push(j);
      record(j);
    });
    notify({ type: 'submitted', job: rec.job, shards, attempt: Math.max(...tries) });
    return null;
  };

  const cancelLive = async () => {
    const jobs = [...new Set([...current.values()].map((j) => j.job))];
    if (jobs.length > 0) await client.cancel(jobs);
    for (const job of jobs)
      notify({
        type: 'cancelled',
        job,
        shards: [...current.values()].filter((j) => j.job === job).map((j) => j.shard),
      });
    for (const j of current.values()) {
      j.state = 'CANCELLED';
      j.finishedAt = new Date();
      record(j);
    }
  };

  // 2. Submit what is neither done nor attached.
  const first = [];
  for (let s = 0; s < stage.shards; s++) if (!done.has(s) && !current.has(s)) first.push(s);
  const failedFor = new Map<number, { job: ShardJob; why: string; log: string[] }>();
  let refused: Failure | null = null;
  if (deps.signal?.aborted) return cancelled();
  refused = await submit(first);

  // 3. Watch.
  while (current.size > 0 && refused === null) {
    if (await sleep(o.pollMs, signal)) {
      await cancelLive();
      return cancelled();
    }
    const jobs = [...new Set([...current.values()].map((j) => j.job))];
    const r = await client.states(jobs);
    if (!r.ok) {
      notify({ type: 'poll-error', message: r.error });
      continue;
    }
    const byTask = new Map<string, TaskState>();
    for (const t of r.value) byTask.set(`${t.jobId}_${t.task}`, t);
    const resubmit: number[] = [];
    for (const [shard, j] of [...current]) {
      const t = byTask.get(`${j.job}_${shard}`) ?? byTask.get(`${j.job}_null`);
      if (t !== undefined && isLive(t)) {
        if (t.state !== j.state || (t.node !== null && t.node !== j.node)) {
          j.state = t.state;
          j.node = t.node ?? j.node;
          record(j);
          notify({ type: 'state', job: { ...j }, reason: t.reason });
        }
        continue;
      }
      // Left the queue: its own exit marker first, then what Slurm says, else lost.
      const code = await readExit(stage.stageDir, shard, j.job);
      j.exitCode = code ?? t?.exitCode ?? null;
      j.node = t?.node ?? j.node;
      j.finishedAt = new Date();
      if (code === 0) {
        j.state = 'COMPLETED';
        done.add(shard);
        current.delete(shard);
        record(j);
        notify({ type: 'shard-done', job: { ...j } });
        continue;
      }
      if (code === null && t === undefined) {
        // Neither a marker nor a state: maybe the marker is not visible yet (NFS attribute cache)
        // or Slurm forgot the job (MinJobAge). Give it one more poll before calling it lost.
        if (j.state !== 'VANISHED') {
          j.state = 'VANISHED';
          continue;
        }
      }
      j.state = code !== null && code !== 0 ? 'FAILED' : (t?.state ?? 'LOST');
      current.delete(shard);
      record(j);
      const why = `${j.state}${j.exitCode !== null ? `, exit ${j.exitCode}` : ''}${j.node ? ` on ${j.node}` : ''}`;
      const again =
        (tried.get(shard) ?? 1) < o.maxAttempts &&
        (deps.resubmittable === undefined || (await deps.resubmittable(shard, j.exitCode)));
      notify({ type: 'shard-failed', job: { ...j }, willResubmit: again, why });
      // Keep going: the other shards go on (their items are journaled); the stage fails at the end.
      if (again) resubmit.push(shard);
      else failedFor.set(shard, { job: { ...j }, why, log: await tail(j.log) });
    }
    refused = await submit(resubmit);
  }
  if (refused !== null) {
    await cancelLive();
    return { ok: false, cancelled: false, failed: failedFor, failure: refused, jobs: all, log: [] };
  }
  const [first1] = [...failedFor].sort((a, b) => a[0] - b[0]);
  if (first1 === undefined)
    return { ok: true, cancelled: false, failed: failedFor, failure: null, jobs: all, log: [] };
  const [shard, f] = first1;
  const n = tried.get(shard) ?? 1;
  return {
    ok: false,
    cancelled: false,
    failed: failedFor,
    failure: failure(
      'worker-exit',
      `shard ${shard} of ${stage.shards} failed ${n === 1 ? 'once' : `${n} times`} (last: job ${f.job.job}_${shard} ${f.why}); log: ${f.job.log}`,
    ),
    jobs: all,
    log: f.log,
  };

  function cancelled(): ArrayOutcome {
    return {
      ok: false,
      cancelled: true,
      failed: failedFor,
      failure: failure('cancelled', `the ${stage.kind} jobs were cancelled (scancel)`),
      jobs: all,
      log: [],
    };
  }
}

/** The last lines of a shard's log, for the failure report. */
async function tail(file: string, n = 20): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-n);
  } catch {
    return [];
  }
}
