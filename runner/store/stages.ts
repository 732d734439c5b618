/**
 * Per-stage state under `stages/<key>/`: `manifest.json` (published, written last and atomically),
 * `journal.jsonl` (items finished so far) and `lock/` (who is computing it).
 */
import { readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { type Failure, failure } from '../exec/failure.js';
import type { StageKey } from '../plan/stage.js';
import { isJsonObject } from '../util/json.js';
import { err, ok, type Result } from '../util/result.js';
import { isErrno, SHA256_RE, writeAtomic } from './fsutil.js';
import { FileJournal } from './journal.js';
import { acquireLock, DEFAULT_STALE_MS, liveHolder } from './lock.js';
import type {
  LockHandle,
  LockHolder,
  LockOptions,
  StageJournal,
  StageManifest,
  StageStore,
} from './types.js';

export const MANIFEST_FORMAT = 'pefuse-stage/1';

export class FsStageStore implements StageStore {
  readonly root: string;
  private readonly tmpDir: string;
  private readonly journals = new Map<string, FileJournal>();

  constructor(storeRoot: string) {
    this.root = join(storeRoot, 'stages');
    this.tmpDir = join(storeRoot, 'tmp');
  }

  dirOf(key: StageKey): string {
    if (!SHA256_RE.test(key)) throw new Error(`not a stage key: ${JSON.stringify(key)}`);
    return join(this.root, key);
  }

  manifestPath(key: StageKey): string {
    return join(this.dirOf(key), 'manifest.json');
  }

  lockDir(key: StageKey): string {
    return join(this.dirOf(key), 'lock');
  }

  async readManifest(key: StageKey): Promise<Result<StageManifest | null, Failure>> {
    const path = this.manifestPath(key);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return ok(null);
      throw e;
    }
    const problem = manifestProblem(text, key);
    if (problem === null) return ok(JSON.parse(text) as StageManifest);
    return err(
      failure(
        'cache-corrupt',
        `stage ${key.slice(0, 12)}: manifest is unreadable (${problem}); the stage will be recomputed`,
        {
          detail: path,
        },
      ),
    );
  }

  async isPublished(key: StageKey): Promise<boolean> {
    const r = await this.readManifest(key);
    return r.ok && r.value !== null;
  }

  async publish(manifest: StageManifest): Promise<void> {
    if (manifest.format !== MANIFEST_FORMAT)
      throw new Error(`publish: unknown manifest format ${manifest.format}`);
    await writeAtomic(this.manifestPath(manifest.key), `${JSON.stringify(manifest)}\n`, this.tmpDir);
    await this.journal(manifest.key).remove();
    this.journals.delete(manifest.key);
  }

  async withdraw(key: StageKey): Promise<boolean> {
    try {
      await rename(this.manifestPath(key), join(this.dirOf(key), 'manifest.withdrawn.json'));
      return true;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return false;
      throw e;
    }
  }

  journal(key: StageKey): StageJournal {
    let j = this.journals.get(key);
    if (!j) {
      j = new FileJournal(join(this.dirOf(key), 'journal.jsonl'));
      this.journals.set(key, j);
    }
    return j;
  }

  lock(key: StageKey, opts: LockOptions): Promise<LockHandle | null> {
    return acquireLock(key, this.lockDir(key), opts);
  }

  lockHolder(key: StageKey, staleMs = DEFAULT_STALE_MS): Promise<LockHolder | null> {
    return liveHolder(this.lockDir(key), staleMs);
  }

  async list(): Promise<StageKey[]> {
    try {
      const names = await readdir(this.root);
      return names.filter((n) => SHA256_RE.test(n)).sort() as StageKey[];
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return [];
      throw e;
    }
  }
}

/** Why a manifest text is not a valid manifest for `key`, or null when it is. */
function manifestProblem(text: string, key: StageKey): string | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  if (!isJsonObject(v)) return 'not a JSON object';
  if (v.format !== MANIFEST_FORMAT)
    return `format ${JSON.stringify(v.format)} instead of "${MANIFEST_FORMAT}"`;
  if (v.key !== key) return 'key does not match its directory';
  if (!Array.isArray(v.items) || !isJsonObject(v.record)) return 'items or record missing';
  return null;
}
