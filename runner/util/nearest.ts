/**
 * Walks up from a path to the nearest part that exists: what a command needs to know before it creates
 * a folder (`--cache`, `export --out`) so that "is a file", "read-only" or "permission denied" become
 * one clear message, and so that folders can be created part by part (Node's recursive mkdir loops
 * forever on some paths, e.g. under /proc).
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export type Nearest =
  /** `at` is `path` itself or its nearest existing ancestor; `missing` are the parts below it, outermost first. */
  | { kind: 'dir' | 'file'; at: string; missing: string[] }
  /** A part could not be inspected (e.g. EACCES on a parent). */
  | { kind: 'error'; at: string; error: NodeJS.ErrnoException };

export async function nearestExisting(path: string): Promise<Nearest> {
  const missing: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      const st = await stat(at);
      return { kind: st.isDirectory() ? 'dir' : 'file', at, missing };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      // ENOTDIR: a part above is a file; keep walking up to name it.
      if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') return { kind: 'error', at, error: err };
    }
    missing.unshift(at);
    const up = dirname(at);
    if (up === at)
      return {
        kind: 'error',
        at,
        error: Object.assign(new Error('no part of the path exists'), { code: 'ENOENT' }),
      };
    at = up;
  }
}
