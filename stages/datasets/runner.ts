/**
 * The `dataset` stage for the four benchmarks: load the annotation files, check that every referenced
 * image exists (before any expensive stage runs), and publish the query and gallery lists. A missing
 * image fails the stage with the count and the first few paths: numbers computed on a partial gallery
 * would silently differ from the paper's.
 */
import { isAbsolute } from 'node:path';
import { failure } from '../../runner/contract/failure.js';
import type { StageRunner } from '../../runner/contract/run.js';
import type { JsonObject } from '../../runner/util/json.js';
import { err, ok } from '../../runner/util/result.js';
import type { DatasetOutput } from '../contracts.js';
import { checkImages } from './images.js';
import { loadDataset, loadOptionsOf } from './index.js';

export const benchmarkDatasetRunner: StageRunner = async (ctx) => {
  const p = ctx.node.params;
  const root = ctx.node.settings.root;
  if (typeof root !== 'string' || !isAbsolute(root))
    return err(
      failure(
        'input-missing',
        `dataset ${String(p.name)}: no root folder is set (datasets[…].root in the spec)`,
      ),
    );
  const opts = loadOptionsOf(p, ctx.node.settings)!;
  const loaded = await loadDataset(opts);
  if (!loaded.ok)
    return err(
      failure(loaded.error.kind === 'file-missing' ? 'input-missing' : 'bad-input', loaded.error.message, {
        retryable: false,
      }),
    );
  const ds = loaded.value;
  for (const w of ds.warnings) ctx.log(`warning: ${w}`);
  if (typeof p.limit === 'number' && p.limit < ds.queries.length) {
    ctx.log(`using the first ${p.limit} of ${ds.queries.length} queries (limit)`);
    ds.queries = ds.queries.slice(0, p.limit);
  }
  const images = await checkImages(ds, { limit: 5 });
  if (images.missing_count > 0)
    return err(
      failure(
        'input-missing',
        `${images.missing_count} image${images.missing_count === 1 ? ' is' : 's are'} missing under ${opts.imageRoot ?? root} (first: ${images.missing.join(', ')})`,
        {
          retryable: false,
          detail: 'download the images into the official layout, or set datasets[…].images',
        },
      ),
    );
  const output: DatasetOutput = {
    dataset: ds.dataset,
    split: p.split === 'test1' ? 'test1' : ds.split,
    subset: ds.subset,
    queries: await ctx.objects.put(JSON.stringify(ds.queries)),
    gallery: await ctx.objects.put(JSON.stringify(ds.gallery)),
    n_queries: ds.queries.length,
    n_gallery: ds.gallery.length,
    missing_count: 0,
    missing: [],
  };
  ctx.log(
    `${ds.dataset} ${ds.split}${ds.subset ? `/${ds.subset}` : ''}: ${ds.queries.length} queries, ${ds.gallery.length} gallery images`,
  );
  return ok({ output: output as unknown as JsonObject, device: 'cpu' });
};
