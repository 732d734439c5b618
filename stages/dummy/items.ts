/**
 * Item-input builders for the dummy worker stages, to pair with the generic worker-backed runner: each
 * returns one `{id, input}` per query (compose, edit) or gallery image (caption), in dataset order.
 *
 * Seeds: `seed = deriveSeed(params.seed ?? 0, params.repeat ?? 0, item id)`, so repeats (a different
 * base seed or repeat index) differ and a rerun is identical.
 */
import type { Failure } from '../../runner/contract/failure.js';
import type { StageRunContext } from '../../runner/contract/run.js';
import type { WorkItem } from '../../runner/exec/worker-stage.js';
import type { JsonObject } from '../../runner/util/json.js';
import { ok, type Result } from '../../runner/util/result.js';
import { deriveSeed } from '../datasets/synthetic/prng.js';
import { datasetOutputOf, findInput, readGallery, readQueries, textsOf } from './inputs.js';

/** One item to send to a worker (the worker-backed runner's `WorkItem`). */
export type WorkerItem = WorkItem;

/** The shape of `WorkerStageOptions.itemsOf` (runner/exec/worker-stage.ts). */
export type ItemsBuilder = (ctx: StageRunContext) => Promise<Result<WorkerItem[], Failure>>;

/** The per-item seed from the stage's declared `seed` (and `repeat`, when the pipeline declares one). */
export function itemSeed(params: JsonObject, id: string): number {
  const base = typeof params.seed === 'number' ? params.seed : 0;
  const repeat = typeof params.repeat === 'number' ? params.repeat : 0;
  return deriveSeed(base, repeat, id);
}

/** `mllm.compose` items: `{reference_caption, reference_path, text, seed}` per query. */
export const composeItems: ItemsBuilder = async (ctx) => {
  const ds = datasetOutputOf(ctx);
  if (!ds.ok) return ds;
  const queries = await readQueries(ctx, ds.value);
  if (!queries.ok) return queries;
  return ok(
    queries.value.map((q) => ({
      id: q.id,
      input: {
        reference_caption: q.extra?.reference_caption ?? '',
        reference_path: q.reference.path,
        text: q.text,
        seed: itemSeed(ctx.node.params, q.id),
      },
    })),
  );
};

/** `mllm.caption` items: `{oracle_caption, image_path, seed}` per gallery image. */
export const captionItems: ItemsBuilder = async (ctx) => {
  const ds = datasetOutputOf(ctx);
  if (!ds.ok) return ds;
  const gallery = await readGallery(ctx, ds.value);
  if (!gallery.ok) return gallery;
  return ok(
    gallery.value.map((g) => ({
      id: g.id,
      input: {
        oracle_caption: g.oracle_caption ?? '',
        image_path: g.path,
        seed: itemSeed(ctx.node.params, g.id),
      },
    })),
  );
};

/**
 * `diffusion.edit` items: `{reference_path, text, seed}` per query. The text is the `mllm.compose`
 * output for that query when such an input exists (named `texts`, or any mllm.compose input), else the raw modification text; queries without a composed text are left out.
 */
export const editItems: ItemsBuilder = async (ctx) => {
  const ds = datasetOutputOf(ctx);
  if (!ds.ok) return ds;
  const queries = await readQueries(ctx, ds.value);
  if (!queries.ok) return queries;
  const composed = findInput(ctx, ['texts'], 'mllm.compose');
  const texts = composed !== undefined ? textsOf(composed) : undefined;
  const items: WorkerItem[] = [];
  for (const q of queries.value) {
    const text = texts === undefined ? q.text : texts.get(q.id);
    // A query whose composition failed upstream has nothing to edit: leave it out.
    if (text === undefined) continue;
    items.push({
      id: q.id,
      input: { reference_path: q.reference.path, text, seed: itemSeed(ctx.node.params, q.id) },
    });
  }
  return ok(items);
};
