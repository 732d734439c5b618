/**
 * Runs one stage of the plan, wireit's `standard.ts` order:
 *
 *   manifest published? ──yes──▶ cached
 *        │ no
 *   take the stage lock (wait while another runner holds it) ──▶ re-check the manifest, always (another
 *        │                                                        runner may have published meanwhile: reuse it)
 *   read the journal (items an interrupted attempt finished) ──▶ wait for resources (priority order)
 *        │
 *   definition.run(ctx) ── each finished item is journaled ── retry the stage on a retryable failure
 *        │
 *   all items done ──▶ publish the manifest (written last, atomically) ──▶ published
 *
 * A crash anywhere loses only the items in flight: the journal keeps the rest and the lock of a dead
 * process is reclaimed.
 */

import { hostname } from 'node:os';
import { convertExceptionToFailure, type Failure, failure } from '../contract/failure.js';
import type { StageRunOutput } from '../contract/run.js';
import { isChunkId } from '../contract/shard.js';
import type { GrantedResources, StageRef } from '../events/event.js';
import type { PlannedStage } from '../plan/types.js';
import type { ItemRecord, StageManifest } from '../store/types.js';
import { sleep } from '../util/sleep.js';
import { heal, healedFailure, itemsWithMissingObjects } from './heal.js';
import type { Grant } from './resources.js';
import { modelKey, resourceRequest } from './scheduler.js';
import { itemCount, makeContext, makeJob, type StageEnv, StageLog } from './stage-context.js';

export type { StageEnv };

import { parksWorkers } from './worker-stage.js';

export type StageOutcome =
  | { status: 'cached'; manifest: StageManifest; by: 'store' | 'other-runner' }
  | { status: 'published'; manifest: StageManifest; startedAt: Date; resumed: number }
  | {
      status: 'failed';
      failure: Failure;
      attempts: number;
      done: number;
      failedItems: number;
      startedAt: Date | null;
      /** Last stage-log lines (worker stderr). */
      log: string[];
    }
  | { status: 'cancelled'; failure: Failure; done: number };

const HOST = hostname();

export async function executeStage(
  stage: PlannedStage,
  topoIndex: number,
  inputs: Record<string, StageManifest>,
  env: StageEnv,
): Promise<StageOutcome> {
  const ref: StageRef = {
    key: stage.key,
    kind: stage.record.kind,
    role: stage.node.role,
    backend: stage.node.backend,
  };
  const stages = env.store.stages;
  const cacheable = stage.node.uncacheable === undefined;

  const published = async (): Promise<StageManifest | null> => {
    if (!cacheable) return null;
    const m = await stages.readManifest(stage.key);
    if (m.ok) return m.value;
    env.emit({ type: 'warning', message: m.error.message, key: stage.key });
    return null;
  };

  const first = await published();
  if (first) return { status: 'cached', manifest: first, by: 'store' };

  const lock = await stages.lock(stage.key, {
    wait: true,
    signal: env.drain,
    pollMs: env.lockPollMs,
    staleMs: env.lockStaleMs,
    onWaiting: (h) => {
      env.resources.unhold(stage.key);
      env.emit({
        ...ref,
        type: 'stage-waiting-lock',
        holder: `pid ${h.pid} on ${h.host} since ${h.started}`,
      });
    },
    onReclaimed: (h) =>
      env.emit({
        type: 'warning',
        key: stage.key,
        message: `${ref.kind} stage ${ref.key.slice(0, 12)}: took over a stale lock (${
          h === null
            ? 'no owner file'
            : `pid ${h.pid} on ${h.host}, last heartbeat ${h.heartbeat}: ${h.host === HOST ? 'process gone' : 'no heartbeat for too long'}`
        }); its journaled items are resumed`,
      }),
  });
  if (!lock) return cancelled(ref, 0);
  try {
    // Always, not only after waiting: another run may have published and released between the first
    // check and this lock (taken without waiting), and the stage would be computed twice.
    const again = await published();
    if (again) return { status: 'cached', manifest: again, by: 'other-runner' };
    return await runLocked(stage, topoIndex, ref, inputs, env);
  } finally {
    await lock.release();
  }
}

function cancelled(ref: StageRef, done: number): StageOutcome {
  return {
    status: 'cancelled',
    failure: failure(
      'cancelled',
      `${ref.kind} stage ${ref.key.slice(0, 12)} did not finish: the run was stopped`,
    ),
    done,
  };
}

