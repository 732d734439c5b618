/**
 * The command an array task runs: this installation's `bin/pefuse.js`, under the Node that runs the
 * orchestrator (`$PEFUSE_NODE` overrides it, e.g. from `slurm.setup` after `module load nodejs`), with
 * the hidden shard sub-command against the shared cache. One definition, used by the scripts, the dry
 * run and the executor.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CPUS_VAR, GPUS_ARGS, SHARD_VAR } from './script.js';

/** `bin/pefuse.js` of this installation (dist/runner/exec/slurm → 4 up; runner/exec/slurm under tsx → 3 up). */
export function pefuseBin(): string {
  for (const rel of ['../../../../bin/pefuse.js', '../../../bin/pefuse.js']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return fileURLToPath(new URL('../../../../bin/pefuse.js', import.meta.url));
}

export interface ShardCommandInput {
  cacheRoot: string;
  key: string;
  shards: number;
}

/**
 * The Node script and its arguments for one shard (the script runs them under `node`, see
 * `ScriptInput.node`): the stage-contract seam's hidden `pefuse __shard` (runner/cli/commands/shard.ts),
 * with the task's shard index, its CPUs as threads, and its GPUs when Slurm gave it some.
 */
export function shardCommand(i: ShardCommandInput): string[] {
  return [
    pefuseBin(),
    '--cache',
    i.cacheRoot,
    '__shard',
    '--stage',
    i.key,
    '--shard',
    SHARD_VAR,
    '--of',
    String(i.shards),
    '--threads',
    CPUS_VAR,
    GPUS_ARGS,
  ];
}
