/**
 * Where each stage of a plan runs under `--executor slurm`, and how it is cut into shards:
 *
 *   HTTP stage (an MLLM behind a server the user runs) ──▶ submit host (its endpoint, its window)
 *   a stage whose work does not split (the contract's shard unit `none`) ──▶ submit host
 *   no item list before it runs, or a CPU stage of at most `local_max_items` items ──▶ submit host
 *   a GPU stage, or a larger CPU stage ──▶ one `sbatch --array` of ⌈items / shard_size⌉ shards
 *
 * Pure: the dry run (`pefuse plan --executor slurm`) and the executor place stages the same way.
 */
import { shardRange } from '../../contract/shard.js';
import type { StageResource } from '../../contract/stage.js';
import type { SlurmOptions } from './options.js';

/** Shard `index` of `count` covers items [first, first + size) of the stage's item order. */
export interface Shard {
  index: number;
  first: number;
  size: number;
}

export type Placement =
  | { where: 'local'; why: string }
  | { where: 'slurm'; gpu: boolean; shards: Shard[]; why: string };

export interface PlaceInput {
  kind: string;
  resource: StageResource;
  items: number | null;
  /** How the stage's work splits (the stage contract); `none`: it does not, it runs where it is. */
  unit: 'item' | 'chunk' | 'none';
}

export function placeStage(s: PlaceInput, o: SlurmOptions): Placement {
  if (s.resource === 'http')
    return { where: 'local', why: 'HTTP stage: runs on the submit host, against its endpoint' };
  if (s.unit === 'none') return { where: 'local', why: 'not split into shards: runs on the submit host' };
  if (s.items === null || s.items === 0)
    return { where: 'local', why: 'no item list to shard: runs on the submit host' };
  const gpu = s.resource === 'gpu';
  if (!gpu && s.items <= o.localMaxItems)
    return {
      where: 'local',
      why: `${s.items} item${s.items === 1 ? '' : 's'} (≤ slurm.local_max_items ${o.localMaxItems}): runs on the submit host`,
    };
  const shards = shardsOf(s.items, o.shardSize);
  return {
    where: 'slurm',
    gpu,
    shards,
    why: `${s.items} items in ${shards.length} shard${shards.length === 1 ? '' : 's'} of ≤ ${o.shardSize}${gpu ? ', GPU' : ''}`,
  };
}

/**
 * Shards per stage at most: Slurm's default `MaxArraySize` (1001) allows task ids 0–1000. A stage with
 * more items than `shard_size` × this gets larger shards rather than a refused submission.
 */
export const MAX_SHARDS = 1000;

/**
 * Contiguous shards of at most `size` items, as even as possible (160 by 100 → 80 + 80, not 100 + 60),
 * cut as the shards themselves cut their items (the contract's `shardRange`).
 */
export function shardsOf(items: number, size: number): Shard[] {
  const count = Math.min(MAX_SHARDS, Math.max(1, Math.ceil(items / size)));
  return Array.from({ length: count }, (_, index) => ({
    index,
    ...shardRange(items, { shard: index, of: count }),
  }));
}
