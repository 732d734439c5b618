/**
 * The Slurm executor's options: the spec's `slurm:` block (already checked by the schema and
 * runner/spec/slurm.ts; `--set slurm.KEY=VALUE` overrides it like any spec value) with the defaults
 * filled in. One definition of each default, used by the dry run, the scripts and the executor.
 */
import type { SlurmSpec } from '../../spec/types.js';
import type { JsonObject } from '../../util/json.js';

export interface SlurmOptions {
  partition: string | null;
  account: string | null;
  qos: string | null;
  time: string | null;
  /** GPUs per shard of a GPU stage (--gres=gpu:[TYPE:]N); 0 asks for none. */
  gpus: number;
  gpuType: string | null;
  /** --cpus-per-task; null: 1 for CPU stages, 4 for GPU stages. */
  cpusPerTask: number | null;
  mem: string | null;
  arrayParallelism: number | null;
  shardSize: number;
  localMaxItems: number;
  maxAttempts: number;
  pollMs: number;
  sbatchFlags: string[];
  setup: string | null;
}

export const SLURM_DEFAULTS = {
  gpus: 1,
  cpusCpuStage: 1,
  cpusGpuStage: 4,
  shardSize: 500,
  localMaxItems: 1000,
  maxAttempts: 3,
  pollS: 10,
} as const;

export function slurmOptions(block: JsonObject | undefined): SlurmOptions {
  const b = (block ?? {}) as SlurmSpec;
  const s = (v: string | undefined) => (v === undefined || v.trim() === '' ? null : v.trim());
  return {
    partition: s(b.partition),
    account: s(b.account),
    qos: s(b.qos),
    time: s(b.time),
    gpus: b.gpus ?? SLURM_DEFAULTS.gpus,
    gpuType: s(b.gpu_type),
    cpusPerTask: b.cpus_per_task ?? null,
    mem: s(b.mem),
    arrayParallelism: b.array_parallelism ?? null,
    shardSize: b.shard_size ?? SLURM_DEFAULTS.shardSize,
    localMaxItems: b.local_max_items ?? SLURM_DEFAULTS.localMaxItems,
    maxAttempts: b.max_attempts ?? SLURM_DEFAULTS.maxAttempts,
    pollMs: Math.round((b.poll_s ?? SLURM_DEFAULTS.pollS) * 1000),
    sbatchFlags: (b.sbatch_flags ?? []).map((f) => f.trim()).filter((f) => f !== ''),
    setup: b.setup === undefined || b.setup.trim() === '' ? null : b.setup,
  };
}
