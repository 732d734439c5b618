/**
 * The stage journal (`stages/<key>/journal.jsonl`): one line per finished item,
 * `<16 hex of sha256(json)> <json>\n`. A crash can leave a torn last line (no newline, or a checksum
 * that does not match); reading drops such lines and keeps every valid line, before or after them.
 *
 * Appends are group-committed: while one write + fsync is in flight, further items queue and go into
 * the next write. Each `append` resolves only once its line is on disk.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isJsonObject, sha256Hex } from '../util/json.js';
import { isErrno } from './fsutil.js';
import type { ItemRecord, StageJournal } from './types.js';

interface Pending {
  line: string;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export function journalLine(item: ItemRecord): string {
  const json = JSON.stringify(item);
  return `${sha256Hex(json).slice(0, 16)} ${json}\n`;
}

/** Parses journal text; returns the valid items (last per id wins, first-seen order) and the dropped count. */
export function parseJournal(text: string): { items: ItemRecord[]; dropped: number } {
  const byId = new Map<string, ItemRecord>();
  let dropped = 0;
  const lines = text.split('\n');
  // A final segment without "\n" is torn unless it is empty.
  const complete = text.endsWith('\n') ? lines.slice(0, -1) : lines;
  complete.forEach((line, i) => {
    const torn = !text.endsWith('\n') && i === complete.length - 1;
    const item = torn ? null : parseLine(line);
    if (item === null) {
      if (line.length > 0) dropped++;
      return;
    }
    byId.delete(item.id);
    byId.set(item.id, item);
  });
  return { items: [...byId.values()], dropped };
}

function parseLine(line: string): ItemRecord | null {
  const sp = line.indexOf(' ');
  if (sp !== 16) return null;
  const json = line.slice(17);
  if (sha256Hex(json).slice(0, 16) !== line.slice(0, 16)) return null;
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return null;
  }
  if (!isJsonObject(v) || typeof v.id !== 'string' || typeof v.seconds !== 'number' || !('output' in v))
    return null;
  return v as unknown as ItemRecord;
}

export class FileJournal implements StageJournal {
  private queue: Pending[] = [];
  private writing = false;
  /** Whether we already made sure the file ends with a newline (a torn line from a crash). */
  private checkedTail = false;

  constructor(readonly path: string) {}

  async read(): Promise<ItemRecord[]> {
    return (await this.readDetailed()).items;
  }

  async readDetailed(): Promise<{ items: ItemRecord[]; dropped: number }> {
    try {
      return parseJournal(await readFile(this.path, 'utf8'));
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return { items: [], dropped: 0 };
      throw e;
    }
  }

  append(item: ItemRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line: journalLine(item), resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  async remove(): Promise<void> {
    while (this.writing) await new Promise((r) => setTimeout(r, 5));
    this.checkedTail = false;
    await rm(this.path, { force: true });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.write(batch.map((p) => p.line).join(''));
          for (const p of batch) p.resolve();
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private async write(text: string): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const fh = await open(this.path, 'a+');
    try {
      if (!this.checkedTail) {
        // A crash mid-line leaves no newline; start on a fresh line so our first line is not torn too.
        const { size } = await fh.stat();
        if (size > 0) {
          const last = Buffer.alloc(1);
          await fh.read(last, 0, 1, size - 1);
          if (last[0] !== 0x0a) text = `\n${text}`;
        }
        this.checkedTail = true;
      }
      await fh.appendFile(text);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }
}
