/**
 * What the two embedding runners share: reading the node's params, opening the model, item keys and
 * the per-item cache, L2 normalisation and the final matrix.
 *
 * Read from `ctx.node.settings`, then `ctx.node.params` (all other keys are ignored):
 * - `model`      built-in profile name (e.g. `openclip-vit-l-14`) or a model folder path
 * - `model_dir`  the model folder (required when `model` is a profile name)
 * - `batch_size` items per `session.run` (default 64 for texts, 32 for images)
 * - `device`     `auto` (default: CUDA when the scheduler granted a GPU) | `cpu` | `cuda`
 */
import type { Failure } from '../../runner/contract/failure.js';
import { failure } from '../../runner/contract/failure.js';
import type { StageRunContext } from '../../runner/contract/run.js';
import type { ItemRecord, ObjectRef } from '../../runner/store/types.js';
import { canonicalJson, isJsonObject, type JsonObject, sha256Hex } from '../../runner/util/json.js';
import { encodeNpy, parseNpy } from '../../runner/util/npy.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import type { EmbedOutput } from '../contracts.js';
import { type EmbedModelConfig, type ModelRef, resolveModelConfig, resolveModelRef } from './model/config.js';
import { identityDigest, identityOf } from './model/identity.js';
import { type DeviceRequest, openTower, type Tower, type TowerSession } from './model/session.js';

/** Bumped when preprocessing/tokenization changes what an item's embedding is. */
export const EMBED_ITEM_VERSION = 1;

export interface EmbedParams {
  ref: ModelRef;
  batchSize: number;
  device: DeviceRequest;
}

export function readParams(ctx: StageRunContext, defaultBatch: number): Result<EmbedParams, Failure> {
  // Run-only settings (folder paths, batch size, device) may come in `settings` (not part of the key)
  // or in `params`; settings win.
  const p: JsonObject = { ...ctx.node.params, ...(ctx.node.settings ?? {}) };
  const ref = resolveModelRef({ model: p.model, model_dir: p.model_dir });
  if (!ref.ok) return err(failure('model-load', ref.error));
  const bs = p.batch_size ?? defaultBatch;
  if (!Number.isInteger(bs) || (bs as number) < 1) {
    return err(
      failure('bad-input', `params.batch_size must be a positive integer (found ${JSON.stringify(bs)})`),
    );
  }
  const dev = p.device ?? 'auto';
  if (dev !== 'auto' && dev !== 'cpu' && dev !== 'cuda') {
    return err(
      failure('bad-input', `params.device must be "auto", "cpu" or "cuda" (found ${JSON.stringify(dev)})`),
    );
  }
  const device: DeviceRequest = dev === 'auto' ? (ctx.resources.gpu !== null ? 'cuda' : 'cpu') : dev;
  return ok({ ref: ref.value, batchSize: bs as number, device });
}

export interface OpenedModel {
  cfg: EmbedModelConfig;
  /** Digest of the model identity (config + file hashes) used in item keys. */
  modelDigest: string;
  tower: TowerSession;
}

export async function openModel(
  ctx: StageRunContext,
  params: EmbedParams,
  tower: Tower,
): Promise<Result<OpenedModel, Failure>> {
  const cfg = await resolveModelConfig(params.ref);
  if (!cfg.ok) return err(failure('model-load', cfg.error));
  const id = await identityOf(params.ref, cfg.value, { which: tower === 'text' ? 'text' : 'image' });
  if (!id.ok) return err(failure('model-load', id.error));
  const t = await openTower(params.ref.dir, cfg.value, tower, {
    device: params.device,
    threads: ctx.resources.threads,
    log: (l) => ctx.log(l),
  });
  if (!t.ok) return err(failure('model-load', t.error));
  return ok({ cfg: cfg.value, modelDigest: identityDigest(id.value), tower: t.value });
}

