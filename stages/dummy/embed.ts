/**
 * The dummy embedder: in-process `embed.text` / `embed.image` runners that need no weights. Texts and
 * images land in one hand-made feature space (features.ts), so all four conversion modes retrieve
 * something. Deterministic; a few hundred images per second.
 *
 * Inputs (stages/contracts.ts):
 *   embed.text   `texts`: a manifest whose items carry `{text}` (mllm.compose, mllm.caption)
 *   embed.image  `images`: a manifest whose items carry `{image: ObjectRef}` (diffusion.edit), or
 *                `gallery` / any dataset-kind input: the dataset's gallery images (paths)
 * Output: EmbedOutput (`.npy` float32 [n, DUMMY_EMBED_DIM], L2-normalised rows, JSON ids).
 */
import { type Failure, failure } from '../../runner/contract/failure.js';
import type { StageRunContext, StageRunner, StageRunOutput } from '../../runner/contract/run.js';
import { type Chunk, chunksOf, shardOf } from '../../runner/contract/shard.js';
import type { JsonObject } from '../../runner/util/json.js';
import { encodeNpy } from '../../runner/util/npy.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import { journalChunk, loadChunk } from '../chunks.js';
import type { EmbedOutput } from '../contracts.js';
import { DUMMY_EMBED_DIM, embedText } from './features.js';
import { datasetOutputOf, findInput, imagesOf, readGallery, textsOfItem } from './inputs.js';
import { analyseImage, imageEmbedding } from './vision.js';

/** Items per chunk when the stage is computed in shards (chunks are the unit shards split). */
export const DUMMY_EMBED_CHUNK = 64;

/** Publishes rows (in order) as an EmbedOutput. */
async function publish(
  ctx: StageRunContext,
  rows: Array<{ id: string; vec: Float32Array }>,
): Promise<Result<StageRunOutput, Failure>> {
  if (rows.length === 0) return err(failure('bad-input', `${ctx.node.kind}: no item could be embedded`));
  const data = new Float32Array(rows.length * DUMMY_EMBED_DIM);
  for (const [i, r] of rows.entries()) data.set(r.vec, i * DUMMY_EMBED_DIM);
  const output: EmbedOutput = {
    matrix: await ctx.objects.put(encodeNpy({ dtype: '<f4', shape: [rows.length, DUMMY_EMBED_DIM], data })),
    ids: await ctx.objects.put(JSON.stringify(rows.map((r) => r.id))),
    n: rows.length,
    dim: DUMMY_EMBED_DIM,
  };
  if (ctx.node.kind === 'embed.text') output.truncated = 0;
  return ok({ output: output as unknown as JsonObject, device: 'cpu' });
}

export const dummyEmbedTextRunner: StageRunner = async (ctx) => {
  const m = findInput(ctx, ['texts'], 'mllm.compose') ?? findInput(ctx, [], 'mllm.caption');
  if (m === undefined) return err(failure('input-missing', 'embed.text needs an input named "texts"'));
  const items = m.items;
  const vecs = new Array<Float32Array | undefined>(items.length);
  // Chunks a shard journaled are taken as they are; in a shard, only its chunks are computed.
  const chunks = shardOf(chunksOf(items.length, DUMMY_EMBED_CHUNK), ctx.part);
  let finished = 0;
  for (const c of chunks) {
    if (await reuseChunk(ctx, c, vecs)) continue;
    const t0 = performance.now();
    for (let i = c.start; i < c.end; i++) {
      const texts = textsOfItem(items[i]!.output);
      // Several descriptions of one item (mllm.descriptions > 1): the mean of their vectors, normalised.
      if (texts !== null) vecs[i] = meanVector(texts.map(embedText));
    }
    if (ctx.part)
      await journalRows(
        ctx,
        c,
        items.map((x) => x.id),
        vecs,
        (performance.now() - t0) / 1000,
      );
    finished += c.end - c.start;
    ctx.notify?.({ type: 'progress', done: finished, total: items.length });
  }
  if (ctx.part) return ok({ output: null });
  const rows: Array<{ id: string; vec: Float32Array }> = [];
  items.forEach((item, i) => {
    const v = vecs[i];
    if (v !== undefined) rows.push({ id: item.id, vec: v });
  });
  return publish(ctx, rows);
};

/** One vector per item: the text's, or the normalised mean of several descriptions' vectors. */
function meanVector(vecs: Float32Array[]): Float32Array {
  if (vecs.length === 1) return vecs[0] as Float32Array;
  const mean = new Float32Array(DUMMY_EMBED_DIM);
  for (const v of vecs)
    for (let i = 0; i < mean.length; i++) mean[i] = (mean[i] as number) + (v[i] as number);
  const norm = Math.hypot(...mean) || 1;
  return mean.map((x) => x / norm);
}

