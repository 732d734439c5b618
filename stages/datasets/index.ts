/**
 * Benchmark loaders by name. Every loader reads annotation files only; image existence is checked
 * separately (`checkImages`) so that `pefuse evaluate` works without images.
 */
import type { JsonObject } from '../../runner/util/json.js';
import { type Result, unreachable } from '../../runner/util/result.js';
import { loadCirco } from './circo.js';
import { loadCirr } from './cirr.js';
import type { DatasetError } from './errors.js';
import { loadFashionIq } from './fashioniq.js';
import { loadGenecis } from './genecis.js';
import type { BenchmarkName, FashionIqCategory, GenecisTask, LoadedDataset, LoadOptions } from './types.js';

export type { DatasetError } from './errors.js';
export { checkImages, type ImageCheck } from './images.js';
export * from './types.js';

export async function loadDataset(opts: LoadOptions): Promise<Result<LoadedDataset, DatasetError>> {
  switch (opts.dataset) {
    case 'cirr':
      return loadCirr(opts);
    case 'circo':
      return loadCirco(opts);
    case 'fashioniq':
      return loadFashionIq(opts);
    case 'genecis':
      return loadGenecis(opts);
    default:
      return unreachable(opts.dataset, 'dataset');
  }
}

/** The load options of a planned dataset node (its params and settings), or null when it names no root. */
export function loadOptionsOf(params: JsonObject, settings: JsonObject): LoadOptions | null {
  const root = settings.root;
  if (typeof root !== 'string') return null;
  return {
    dataset: params.name as BenchmarkName,
    split: params.split === 'test' || params.split === 'test1' ? 'test' : 'val',
    root,
    ...(typeof params.category === 'string' ? { category: params.category as FashionIqCategory } : {}),
    ...(typeof params.task === 'string' ? { task: params.task as GenecisTask } : {}),
    ...(typeof settings.images === 'string' ? { imageRoot: settings.images } : {}),
  };
}
