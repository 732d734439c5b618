/**
 * The whole dummy pipeline at library level (no executor): dataset → compose/caption/edit workers →
 * dummy embeddings → cosine Recall@K per conversion mode. Used by the end-to-end test.
 */
import { join } from 'node:path';
import type { StageManifest } from '../../../runner/store/types.js';
import type { JsonObject } from '../../../runner/util/json.js';
import type { QueryRecord } from '../../../stages/contracts.js';
import { syntheticDatasetRunner } from '../../../stages/datasets/synthetic/runner.js';
import { dummyEmbedImageRunner, dummyEmbedTextRunner } from '../../../stages/dummy/embed.js';
import { captionItems, composeItems, editItems } from '../../../stages/dummy/items.js';
import { dummyWorkerScript } from '../../../stages/dummy/workers.js';
import {
  driveWorker,
  fakeCtx,
  fsStore,
  type Matrix,
  manifest,
  readEmbedding,
  recallAtK,
  resultsToItems,
} from './harness.js';

export type Mode = 't2i' | 'i2i' | 't2t' | 'i2t';

export interface DummyRun {
  recall: Record<Mode, Record<number, number>>;
  nQueries: number;
  nGallery: number;
  /** Worker errors (should be none). */
  errors: string[];
}

export async function runDummyPipeline(
  root: string,
  opts: { dataset?: JsonObject; mllm?: JsonObject; diffusion?: JsonObject; ks?: number[] } = {},
): Promise<DummyRun> {
  const store = fsStore(root);
  const dsParams: JsonObject = {
    name: 'synthetic',
    split: 'val',
    seed: 0,
    n_gallery: 240,
    n_queries: 80,
    ...opts.dataset,
  };
  const ds = await syntheticDatasetRunner(fakeCtx(store, 'dataset', dsParams));
  if (!ds.ok) throw new Error(ds.error.message);
  const dsM = manifest('dataset', [], ds.value.output);
  const errors: string[] = [];
  const viaWorker = async (
    kind: 'mllm.compose' | 'mllm.caption' | 'diffusion.edit',
    params: JsonObject,
    build: typeof composeItems,
  ): Promise<StageManifest> => {
    const built = await build(fakeCtx(store, kind, params, { dataset: dsM }));
    if (!built.ok) throw new Error(built.error.message);
    const items =
      kind === 'diffusion.edit'
        ? built.value.map((it) => ({
            id: it.id,
            input: { ...(it.input as JsonObject), out_path: join(root, 'tmp', `${it.id}.png`) },
          }))
        : built.value;
    const script = dummyWorkerScript(kind === 'diffusion.edit' ? 'diffusion-worker' : 'mllm-worker');
    const run = await driveWorker(script, kind, params, items);
    for (const m of run.messages) if (m.type === 'error') errors.push(`${kind} ${m.id}: ${m.message}`);
    if (run.exitCode !== 0) errors.push(`${kind} worker exited ${run.exitCode}: ${run.stderr}`);
    return manifest(kind, await resultsToItems(store, run.messages), null);
  };
  const mllm: JsonObject = { temperature: 0, top_p: 1, seed: 0, ...opts.mllm };
  const compose = await viaWorker('mllm.compose', mllm, composeItems);
  const caption = await viaWorker('mllm.caption', mllm, captionItems);
  const edit = await viaWorker('diffusion.edit', { seed: 0, ...opts.diffusion }, editItems);
  const embed = async (
    kind: 'embed.text' | 'embed.image',
    inputs: Record<string, StageManifest>,
  ): Promise<Matrix> => {
    const runner = kind === 'embed.text' ? dummyEmbedTextRunner : dummyEmbedImageRunner;
    const ctx = fakeCtx(store, kind, {}, inputs);
    const r = await runner(ctx);
    if (!r.ok)
      throw new Error(
        `${r.error.message}; ${JSON.stringify(ctx.failures.slice(0, 3))}; ${errors.slice(0, 3).join('; ')}`,
      );
    return readEmbedding(store, r.value.output);
  };
  const qText = await embed('embed.text', { texts: compose });
  const qImage = await embed('embed.image', { images: edit });
  const gImage = await embed('embed.image', { gallery: dsM });
  const gText = await embed('embed.text', { texts: caption });
  const out = ds.value.output as unknown as { queries: { sha256: string; size: number }; n_gallery: number };
  const qBytes = await store.read(out.queries);
  if (!qBytes.ok) throw new Error('queries missing');
  const queries = JSON.parse(Buffer.from(qBytes.value).toString('utf8')) as QueryRecord[];
  const truth = new Map(queries.map((q) => [q.id, { target: q.targets[0]!, reference: q.reference.id }]));
  const ks = opts.ks ?? [1, 10];
  const pairs: Record<Mode, [Matrix, Matrix]> = {
    t2i: [qText, gImage],
    i2i: [qImage, gImage],
    t2t: [qText, gText],
    i2t: [qImage, gText],
  };
  const recall = {} as DummyRun['recall'];
  for (const mode of Object.keys(pairs) as Mode[]) {
    const [q, g] = pairs[mode];
    recall[mode] = Object.fromEntries(ks.map((k) => [k, recallAtK(q, g, truth, k)]));
  }
  return { recall, nQueries: queries.length, nGallery: out.n_gallery, errors };
}
