/**
 * What `pefuse run --executor slurm` checks before anything runs: the Slurm tools are there, nothing in
 * the plan is refused under Slurm (servers pefuse starts itself), and whether the cache is on a shared
 * filesystem (said either way; only a problem on a multi-node cluster, which pefuse cannot see).
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Plan } from '../../plan/types.js';
import type { SlurmClient } from './client.js';
import { slurmRefusals } from './layout.js';
import { checkSharedFs, type SharedFsVerdict } from './shared-fs.js';

export interface Preflight {
  /** Reasons not to run at all (exit 2), one line each. */
  errors: string[];
  sharedFs: SharedFsVerdict;
}

export async function preflight(plan: Plan, client: SlurmClient, cacheRoot: string): Promise<Preflight> {
  const errors: string[] = [];
  const missing = await client.available();
  if (missing !== null) errors.push(missing);
  errors.push(...slurmRefusals(plan));
  const sharedFs = await checkSharedFs(existsSync(cacheRoot) ? cacheRoot : dirname(cacheRoot));
  return { errors, sharedFs };
}
