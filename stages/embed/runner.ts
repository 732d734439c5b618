/**
 * The `embed.text` and `embed.image` stage runners (onnxruntime-node).
 *
 * Inputs (by name in `ctx.inputs`):
 * - embed.text: `texts` — items whose output is a TextItemOutput `{text}` (or `{texts: [...]}`, several
 *   descriptions of one item: their vectors are averaged, then L2-normalised).
 * - embed.image: `images` — items whose output is `{image: ObjectRef}` (generated PNGs), or
 *   `gallery` — a DatasetOutput whose `gallery` object is a JSON array of `{id, path}`.
 * Params: see `common.ts`. Output: EmbedOutput (one L2-normalised float32 row per item, input order,
 * failed items left out). Each item is cached by sha256(model identity, item content hash), so the
 * same text or image is embedded once per model whatever stage asks for it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { failure } from '../../runner/contract/failure.js';
import type { StageRunContext, StageRunner } from '../../runner/contract/run.js';
import { shardOf } from '../../runner/contract/shard.js';
import type { ObjectRef } from '../../runner/store/types.js';
import { isJsonObject, sha256Hex } from '../../runner/util/json.js';
import { err, ok } from '../../runner/util/result.js';
import type { GalleryItem } from '../contracts.js';
import { renderGenecisCrop } from '../datasets/genecis-crop.js';
import { textsOfItem } from '../dummy/inputs.js';
import {
  type EmbedItemOutput,
  embedOutputJson,
  finishItem,
  itemKey,
  l2normalize,
  loadItemVector,
  openModel,
  publishMatrix,
  readParams,
  storeItemVector,
} from './common.js';
import { runImageBatch, runTextBatch } from './infer.js';
import { ImageDecodeError, normalizeInto, preprocessPixels } from './preprocess.js';
import { loadTextTokenizer } from './tokenizer/index.js';

export { modelIdentity } from './model/identity.js';

/** The element-wise mean of equal-length vectors (one vector: itself). */
function meanOf(vs: readonly Float32Array[]): Float32Array {
  if (vs.length === 1) return vs[0] as Float32Array;
  const out = new Float32Array((vs[0] as Float32Array).length);
  for (const v of vs) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (v[i] as number);
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / vs.length;
  return out;
}

const cancelled = () => err(failure('cancelled', 'embedding stopped: the run was cancelled'));

/** Looks an item up in the resume journal, then in the per-item cache. */
async function lookup(
  ctx: StageRunContext,
  id: string,
  key: string,
): Promise<{ vec: Float32Array; output: Record<string, unknown> } | null> {
  const done = ctx.done.get(id);
  if (done) {
    const vec = await loadItemVector(ctx, done.output);
    if (vec && isJsonObject(done.output)) return { vec, output: done.output };
  }
  const cached = await ctx.items.get(key);
  if (cached !== undefined) {
    const vec = await loadItemVector(ctx, cached);
    if (vec && isJsonObject(cached)) {
      await finishItem(ctx, id, cached as EmbedItemOutput, 0, true);
      return { vec, output: cached };
    }
  }
  return null;
}

export const embedTextRunner: StageRunner = async (ctx) => {
  const params = readParams(ctx, 64);
  if (!params.ok) return params;
  const input = ctx.inputs.texts;
  if (!input) return err(failure('input-missing', 'embed.text needs an upstream input named "texts"'));
  const model = await openModel(ctx, params.value, 'text');
  if (!model.ok) return model;
  const { cfg, modelDigest, tower } = model.value;
  const tok = await loadTextTokenizer(params.value.ref.dir, cfg);
  if (!tok.ok) return err(failure('model-load', tok.error));

  const order: string[] = [];
  const rows = new Map<string, Float32Array>();
  let truncated = 0;
  let cachedCount = 0;
  const pending: { id: string; key: string; texts: string[] }[] = [];
  // In a shard: only its run of the items (the orchestrator builds the matrix from every journal).
  for (const rec of shardOf(input.items, ctx.part)) {
    const texts = textsOfItem(rec.output);
    if (texts === null) {
      ctx.itemFailed(
        rec.id,
        failure('bad-input', `text item ${rec.id} has no "text" string`, { item: rec.id }),
      );
      continue;
    }
    order.push(rec.id);
    const content = texts.length === 1 ? (texts[0] as string) : JSON.stringify(texts);
    const key = itemKey('embed.text', modelDigest, sha256Hex(content));
    const hit = await lookup(ctx, rec.id, key);
    if (hit) {
      rows.set(rec.id, hit.vec);
      if (hit.output.truncated === true) truncated++;
      cachedCount++;
    } else pending.push({ id: rec.id, key, texts });
  }
  for (let b = 0; b < pending.length; b += params.value.batchSize) {
    if (ctx.signal.aborted) return cancelled();
    const batch = pending.slice(b, b + params.value.batchSize);
    const t0 = performance.now();
    const tokenized = batch.flatMap((p) => p.texts.map((t) => tok.value.tokenize(t)));
    const vecs = await runTextBatch(tower, tokenized, tok.value);
    if (!vecs.ok) return vecs;
    const seconds = (performance.now() - t0) / 1000 / batch.length;
    let row = 0;
    for (const p of batch) {
      const n = p.texts.length;
      const vec = l2normalize(meanOf(vecs.value.slice(row, row + n)));
      const wasTruncated = tokenized.slice(row, row + n).some((t) => t.truncated);
      row += n;
      if (wasTruncated) truncated++;
      const out = await storeItemVector(ctx, p.key, vec, { truncated: wasTruncated });
      await finishItem(ctx, p.id, out, seconds, false);
      rows.set(p.id, vec);
    }
  }
  if (ctx.part) return ok({ output: null });
  ctx.log(
    `embedded ${order.length} texts with ${cfg.profile ?? params.value.ref.dir} (${cachedCount} from cache); ${truncated} longer than ${cfg.context_length} tokens were truncated`,
  );
  const out = await publishMatrix(ctx, order, rows, { truncated });
  if (!out.ok) return out;
  return ok({ output: embedOutputJson(out.value), device: tower.device });
};

