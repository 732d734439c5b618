/**
 * Benchmark loaders by name. Every loader reads annotation files only; image existence is checked
 * separately (`checkImages`) so that `pefuse evaluate` works without images.
 */
import { type Result, unreachable } from '../../runner/util/result.js';
import { loadCirco } from './circo.js';
import { loadCirr } from './cirr.js';
import type { DatasetError } from './errors.js';
import { loadFashionIq } from './fashioniq.js';
import { loadGenecis } from './genecis.js';
import type { LoadedDataset, LoadOptions } from './types.js';

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
