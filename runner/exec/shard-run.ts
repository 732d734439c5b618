/**
 * One shard of one described stage, computed in this process against a shared cache: what
 * `pefuse __shard` runs (in a subprocess of the orchestrator, or in a Slurm array task on another
 * host). It never takes the stage lock (the orchestrator holds it: no cross-host heartbeat, so clock
 * skew cannot steal it) and never publishes: it journals into its own shard journal and ends with a
 * ShardResult file beside it.
 *
 *   description.json ─▶ upstream manifests (published) ─▶ every journal (skip done items)
 *        ─▶ definition.run(ctx with part = {shard, of}) ─▶ shards/journal.<i>-of-<n>.jsonl
 *        ─▶ shards/result.<i>-of-<n>.json (failed items, unreadable objects, a stage failure)
 */
import { hostname } from 'node:os';
import { retryOf, type StageDescription } from '../contract/description.js';
import { convertExceptionToFailure, type Failure, failure } from '../contract/failure.js';
import type { ItemRecord, StageManifest } from '../contract/records.js';
import type { StageRunContext, StageRunOutput } from '../contract/run.js';
import { SHARD_RESULT_FORMAT, type ShardResult, type StagePart, validPart } from '../contract/shard.js';
import type { StageDefinition, StageKey, StageKind } from '../contract/stage.js';
import { writeAtomic } from '../store/fsutil.js';
import type { Store } from '../store/types.js';
import { packageVersion } from '../util/package.js';
import type { Result } from '../util/result.js';
import { shardResultPath } from './executors/shards.js';
import { watchObjects } from './heal.js';

export interface ShardRunOptions {
  store: Store;
  key: StageKey;
  part: StagePart;
  /** CPU threads this shard may use. */
  threads: number;
  /** GPU ids this shard may use (one worker each), empty for none. */
  gpus: readonly string[];
  /** The catalog's stage definitions (the CLI hands them in; the engine imports no stage code). */
  definitions: ReadonlyMap<StageKind, StageDefinition>;
  /** First SIGTERM/SIGINT: finish items in flight, start no new ones. */
  drain: AbortSignal;
  /** Second signal: stop now. */
  kill: AbortSignal;
  /** Runner and worker lines (the CLI writes them to stderr, which the executor keeps). */
  log(line: string): void;
}

/** `usage`: the shard could not even start (bad selector, missing or unusable description). */
export type ShardRun = { status: 'usage'; message: string } | { status: 'ran'; result: ShardResult };

export async function runShard(opts: ShardRunOptions): Promise<ShardRun> {
  const { store, key, part } = opts;
  if (!validPart(part))
    return { status: 'usage', message: `--shard ${part.shard} --of ${part.of}: need 0 <= shard < of` };
  const d = await store.stages.readDescription(key);
  if (!d.ok) return { status: 'usage', message: d.error };
  const desc = d.value;
  if (desc.pefuse !== packageVersion())
    return {
      status: 'usage',
      message: `the stage description was written by pefuse ${desc.pefuse}, this is pefuse ${packageVersion()}; run the same version on every host`,
    };
  const definition = opts.definitions.get(desc.record.kind);
  if (!definition)
    return { status: 'usage', message: `the description names an unknown stage kind "${desc.record.kind}"` };
  if (desc.shards.unit === 'none')
    return { status: 'usage', message: `${desc.record.kind} stages are not computed in shards` };

  const t0 = performance.now();
  const journal = store.stages.shardJournal(key, part);
  const failedItems = new Map<string, { failure: Failure; attempts: number }>();
  const bad = new Set<string>();
  let journaled = 0;
  let device: string | null = null;
  const finish = async (r: Result<StageRunOutput, Failure>): Promise<ShardRun> => {
    if (r.ok) {
      device = r.value.device ?? device;
    }
    const result: ShardResult = {
      format: SHARD_RESULT_FORMAT,
      key,
      shard: part.shard,
      of: part.of,
      status: r.ok && failedItems.size === 0 ? 'ok' : 'failed',
      failure: r.ok ? null : r.error,
      failed_items: [...failedItems].map(([item, f]) => ({ item, failure: f.failure, attempts: f.attempts })),
      bad_objects: [...bad],
      journaled,
      seconds: (performance.now() - t0) / 1000,
      host: hostname(),
      device,
      peak_mem_mb: r.ok ? (r.value.peak_mem_mb ?? null) : null,
    };
    await writeAtomic(
      shardResultPath(store.stages.shardsDir(key), part),
      `${JSON.stringify(result)}\n`,
      `${store.root}/tmp`,
    );
    return { status: 'ran', result };
  };

  const inputs = await upstream(store, desc);
  if (!inputs.ok) return finish(inputs);
  if (!definition.run)
    return finish({
      ok: false,
      error: failure('not-implemented', `this version of pefuse cannot run ${desc.record.kind} stages`),
    });
  const done = new Map<string, ItemRecord>(
    (await store.stages.readJournals(key)).items.map((i) => [i.id, i]),
  );
  const gpus = [...opts.gpus];
  const ctx: StageRunContext = {
    key,
    record: desc.record,
    node: desc.node,
    inputs: inputs.value,
    objects: watchObjects(store.objects, bad),
    items: store.items,
    done,
    async itemDone(item) {
      await journal.append(item);
      done.set(item.id, item);
      failedItems.delete(item.id);
      journaled++;
    },
    itemFailed(item, f, attempts = 1) {
      failedItems.set(item, { failure: f.item === undefined ? { ...f, item } : f, attempts });
      opts.log(`item ${item} failed (${f.reason}): ${f.message}`);
    },
    signal: opts.drain,
    kill: opts.kill,
    part,
    attempt: desc.attempt,
    retry: retryOf(desc),
    resources: { threads: opts.threads, gpu: gpus[0] ?? null, gpus, http: null },
    log: (line) => opts.log(line),
    notify(n) {
      if (n.type === 'worker-ready') {
        device ??= n.identity.device;
        opts.log(`worker ${n.worker + 1} ready: ${JSON.stringify(n.identity)}`);
      } else if (n.type === 'worker-restarted')
        opts.log(`worker ${n.worker + 1} restarting (${n.failure.reason}): ${n.failure.message}`);
    },
  };
  let r: Result<StageRunOutput, Failure>;
  try {
    r = await definition.run(ctx);
  } catch (e) {
    r = { ok: false, error: convertExceptionToFailure(e) };
  }
  return finish(r);
}

/** The published manifests of the described stage's inputs (each must be published in this cache). */
async function upstream(
  store: Store,
  d: StageDescription,
): Promise<Result<Record<string, StageManifest>, Failure>> {
  const inputs: Record<string, StageManifest> = {};
  for (const [name, key] of Object.entries(d.inputs)) {
    const m = await store.stages.readManifest(key);
    if (!m.ok) return m;
    if (m.value === null)
      return {
        ok: false,
        error: failure(
          'input-missing',
          `input "${name}" (stage ${key.slice(0, 12)}) is not published in the cache ${store.root}`,
          { retryable: false },
        ),
      };
    inputs[name] = m.value;
  }
  return { ok: true, value: inputs };
}
