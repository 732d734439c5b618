/**
 * The cache directory is the user's input like a spec is: a path that is a file, or a disk mounted
 * read-only, must be a one-line message with a fix (exit 2), found before any planning or stage starts,
 * not an ENOTDIR/EROFS deep inside a run.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CliExit, EXIT_USAGE } from './io.js';

/**
 * Checks `root` for a command. `write`: the command will write (run, gc); the folder, or the nearest
 * existing parent it will be created in, must be writable.
 */
export async function checkCacheDir(command: string, root: string, write: boolean): Promise<void> {
  let probe = root;
  for (;;) {
    const st = await stat(probe).catch((e: NodeJS.ErrnoException) => e);
    if (!(st instanceof Error)) {
      if (!st.isDirectory())
        throw new CliExit(
          EXIT_USAGE,
          probe === root
            ? `pefuse ${command}: the cache ${root} is a file, not a directory; pass --cache DIR (or set PEFUSE_CACHE) to a folder`
            : `pefuse ${command}: cannot create the cache ${root}: ${probe} is a file; pass --cache DIR (or set PEFUSE_CACHE) to a folder`,
        );
      break;
    }
    if (st.code === 'ENOTDIR')
      throw new CliExit(
        EXIT_USAGE,
        `pefuse ${command}: cannot use the cache ${root}: a parent of it is a file; pass --cache DIR (or set PEFUSE_CACHE) to a folder`,
      );
    if (st.code !== 'ENOENT') throw st;
    const up = dirname(probe);
    if (up === probe) break;
    probe = up;
  }
  if (!write) return;
  const denied = await access(probe, constants.W_OK).catch((e: NodeJS.ErrnoException) => e);
  if (denied instanceof Error) {
    const why = denied.code === 'EROFS' ? 'is on a read-only file system' : 'is not writable';
    const what = probe === root ? `the cache ${root}` : `${probe} (where the cache ${root} would be created)`;
    throw new CliExit(
      EXIT_USAGE,
      `pefuse ${command}: ${what} ${why}; pass --cache DIR (or set PEFUSE_CACHE) to a writable folder`,
    );
  }
}
