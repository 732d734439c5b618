/**
 * `pefuse run`'s side of deferred recording (runner/results/deferred.ts): whether a fully cached run
 * may leave DuckDB closed, and after the run, either the waiting-run file, the recording it still
 * needs, or the proof for the next run.
 *
 *   plan all cached + proof matches the file ──▶ run without DuckDB ──▶ digest still proven?
 *        yes: write <db>.deferred/runs/<run>.json      no: open DuckDB, record the outcomes now
 *   otherwise ──▶ run recording as always ──▶ every stage recorded? write the proof
 */
import { hostname } from 'node:os';
import type { StageKey } from '../contract/stage.js';
import type { EventSink } from '../events/event.js';
import type { RunSummary } from '../exec/executor.js';
import type { Plan } from '../plan/types.js';
import type { ResultsDb } from '../results/types.js';
import type { Store } from '../store/types.js';

/** The digests the database provably holds when `plan` is all cached, else null (record as always). */
export async function provenForCachedRun(plan: Plan, dbFile: string): Promise<string[] | null> {
  if (plan.stages.length === 0 || !plan.stages.every((s) => s.status === 'cached')) return null;
  const { provenDigests } = await import('../results/deferred.js');
  return provenDigests(dbFile);
}

/** Stage key → its manifest's `finished_at`, when every stage of the plan is cached or published. */
function finishedTimes(plan: Plan, summary: RunSummary): Map<StageKey, string> | null {
  const out = new Map<StageKey, string>();
  for (const s of plan.stages) {
    const o = summary.outcomes.get(s.key);
    if (!o || (o.status !== 'cached' && o.status !== 'published')) return null;
    out.set(s.key, o.manifest.finished_at);
  }
  return out;
}

export interface SettleOptions {
  plan: Plan;
  dbFile: string;
  summary: RunSummary;
  /** The database the run recorded to (null on the deferred path). */
  results: ResultsDb | null;
  /** What `provenForCachedRun` said before the run. */
  proven: string[] | null;
  runId: string;
  startedAt: Date;
  argv: string[];
  store: Store;
  emit: EventSink;
}

/**
 * After `runPlan`: on the deferred path, leaves the run for the database, or (the cache changed under
 * the run) records its outcomes now; on the recording path, writes the proof when every stage was
 * recorded. Returns the database the run's last line is about, or null when it was deferred.
 */
export async function settleRecording(o: SettleOptions): Promise<ResultsDb | null> {
  const { plan, summary } = o;
  const deferred = await import('../results/deferred.js');
  const finished = finishedTimes(plan, summary);
  if (o.proven !== null) {
    const allCached = plan.stages.every((s) => summary.outcomes.get(s.key)?.status === 'cached');
    if (summary.ok && finished && allCached && o.proven.includes(deferred.recordedDigest(plan, finished))) {
      await deferred.deferRun(o.dbFile, {
        run: {
          id: o.runId,
          experiment: plan.experiment,
          specFile: plan.specFile,
          startedAt: o.startedAt,
          finishedAt: new Date(),
          status: 'ok',
          host: hostname(),
          argv: o.argv,
        },
        experiment: {
          name: plan.experiment,
          specFile: plan.specFile,
          nPoints: plan.points.length,
          report: plan.report,
        },
        points: plan.points,
      });
      return null;
    }
    return recordOutcomes(o);
  }
  if (o.results) await proveRecorded(o, o.results);
  return o.results;
}

/** Records a finished run's outcomes the way the executor does while it runs (stages in plan order). */
async function recordOutcomes(o: SettleOptions): Promise<ResultsDb> {
  const [{ openResults }, { ResultsRecorder }] = await Promise.all([
    import('../results/index.js'),
    import('../exec/record.js'),
  ]);
  const db = openResults(o.dbFile);
  const recorder = new ResultsRecorder(db, o.plan, o.store.objects, o.emit, o.runId, o.argv, (key) =>
    o.store.stages.withdraw(key),
  );
  recorder.start();
  for (const s of o.plan.stages) {
    const outcome = o.summary.outcomes.get(s.key);
    if (outcome) recorder.stage(s, outcome);
  }
  await recorder.finish(o.summary.ok ? 'ok' : o.summary.interrupted ? 'interrupted' : 'failed');
  await proveRecorded(o, db);
  return db;
}

/** Writes the proof when the run recorded every stage of its plan (see deferred.ts). */
async function proveRecorded(o: SettleOptions, db: ResultsDb): Promise<void> {
  const finished = finishedTimes(o.plan, o.summary);
  if (!o.summary.ok || !finished || db.writeError !== null || !db.closedIdentity) return;
  const { recordedDigest, writeProof } = await import('../results/deferred.js');
  await writeProof(o.dbFile, db.closedIdentity, recordedDigest(o.plan, finished));
}
