/**
 * The sbatch script of one submission: one job array per stage (or per resubmission of some of its
 * shards), each array task running one shard of the stage's serialised description against the shared
 * cache. Logs and exit markers go to the stage folder (`stages/<key>/slurm/`), so the orchestrator
 * reads a shard's outcome from the filesystem even where Slurm accounting is off and `scontrol` has
 * forgotten the job.
 *
 *   #SBATCH resources (partition, account, qos, time, cpus, mem, gres, extra flags)
 *   set-up lines (module load, venv) ─▶ is the cache visible on this node? ─▶ the shard command
 *   ─▶ exit code to shard-<i>.job-<jobid>.exit
 */
import { join } from 'node:path';
import type { SlurmOptions } from './options.js';

export interface ScriptInput {
  /** Stage key (the job name carries its first 12 characters). */
  key: string;
  kind: string;
  /** The stage folder in the shared cache (`<cache>/stages/<key>`). */
  stageDir: string;
  /** Shard indices this submission runs (all of them, or the ones to resubmit). */
  shards: readonly number[];
  gpu: boolean;
  /** A file every array task checks first: absent on the node = the cache is not shared. */
  visibleFile: string;
  /** The shard command; `$SLURM_ARRAY_TASK_ID` (unquoted in the output) names the shard. */
  command: readonly string[];
  /**
   * Run `command` under this Node binary, unless the node's environment sets `$PEFUSE_NODE` (e.g. in
   * `slurm.setup` after `module load nodejs`). Absent: `command[0]` is the program.
   */
  node?: string;
  /** The orchestrator's working directory (relative paths in the spec resolve against it). */
  cwd: string;
  /** Environment variables the shard needs (PEFUSE_*), set in the script. */
  env?: Readonly<Record<string, string>>;
}

/** The shard index in a command: replaced by the array task id. */
export const SHARD_VAR = '$SLURM_ARRAY_TASK_ID';
/** The CPUs Slurm gave the task (`--threads` of a shard). */
export const CPUS_VAR = '${SLURM_CPUS_PER_TASK:-1}';
/** `--gpus IDS` when Slurm gave the task GPUs (gres sets CUDA_VISIBLE_DEVICES), else nothing. */
export const GPUS_ARGS = '${CUDA_VISIBLE_DEVICES:+--gpus "$CUDA_VISIBLE_DEVICES"}';

/** How a command word is written: the task's variables as the shell must see them, the rest quoted. */
function word(a: string): string {
  if (a === SHARD_VAR || a === CPUS_VAR) return `"${a}"`;
  if (a === GPUS_ARGS) return a;
  return shellQuote(a);
}

/** Where the logs and markers of a stage's jobs live. */
export function slurmDir(stageDir: string): string {
  return join(stageDir, 'slurm');
}

/** The log of one array task (`%A`: the array's job id, `%a`: the task = shard index). */
export function logPattern(stageDir: string): string {
  return join(slurmDir(stageDir), 'shard-%a.job-%A.log');
}

export function logFile(stageDir: string, shard: number, jobId: string): string {
  return join(slurmDir(stageDir), `shard-${shard}.job-${jobId}.log`);
}

export function exitFile(stageDir: string, shard: number, jobId: string): string {
  return join(slurmDir(stageDir), `shard-${shard}.job-${jobId}.exit`);
}

/** `--array` value: `0-7`, `1,4,5`, with `%N` when the spec limits parallelism. */
export function arraySpec(shards: readonly number[], parallelism: number | null): string {
  const sorted = [...shards].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    ranges.push(j > i ? `${sorted[i]}-${sorted[j]}` : String(sorted[i]));
    i = j + 1;
  }
  return ranges.join(',') + (parallelism !== null ? `%${parallelism}` : '');
}

/** The #SBATCH lines for a submission (also what the dry run prints). */
export function sbatchDirectives(input: ScriptInput, o: SlurmOptions): string[] {
  const lines = [
    `--job-name=pefuse-${input.kind}-${input.key.slice(0, 12)}`,
    `--array=${arraySpec(input.shards, o.arrayParallelism)}`,
    `--output=${logPattern(input.stageDir)}`,
    `--chdir=${input.cwd}`,
  ];
  if (o.partition !== null) lines.push(`--partition=${o.partition}`);
  if (o.account !== null) lines.push(`--account=${o.account}`);
  if (o.qos !== null) lines.push(`--qos=${o.qos}`);
  if (o.time !== null) lines.push(`--time=${o.time}`);
  lines.push(`--cpus-per-task=${o.cpusPerTask ?? (input.gpu ? 4 : 1)}`);
  if (o.mem !== null) lines.push(`--mem=${o.mem}`);
  if (input.gpu && o.gpus > 0) lines.push(`--gres=gpu:${o.gpuType !== null ? `${o.gpuType}:` : ''}${o.gpus}`);
  lines.push(...o.sbatchFlags);
  return lines;
}

export function renderScript(input: ScriptInput, o: SlurmOptions): string {
  const dir = slurmDir(input.stageDir);
  const out: string[] = ['#!/bin/bash'];
  for (const d of sbatchDirectives(input, o)) out.push(`#SBATCH ${d}`);
  out.push(
    `# pefuse: stage ${input.kind} ${input.key}, shard ${SHARD_VAR} (written by \`pefuse run --executor slurm\`)`,
  );
  if (o.setup !== null) {
    out.push('', '# slurm.setup', o.setup.trimEnd());
  }
  out.push('', 'set -u');
  for (const [k, v] of Object.entries(input.env ?? {})) out.push(`export ${k}=${shellQuote(v)}`);
  if (input.node !== undefined) out.push(`PEFUSE_NODE=\${PEFUSE_NODE:-${shellQuote(input.node)}}`);
  out.push(
    `STAGE_SLURM=${shellQuote(dir)}`,
    `if [ ! -e ${shellQuote(input.visibleFile)} ]; then`,
    `  echo "pefuse: ${input.visibleFile.replace(/["\\$`]/g, '\\$&')} is not visible on $(hostname): the cache must be on a filesystem every node sees (NFS, Lustre, GPFS, BeeGFS)" >&2`,
    '  exit 3',
    'fi',
    [...(input.node !== undefined ? ['"$PEFUSE_NODE"'] : []), ...input.command.map(word)].join(' '),
    'code=$?',
    // Written atomically: the orchestrator reads it when the task has left the queue.
    'echo "$code" > "$STAGE_SLURM/shard-$SLURM_ARRAY_TASK_ID.job-$SLURM_ARRAY_JOB_ID.exit.tmp" && \\',
    '  mv -f "$STAGE_SLURM/shard-$SLURM_ARRAY_TASK_ID.job-$SLURM_ARRAY_JOB_ID.exit.tmp" "$STAGE_SLURM/shard-$SLURM_ARRAY_TASK_ID.job-$SLURM_ARRAY_JOB_ID.exit"',
    'exit "$code"',
    '',
  );
  return out.join('\n');
}

/** POSIX shell single-quoting (a bare word when nothing needs quoting). */
export function shellQuote(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