interface ImageSource {
  id: string;
  /** Display name for messages: the file path or the object hash. */
  name: string;
  load(): Promise<
    { ok: true; bytes: Uint8Array } | { ok: false; reason: 'input-missing' | 'bad-input'; message: string }
  >;
  /** Known without loading (store objects); null for files, which must be read to be hashed. */
  contentHash: string | null;
}

async function imageSources(
  ctx: StageRunContext,
): Promise<{ ok: true; sources: ImageSource[] } | { ok: false; message: string }> {
  const images = ctx.inputs.images;
  if (images) {
    const sources: ImageSource[] = [];
    for (const rec of images.items) {
      const ref =
        isJsonObject(rec.output) && isJsonObject(rec.output.image)
          ? (rec.output.image as unknown as ObjectRef)
          : null;
      if (!ref || typeof ref.sha256 !== 'string' || typeof ref.size !== 'number') {
        ctx.itemFailed(
          rec.id,
          failure('bad-input', `image item ${rec.id} has no "image" object reference`, { item: rec.id }),
        );
        continue;
      }
      sources.push({
        id: rec.id,
        name: `object ${ref.sha256.slice(0, 12)}`,
        contentHash: ref.sha256,
        load: async () => {
          const r = await ctx.objects.read(ref);
          return r.ok
            ? { ok: true, bytes: r.value }
            : { ok: false, reason: 'input-missing', message: r.error.message };
        },
      });
    }
    return { ok: true, sources };
  }
  const gallery = ctx.inputs.gallery;
  if (!gallery)
    return { ok: false, message: 'embed.image needs an upstream input named "images" or "gallery"' };
  const ref = isJsonObject(gallery.output)
    ? (gallery.output.gallery as unknown as ObjectRef | undefined)
    : undefined;
  if (!ref)
    return {
      ok: false,
      message: 'the "gallery" input has no gallery object (expected a dataset stage output)',
    };
  const bytes = await ctx.objects.read(ref);
  if (!bytes.ok) return { ok: false, message: bytes.error.message };
  let list: GalleryItem[];
  try {
    list = JSON.parse(Buffer.from(bytes.value).toString('utf8')) as GalleryItem[];
    if (!Array.isArray(list)) throw new Error('not an array');
  } catch (e) {
    return {
      ok: false,
      message: `the gallery object is not a JSON array of {id, path}: ${(e as Error).message}`,
    };
  }
  return {
    ok: true,
    sources: list.map((g: GalleryItem & { bbox?: [number, number, number, number] }) => ({
      id: g.id,
      name: g.bbox ? `${g.path} (crop ${g.bbox.join(',')})` : g.path,
      contentHash: null,
      load: async () => {
        // GeneCIS attribute galleries are object crops: dilated box, padded square (official loader).
        if (g.bbox) {
          if (!existsSync(g.path))
            return { ok: false, reason: 'input-missing', message: `image not found: ${g.path}` };
          const crop = await renderGenecisCrop(g.path, g.bbox);
          return crop.ok
            ? { ok: true, bytes: crop.value }
            : { ok: false, reason: 'bad-input', message: crop.error };
        }
        try {
          return { ok: true, bytes: await readFile(g.path) };
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          return code === 'ENOENT'
            ? { ok: false, reason: 'input-missing', message: `image not found: ${g.path}` }
            : {
                ok: false,
                reason: 'bad-input',
                message: `cannot read image ${g.path}: ${code ?? String(e)}`,
              };
        }
      },
    })),
  };
}

