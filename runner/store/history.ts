/**
 * The planner's memory of earlier key records, so `plan` can say *why* a stage runs ("param
 * temperature changed", "input changed"). One JSONL file per experiment: `history/<experiment>.jsonl`,
 * lines `{role, at, record}`; compacted to the last HISTORY_CAP records per role when it grows.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyRecord } from '../contract/stage.js';
import { canonicalJson, isJsonObject, type JsonValue } from '../util/json.js';
import { isErrno, writeAtomic } from './fsutil.js';
import { HISTORY_CAP, type History } from './types.js';

interface Line {
  role: string;
  at: string;
  record: KeyRecord;
}

/** Compaction threshold: when the file holds more than this many lines per role on average. */
const COMPACT_FACTOR = 2;

export class FileHistory implements History {
  readonly root: string;
  private readonly tmpDir: string;

  constructor(storeRoot: string) {
    this.root = join(storeRoot, 'history');
    this.tmpDir = join(storeRoot, 'tmp');
  }

  pathOf(experiment: string): string {
    // Experiment names are user-chosen: keep them readable but filesystem-safe.
    const safe = experiment.replace(/[^0-9A-Za-z._-]/g, '_').slice(0, 120) || '_';
    return join(this.root, `${safe}.jsonl`);
  }

  append(experiment: string, role: string, record: KeyRecord): Promise<void> {
    return this.appendMany(experiment, [{ role, record }]);
  }

  async appendMany(
    experiment: string,
    entries: readonly { role: string; record: KeyRecord }[],
  ): Promise<void> {
    const path = this.pathOf(experiment);
    const lines = await this.readLines(path);
    // The latest record per role, made canonical once each (not every line of the file).
    const latest = new Map<string, KeyRecord>();
    for (const l of lines) latest.set(l.role, l.record);
    const last = new Map<string, string>();
    for (const [role, record] of latest) last.set(role, canonicalJson(record as unknown as JsonValue));
    const at = new Date().toISOString();
    const fresh: Line[] = [];
    for (const { role, record } of entries) {
      const c = canonicalJson(record as unknown as JsonValue);
      if (last.get(role) === c) continue;
      last.set(role, c);
      fresh.push({ role, at, record });
    }
    if (fresh.length === 0) return;
    const all = [...lines, ...fresh];
    if (all.length > COMPACT_FACTOR * HISTORY_CAP * last.size) {
      await writeAtomic(path, toText(compact(all)), this.tmpDir);
    } else {
      await mkdir(this.root, { recursive: true });
      await appendFile(path, toText(fresh));
    }
  }

  async read(experiment: string, role: string): Promise<KeyRecord[]> {
    const lines = await this.readLines(this.pathOf(experiment));
    return lines
      .filter((l) => l.role === role)
      .map((l) => l.record)
      .slice(-HISTORY_CAP);
  }

  private async readLines(path: string): Promise<Line[]> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return [];
      throw e;
    }
    const out: Line[] = [];
    for (const raw of text.split('\n')) {
      if (!raw) continue;
      try {
        const v: unknown = JSON.parse(raw);
        if (isJsonObject(v) && typeof v.role === 'string' && isJsonObject(v.record))
          out.push(v as unknown as Line);
      } catch {
        // A torn line from a crash: history is advisory, skip it.
      }
    }
    return out;
  }
}

function compact(lines: Line[]): Line[] {
  const count = new Map<string, number>();
  const keep: Line[] = [];
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!;
    const n = count.get(l.role) ?? 0;
    if (n >= HISTORY_CAP) continue;
    count.set(l.role, n + 1);
    keep.push(l);
  }
  return keep.reverse();
}

function toText(lines: Line[]): string {
  return lines.map((l) => `${JSON.stringify(l)}\n`).join('');
}
