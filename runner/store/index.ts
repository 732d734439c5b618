/**
 * The store's entry points: `openStore(root)` and `resolveCacheRoot(...)`. See types.ts for the
 * layout and the interfaces.
 */
import { isAbsolute, resolve } from 'node:path';
import { FileHistory } from './history.js';
import { FsItemCache } from './items.js';
import { FsObjectStore } from './objects.js';
import { FsStageStore } from './stages.js';
import type { Store } from './types.js';

export { collectGarbage } from './gc.js';
export { hashFile } from './objects.js';
export { collectRefs } from './refs.js';
export { MANIFEST_FORMAT } from './stages.js';

/** The concrete store (its parts expose a few extra helpers, e.g. `objects.verifiedPath`). */
export interface FsStore extends Store {
  readonly objects: FsObjectStore;
  readonly items: FsItemCache;
  readonly stages: FsStageStore;
  readonly history: FileHistory;
}

/** Opens the store at `root` (created lazily on first write). */
export function openStore(root: string): FsStore {
  const abs = resolve(root);
  return {
    root: abs,
    objects: new FsObjectStore(abs),
    items: new FsItemCache(abs),
    stages: new FsStageStore(abs),
    history: new FileHistory(abs),
  };
}

/** Store root: `--cache DIR` > `$PEFUSE_CACHE` > `./cache`, resolved against `cwd`. */
export function resolveCacheRoot(opts: {
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd: string;
}): string {
  const chosen = opts.flag || opts.env?.PEFUSE_CACHE || 'cache';
  return isAbsolute(chosen) ? chosen : resolve(opts.cwd, chosen);
}

/** Results DB: `--db FILE` > `<cache>/results.duckdb`. */
export function resolveDbFile(opts: { flag?: string | undefined; cacheRoot: string; cwd: string }): string {
  if (opts.flag) return isAbsolute(opts.flag) ? opts.flag : resolve(opts.cwd, opts.flag);
  return resolve(opts.cacheRoot, 'results.duckdb');
}
