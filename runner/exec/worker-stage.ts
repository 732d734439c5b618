/**
 * A StageRunner factory for worker-backed stages (MLLM, diffusion, and anything a user plugs in behind
 * the worker protocol):
 *
 *   itemsOf(ctx) ─▶ skip items journaled by an interrupted attempt (ctx.done)
 *        ─▶ a WorkerPool over the granted GPUs (one worker each) or CPU slots
 *        ─▶ each result: files named in the output are moved into the object store, then journaled
 *        ─▶ every item done ──▶ output(ctx, items) is the stage output
 *
 * Item failures do not stop the others (keep-going): the good items are journaled, so re-running the
 * command computes only what failed; the executor fails the stage at the end.
 */

import { isAbsolute } from 'node:path';
import { type Failure, failure } from '../contract/failure.js';
import { NO_RETRY, type StageRunContext, type StageRunner } from '../contract/run.js';
import { shardOf } from '../contract/shard.js';
import type { ItemRecord, ObjectStore } from '../store/types.js';
import { canonicalJson, isJsonObject, type JsonObject, type JsonValue } from '../util/json.js';
import { err, ok, type Result } from '../util/result.js';
import { DEFAULT_TIMEOUTS, type WorkerCommand, type WorkerTimeouts } from './worker.js';
import { lentWorkers } from './worker-cache.js';
import { dispatchesToWorkers } from './worker-mark.js';
import { type PoolItem, runWorkerPool } from './worker-pool.js';

export interface WorkItem {
  id: string;
  /** What the worker receives as `input` (paths, texts, seeds: never large blobs). */
  input: JsonValue;
}

export interface WorkerStageOptions {
  /** The worker program for this stage (a failure here, e.g. a missing script, fails the stage). */
  command(ctx: StageRunContext): Result<WorkerCommand, Failure>;
  /** Every item of the stage, in order (done ones are skipped by the runner). */
  itemsOf(ctx: StageRunContext): Promise<Result<WorkItem[], Failure>>;
  /** What `configure` carries; default: the key record's params and model. */
  configure?(ctx: StageRunContext): { params: JsonObject; model: JsonValue };
  /** The stage-level output from all item records (in `itemsOf` order); default null. */
  output?(ctx: StageRunContext, items: ItemRecord[]): Promise<Result<JsonValue, Failure>>;
  timeouts?: Partial<WorkerTimeouts>;
  /** Items in flight per worker (default 2). */
  window?: number;
  /** Most workers without a GPU (default: one per granted CPU slot); 1 for programs holding big weights. */
  cpuWorkers?: number;
}

// The marks live in a module of their own so the stage catalog can mark runners without loading this one.
export { dispatchesToWorkers, parksWorkers } from './worker-mark.js';

