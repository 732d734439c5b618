import { setMaxListeners } from 'node:events';
import { convertExceptionToFailure, failure } from '../contract/failure.js';
import type { RetryPolicy } from '../contract/run.js';
import { type StageKey, stageResource } from '../contract/stage.js';
import type { EventSink, FailureSummary, RunCounts, RunEvent } from '../events/event.js';
import type { Plan, PlannedStage } from '../plan/types.js';
import type { ResultsDb } from '../results/types.js';
import type { StageManifest, Store } from '../store/types.js';
/**
 * The orchestrator: runs a Plan's DAG with as much parallelism as resources allow. WHERE a stage's
 * items are computed is the executor's business (executors/types.ts: this process by default, or
 * shards in other processes); everything here is common to every executor.
 *
 *   plan.stages (topological) ──▶ one async task per stage: wait for upstream outcomes
 *        ├─ an upstream failed or was cancelled ──▶ this stage fails `upstream-failed` (keep-going:
 *        │                                           independent branches go on)
 *        └─ otherwise executeStage(): cached │ lock → journals → resources → executor → publish
 *   every outcome ──▶ events (reporters) + results database (orchestrator is the only writer)
 *
 * Run-scoped services (`services.ts`: the MLLM servers pefuse starts) take their GPUs from the same
 * ResourceManager, hear of every settled stage, and are closed at the end of the run; servers a killed
 * run left behind are stopped first (`service-process.ts`).
 *
 * Concurrency is bounded by the ResourceManager (GPU ids, CPU slots, HTTP windows) and by stage locks
 * (another `pefuse run` on the same cache computes a stage once; this one waits and reuses it).
 * `--fail-fast` drains the run at the first failure: no new stage or item starts, in-flight items
 * finish and are journaled.
 */
import { localExecutor } from './executors/local.js';
import type { Executor } from './executors/types.js';
import { ResultsRecorder } from './record.js';
import { type ResourceConfig, ResourceManager } from './resources.js';
import { resourceRequest } from './scheduler.js';
import { reapOrphans, servicePidDir } from './service-process.js';
import { gpuAcquirer, RunServices } from './services.js';
import { executeStage, type StageOutcome } from './stage-exec.js';
import { WorkerCache } from './worker-cache.js';

export interface ExecutorOptions {
  store: Store;
  /** The results database, or null to skip recording (tests, benchmarks). */
  results: ResultsDb | null;
  emit: EventSink;
  resources: ResourceConfig;
  failFast: boolean;
  retry: RetryPolicy;
  /** Aborted on the first Ctrl-C: drain (no new work, in-flight items finish). */
  drain?: AbortSignal;
  /** Aborted on the second Ctrl-C: kill workers now. */
  kill?: AbortSignal;
  /** Stage-lock polling while another runner holds it (default 500 ms). */
  lockPollMs?: number;
  /** A stage lock whose heartbeat is older than this is reclaimed (default 120 s). */
  lockStaleMs?: number;
  runId?: string;
  argv?: string[];
  /** Where stages' items are computed (default: the local executor, in this process). */
  executor?: Executor;
}

export interface RunSummary {
  ok: boolean;
  interrupted: boolean;
  seconds: number;
  counts: RunCounts;
  failures: FailureSummary[];
  outcomes: Map<StageKey, StageOutcome>;
}