/** Fills `vecs` from chunk `c` when a shard journaled it; false when it must be computed. */
async function reuseChunk(
  ctx: StageRunContext,
  c: Chunk,
  vecs: Array<Float32Array | undefined>,
): Promise<boolean> {
  const got = await loadChunk(ctx, c, ['matrix', 'rows']);
  if (!got) return false;
  const matrix = got.arrays.matrix!.data as Float32Array;
  const rows = got.arrays.rows!.data as Int32Array;
  for (let r = 0; r < rows.length; r++) {
    const i = c.start + (rows[r] as number);
    vecs[i] = matrix.slice(r * DUMMY_EMBED_DIM, (r + 1) * DUMMY_EMBED_DIM);
  }
  return true;
}

/**
 * Journals chunk `c` (a shard): the vectors of its items that have one, with their positions in the
 * chunk (`rows`; texts without a "text" are left out, as the whole stage leaves them out). A chunk
 * with a failed item is not journaled: its failure was reported and it is computed again next time.
 */
async function journalRows(
  ctx: StageRunContext,
  c: Chunk,
  ids: readonly string[],
  vecs: ReadonlyArray<Float32Array | undefined>,
  seconds: number,
  failed: ReadonlySet<number> = new Set(),
): Promise<void> {
  for (let i = c.start; i < c.end; i++) if (failed.has(i)) return;
  const rows: number[] = [];
  for (let i = c.start; i < c.end; i++) if (vecs[i] !== undefined) rows.push(i - c.start);
  const data = new Float32Array(rows.length * DUMMY_EMBED_DIM);
  rows.forEach((r, j) => {
    data.set(vecs[c.start + r]!, j * DUMMY_EMBED_DIM);
  });
  await journalChunk(
    ctx,
    c,
    ids.slice(c.start, c.end),
    {
      matrix: { dtype: '<f4', shape: [rows.length, DUMMY_EMBED_DIM], data },
      rows: { dtype: '<i4', shape: [rows.length], data: Int32Array.from(rows) },
    },
    seconds,
  );
}

/** An image to embed: a file path or a store object. */
type ImageSource = { id: string; path: string } | { id: string; sha256: string; size: number };

export const dummyEmbedImageRunner: StageRunner = async (ctx) => {
  const sources: ImageSource[] = [];
  const images = findInput(ctx, ['images'], 'diffusion.edit');
  if (images !== undefined) for (const it of imagesOf(images)) sources.push({ id: it.id, ...it.image });
  else {
    const ds = datasetOutputOf(ctx, ['gallery', 'dataset']);
    if (!ds.ok)
      return err(failure('input-missing', 'embed.image needs an input named "images" or "gallery"'));
    const gallery = await readGallery(ctx, ds.value);
    if (!gallery.ok) return gallery;
    for (const g of gallery.value) sources.push({ id: g.id, path: g.path });
  }
  const vecs = new Array<Float32Array | undefined>(sources.length);
  // Chunks a shard journaled are taken as they are; in a shard, only its chunks are computed.
  const chunks = shardOf(chunksOf(sources.length, DUMMY_EMBED_CHUNK), ctx.part);
  const todo: number[] = [];
  const computed: Chunk[] = [];
  for (const c of chunks) {
    if (await reuseChunk(ctx, c, vecs)) continue;
    computed.push(c);
    for (let i = c.start; i < c.end; i++) todo.push(i);
  }
  const failed = new Set<number>();
  let next = 0;
  let finished = 0;
  const progress = () => ctx.notify?.({ type: 'progress', done: ++finished, total: todo.length });
  const t0 = performance.now();
  const work = async () => {
    while (next < todo.length && !ctx.signal.aborted) {
      const i = todo[next++]!;
      const s = sources[i]!;
      let input: string | Uint8Array;
      if ('path' in s) input = s.path;
      else {
        const bytes = await ctx.objects.read({ sha256: s.sha256, size: s.size });
        if (!bytes.ok) {
          failed.add(i);
          ctx.itemFailed(s.id, { ...bytes.error, item: s.id });
          progress();
          continue;
        }
        input = bytes.value;
      }
      try {
        vecs[i] = imageEmbedding(await analyseImage(input));
      } catch (e) {
        failed.add(i);
        const missing = 'path' in s && (e as Error).message.includes('missing');
        ctx.itemFailed(
          s.id,
          failure(
            missing ? 'input-missing' : 'bad-input',
            `cannot decode image ${'path' in s ? s.path : s.sha256}: ${(e as Error).message}`,
            {
              item: s.id,
            },
          ),
        );
      }
      progress();
    }
  };
  await Promise.all(Array.from({ length: Math.max(2, ctx.resources.threads * 2) }, work));
  if (ctx.signal.aborted) return err(failure('cancelled', 'embed.image was cancelled'));
  if (ctx.part) {
    const seconds = (performance.now() - t0) / 1000 / Math.max(1, computed.length);
    const ids = sources.map((s) => s.id);
    for (const c of computed) await journalRows(ctx, c, ids, vecs, seconds, failed);
    return ok({ output: null });
  }
  const rows: Array<{ id: string; vec: Float32Array }> = [];
  sources.forEach((s, i) => {
    const v = vecs[i];
    if (v !== undefined) rows.push({ id: s.id, vec: v });
  });
  return publish(ctx, rows);
};