/** Item key = sha256(model identity, item content hash): shared by every stage embedding the same content. */
export function itemKey(
  kind: 'embed.text' | 'embed.image',
  modelDigest: string,
  contentHash: string,
): string {
  return sha256Hex(canonicalJson({ v: EMBED_ITEM_VERSION, kind, model: modelDigest, content: contentHash }));
}

/** In place; a zero vector stays zero (it cannot be normalised, and ranks last by cosine). */
export function l2normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}

/** Per-item output as journaled and cached: the `.npy` object of one normalised row. */
export interface EmbedItemOutput extends JsonObject {
  embedding: { sha256: string; size: number };
  dim: number;
}

function asRef(v: unknown): ObjectRef | null {
  if (!isJsonObject(v) || typeof v.sha256 !== 'string' || typeof v.size !== 'number') return null;
  return { sha256: v.sha256, size: v.size };
}

/** Reads a cached/journaled item output back into its vector; null when unusable (then recompute). */
export async function loadItemVector(ctx: StageRunContext, output: unknown): Promise<Float32Array | null> {
  if (!isJsonObject(output)) return null;
  const ref = asRef(output.embedding);
  if (!ref) return null;
  const bytes = await ctx.objects.read(ref);
  if (!bytes.ok) return null;
  const arr = parseNpy(bytes.value);
  if (!arr.ok || arr.value.dtype !== '<f4' || arr.value.shape.length !== 1) return null;
  return arr.value.data as Float32Array;
}

export async function storeItemVector(
  ctx: StageRunContext,
  key: string,
  vec: Float32Array,
  extra: JsonObject = {},
): Promise<EmbedItemOutput> {
  const ref = await ctx.objects.put(encodeNpy({ dtype: '<f4', shape: [vec.length], data: vec }));
  const out: EmbedItemOutput = {
    ...extra,
    embedding: { sha256: ref.sha256, size: ref.size },
    dim: vec.length,
  };
  await ctx.items.put(key, out);
  return out;
}

/** Journal a finished item (cached or computed). */
export async function finishItem(
  ctx: StageRunContext,
  id: string,
  output: EmbedItemOutput,
  seconds: number,
  cached: boolean,
): Promise<void> {
  const rec: ItemRecord = { id, output, seconds };
  if (cached) rec.cached = true;
  await ctx.itemDone(rec);
}

/** Builds the stage output: the matrix of rows in input order (failed items left out) and the ids. */
export async function publishMatrix(
  ctx: StageRunContext,
  order: readonly string[],
  rows: ReadonlyMap<string, Float32Array>,
  extra: { truncated?: number } = {},
): Promise<Result<EmbedOutput, Failure>> {
  const ids = order.filter((id) => rows.has(id));
  if (ids.length === 0 && order.length > 0) {
    return err(
      failure('bad-input', `none of the ${order.length} items could be embedded (see the item failures)`),
    );
  }
  const dim = ids.length > 0 ? rows.get(ids[0]!)!.length : 0;
  const data = new Float32Array(ids.length * dim);
  for (const [i, id] of ids.entries()) {
    const v = rows.get(id)!;
    if (v.length !== dim) {
      return err(
        failure('cache-corrupt', `item ${id} has dimension ${v.length}, others ${dim}`, { item: id }),
      );
    }
    data.set(v, i * dim);
  }
  const matrix = await ctx.objects.put(encodeNpy({ dtype: '<f4', shape: [ids.length, dim], data }));
  const idsRef = await ctx.objects.put(JSON.stringify(ids));
  const out: EmbedOutput = { matrix, ids: idsRef, n: ids.length, dim };
  if (extra.truncated !== undefined) out.truncated = extra.truncated;
  return ok(out);
}

/** EmbedOutput as the JSON recorded in the manifest. */
export function embedOutputJson(o: EmbedOutput): JsonObject {
  const j: JsonObject = {
    matrix: { sha256: o.matrix.sha256, size: o.matrix.size },
    ids: { sha256: o.ids.sha256, size: o.ids.size },
    n: o.n,
    dim: o.dim,
  };
  if (o.truncated !== undefined) j.truncated = o.truncated;
  return j;
}
