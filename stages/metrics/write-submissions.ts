/**
 * Writing the submission files of `pefuse export` safely:
 * - the `--out` folder is created part by part (non-recursive `mkdir` from the nearest existing
 *   ancestor): Node's recursive mkdir loops forever on some paths (e.g. under /proc, where mkdir answers
 *   ENOENT for a parent that exists), and creating parts one by one lets every errno become a message;
 * - all files are written to temporary names in the folder first and only then renamed, so a CIRR
 *   submission is never left half-written (one new file beside one stale one).
 * Every problem is a message naming `--out` (the command prefixes it and exits 2).
 */
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nearestExisting } from '../../runner/util/nearest.js';
import { err, ok, type Result } from '../../runner/util/result.js';

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case undefined:
      return String(e);
    default:
      return code;
  }
}

async function kindOf(path: string): Promise<'dir' | 'other' | 'missing' | { error: unknown }> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'other';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    return { error: e };
  }
}

/** Makes sure `out` is a folder, creating the missing parts one by one. */
export async function ensureOutFolder(out: string): Promise<Result<void, string>> {
  const n = await nearestExisting(out);
  if (n.kind === 'error') return err(`--out ${out}: cannot inspect ${n.at} (${errnoText(n.error)})`);
  if (n.kind === 'file')
    return err(
      n.missing.length === 0
        ? `--out ${out}: is a file, not a folder; give a folder for the submission files`
        : `--out ${out}: ${n.at} is a file, not a folder, so the folder cannot be created there`,
    );
  for (const dir of n.missing) {
    try {
      await mkdir(dir);
    } catch (e) {
      // Someone else may have created it meanwhile; anything else is final.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && (await kindOf(dir)) === 'dir') continue;
      return err(`--out ${out}: cannot create the folder ${dir} (${errnoText(e)}); choose another --out`);
    }
  }
  return ok(undefined);
}

/** Writes `files` into `out` (which must exist) all-or-nothing; returns the final paths. */
export async function writeAllOrNothing(
  out: string,
  files: readonly { name: string; text: string }[],
): Promise<Result<string[], string>> {
  const finals = files.map((f) => join(out, f.name));
  for (const [i, path] of finals.entries()) {
    const k = await kindOf(path);
    if (k === 'dir')
      return err(
        `--out ${out}: ${files[i]!.name} is a folder, so the submission file cannot be written there; ` +
          'move it away or choose another --out',
      );
  }
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const temps = files.map((f) => join(out, `.${f.name}.${tag}.tmp`));
  const cleanup = async (paths: readonly string[]) => {
    for (const p of paths) await unlink(p).catch(() => undefined);
  };
  for (const [i, f] of files.entries()) {
    try {
      await writeFile(temps[i]!, f.text);
    } catch (e) {
      await cleanup(temps.slice(0, i + 1));
      return err(`--out ${out}: cannot write ${f.name} (${errnoText(e)}); nothing was written`);
    }
  }
  const renamed: string[] = [];
  for (const [i, f] of files.entries()) {
    try {
      await rename(temps[i]!, finals[i]!);
      renamed.push(finals[i]!);
    } catch (e) {
      await cleanup([...temps.slice(i), ...renamed]);
      return err(
        `--out ${out}: cannot write ${f.name} (${errnoText(e)}); no submission file was left behind`,
      );
    }
  }
  return ok(finals);
}
