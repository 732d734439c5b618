/**
 * `--db FILE` is user input like a spec: a folder, a path under a file, or an unwritable place is a
 * one-line message (the command exits 2) found before anything runs, not an "Is a directory" from
 * DuckDB at the end of a run.
 */
import { constants } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { nearestExisting } from '../util/nearest.js';

const FIX = 'pass --db FILE to use another file';

/**
 * What is wrong with `file` as the results database, or null. `write`: the command will create or
 * write it (`run`), so the file, or the nearest existing folder it would be created in, must be writable.
 */
export async function dbFileProblem(file: string, write: boolean): Promise<string | null> {
  const st = await stat(file).catch(() => null);
  if (st?.isDirectory())
    return `the results database ${file} is a folder, not a file; pass the file itself, e.g. --db ${join(file, 'results.duckdb')}`;
  if (st && !st.isFile()) return `the results database ${file} is not a regular file; ${FIX}`;
  // An existing file that is not a DuckDB database (say, a spec passed to --db by mistake) must never
  // be written, nor called "damaged" with advice to delete it. A `.duckdb` file without the header is
  // a damaged database, which DuckDB reports with that advice.
  if (st && st.size > 0 && !/\.(duckdb|db)$/i.test(file) && !(await isDuckDbFile(file)))
    return `${file} is not a DuckDB database (no DuckDB header): it cannot be the results database; ${FIX}`;
  if (!write) return null;
  const n = await nearestExisting(file);
  if (n.kind === 'error')
    return `cannot use the results database ${file}: ${n.at}: ${n.error.code ?? n.error.message}; ${FIX}`;
  if (n.kind === 'file' && n.missing.length > 0)
    return `cannot create the results database ${file}: ${n.at} is a file, not a folder; ${FIX}`;
  const denied = await access(n.at, constants.W_OK).catch((e: NodeJS.ErrnoException) => e);
  if (denied instanceof Error) {
    const why = denied.code === 'EROFS' ? 'is on a read-only file system' : 'is not writable';
    const what =
      n.missing.length === 0
        ? `the results database ${file}`
        : `${n.at} (where the results database ${file} would be created)`;
    return `${what} ${why}; ${FIX}`;
  }
  return null;
}

/** DuckDB files carry the magic bytes "DUCK" at offset 8. */
async function isDuckDbFile(file: string): Promise<boolean> {
  const fh = await open(file, 'r').catch(() => null);
  if (!fh) return true; // unreadable: let DuckDB report it
  try {
    const buf = Buffer.alloc(12);
    const { bytesRead } = await fh.read(buf, 0, 12, 0);
    return bytesRead < 12 ? false : buf.subarray(8, 12).toString('latin1') === 'DUCK';
  } finally {
    await fh.close();
  }
}