export async function runPlan(plan: Plan, opts: ExecutorOptions): Promise<RunSummary> {
  const t0 = performance.now();
  const drain = new AbortController();
  const kill = new AbortController();
  // Every waiting stage and worker pool listens on these two signals: many listeners are expected.
  setMaxListeners(0, drain.signal, kill.signal);
  const interrupted = () => opts.drain?.aborted === true;
  forward(opts.drain, drain);
  forward(opts.kill, kill);
  forward(kill.signal, drain);

  const counts: RunCounts = {
    stages: plan.stages.length,
    cached: 0,
    published: 0,
    failed: 0,
    cancelled: 0,
    itemsDone: 0,
    itemsFailed: 0,
  };
  const emit = (e: RunEvent) => {
    if (e.type === 'item-done') counts.itemsDone++;
    else if (e.type === 'item-failed' && !e.willRetry) counts.itemsFailed++;
    opts.emit(e);
  };
  const recorder = new ResultsRecorder(
    opts.results,
    plan,
    opts.store.objects,
    emit,
    opts.runId ?? `${new Date().toISOString()}-${process.pid}`,
    opts.argv ?? [],
    (key) => opts.store.stages.withdraw(key),
  );
  const resources = new ResourceManager(opts.resources);
  emit({
    type: 'run-started',
    experiment: plan.experiment,
    specFile: plan.specFile,
    points: plan.points.length,
    stages: plan.stages.length,
    gpus: opts.resources.gpus,
    cpuSlots: opts.resources.cpuSlots,
    pid: process.pid,
  });
  if (
    !resources.hasGpus &&
    plan.stages.some((s) => stageResource(s.definition, s.node) === 'gpu' && s.status === 'run')
  ) {
    emit({
      type: 'warning',
      message:
        'no GPUs given (--gpus, resources.gpus or CUDA_VISIBLE_DEVICES): GPU stages run one worker on a CPU slot',
    });
  }

  for (const s of plan.stages) {
    if (s.status === 'unresolved')
      throw new Error(`bug: unresolved stage ${s.key} handed to the executor (run the plan's runnablePart)`);
    emit({
      type: 'stage-planned',
      ...refOf(s),
      items: s.node.items,
      status: s.status,
      reason: s.reason,
      points: s.points,
    });
  }
  recorder.start();
  await reapLeftovers(opts.store.root, emit);

  const workers = new WorkerCache();
  // Run-scoped services (MLLM servers pefuse starts): told when each stage settles, closed at the end.
  const services = new RunServices({
    stages: plan.stages,
    cacheRoot: opts.store.root,
    gpus: opts.resources.gpus,
    drain: drain.signal,
    kill: kill.signal,
    acquireGpus: gpuAcquirer(resources, opts.resources.gpus, (ids) => workers.vacate(ids)),
    warn: (message) => emit({ type: 'warning', message }),
  });
  const executor = opts.executor ?? localExecutor;
  const env = {
    store: opts.store,
    emit,
    resources,
    retry: opts.retry,
    drain: drain.signal,
    kill: kill.signal,
    lockPollMs: opts.lockPollMs ?? 500,
    lockStaleMs: opts.lockStaleMs ?? 120_000,
    workers,
    services,
    executor,
    onFailure: () => {
      if (opts.failFast && !drain.signal.aborted) drain.abort();
    },
    onPublished: (key: string) => {
      for (const d of dependants.get(key as StageKey) ?? []) {
        const ready = d.stage.upstream.every((u) => {
          const o = u === key ? null : outcomes.get(u);
          return u === key || o?.status === 'cached' || o?.status === 'published';
        });
        if (ready) resources.hold(d.stage.key, resourceRequest(d.stage, d.topoIndex, d.stage.node.items));
      }
    },
  };
  const dependants = new Map<StageKey, { stage: PlannedStage; topoIndex: number }[]>();
  plan.stages.forEach((stage, topoIndex) => {
    for (const u of new Set(stage.upstream)) {
      const list = dependants.get(u) ?? [];
      list.push({ stage, topoIndex });
      dependants.set(u, list);
    }
  });

  const outcomes = new Map<StageKey, StageOutcome>();
  const tasks = new Map<StageKey, Promise<StageOutcome>>();
  const byKey = new Map(plan.stages.map((s) => [s.key, s]));
  // Stages ready at the start announce their claim up front, so the first grants follow the point
  // priority (point 0 first) rather than whichever task happens to reach the scheduler first.
  plan.stages.forEach((stage, topoIndex) => {
    if (stage.upstream.length === 0 && stage.status === 'run')
      resources.hold(stage.key, resourceRequest(stage, topoIndex, stage.node.items));
  });
  plan.stages.forEach((stage, topoIndex) => {
    const task = (async (): Promise<StageOutcome> => {
      const ups = await Promise.all(stage.upstream.map((k) => tasks.get(k) ?? missing(k)));
      const bad = stage.upstream.findIndex(
        (_, i) => ups[i]!.status === 'failed' || ups[i]!.status === 'cancelled',
      );
      if (bad !== -1) {
        const up = byKey.get(stage.upstream[bad]!);
        const cancelledUp = ups[bad]!.status === 'cancelled';
        return {
          status: cancelledUp ? 'cancelled' : 'failed',
          failure: failure(
            cancelledUp ? 'cancelled' : 'upstream-failed',
            `upstream ${up?.record.kind ?? 'stage'} ${stage.upstream[bad]!.slice(0, 12)} ${cancelledUp ? 'did not finish' : 'failed'}`,
          ),
          attempts: 0,
          done: 0,
          failedItems: 0,
          startedAt: null,
          log: [],
        } as StageOutcome;
      }
      if (drain.signal.aborted) {
        return {
          status: 'cancelled',
          failure: failure('cancelled', 'not started: the run was stopped'),
          done: 0,
        };
      }
      const inputs: Record<string, StageManifest> = {};
      for (const [name, key] of Object.entries(stage.record.inputs)) {
        const o = ups[stage.upstream.indexOf(key)];
        if (o && (o.status === 'cached' || o.status === 'published')) inputs[name] = o.manifest;
      }
      try {
        return await executeStage(stage, topoIndex, inputs, env);
      } catch (e) {
        env.onFailure();
        return {
          status: 'failed',
          failure: convertExceptionToFailure(e),
          attempts: 1,
          done: 0,
          failedItems: 0,
          startedAt: null,
          log: [],
        };
      }
    })().then((o) => {
      resources.unhold(stage.key);
      services.settled(stage.key);
      outcomes.set(stage.key, o);
      recorder.stage(stage, o);
      report(stage, o, emit, counts, recorder.itemsOf(stage.key));
      return o;
    });
    tasks.set(stage.key, task);
  });
  await Promise.all(tasks.values());

  const failures: FailureSummary[] = [];
  for (const s of plan.stages) {
    const o = outcomes.get(s.key);
    if (!o || (o.status !== 'failed' && o.status !== 'cancelled')) continue;
    if (o.failure.reason === 'upstream-failed' || (o.status === 'cancelled' && !interrupted())) continue;
    const f: FailureSummary = {
      key: s.key,
      kind: s.record.kind,
      role: s.node.role,
      reason: o.failure.reason,
      message: o.failure.message,
    };
    if (o.failure.item !== undefined) f.item = o.failure.item;
    failures.push(f);
  }
  const ok = counts.failed === 0 && counts.cancelled === 0;
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all([workers.close(), executor.close(), services.close()]);
  await recorder.finish(ok ? 'ok' : interrupted() ? 'interrupted' : 'failed');
  emit({ type: 'run-finished', ok, seconds, counts: { ...counts }, failures, interrupted: interrupted() });
  return { ok, interrupted: interrupted(), seconds, counts, failures, outcomes };
}

