/**
 * What every executor that computes stages in shards shares (the subprocess executor here, Slurm in
 * `runner/exec/slurm/`): the sequence around "run these shards somewhere", the command line of one
 * shard, and reading what a shard reported.
 *
 *   unit none ─▶ job.run(ctx) here (nothing to split)
 *   otherwise ─▶ describe ─▶ runShards(parts) ─▶ adopt journals + results ─▶ a shard failed? ─▶ err
 *                                                                        └─▶ job.run(ctx): the output
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type Failure, failure } from '../../contract/failure.js';
import type { StageRunOutput } from '../../contract/run.js';
import { SHARD_RESULT_FORMAT, type ShardResult, type StagePart } from '../../contract/shard.js';
import type { StageKey } from '../../contract/stage.js';
import { isJsonObject } from '../../util/json.js';
import { err, ok, type Result } from '../../util/result.js';
import type { StageJob } from './types.js';

/** The parts `0..n-1` of `n` shards. */
export function partsOf(n: number): StagePart[] {
  return Array.from({ length: Math.max(1, n) }, (_, shard) => ({ shard, of: Math.max(1, n) }));
}

/**
 * Computes a stage in shards: `runShards` runs the given parts (as processes, as jobs) and resolves
 * with one result each, once they all ended. Then the orchestrator adopts their journals and builds
 * the output with the stage's own runner (every item now done).
 */
export async function computeInShards(
  job: StageJob,
  shards: number,
  runShards: (parts: StagePart[]) => Promise<ShardResult[]>,
  opts: { progressMs?: number } = {},
): Promise<Result<StageRunOutput, Failure>> {
  if (job.unit === 'none') return job.run(job.ctx);
  await job.describe();
  // While the shards run, what they journaled is adopted every few seconds: users see items finish.
  let polling: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    polling ??= job.adopt([]).finally(() => {
      polling = null;
    });
  }, opts.progressMs ?? 5_000);
  let results: ShardResult[];
  try {
    results = await runShards(partsOf(shards));
  } finally {
    clearInterval(timer);
    await polling;
  }
  const adopted = await job.adopt(results);
  job.log(`[pefuse] ${results.length} shard(s) ended; ${adopted} more record(s) adopted from their journals`);
  const broken = results.find((r) => r.failure !== null);
  if (broken?.failure) return err(broken.failure);
  // Items failed in a shard: the executor fails the stage at the end (the others stay journaled).
  if (results.some((r) => r.failed_items.length > 0)) return ok({ output: null });
  if (job.ctx.signal.aborted) return err(failure('cancelled', 'stopped before every shard was done'));
  const out = await job.run(job.ctx);
  if (!out.ok) return out;
  const device = results.find((r) => r.device !== null)?.device;
  const peaks = results.map((r) => r.peak_mem_mb).filter((p): p is number => p !== null);
  return ok({
    ...out.value,
    ...(out.value.device === undefined && device ? { device } : {}),
    ...(out.value.peak_mem_mb === undefined && peaks.length > 0 ? { peak_mem_mb: Math.max(...peaks) } : {}),
  });
}

/** The `pefuse __shard` arguments for one part of a job's stage (after the `pefuse` command itself): what every shard executor starts. */
export function shardArgs(
  job: StageJob,
  part: StagePart,
  threads: number,
  gpus: readonly string[],
): string[] {
  return [
    '--cache',
    job.cacheRoot,
    '__shard',
    '--stage',
    job.stage.key,
    '--shard',
    String(part.shard),
    '--of',
    String(part.of),
    '--threads',
    String(threads),
    ...(gpus.length > 0 ? ['--gpus', gpus.join(',')] : []),
  ];
}

/** `stages/<key>/shards/result.<i>-of-<n>.json`. */
export function shardResultPath(shardsDir: string, part: StagePart): string {
  return join(shardsDir, `result.${part.shard}-of-${part.of}.json`);
}

/** `stages/<key>/shards/log.<i>-of-<n>.txt`: the shard's stage log (worker stderr, runner lines). */
export function shardLogPath(shardsDir: string, part: StagePart): string {
  return join(shardsDir, `log.${part.shard}-of-${part.of}.txt`);
}

/**
 * The result a shard wrote, or, when it wrote none or an unreadable one (killed, crashed, out of
 * memory), a `worker-exit` failure that says so with `detail` (exit code, last stderr lines).
 */
export async function readShardResult(
  shardsDir: string,
  key: StageKey,
  part: StagePart,
  detail: string,
): Promise<ShardResult> {
  try {
    const v = JSON.parse(await readFile(shardResultPath(shardsDir, part), 'utf8')) as unknown;
    if (
      isJsonObject(v) &&
      v.format === SHARD_RESULT_FORMAT &&
      v.key === key &&
      v.shard === part.shard &&
      v.of === part.of
    )
      return v as unknown as ShardResult;
  } catch {
    // Fall through: no usable result.
  }
  return lostShard(key, part, detail);
}

/** The result of a shard that ended without reporting one. */
export function lostShard(key: StageKey, part: StagePart, detail: string): ShardResult {
  return {
    format: SHARD_RESULT_FORMAT,
    key,
    shard: part.shard,
    of: part.of,
    status: 'failed',
    failure: failure('worker-exit', `shard ${part.shard + 1} of ${part.of} ended without a result`, {
      detail,
    }),
    failed_items: [],
    bad_objects: [],
    journaled: 0,
    seconds: 0,
    host: hostname(),
    device: null,
    peak_mem_mb: null,
  };
}
