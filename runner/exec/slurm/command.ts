/**
 * The command an array task runs: this installation's `bin/pefuse.js`, under the Node that runs the
 * orchestrator (`$PEFUSE_NODE` overrides it, e.g. from `slurm.setup` after `module load nodejs`), with
 * the hidden shard sub-command against the shared cache. One definition, used by the scripts, the dry
 * run and the executor.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SHARD_VAR } from './script.js';

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
  /** The serialised stage description in the stage folder. */
  descriptionFile: string;
  shards: number;
}

/**
 * The Node script and its arguments for one shard (the script runs them under `node`, see
 * `ScriptInput.node`); `SHARD_VAR` is left for the script to fill in.
 */
export function shardCommand(i: ShardCommandInput): string[] {
  return [
    pefuseBin(),
    '--cache',
    i.cacheRoot,
    'run-shard',
    i.descriptionFile,
    '--shard',
    SHARD_VAR,
    '--of',
    String(i.shards),
  ];
}
