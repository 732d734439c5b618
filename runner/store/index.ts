/**
 * The store's entry points: `openStore(root)` and `resolveCacheRoot(...)`. See types.ts for the
 * layout and the interfaces.
 */
import { resolve } from 'node:path';
import { FileHistory } from './history.js';
import { FsItemCache } from './items.js';
import { FsObjectStore } from './objects.js';
import { FsStageStore } from './stages.js';
import type { Store } from './types.js';

export { collectGarbage } from './gc.js';
export { hashFile } from './objects.js';
export { resolveCacheRoot, resolveDbFile } from './paths.js';
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
