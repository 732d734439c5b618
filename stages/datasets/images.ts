/**
 * Image existence check, run before any expensive stage (so a missing download is reported up front,
 * not after an hour of MLLM calls). Lists each folder once instead of one `stat` per image (CIRCO has
 * ~123K gallery images).
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { LoadedDataset } from './types.js';

export interface ImageCheck {
  /** How many distinct image files referenced by the queries and the gallery are missing. */
  missing_count: number;
  /** The first `limit` missing paths, in dataset order (queries' references first, then the gallery). */
  missing: string[];
}

export async function checkImages(loaded: LoadedDataset, opts: { limit?: number } = {}): Promise<ImageCheck> {
  const limit = opts.limit ?? 10;
  const paths: string[] = [];
  const seen = new Set<string>();
  const add = (p: string) => {
    if (!seen.has(p)) {
      seen.add(p);
      paths.push(p);
    }
  };
  for (const q of loaded.queries) add(q.reference.path);
  for (const g of loaded.gallery) add(g.path);

  const listings = new Map<string, Promise<Set<string> | null>>();
  const listing = (dir: string) => {
    let l = listings.get(dir);
    if (l === undefined) {
      l = readdir(dir).then(
        (names) => new Set(names),
        () => null,
      );
      listings.set(dir, l);
    }
    return l;
  };
  const missing: string[] = [];
  let count = 0;
  for (const p of paths) {
    const names = await listing(dirname(p));
    if (names?.has(basename(p))) continue;
    count++;
    if (missing.length < limit) missing.push(p);
  }
  return { missing_count: count, missing };
}
