/**
 * Chunk records for in-process stages (embedding, scoring) computed in shards (runner/contract/shard.ts):
 * a shard computes whole chunks of consecutive items and journals each as one record naming its rows,
 * `{ids, <array>: .npy, …}`; the orchestrator, building the stage output, takes a done chunk's rows
 * instead of computing them. A chunk with a failed item is never journaled (its failure is reported),
 * so a later attempt computes it again and fails the same way: a failure is never hidden by resume.
 */

import type { StageRunContext } from '../runner/contract/run.js';
import type { Chunk } from '../runner/contract/shard.js';
import type { ObjectRef } from '../runner/store/types.js';
import { isJsonObject, type JsonObject } from '../runner/util/json.js';
import { encodeNpy, type NpyArray, parseNpy } from '../runner/util/npy.js';

/** Journals chunk `chunk`: its item ids and one `.npy` object per named array (rows in `ids` order). */
export async function journalChunk(
  ctx: StageRunContext,
  chunk: Chunk,
  ids: readonly string[],
  arrays: Record<string, NpyArray>,
  seconds: number,
): Promise<void> {
  const output: JsonObject = { ids: await refJson(ctx, JSON.stringify(ids)), n: ids.length };
  for (const [name, a] of Object.entries(arrays)) output[name] = await refJson(ctx, encodeNpy(a));
  await ctx.itemDone({ id: chunk.id, output, seconds });
}

/**
 * A journaled chunk's rows, or null when the chunk is not done, or is unusable (wrong row count, an
 * object missing or not the expected arrays): the caller then computes it.
 */
export async function loadChunk(
  ctx: StageRunContext,
  chunk: Chunk,
  names: readonly string[],
): Promise<{ ids: string[]; arrays: Record<string, NpyArray> } | null> {
  const rec = ctx.done.get(chunk.id);
  if (!rec || !isJsonObject(rec.output)) return null;
  const o = rec.output;
  const idsRef = asRef(o.ids);
  if (!idsRef) return null;
  const idsBytes = await ctx.objects.read(idsRef);
  if (!idsBytes.ok) return null;
  let ids: unknown;
  try {
    ids = JSON.parse(Buffer.from(idsBytes.value).toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(ids) || ids.length !== chunk.end - chunk.start) return null;
  const arrays: Record<string, NpyArray> = {};
  for (const name of names) {
    const ref = asRef(o[name]);
    if (!ref) return null;
    const bytes = await ctx.objects.read(ref);
    if (!bytes.ok) return null;
    const a = parseNpy(bytes.value);
    if (!a.ok || a.value.shape[0] !== ids.length) return null;
    arrays[name] = a.value;
  }
  return { ids: ids as string[], arrays };
}

async function refJson(ctx: StageRunContext, data: Uint8Array | string): Promise<JsonObject> {
  const r = await ctx.objects.put(data);
  return { sha256: r.sha256, size: r.size };
}

function asRef(v: unknown): ObjectRef | null {
  return isJsonObject(v) && typeof v.sha256 === 'string' && typeof v.size === 'number'
    ? { sha256: v.sha256, size: v.size }
    : null;
}