export function workerStageRunner(opts: WorkerStageOptions): StageRunner {
  const runner: StageRunner = async (ctx) => {
    const all = await opts.itemsOf(ctx);
    if (!all.ok) return all;
    const notify = ctx.notify?.bind(ctx) ?? (() => {});
    notify({ type: 'items', items: all.value.length });
    // A shard computes its run of the items only; the orchestrator builds the output afterwards.
    const todo: PoolItem[] = shardOf(all.value, ctx.part).filter((i) => !ctx.done.has(i.id));
    let device: string | undefined;
    let peak: number | undefined;
    let failed = 0;
    if (todo.length > 0) {
      const cmd = opts.command(ctx);
      if (!cmd.ok) return cmd;
      const gpus = ctx.resources.gpus ?? (ctx.resources.gpu !== null ? [ctx.resources.gpu] : []);
      const slots =
        gpus.length > 0
          ? gpus.map((gpu) => ({ gpu }))
          : Array.from(
              {
                length: Math.max(
                  1,
                  Math.min(ctx.resources.threads, opts.cpuWorkers ?? Number.POSITIVE_INFINITY),
                ),
              },
              () => ({ gpu: null }),
            );
      const configure = opts.configure?.(ctx) ?? { params: ctx.record.params, model: ctx.record.model };
      const parked = lentWorkers(ctx);
      const summary = await runWorkerPool(todo, {
        slots: slots.slice(0, Math.max(1, todo.length)),
        command: (slot) =>
          slot.gpu === null
            ? cmd.value
            : { ...cmd.value, env: { ...cmd.value.env, CUDA_VISIBLE_DEVICES: slot.gpu } },
        configure: { kind: ctx.record.kind, ...configure },
        // Same program and same model: a worker parked by an earlier stage is reused.
        ...(parked
          ? {
              workers: {
                cache: parked,
                key: canonicalJson({ cmd: cmd.value as unknown as JsonValue, model: configure.model }),
              },
            }
          : {}),
        timeouts: { ...DEFAULT_TIMEOUTS, ...opts.timeouts },
        window: opts.window ?? 2,
        retry: ctx.retry ?? NO_RETRY,
        signal: ctx.signal,
        kill: ctx.kill ?? new AbortController().signal,
        onResult: async (item, o) => {
          const ingested = await ingestFiles(o.output, ctx.objects);
          if (!ingested.ok) {
            failed++;
            ctx.itemFailed(item.id, { ...ingested.error, item: item.id });
            return;
          }
          await ctx.itemDone({ id: item.id, output: ingested.value, seconds: o.seconds });
        },
        onFailed: (item, f, attempts) => {
          failed++;
          ctx.itemFailed(item.id, f, attempts);
        },
        onRetry: (item, attempt, f, delayMs) =>
          notify({ type: 'item-retry', item: item.id, attempt, failure: f, delayMs }),
        onReady: (worker, gpu, identity) => {
          device ??= identity.device;
          notify({ type: 'worker-ready', worker, gpu, identity });
        },
        onRestart: (worker, f, restarts) =>
          notify({ type: 'worker-restarted', worker, failure: f, restarts }),
        onStderr: (worker, line) => ctx.log(`[worker ${worker + 1}] ${line}`),
      });
      if (summary.fatal) return err(summary.fatal);
      if (summary.stopped) return err(failure('cancelled', 'stopped before every item was done'));
      if (summary.peakMemMb !== null) peak = summary.peakMemMb;
    }
    // Failed items: the executor fails the stage (the good ones are journaled for the next run).
    if (failed > 0 || ctx.part !== undefined) return ok({ output: null });
    const records: ItemRecord[] = [];
    for (const i of all.value) {
      const r = ctx.done.get(i.id);
      if (r) records.push(r);
    }
    const output = opts.output ? await opts.output(ctx, records) : ok(null);
    if (!output.ok) return output;
    return ok({
      output: output.value,
      ...(device !== undefined ? { device } : {}),
      ...(peak !== undefined ? { peak_mem_mb: peak } : {}),
    });
  };
  dispatchesToWorkers(runner);
  return runner;
}

/**
 * Replaces every `{"file": "/abs/path"}` in a worker's output by the ObjectRef of that file, moved into
 * the content-addressed store. A missing or relative path is a `bad-output` failure.
 */
export async function ingestFiles(v: JsonValue, objects: ObjectStore): Promise<Result<JsonValue, Failure>> {
  if (Array.isArray(v)) {
    const out: JsonValue[] = [];
    for (const x of v) {
      const r = await ingestFiles(x, objects);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return ok(out);
  }
  if (!isJsonObject(v)) return ok(v);
  const keys = Object.keys(v);
  if (keys.length === 1 && keys[0] === 'file' && typeof v.file === 'string') {
    const path = v.file;
    if (!isAbsolute(path))
      return err(failure('bad-output', `worker named a relative file path "${path}" (use absolute paths)`));
    try {
      const ref = await objects.putFile(path);
      return ok({ sha256: ref.sha256, size: ref.size });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return err(
        failure('bad-output', `worker named file "${path}", which cannot be read (${code ?? String(e)})`),
      );
    }
  }
  let changed: JsonObject | null = null;
  for (const k of keys) {
    const x = v[k] as JsonValue;
    if (typeof x !== 'object' || x === null) continue;
    const r = await ingestFiles(x, objects);
    if (!r.ok) return r;
    if (r.value !== x) {
      changed ??= { ...v };
      changed[k] = r.value;
    }
  }
  return ok(changed ?? v);
}
