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
import { type Failure, failure } from '../../runner/exec/failure.js';
import type { StageRunContext, StageRunner, StageRunOutput } from '../../runner/exec/stage-run.js';
import type { JsonObject } from '../../runner/util/json.js';
import { encodeNpy } from '../../runner/util/npy.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import type { EmbedOutput } from '../contracts.js';
import { DUMMY_EMBED_DIM, embedText } from './features.js';
import { datasetOutputOf, findInput, imagesOf, readGallery, textsOfItem } from './inputs.js';
import { analyseImage, imageEmbedding } from './vision.js';

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
  // Several descriptions of one item (mllm.descriptions > 1): the mean of their vectors, normalised.
  const rows: Array<{ id: string; vec: Float32Array }> = [];
  for (const item of m.items) {
    const texts = textsOfItem(item.output);
    if (texts === null) continue;
    const vecs = texts.map(embedText);
    if (vecs.length === 1) {
      rows.push({ id: item.id, vec: vecs[0] as Float32Array });
      continue;
    }
    const mean = new Float32Array(DUMMY_EMBED_DIM);
    for (const v of vecs)
      for (let i = 0; i < mean.length; i++) mean[i] = (mean[i] as number) + (v[i] as number);
    const norm = Math.hypot(...mean) || 1;
    rows.push({ id: item.id, vec: mean.map((x) => x / norm) });
  }
  for (let i = 0; i < rows.length; i++) ctx.notify?.({ type: 'progress', done: i + 1, total: rows.length });
  return publish(ctx, rows);
};

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
  let next = 0;
  let finished = 0;
  const progress = () => ctx.notify?.({ type: 'progress', done: ++finished, total: sources.length });
  const work = async () => {
    while (next < sources.length && !ctx.signal.aborted) {
      const i = next++;
      const s = sources[i]!;
      let input: string | Uint8Array;
      if ('path' in s) input = s.path;
      else {
        const bytes = await ctx.objects.read({ sha256: s.sha256, size: s.size });
        if (!bytes.ok) {
          ctx.itemFailed(s.id, { ...bytes.error, item: s.id });
          progress();
          continue;
        }
        input = bytes.value;
      }
      try {
        vecs[i] = imageEmbedding(await analyseImage(input));
      } catch (e) {
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
  const rows: Array<{ id: string; vec: Float32Array }> = [];
  sources.forEach((s, i) => {
    const v = vecs[i];
    if (v !== undefined) rows.push({ id: s.id, vec: v });
  });
  return publish(ctx, rows);
};
