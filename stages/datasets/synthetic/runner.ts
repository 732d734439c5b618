/**
 * The `dataset` stage for `name: synthetic`: generates the benchmark under the store root (once per
 * parameter set), then publishes the query and gallery lists like any benchmark loader.
 *
 * Declared params: `{name: 'synthetic', split, seed, n_gallery, n_queries, limit?}` (defaults in
 * SYNTHETIC_DEFAULTS; `limit` keeps the first N queries). The output depends only on these and
 * SYNTHETIC_GENERATOR_VERSION.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { failure } from '../../../runner/contract/failure.js';
import type { StageRunner } from '../../../runner/contract/run.js';
import type { JsonObject } from '../../../runner/util/json.js';
import { err, ok } from '../../../runner/util/result.js';
import type { DatasetOutput } from '../../contracts.js';
import {
  checkSyntheticParams,
  generateSynthetic,
  SYNTHETIC_DEFAULTS,
  type SyntheticParams,
  syntheticParamsHash,
} from './generate.js';
import { loadSyntheticDataset } from './load.js';

/** Reads the declared params, filling defaults; a message names the bad field. */
export function syntheticParamsOf(params: JsonObject): SyntheticParams | string {
  const num = (k: 'seed' | 'n_gallery' | 'n_queries'): number | string => {
    const v = params[k];
    if (v === undefined || v === null) return SYNTHETIC_DEFAULTS[k];
    return typeof v === 'number' ? v : `${k} must be a number (got ${JSON.stringify(v)})`;
  };
  const seed = num('seed');
  const nGallery = num('n_gallery');
  const nQueries = num('n_queries');
  for (const v of [seed, nGallery, nQueries]) if (typeof v === 'string') return `synthetic dataset: ${v}`;
  const split = params.split ?? SYNTHETIC_DEFAULTS.split;
  if (typeof split !== 'string')
    return `synthetic dataset: split must be a string (got ${JSON.stringify(split)})`;
  const p: SyntheticParams = {
    seed: seed as number,
    split,
    n_gallery: nGallery as number,
    n_queries: nQueries as number,
  };
  const problem = checkSyntheticParams(p);
  return problem === null ? p : `synthetic dataset: ${problem}`;
}

/** Where the dataset for these params lives under the store root. */
export function syntheticDir(storeRoot: string, p: SyntheticParams): string {
  return join(storeRoot, 'datasets', `synthetic-${syntheticParamsHash(p).slice(0, 16)}`);
}

export const syntheticDatasetRunner: StageRunner = async (ctx) => {
  const { params } = ctx.node;
  if (params.name !== 'synthetic')
    return err(
      failure('not-implemented', `the synthetic loader cannot load dataset "${String(params.name)}"`, {
        retryable: false,
      }),
    );
  const p = syntheticParamsOf(params);
  if (typeof p === 'string') return err(failure('bad-input', p));
  const dir = syntheticDir(ctx.objects.root, p);
  const started = performance.now();
  if (!(await exists(join(dir, 'annotations.json')))) {
    const ann = await generateSynthetic(dir, p, { signal: ctx.signal });
    if (ann === null) return err(failure('cancelled', 'synthetic dataset generation was cancelled'));
    ctx.log(
      `synthetic: generated ${ann.gallery.length} images and ${ann.queries.length} queries in ${dir} ` +
        `(${((performance.now() - started) / 1000).toFixed(2)} s)`,
    );
  } else ctx.log(`synthetic: reusing ${dir}`);
  const loaded = await loadSyntheticDataset(dir);
  if (!loaded.ok) return err(failure('bad-input', loaded.error));
  const ds = loaded.value;
  // `limit` (optional, like the other loaders): keep the first N queries, the whole gallery.
  const limit = params.limit;
  if (limit !== undefined && limit !== null) {
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)
      return err(
        failure(
          'bad-input',
          `synthetic dataset: limit must be a positive integer (got ${JSON.stringify(limit)})`,
        ),
      );
    ds.queries = ds.queries.slice(0, limit);
  }
  const output: DatasetOutput = {
    dataset: 'synthetic',
    split: p.split,
    subset: null,
    queries: await ctx.objects.put(JSON.stringify(ds.queries)),
    gallery: await ctx.objects.put(JSON.stringify(ds.gallery)),
    n_queries: ds.queries.length,
    n_gallery: ds.gallery.length,
    missing_count: ds.missing.length,
    missing: ds.missing.slice(0, 5),
  };
  return ok({ output: output as unknown as JsonObject, device: 'cpu' });
};

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
