/**
 * What a stage runner sees while it runs (`StageRunContext`), built per attempt by the executor: item
 * results go to the journal and become events; worker notifications become events and log lines; object
 * reads are watched so a missing or corrupt object can be healed (see heal.ts). Also the stage log.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { describeStage } from '../contract/description.js';
import type { Failure } from '../contract/failure.js';
import type { RetryPolicy, StageRunContext, StageRunner } from '../contract/run.js';
import { isChunkId } from '../contract/shard.js';
import { stageResource, stageShardUnit } from '../contract/stage.js';
import type { RunEvent, StageRef } from '../events/event.js';
import type { PlannedStage } from '../plan/types.js';
import type { ItemRecord, StageManifest, Store } from '../store/types.js';
import { packageVersion } from '../util/package.js';
import type { Executor, StageJob } from './executors/types.js';
import { watchObjects } from './heal.js';
import { LineRing } from './lines.js';
import type { Grant, ResourceManager } from './resources.js';
import { lendServices, type RunServices } from './services.js';
import { lendWorkers, type WorkerCache } from './worker-cache.js';

/** What the orchestrator lends every stage it executes (see stage-exec.ts). */
export interface StageEnv {
  store: Store;
  emit: (e: RunEvent) => void;
  resources: ResourceManager;
  retry: RetryPolicy;
  drain: AbortSignal;
  kill: AbortSignal;
  lockPollMs: number;
  lockStaleMs: number;
  /** Idle workers parked between stages, so a loaded model serves the next stage that needs it. */
  workers: WorkerCache;
  /** Run-scoped services (MLLM servers pefuse starts), shared by every stage of the run. */
  services?: RunServices;
  /** Where the stage's items are computed (this process, shard processes, cluster jobs). */
  executor: Executor;
  /** Called on every final item or stage failure (`--fail-fast` drains the run). */
  onFailure(): void;
  /** Called after a stage published, before it releases its resources (dependants get first call). */
  onPublished(key: string): void;
}

const LOG_TAIL = 30;
/** `stage-progress` events are coalesced to at most one per this many ms per stage (plus the last). */
const PROGRESS_EVERY_MS = 1000;

export function makeContext(
  stage: PlannedStage,
  ref: StageRef,
  inputs: Record<string, StageManifest>,
  env: StageEnv,
  grant: Grant,
  done: Map<string, ItemRecord>,
  failedItems: Map<string, Failure>,
  attempt: number,
  log: StageLog,
  badObjects: Set<string>,
): StageRunContext {
  const journal = env.store.stages.journal(stage.key);
  const t0 = performance.now();
  let lastProgress = Number.NEGATIVE_INFINITY;
  const ctx: StageRunContext = {
    key: stage.key,
    record: stage.record,
    node: stage.node,
    inputs,
    objects: watchObjects(env.store.objects, badObjects),
    items: env.store.items,
    done,
    async itemDone(item) {
      await journal.append(item);
      done.set(item.id, item);
      failedItems.delete(item.id);
      env.emit(itemDoneEvent(ref, item));
    },
    itemFailed(item, f, tries = 1) {
      failedItems.set(item, f);
      env.emit({
        ...ref,
        type: 'item-failed',
        item,
        attempt: tries,
        failure: f.item === undefined ? { ...f, item } : f,
        willRetry: false,
        delayMs: 0,
      });
      env.onFailure();
    },
    signal: env.drain,
    kill: env.kill,

    attempt,
    retry: env.retry,
    resources: { threads: grant.threads, gpu: grant.gpus[0] ?? null, gpus: grant.gpus, http: grant.http },
    log: (line) => log.line(line),
    notify(n) {
      switch (n.type) {
        case 'items':
          env.emit({ ...ref, type: 'stage-items', items: n.items });
          return;
        case 'worker-ready':
          env.emit({ ...ref, type: 'worker-ready', worker: n.worker, gpu: n.gpu, identity: n.identity });
          log.line(`[pefuse] worker ${n.worker + 1} ready: ${JSON.stringify(n.identity)}`);
          return;
        case 'worker-restarted':
          env.emit({
            ...ref,
            type: 'worker-restarted',
            worker: n.worker,
            failure: n.failure,
            restarts: n.restarts,
          });
          log.line(`[pefuse] worker ${n.worker + 1} restarting (${n.failure.reason}): ${n.failure.message}`);
          return;
        case 'progress': {
          const now = performance.now();
          if (n.done < n.total && now - lastProgress < PROGRESS_EVERY_MS) return;
          lastProgress = now;
          const seconds = (now - t0) / 1000;
          const rate = seconds > 0 ? n.done / seconds : 0;
          env.emit({
            ...ref,
            type: 'stage-progress',
            done: n.done,
            items: n.total,
            seconds,
            rate,
            eta: rate > 0 ? Math.max(0, n.total - n.done) / rate : null,
          });
          return;
        }
        case 'item-retry':
          env.emit({
            ...ref,
            type: 'item-failed',
            item: n.item,
            attempt: n.attempt - 1,
            failure: n.failure,
            willRetry: true,
            delayMs: n.delayMs,
          });
          return;
      }
    },
  };
  lendWorkers(ctx, env.workers);
  if (env.services) lendServices(ctx, env.services);
  return ctx;
}

