/**
 * Splitting a stage's work across processes (shards), the unit an executor hands to another process
 * or host. A stage enumerates its work as *items* (queries, gallery images: one journal record each)
 * or, for in-process stages that journal no items (embedding, scoring), as *chunks* of consecutive
 * items (one journal record per chunk, with an id from `chunkId`). Shard `i` of `n` takes a contiguous
 * run of that list, so the union of all shards is every item exactly once:
 *
 *   items (enumeration order) ─▶ [shard 0 │ shard 1 │ … │ shard n-1]   (sizes differ by at most one)
 *
 * A shard journals what it computed into its own journal (`stages/<key>/shards/`), never the stage's;
 * the orchestrator, sole holder of the stage lock, adopts those records and builds the stage output.
 * What else a shard has to say (failed items, unreadable objects, a stage-level failure) it writes as
 * a `ShardResult` beside its journal.
 */
import type { Failure } from './failure.js';
import type { StageKey } from './stage.js';

/** Which shard of a stage one process computes (0-based `shard` < `of`). */
export interface StagePart {
  shard: number;
  of: number;
}

/**
 * The contiguous run of `n` elements (in the stage's item order) that `part` covers: elements
 * [first, first + size). The one definition of how a stage is cut into shards (7 by 3 → 2, 2, 3).
 */
export function shardRange(n: number, part: StagePart): { first: number; size: number } {
  const first = Math.floor((part.shard * n) / part.of);
  return { first, size: Math.floor(((part.shard + 1) * n) / part.of) - first };
}

/** The elements of `list` that belong to `part` (all of them when `part` is absent). */
export function shardOf<T>(list: readonly T[], part: StagePart | undefined): T[] {
  if (part === undefined) return [...list];
  const { first, size } = shardRange(list.length, part);
  return list.slice(first, first + size);
}

/** Journal ids of chunk records start with this (no dataset item id does: ids come from annotations). */
export const CHUNK_PREFIX = '#pefuse-chunk/';

/** The journal id of chunk `index` (zero-padded so ids sort in chunk order). */
export function chunkId(index: number): string {
  return `${CHUNK_PREFIX}${String(index).padStart(6, '0')}`;
}

/** Whether a journal record is a chunk (internal to its stage: never listed in the manifest). */
export function isChunkId(id: string): boolean {
  return id.startsWith(CHUNK_PREFIX);
}

/** One chunk of `size` consecutive items: its index and the items' positions `[start, end)`. */
export interface Chunk {
  index: number;
  id: string;
  start: number;
  end: number;
}

/** `n` items in chunks of `size` (the last may be shorter). */
export function chunksOf(n: number, size: number): Chunk[] {
  if (!Number.isInteger(size) || size < 1) throw new Error(`bug: chunk size ${size}`);
  const out: Chunk[] = [];
  for (let start = 0, index = 0; start < n; start += size, index++)
    out.push({ index, id: chunkId(index), start, end: Math.min(n, start + size) });
  return out;
}

/** Whether `part` is a valid shard selector (`0 ≤ shard < of`, integers). */
export function validPart(part: StagePart): boolean {
  return (
    Number.isInteger(part.shard) &&
    Number.isInteger(part.of) &&
    part.of >= 1 &&
    part.shard >= 0 &&
    part.shard < part.of
  );
}

export const SHARD_RESULT_FORMAT = 'pefuse-shard-result/1';

/** What one shard reports when it ends (`stages/<key>/shards/result.<i>-of-<n>.json`). */
export interface ShardResult {
  format: typeof SHARD_RESULT_FORMAT;
  key: StageKey;
  shard: number;
  of: number;
  /** `ok`: every item of the shard is journaled; `failed`: see `failure` and `failed_items`. */
  status: 'ok' | 'failed';
  /** A failure of the shard as a whole (the runner's own, a missing input, a crash), else null. */
  failure: Failure | null;
  /** Items that failed for good after the runner's retries (the other items are journaled). */
  failed_items: { item: string; failure: Failure; attempts: number }[];
  /** Objects a read found missing or corrupt: the orchestrator heals the stages that name them. */
  bad_objects: string[];
  /** Records this shard journaled (items or chunks). */
  journaled: number;
  seconds: number;
  host: string;
  device: string | null;
  peak_mem_mb: number | null;
}
