/**
 * The cache directory is the user's input like a spec is: a path that is a file, or a disk mounted
 * read-only, must be a one-line message with a fix (exit 2), found before any planning or stage starts,
 * not an ENOTDIR/EROFS deep inside a run.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { nearestExisting } from '../util/nearest.js';
import { CliExit, EXIT_USAGE } from './io.js';

const FIX = 'pass --cache DIR (or set PEFUSE_CACHE) to';

/**
 * Checks `root` for a command. `write`: the command will write (run, gc); the folder, or the nearest
 * existing parent it will be created in, must be writable.
 */
export async function checkCacheDir(command: string, root: string, write: boolean): Promise<void> {
  const fail = (text: string) => new CliExit(EXIT_USAGE, `pefuse ${command}: ${text}`);
  const n = await nearestExisting(root);
  if (n.kind === 'error')
    throw fail(`cannot use the cache ${root}: ${n.at}: ${n.error.code ?? n.error.message}; ${FIX} a folder`);
  if (n.kind === 'file')
    throw fail(
      n.missing.length === 0
        ? `the cache ${root} is a file, not a directory; ${FIX} a folder`
        : `cannot create the cache ${root}: ${n.at} is a file; ${FIX} a folder`,
    );
  if (!write) return;
  const denied = await access(n.at, constants.W_OK).catch((e: NodeJS.ErrnoException) => e);
  if (denied instanceof Error) {
    const why = denied.code === 'EROFS' ? 'is on a read-only file system' : 'is not writable';
    const what =
      n.missing.length === 0 ? `the cache ${root}` : `${n.at} (where the cache ${root} would be created)`;
    throw fail(`${what} ${why}; ${FIX} a writable folder`);
  }
}
