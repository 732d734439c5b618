/**
 * Per-stage state under `stages/<key>/`: `manifest.json` (published, written last and atomically),
 * `journal.jsonl` (items finished so far by the orchestrator), `lock/` (who is computing it), and for
 * a stage computed in shards by other processes: `description.json` (the stage as data) and
 * `shards/journal.<i>-of-<n>.jsonl` (one journal per shard: several processes, no shared writer).
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DESCRIPTION_FILE, parseDescription, type StageDescription } from '../contract/description.js';
import { type Failure, failure } from '../contract/failure.js';
import type { StagePart } from '../contract/shard.js';
import type { StageKey } from '../contract/stage.js';
import { isJsonObject } from '../util/json.js';
import { err, ok, type Result } from '../util/result.js';
import { isErrno, SHA256_RE, writeAtomic } from './fsutil.js';
import { FileJournal, parseJournal } from './journal.js';
import { acquireLock, DEFAULT_STALE_MS, liveHolder } from './lock.js';
import type {
  ItemRecord,
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
      // Synchronous: a manifest is small, and planning reads one per stage (tens of thousands in big
      // sweeps); four thread-pool round trips per file cost more than the read itself.
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return ok(null);
      throw e;
    }
    const parsed = parseManifest(text, key);
    if (typeof parsed !== 'string') return ok(parsed);
    const problem = parsed;
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
    await rm(this.shardsDir(manifest.key), { recursive: true, force: true });
  }

  shardsDir(key: StageKey): string {
    return join(this.dirOf(key), 'shards');
  }

  shardJournal(key: StageKey, part: StagePart): StageJournal {
    return new FileJournal(join(this.shardsDir(key), `journal.${part.shard}-of-${part.of}.jsonl`));
  }

  async journalPaths(key: StageKey): Promise<string[]> {
    const shards = await readdir(this.shardsDir(key)).catch((e: unknown) => {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return [] as string[];
      throw e;
    });
    return [
      join(this.dirOf(key), 'journal.jsonl'),
      ...shards
        .filter((n) => n.startsWith('journal.') && n.endsWith('.jsonl'))
        .sort()
        .map((n) => join(this.shardsDir(key), n)),
    ];
  }

  async readJournals(key: StageKey): Promise<{ items: ItemRecord[]; dropped: number }> {
    const byId = new Map<string, ItemRecord>();
    let dropped = 0;
    for (const path of await this.journalPaths(key)) {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        if (isErrno(e, 'ENOENT')) continue;
        throw e;
      }
      const parsed = parseJournal(text);
      dropped += parsed.dropped;
      for (const item of parsed.items) if (!byId.has(item.id)) byId.set(item.id, item);
    }
    return { items: [...byId.values()], dropped };
  }

  async writeDescription(d: StageDescription): Promise<string> {
    const path = join(this.dirOf(d.key), DESCRIPTION_FILE);
    await writeAtomic(path, `${JSON.stringify(d, null, 1)}\n`, this.tmpDir);
    return path;
  }

  async readDescription(key: StageKey): Promise<Result<StageDescription, string>> {
    const path = join(this.dirOf(key), DESCRIPTION_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT'))
        return err(`no stage description at ${path} (the orchestrator writes it before it starts shards)`);
      throw e;
    }
    const d = parseDescription(text, key);
    return d.ok ? d : err(`${path} is not a usable stage description: ${d.error}`);
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

/** The manifest a text holds for `key` (parsed once), or why it is not a valid one. */
function parseManifest(text: string, key: StageKey): StageManifest | string {
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
  return v as unknown as StageManifest;
}
