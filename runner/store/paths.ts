/**
 * Where the store and the results database are, from flags, environment and working folder. Kept apart
 * from the store itself so that commands can resolve paths without loading it.
 */
import { isAbsolute, resolve } from 'node:path';

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