/**
 * The attempt as an executor sees it (executors/types.ts): the context above, plus describing the
 * stage for other processes and adopting what they journaled into this attempt's done set.
 */
export function makeJob(
  stage: PlannedStage,
  ref: StageRef,
  ctx: StageRunContext,
  env: StageEnv,
  done: Map<string, ItemRecord>,
  badObjects: Set<string>,
  attempt: number,
  log: StageLog,
  run: StageRunner,
): StageJob {
  const stages = env.store.stages;
  return {
    stage,
    ctx,
    run,
    unit: stageShardUnit(stage.definition, stage.node),
    resource: stageResource(stage.definition, stage.node),
    cacheRoot: env.store.root,
    shardsDir: stages.shardsDir(stage.key),
    attempt,
    describe: () =>
      stages.writeDescription(
        describeStage({
          pefuse: packageVersion(),
          key: stage.key,
          record: stage.record,
          node: stage.node,
          resource: stageResource(stage.definition, stage.node),
          unit: stageShardUnit(stage.definition, stage.node),
          retry: env.retry,
          attempt,
        }),
      ),
    async adopt(results) {
      const journaled = await stages.readJournals(stage.key);
      // A torn last line is normal while a shard writes; only the final adoption reports drops.
      if (journaled.dropped > 0 && results.length > 0)
        log.line(
          `[pefuse] dropped ${journaled.dropped} torn shard journal line(s); those items are recomputed`,
        );
      let adopted = 0;
      for (const item of journaled.items) {
        if (done.has(item.id)) continue;
        done.set(item.id, item);
        adopted++;
        if (isChunkId(item.id)) continue;
        env.emit(itemDoneEvent(ref, item));
      }
      for (const r of results) {
        for (const f of r.failed_items) ctx.itemFailed(f.item, f.failure, f.attempts);
        for (const sha of r.bad_objects) badObjects.add(sha);
      }
      return adopted;
    },
    log: (line) => log.line(line),
  };
}

/** Journaled records that are items (chunk records are internal to their stage). */
/** The event of one journaled item (computed here, or adopted from a shard journal). */
function itemDoneEvent(ref: StageRef, item: ItemRecord): RunEvent {
  return { ...ref, type: 'item-done', item: item.id, seconds: item.seconds, cached: item.cached === true };
}

export function itemCount(done: ReadonlyMap<string, ItemRecord>): number {
  let n = 0;
  for (const id of done.keys()) if (!isChunkId(id)) n++;
  return n;
}

/** The stage log: `stages/<key>/stage.log` (appended, never read on the hot path) plus a tail in memory. */
export class StageLog {
  readonly #ring = new LineRing(LOG_TAIL);
  readonly #dir: string;
  #stream: WriteStream | null = null;
  constructor(dir: string) {
    this.#dir = dir;
  }
  line(text: string): void {
    this.#ring.push(text);
    if (!this.#stream) {
      mkdirSync(this.#dir, { recursive: true });
      this.#stream = createWriteStream(join(this.#dir, 'stage.log'), { flags: 'a' });
      this.#stream.on('error', () => {});
    }
    this.#stream.write(`${text}\n`);
  }
  get tail(): string[] {
    return this.#ring.lines;
  }
  close(): Promise<void> {
    const s = this.#stream;
    if (!s) return Promise.resolve();
    return new Promise((r) => s.end(r));
  }
}
