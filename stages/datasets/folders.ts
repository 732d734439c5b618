/**
 * Where a dataset's files may be: every path taken from an annotation file must stay inside the
 * dataset root or its images folder. A downloaded annotation file naming `../../../../etc/hostname` (or
 * an absolute path) would otherwise make pefuse read, and once images go to an MLLM server upload, any
 * readable file on the machine. Both folders are resolved first, as given and through symlinks (a
 * symlinked images folder is a common, valid set-up); a record path is then checked lexically (no
 * per-image system call: CIRCO has 123K images), so a path that leaves the folders with `..` or names
 * an absolute path elsewhere is refused before any stage runs.
 */
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { DatasetError } from './errors.js';

export class DatasetFolders {
  readonly #allowed: string[];

  /** `root` and `images` as given (absolute or relative to the current directory). */
  constructor(
    readonly root: string,
    readonly images: string | null,
  ) {
    const forms = [root, ...(images === null ? [] : [images])].flatMap((d) => [resolve(d), real(d)]);
    this.#allowed = [...new Set(forms.filter((d): d is string => d !== null))];
  }

  /** True when `path` (absolute) is one of the folders or inside one. */
  contains(path: string): boolean {
    const p = resolve(path);
    return this.#allowed.some((dir) => {
      const rel = relative(dir, p);
      return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
    });
  }

  /** "the dataset root R" or "the dataset root R and the images folder I". */
  describe(): string {
    const root = `the dataset root ${resolve(this.root)}`;
    return this.images === null ? root : `${root} and the images folder ${resolve(this.images)}`;
  }
}

function real(dir: string): string | null {
  try {
    return realpathSync(dir);
  } catch {
    return null;
  }
}

/**
 * The record's path leaves the dataset's folders. `record` is the record's index (array files) or key
 * (object files); `field` the field the path came from.
 */
export function pathEscapes(
  file: string,
  record: number | string,
  field: string,
  path: string,
  folders: DatasetFolders,
): DatasetError {
  const where = typeof record === 'number' ? `record ${record}` : `record "${record}"`;
  return {
    kind: 'bad-record',
    file,
    ...(typeof record === 'number' ? { index: record } : {}),
    field,
    message:
      `${file}: ${where}, field "${field}": the image path ${path} leaves ${folders.describe()}; ` +
      'annotation files may only name images inside them (refused: check where this file came from)',
  };
}
