/**
 * The per-item cache: `items/<aa>/<itemkey>.json` → `{key, output, check}`. Shared by every stage that
 * computes the same item (same stage identity, item id and input content). An unreadable entry, or one
 * naming an object that is no longer in the store (quarantined as corrupt, or deleted by hand), is
 * deleted and reported as a miss: the item is simply recomputed.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, isJsonObject, type JsonValue, sha256Hex } from '../util/json.js';
import { isErrno, statOrNull, writeAtomic } from './fsutil.js';
import { collectRefs } from './refs.js';
import type { ItemCache } from './types.js';

const ITEM_KEY_RE = /^[0-9A-Za-z_-]{8,128}$/;

export class FsItemCache implements ItemCache {
  readonly root: string;
  private readonly tmpDir: string;
  private readonly objectsDir: string;

  constructor(storeRoot: string) {
    this.root = join(storeRoot, 'items');
    this.tmpDir = join(storeRoot, 'tmp');
    this.objectsDir = join(storeRoot, 'objects');
  }

  pathOf(itemKey: string): string {
    if (!ITEM_KEY_RE.test(itemKey)) throw new Error(`not an item key: ${JSON.stringify(itemKey)}`);
    return join(this.root, itemKey.slice(0, 2), `${itemKey}.json`);
  }

  async get(itemKey: string): Promise<JsonValue | undefined> {
    const path = this.pathOf(itemKey);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
    const output = parseEntry(text, itemKey);
    if (output === undefined || !(await this.objectsPresent(output))) {
      await rm(path, { force: true });
      return undefined;
    }
    return output;
  }

  /** Every object the entry names is still in the store (a stat each; the reader verifies content). */
  private async objectsPresent(output: JsonValue): Promise<boolean> {
    for (const sha of collectRefs(output)) {
      if ((await statOrNull(join(this.objectsDir, sha.slice(0, 2), sha))) === null) return false;
    }
    return true;
  }

  async put(itemKey: string, output: JsonValue): Promise<void> {
    const entry = { key: itemKey, output, check: checkOf(output) };
    await writeAtomic(this.pathOf(itemKey), `${JSON.stringify(entry)}\n`, this.tmpDir);
  }
}

function checkOf(output: JsonValue): string {
  return sha256Hex(canonicalJson(output)).slice(0, 16);
}

/** The entry's output, or undefined when the file is not a valid entry for this key. */
export function parseEntry(text: string, itemKey: string): JsonValue | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isJsonObject(v) || v.key !== itemKey || !('output' in v)) return undefined;
  const output = v.output as JsonValue;
  return v.check === checkOf(output) ? output : undefined;
}