export const embedImageRunner: StageRunner = async (ctx) => {
  const params = readParams(ctx, 32);
  if (!params.ok) return params;
  const src = await imageSources(ctx);
  if (!src.ok) return err(failure('input-missing', src.message));
  const model = await openModel(ctx, params.value, 'vision');
  if (!model.ok) return model;
  const { cfg, modelDigest, tower } = model.value;
  const S = cfg.image_size;
  // In a shard: only its run of the images (the orchestrator builds the matrix from every journal).
  const sources = shardOf(src.sources, ctx.part);
  const order = sources.map((s) => s.id);
  const rows = new Map<string, Float32Array>();
  let cachedCount = 0;

  type Prepared = { items: { id: string; key: string }[]; pixels: Float32Array; seconds: number };
  /** Loads, hashes, checks the cache and preprocesses one chunk; misses go into one batch tensor. */
  const prepare = async (chunk: ImageSource[]): Promise<Prepared> => {
    const t0 = performance.now();
    const misses = await Promise.all(
      chunk.map(async (s) => {
        let bytes: Uint8Array | null = null;
        let hash = s.contentHash;
        if (hash === null || !ctx.done.has(s.id)) {
          if (hash === null) {
            const loaded = await s.load();
            if (!loaded.ok) {
              ctx.itemFailed(s.id, failure(loaded.reason, loaded.message, { item: s.id }));
              return null;
            }
            bytes = loaded.bytes;
            hash = sha256Hex(bytes);
          }
        }
        const key = itemKey('embed.image', modelDigest, hash!);
        const hit = await lookup(ctx, s.id, key);
        if (hit) {
          rows.set(s.id, hit.vec);
          cachedCount++;
          return null;
        }
        if (!bytes) {
          const loaded = await s.load();
          if (!loaded.ok) {
            ctx.itemFailed(s.id, failure(loaded.reason, loaded.message, { item: s.id }));
            return null;
          }
          bytes = loaded.bytes;
        }
        try {
          return {
            id: s.id,
            key,
            px: await preprocessPixels(
              Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
              cfg,
              ctx.resources.threads,
            ),
          };
        } catch (e) {
          if (!(e instanceof ImageDecodeError)) throw e;
          ctx.itemFailed(
            s.id,
            failure('bad-input', `cannot decode image ${s.name}: ${e.message}`, { item: s.id }),
          );
          return null;
        }
      }),
    );
    const ok = misses.filter((m) => m !== null);
    const pixels = new Float32Array(ok.length * 3 * S * S);
    for (const [i, m] of ok.entries()) normalizeInto(m.px, cfg, pixels, i * 3 * S * S);
    return {
      items: ok.map(({ id, key }) => ({ id, key })),
      pixels,
      seconds: (performance.now() - t0) / 1000,
    };
  };

  const bs = params.value.batchSize;
  const chunks: ImageSource[][] = [];
  for (let i = 0; i < sources.length; i += bs) chunks.push(sources.slice(i, i + bs));
  let next = chunks.length > 0 ? prepare(chunks[0]!) : null;
  for (let c = 0; c < chunks.length; c++) {
    if (ctx.signal.aborted) return cancelled();
    const cur = await next!;
    // Decode the next chunk while this one runs through the tower.
    next = c + 1 < chunks.length ? prepare(chunks[c + 1]!) : null;
    if (cur.items.length === 0) continue;
    const t0 = performance.now();
    const vecs = await runImageBatch(tower, cur.pixels, cur.items.length, S);
    if (!vecs.ok) {
      await next?.catch(() => undefined);
      return vecs;
    }
    const seconds = (cur.seconds + (performance.now() - t0) / 1000) / cur.items.length;
    for (const [i, it] of cur.items.entries()) {
      const vec = l2normalize(vecs.value[i]!);
      const out = await storeItemVector(ctx, it.key, vec);
      await finishItem(ctx, it.id, out, seconds, false);
      rows.set(it.id, vec);
    }
  }
  if (ctx.part) return ok({ output: null });
  ctx.log(
    `embedded ${rows.size} of ${order.length} images with ${cfg.profile ?? params.value.ref.dir} (${cachedCount} from cache)`,
  );
  const out = await publishMatrix(ctx, order, rows);
  if (!out.ok) return out;
  return ok({ output: embedOutputJson(out.value), device: tower.device });
};