async function runLocked(
  stage: PlannedStage,
  topoIndex: number,
  ref: StageRef,
  inputs: Record<string, StageManifest>,
  env: StageEnv,
): Promise<StageOutcome> {
  // The orchestrator's journal and every shard journal (shards of an interrupted attempt count too).
  const prior = await env.store.stages.readJournals(stage.key);
  if (prior.dropped > 0) {
    env.emit({
      type: 'warning',
      key: stage.key,
      message: `${ref.kind} stage ${ref.key.slice(0, 12)}: dropped ${prior.dropped} torn journal line(s) from a crash; those items are recomputed`,
    });
  }
  const done = new Map<string, ItemRecord>(prior.items.map((i) => [i.id, i]));
  // A journaled item whose output object left the store (deleted, quarantined) is recomputed, not
  // resumed: otherwise the stage would publish a manifest naming a missing object.
  const gone = await itemsWithMissingObjects(done, env.store.objects);
  if (gone.length > 0) {
    for (const id of gone) done.delete(id);
    env.emit({
      type: 'warning',
      key: stage.key,
      message: `${ref.kind} stage ${ref.key.slice(0, 12)}: ${gone.length} journaled item(s) name objects no longer in the cache; those items are recomputed`,
    });
  }
  const resumed = itemCount(done);

  const run = stage.definition.run;
  if (!run) {
    return {
      status: 'failed',
      failure: failure(
        'not-implemented',
        `this version of pefuse cannot run ${ref.kind} stages with backend "${ref.backend}"`,
      ),
      attempts: 0,
      done: resumed,
      failedItems: 0,
      startedAt: null,
      log: [],
    };
  }

  const left = stage.node.items === null ? null : stage.node.items - resumed;
  const grant = await env.resources.acquire(resourceRequest(stage, topoIndex, left), env.drain, stage.key);
  if (!grant) return cancelled(ref, resumed);
  const startedAt = new Date();
  const t0 = performance.now();
  const log = new StageLog(env.store.stages.dirOf(stage.key));
  // An in-process GPU stage loads its model beside whatever a parked worker holds: free the GPU first.
  if (grant.gpus.length > 0 && !parksWorkers(run)) {
    const n = await env.workers.vacate(grant.gpus);
    if (n > 0) log.line(`[pefuse] shut down ${n} parked worker(s) on GPU ${grant.gpus.join(',')} first`);
  }
  try {
    for (let attempt = 1; ; attempt++) {
      const granted: GrantedResources = { gpus: grant.gpus, threads: grant.threads, http: grant.http };
      env.emit({
        ...ref,
        type: 'stage-started',
        attempt,
        items: stage.node.items,
        resumed: itemCount(done),
        resources: granted,
      });
      const failedItems = new Map<string, Failure>();
      const badObjects = new Set<string>();
      const ctx = makeContext(stage, ref, inputs, env, grant, done, failedItems, attempt, log, badObjects);
      const job = makeJob(stage, ref, ctx, env, done, badObjects, attempt, log, run);
      let r: Awaited<ReturnType<NonNullable<PlannedStage['definition']['run']>>>;
      try {
        r = await env.executor.computeStage(job);
      } catch (e) {
        r = { ok: false, error: convertExceptionToFailure(e) };
      }
      if (r.ok && failedItems.size === 0) {
        const manifest = buildManifest(stage, done, r.value, performance.now() - t0, attempt, grant);
        await env.store.stages.publish(manifest);
        env.onPublished(stage.key);
        return { status: 'published', manifest, startedAt, resumed };
      }
      // A stage stopped by a drain reports its own failed items if it had any (--fail-fast's cause).
      const halted = !r.ok && r.error.reason === 'cancelled';
      if (halted && failedItems.size === 0) return cancelled(ref, itemCount(done));
      let f = r.ok || halted ? summarize(failedItems) : r.error;
      // A missing or corrupt cached object: un-publish the input stage that named it (next run), or
      // forget this stage's own items that named it (retried now).
      const healed = await heal(badObjects, inputs, done, env.store.stages);
      if (healed.withdrawn.length > 0) f = healedFailure(f, healed);
      // Items were already retried by the runner; only a whole-stage failure is retried here.
      const retry =
        healed.withdrawn.length === 0 &&
        ((!r.ok && f.retryable) || healed.dropped > 0) &&
        attempt <= env.retry.retries &&
        !env.drain.aborted;
      if (!retry) {
        env.onFailure();
        return {
          status: 'failed',
          failure: f,
          attempts: attempt,
          done: itemCount(done),
          failedItems: failedItems.size,
          startedAt,
          log: log.tail,
        };
      }
      const delayMs = env.retry.backoffMs(attempt + 1);
      env.emit({ ...ref, type: 'stage-retry', attempt: attempt + 1, delayMs, failure: f });
      const stopped = await sleep(delayMs, env.drain);
      if (stopped) return cancelled(ref, itemCount(done));
    }
  } finally {
    env.resources.release(grant, modelKey(stage));
    await log.close();
  }
}

/** One failure for a stage whose items failed: the first item's, with a count of the others. */
function summarize(failed: Map<string, Failure>): Failure {
  const [firstId, first] = [...failed.entries()][0] as [string, Failure];
  const others = failed.size > 1 ? ` (and ${failed.size - 1} more item(s))` : '';
  return failure(first.reason, `item ${firstId}: ${first.message}${others}`, {
    item: firstId,
    retryable: first.retryable,
    ...(first.detail !== undefined ? { detail: first.detail } : {}),
  });
}

function buildManifest(
  stage: PlannedStage,
  done: Map<string, ItemRecord>,
  out: StageRunOutput,
  ms: number,
  attempts: number,
  grant: Grant,
): StageManifest {
  // Chunk records (work split for shards) are internal: the manifest lists items only.
  const items = [...done.values()]
    .filter((i) => !isChunkId(i.id))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    format: 'pefuse-stage/1',
    key: stage.key,
    record: stage.record,
    items,
    output: out.output,
    seconds: ms / 1000,
    host: HOST,
    device: out.device ?? (grant.gpus.length > 0 ? `cuda:${grant.gpus.join(',')}` : 'cpu'),
    peak_mem_mb: out.peak_mem_mb ?? null,
    attempts,
    finished_at: new Date().toISOString(),
  };
}
