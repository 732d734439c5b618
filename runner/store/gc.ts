/**
 * Garbage collection (`pefuse gc`). Keeps every reachable stage and everything it refers to:
 *
 * 1. Stage dirs whose key is not reachable are removed, unless a live process holds their lock
 *    (a running stage), or they were modified within the grace period (a concurrent `pefuse run` with
 *    other `--set` values may just have published them), or `olderThanDays` is set and the dir was
 *    modified more recently.
 * 2. Objects are kept when any remaining manifest or journal (the stage's own or a shard's) refers to them (a `{sha256, size}` pair at
 *    any depth of the JSON), or when they are younger than the grace period (a running `pefuse run`
 *    may have stored one and not journaled it yet); the rest are removed.
 * 3. Item-cache entries that refer to a removed or missing object are removed (unreadable ones too).
 * 4. Temp files and folders older than the grace period and quarantined corrupt objects are removed.
 *
 * With `dryRun` nothing is deleted and the same counts are returned ("would free").
 */
import { lstat, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { StageKey } from '../contract/stage.js';
import type { JsonValue } from '../util/json.js';
import { isErrno, SHA256_RE } from './fsutil.js';
import { parseJournal } from './journal.js';
import { collectRefs } from './refs.js';
import type { FsStageStore } from './stages.js';
import type { GcOptions, GcReport, Store } from './types.js';

const DEFAULT_GRACE_MS = 3_600_000;

export async function collectGarbage(store: Store, opts: GcOptions): Promise<GcReport> {
  const now = Date.now();
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  const cutoff =
    opts.olderThanDays === undefined ? Number.POSITIVE_INFINITY : now - opts.olderThanDays * 86_400_000;
  const report: GcReport = {
    stages: 0,
    objects: 0,
    items: 0,
    tmp: 0,
    bytes: 0,
    lockedSkipped: 0,
    removedStages: [],
  };
  const stages = store.stages as FsStageStore;

  // 1. Stages.
  const kept: StageKey[] = [];
  for (const key of await stages.list()) {
    if (opts.reachable.has(key)) {
      kept.push(key);
      continue;
    }
    const dir = stages.dirOf(key);
    const { bytes, newestMs } = await du(dir);
    if (newestMs > cutoff || now - newestMs < graceMs) {
      kept.push(key);
      continue;
    }
    if ((await stages.lockHolder(key)) !== null) {
      report.lockedSkipped++;
      kept.push(key);
      continue;
    }
    const kind = kindOf(await readJsonOrNull(join(dir, 'manifest.json')));
    if (!opts.dryRun) {
      // Take the lock so a runner cannot start this stage while we delete it.
      const lock = await stages.lock(key, { wait: false });
      if (lock === null) {
        report.lockedSkipped++;
        kept.push(key);
        continue;
      }
      await rm(dir, { recursive: true, force: true });
      await lock.release();
    }
    report.stages++;
    report.bytes += bytes;
    report.removedStages.push({ key, kind, bytes });
  }

  // 2. Objects.
  const live = new Set<string>();
  for (const key of kept) {
    const dir = stages.dirOf(key);
    const manifest = await readJsonOrNull(join(dir, 'manifest.json'));
    if (manifest !== undefined) collectRefs(manifest, live);
    // The orchestrator's journal and every shard journal: objects a shard computed are live too.
    for (const path of await stages.journalPaths(key)) {
      const journal = await readTextOrNull(path);
      if (journal !== null) for (const item of parseJournal(journal).items) collectRefs(item.output, live);
    }
  }
  const removed = new Set<string>();
  const present = new Set<string>();
  for (const { path, name, size, mtimeMs } of await listFiles(store.objects.root, 2)) {
    if (!SHA256_RE.test(name)) continue;
    const young = now - mtimeMs < graceMs || mtimeMs > cutoff;
    if (live.has(name) || young) {
      present.add(name);
      continue;
    }
    if (!opts.dryRun) await rm(path, { force: true });
    removed.add(name);
    report.objects++;
    report.bytes += size;
  }

  // 3. Item-cache entries whose objects are gone.
  for (const { path, size, mtimeMs } of await listFiles(join(store.root, 'items'), 2)) {
    if (now - mtimeMs < graceMs) continue;
    const entry = await readJsonOrNull(path);
    const refs = entry === undefined ? null : collectRefs(entry);
    const broken = refs === null || [...refs].some((s) => !present.has(s));
    if (!broken) continue;
    if (!opts.dryRun) await rm(path, { force: true });
    report.items++;
    report.bytes += size;
  }

  // 4. Temp files and quarantined objects.
  for (const sub of ['tmp', 'quarantine']) {
    for (const { path, size, mtimeMs } of await listFiles(join(store.root, sub), 1)) {
      if (sub === 'tmp' && now - mtimeMs < graceMs) continue;
      if (!opts.dryRun) await rm(path, { force: true });
      report.tmp++;
      report.bytes += size;
    }
  }
  // Temp folders (a scratch folder a crashed process left), by their newest content.
  const tmpRoot = join(store.root, 'tmp');
  for (const name of await readdir(tmpRoot).catch(() => [] as string[])) {
    const path = join(tmpRoot, name);
    if (!(await lstat(path).catch(() => null))?.isDirectory()) continue;
    const { bytes, newestMs } = await du(path);
    if (now - newestMs < graceMs) continue;
    if (!opts.dryRun) await rm(path, { recursive: true, force: true });
    report.tmp++;
    report.bytes += bytes;
  }
  return report;
}

interface FileInfo {
  path: string;
  name: string;
  size: number;
  mtimeMs: number;
}

/** Regular files exactly `depth` levels below `root` (objects/<aa>/<sha> is depth 2). */
async function listFiles(root: string, depth: number): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  async function walk(dir: string, level: number): Promise<void> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return;
      throw e;
    }
    for (const name of names) {
      const path = join(dir, name);
      const st = await lstat(path).catch(() => null);
      if (st === null) continue;
      if (level < depth) {
        if (st.isDirectory()) await walk(path, level + 1);
      } else if (st.isFile()) {
        out.push({ path, name, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
  }
  await walk(root, 1);
  return out;
}

/** Total bytes under a directory and the newest mtime in it. */
async function du(dir: string): Promise<{ bytes: number; newestMs: number }> {
  let bytes = 0;
  let newestMs = 0;
  async function walk(p: string): Promise<void> {
    const st = await lstat(p).catch(() => null);
    if (st === null) return;
    newestMs = Math.max(newestMs, st.mtimeMs);
    if (st.isDirectory()) {
      for (const name of await readdir(p).catch(() => [] as string[])) await walk(join(p, name));
    } else {
      bytes += st.size;
    }
  }
  await walk(dir);
  return { bytes, newestMs };
}

async function readTextOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return null;
    throw e;
  }
}

/** Parsed JSON, or undefined when missing or unreadable. */
async function readJsonOrNull(path: string): Promise<JsonValue | undefined> {
  const text = await readTextOrNull(path);
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return undefined;
  }
}

/** The stage kind a manifest records (null for a folder without a readable manifest). */
function kindOf(manifest: JsonValue | undefined): string | null {
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) return null;
  const record = manifest.record;
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return null;
  return typeof record.kind === 'string' ? record.kind : null;
}