/** `items`: what the recorder counted for the stage (in-process stages journal no items). */
function report(
  stage: PlannedStage,
  o: StageOutcome,
  emit: EventSink,
  counts: RunCounts,
  items: number | null,
): void {
  const ref = refOf(stage);
  switch (o.status) {
    case 'cached':
      counts.cached++;
      emit({ ...ref, type: 'stage-cached', items: items ?? o.manifest.items.length, by: o.by });
      return;
    case 'published':
      counts.published++;
      emit({
        ...ref,
        type: 'stage-published',
        // In-process stages (embeddings, scoring) journal no items; their planned count was processed.
        items: items ?? (o.manifest.items.length > 0 ? o.manifest.items.length : (stage.node.items ?? 0)),
        seconds: o.manifest.seconds,
        attempts: o.manifest.attempts,
      });
      return;
    case 'failed':
      counts.failed++;
      emit({
        ...ref,
        type: 'stage-failed',
        failure: o.failure,
        attempts: o.attempts,
        done: o.done,
        failedItems: o.failedItems,
        log: o.log,
      });
      return;
    case 'cancelled':
      counts.cancelled++;
      emit({
        ...ref,
        type: 'stage-failed',
        failure: o.failure,
        attempts: 0,
        done: o.done,
        failedItems: 0,
        log: [],
      });
      return;
  }
}

function refOf(s: PlannedStage) {
  return { key: s.key, kind: s.record.kind, role: s.node.role, backend: s.node.backend };
}

/** Servers an earlier run started and could not stop (it was `kill -9`ed) are stopped first. */
async function reapLeftovers(root: string, emit: EventSink): Promise<void> {
  const reaped = await reapOrphans(servicePidDir(root));
  for (const r of reaped) {
    if (r.outcome === 'gone') continue;
    emit({
      type: 'warning',
      message:
        r.outcome === 'killed'
          ? `stopped ${r.label} (pid ${r.pid}) left running by an earlier pefuse run that was killed: ${r.command}`
          : `${r.label} (pid ${r.pid}) may still be running from an earlier pefuse run that was killed; pefuse cannot prove it started it on this platform: ${r.command}`,
    });
  }
}

function forward(from: AbortSignal | undefined, to: AbortController): void {
  if (!from) return;
  if (from.aborted) to.abort();
  else from.addEventListener('abort', () => to.abort(), { once: true });
}

function missing(key: StageKey): never {
  throw new Error(`plan is not in topological order: upstream ${key} comes later`);
}
