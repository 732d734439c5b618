/**
 * The subprocess executor: each shardable stage is split into `shards` parts, each computed by its own
 * `pefuse __shard` process on this machine against the same cache; the orchestrator keeps the stage
 * lock, adopts the shard journals and publishes. It is the local twin of the Slurm executor (same
 * description, same sub-command, same journals), which makes the seam testable without a cluster.
 * Internal: not offered by `pefuse run --executor`.
 *
 * The stage's grant is shared out: CPU threads split evenly (at least one each), granted GPUs dealt
 * round-robin (`CUDA_VISIBLE_DEVICES` of each shard). Drain (first Ctrl-C) sends SIGTERM to the shards
 * (they finish their items in flight); kill sends SIGKILL.
 */
import { spawn } from 'node:child_process';
import type { ShardResult, StagePart } from '../../contract/shard.js';
import { LineRing } from '../lines.js';
import { computeInShards, readShardResult, shardArgs } from './shards.js';
import type { Executor, StageJob } from './types.js';

export interface SubprocessExecutorOptions {
  /** Shards per shardable stage. */
  shards: number;
  /** How to start `pefuse` (e.g. `{file: process.execPath, args: ['/path/bin/pefuse.js']}`). */
  pefuse: { file: string; args: readonly string[] };
  /** Extra environment for the shard processes. */
  env?: NodeJS.ProcessEnv;
  /** How often shard journals are adopted while shards run (progress events; default 5 s). */
  progressMs?: number;
}

export function subprocessExecutor(opts: SubprocessExecutorOptions): Executor {
  return {
    name: 'subprocess',
    computeStage: (job) =>
      computeInShards(
        job,
        opts.shards,
        (parts) => Promise.all(parts.map((p) => runOne(job, p, opts))),
        opts.progressMs === undefined ? {} : { progressMs: opts.progressMs },
      ),
    close: async () => {},
  };
}

function runOne(job: StageJob, part: StagePart, opts: SubprocessExecutorOptions): Promise<ShardResult> {
  const granted = job.ctx.resources;
  const threads = Math.max(1, Math.floor(granted.threads / part.of));
  const allGpus = granted.gpus ?? (granted.gpu !== null ? [granted.gpu] : []);
  const gpus = allGpus.length > 0 ? [allGpus[part.shard % allGpus.length]!] : [];
  const tail = new LineRing(20);
  const label = `[shard ${part.shard + 1}/${part.of}]`;
  return new Promise<ShardResult>((resolve) => {
    const child = spawn(opts.pefuse.file, [...opts.pefuse.args, ...shardArgs(job, part, threads, gpus)], {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const onDrain = () => child.kill('SIGTERM');
    const onKill = () => child.kill('SIGKILL');
    job.ctx.signal.addEventListener('abort', onDrain, { once: true });
    job.ctx.kill?.addEventListener('abort', onKill, { once: true });
    let buffered = '';
    const line = (text: string) => {
      tail.push(text);
      job.log(`${label} ${text}`);
    };
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl = buffered.indexOf('\n');
      while (nl !== -1) {
        line(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf('\n');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    let ended = false;
    const done = (detail: string) => {
      if (ended) return;
      ended = true;
      job.ctx.signal.removeEventListener('abort', onDrain);
      job.ctx.kill?.removeEventListener('abort', onKill);
      if (buffered) line(buffered);
      void readShardResult(
        job.shardsDir,
        job.stage.key,
        part,
        `${detail}${tail.lines.length > 0 ? `; last output: ${tail.lines.slice(-5).join(' | ')}` : ''}`,
      ).then(resolve);
    };
    child.on('error', (e) => done(`cannot start ${opts.pefuse.file}: ${e.message}`));
    child.on('close', (code, signal) =>
      done(signal ? `killed by ${signal}` : `exit code ${code ?? 'unknown'}`),
    );
  });
}
