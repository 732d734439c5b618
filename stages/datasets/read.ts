/**
 * Reading annotation files: bytes are kept for the content hash (what the stage key depends on), JSON
 * problems become `DatasetError`s naming the file.
 */
import { createHash, type Hash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { err, ok, type Result } from '../../runner/util/result.js';
import { badJson, type DatasetError, fileMissing, recordError } from './errors.js';

/** Hashes the files a loader read, in the order it read them (see `LoadedDataset.contentHash`). */
export class ContentHasher {
  readonly files: string[] = [];
  readonly #hash: Hash = createHash('sha256');

  constructor(readonly root: string) {}

  add(file: string, bytes: Uint8Array): void {
    this.files.push(file);
    const name = relative(this.root, file).split('\\').join('/');
    this.#hash.update(`${name}\0${bytes.byteLength}\0`);
    this.#hash.update(bytes);
  }

  digest(): string {
    return this.#hash.digest('hex');
  }
}

/** Reads and parses one JSON file; `what` says what the file is, for the "not found" message. */
export async function readJson(
  file: string,
  what: string,
  hasher: ContentHasher,
): Promise<Result<unknown, DatasetError>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return err(fileMissing(file, what));
    return err({ kind: 'file-missing', file, message: `${file}: cannot be read (${code ?? String(e)})` });
  }
  hasher.add(file, bytes);
  try {
    return ok(JSON.parse(bytes.toString('utf8')) as unknown);
  } catch (e) {
    return err(badJson(file, e instanceof Error ? e.message : String(e)));
  }
}

/** The top-level value must be an array of records. */
export function expectArray(file: string, v: unknown): Result<unknown[], DatasetError> {
  if (Array.isArray(v)) return ok(v);
  return err(recordError(file, null, '(top level)', `expected a JSON array of records, got ${kindOf(v)}`));
}

/**
 * An annotation file with no records (`[]` or `{}`) would give all-zero metrics (n = 0): refuse it.
 * `what` names the records ("queries", "images").
 */
export function expectNonEmpty(file: string, count: number, what: string): Result<void, DatasetError> {
  if (count > 0) return ok(undefined);
  return err({
    kind: 'bad-record',
    file,
    field: '(top level)',
    message: `${file}: holds no ${what} (an empty JSON array or object); check that --data-root points at the official annotation files`,
  });
}

/** The top-level value must be an object. */
export function expectObject(file: string, v: unknown): Result<Record<string, unknown>, DatasetError> {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return ok(v as Record<string, unknown>);
  return err(recordError(file, null, '(top level)', `expected a JSON object, got ${kindOf(v)}`));
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
