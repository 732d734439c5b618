/**
 * Opening the DuckDB file the single-writer way: open → one transaction → close, retrying while
 * another process holds the file, and batching calls that arrive meanwhile (group commit).
 *
 * `@duckdb/node-api` is imported lazily so commands that never touch the DB start fast.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { err, ok } from '../util/result.js';
import { dbIdentity } from './deferred.js';
import { duckdb } from './duck.js';
import type { ResultsError, ResultsResult } from './types.js';

export type Op<T> = (conn: DuckDBConnection) => Promise<T>;

interface Queued {
  op: Op<unknown>;
  write: boolean;
  resolve: (r: ResultsResult<unknown>) => void;
}

const LOCK_RE = /Could not set lock on file|Conflicting lock is held/i;

/** Whether a DuckDB error is the "another process has this file open" error. */
export function isLockError(e: unknown): boolean {
  return e instanceof Error && LOCK_RE.test(e.message);
}

const DAMAGED_RE =
  /not a valid DuckDB database file|Could not read enough bytes|Corrupt database|does not match stored checksum|Failed to load metadata/i;

/**
 * The advice appended to an error that means the file itself is damaged (truncated copy, disk trouble):
 * the store is the source of truth, so deleting the file and re-running loses nothing.
 */
export function damagedHint(file: string, e: unknown): string {
  return isDamaged(e)
    ? `; the results database is damaged: delete ${file} and re-run your specs (everything is cached, results are recorded again)`
    : '';
}

function isDamaged(e: unknown): boolean {
  return e instanceof Error && DAMAGED_RE.test(e.message);
}

/** DuckDB's message on one line (some carry a stack-like tail after a newline). */
function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
}

/**
 * The lock message as a user should read it. `waitedMs` is the wait the user allowed (`--wait`, the
 * lock timeout), not a measured time, so the message does not depend on how busy the machine was.
 */
export function lockMessage(file: string, e: unknown, waitedMs: number): string {
  const m = e instanceof Error ? /PID (\d+)/.exec(e.message) : null;
  const who = m ? `another process (pid ${m[1]})` : 'another process';
  return (
    `results database ${file} is locked by ${who}, probably a running \`pefuse run\`; ` +
    `gave up after ${Number((waitedMs / 1000).toFixed(1))} s. Wait for it to finish, or pass --db FILE to use another file.`
  );
}

export interface DbSessionOptions {
  file: string;
  readOnly: boolean;
  keepOpen: boolean;
  lockTimeoutMs: number;
  /**
   * How long the file stays open after a batch, waiting for the next one (opening and closing cost
   * ≈100 ms on a small VM). Other processes wait at most this long plus one batch.
   */
  lingerMs: number;
  /**
   * Runs on every read-write open: migrates the file to the latest schema and replaces the views.
   * Returns a problem for the user (a file written by a newer pefuse), or null.
   */
  init?: (conn: DuckDBConnection) => Promise<string | null>;
  /**
   * Read-only opens: whether the file has the latest schema. An outdated file is migrated once (a short
   * read-write open) before it is read; a file from a newer pefuse is refused with the message returned.
   */
  schemaState?: (conn: DuckDBConnection) => Promise<'current' | 'outdated' | string>;
  /**
   * Read-only opens: whether writes wait for the next read-write open (runs a fully cached re-run left,
   * see deferred.ts). Then one short read-write open records them first; if that fails (a read-only
   * file), the file is read as it is.
   */
  pendingWrites?: () => boolean;
  /**
   * After that short read-write open (which only migrates and records waiting runs): the file's
   * identity when it was opened and when it was closed, so a proof of what it holds can follow it.
   */
  afterUpgrade?: (opened: string | null, closed: string | null) => Promise<void>;
}

/** Serialises every use of the file through one queue; each drain is one open + one transaction. */
export class DbSession {
  private queue: Queued[] = [];
  private drainPromise: Promise<void> | null = null;
  private instance: DuckDBInstance | null = null;
  private conn: DuckDBConnection | null = null;
  private initialised = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  /**
   * Set once a batch gave up on the lock: later batches try once instead of waiting again, so a file
   * held for good costs a run one wait in all, not one per batch.
   */
  private gaveUp = false;
  /** Read-only sessions: whether waiting writes were looked for (once per session). */
  private pendingChecked = false;

  constructor(private readonly opts: DbSessionOptions) {}

  get file(): string {
    return this.opts.file;
  }

  run<T>(op: Op<T>, write: boolean): Promise<ResultsResult<T>> {
    if (write && this.opts.readOnly) {
      return Promise.resolve(
        err(this.error('io', `results database ${this.opts.file} was opened read-only`)),
      );
    }
    clearTimeout(this.lingerTimer);
    return new Promise<ResultsResult<T>>((resolve) => {
      this.queue.push({ op, write, resolve: resolve as (r: ResultsResult<unknown>) => void });
      if (!this.drainPromise) this.drainPromise = this.drain();
    });
  }

  /** Resolves once every queued call has been written (or has failed). */
  async idle(): Promise<void> {
    while (this.drainPromise) await this.drainPromise;
  }

  /** Waits for the queue to empty, then closes the file. */
  async close(): Promise<ResultsResult> {
    await this.idle();
    clearTimeout(this.lingerTimer);
    this.closeNow();
    return ok(undefined);
  }

  /**
   * The file's identity taken right after this read-write session last closed it (deferred.ts's
   * proof), before another process could open it; null while open, or after a failed batch.
   */
  closedIdentity: string | null = null;

  /** The file's identity when this read-write session last opened it, before any write of its own. */
  openedIdentity: string | null = null;

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        await this.runBatch(batch);
      }
    } finally {
      this.drainPromise = null;
    }
    if (!this.opts.keepOpen && this.conn) {
      this.lingerTimer = setTimeout(() => this.closeNow(), this.opts.lingerMs);
      this.lingerTimer.unref();
    }
  }

  private async runBatch(batch: Queued[]): Promise<void> {
    const opened = await this.open();
    if (!opened.ok) {
      for (const q of batch) q.resolve(opened);
      return;
    }
    const conn = opened.value;
    const writes = batch.some((q) => q.write);
    const results: ResultsResult<unknown>[] = [];
    try {
      if (writes) await conn.run('BEGIN TRANSACTION');
      for (const q of batch) results.push(ok(await q.op(conn)));
      if (writes) await conn.run('COMMIT');
    } catch (e) {
      if (writes) await conn.run('ROLLBACK').catch(() => undefined);
      const failed = err(
        this.error(
          isDamaged(e) ? 'damaged' : 'io',
          `results database ${this.opts.file}: ${firstLine(e)}${damagedHint(this.opts.file, e)}`,
        ),
      );
      for (const q of batch) q.resolve(failed);
      this.closeNow(false);
      return;
    }
    batch.forEach((q, i) => {
      q.resolve(results[i]!);
    });
  }

  private async open(): Promise<ResultsResult<DuckDBConnection>> {
    if (this.conn) return ok(this.conn);
    const { file, readOnly, lockTimeoutMs } = this.opts;
    if (readOnly && !existsSync(file)) {
      return err(this.error('missing', `no results database at ${file} yet: run \`pefuse run SPEC\` first`));
    }
    if (!readOnly) await mkdir(dirname(file), { recursive: true });
    if (readOnly && !this.pendingChecked) {
      this.pendingChecked = true;
      if (this.opts.pendingWrites?.()) await this.upgrade();
    }
    const { DuckDBInstance } = duckdb();
    const start = Date.now();
    let delay = 20;
    for (;;) {
      try {
        const options: Record<string, string> = readOnly ? { access_mode: 'READ_ONLY' } : {};
        this.closedIdentity = null;
        this.instance = await DuckDBInstance.create(file, options);
        this.conn = await this.instance.connect();
        // Holding the file's lock now, before writing anything: what the file was (deferred.ts).
        this.openedIdentity = readOnly ? null : dbIdentity(file);
        break;
      } catch (e) {
        this.closeNow();
        if (!isLockError(e)) {
          return err(
            this.error(
              isDamaged(e) ? 'damaged' : 'io',
              `cannot open results database ${file}: ${firstLine(e)}${damagedHint(file, e)}`,
            ),
          );
        }
        const waited = Date.now() - start;
        if (waited >= lockTimeoutMs || this.gaveUp) {
          // Later batches that try once report no wait of their own.
          const allowed = this.gaveUp ? 0 : lockTimeoutMs;
          this.gaveUp = true;
          return err(this.error('locked', lockMessage(file, e, allowed)));
        }
        await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(1, lockTimeoutMs - waited))));
        delay = Math.min(500, delay * 2);
      }
    }
    if (readOnly && this.opts.schemaState) {
      const checked = await this.checkSchema(this.conn);
      if (!checked.ok) return checked;
      if (checked.value === 'outdated') {
        // Written by an older pefuse: migrate it once, then read it as asked.
        this.closeNow();
        const upgraded = await this.upgrade();
        if (!upgraded.ok) return upgraded;
        return this.open();
      }
    }
    if (!readOnly && this.opts.init && !this.initialised) {
      const done = await this.initialise(this.conn);
      if (!done.ok) {
        this.closeNow();
        return done;
      }
      this.initialised = true;
    }
    return ok(this.conn);
  }

  private async initialise(conn: DuckDBConnection): Promise<ResultsResult> {
    const file = this.opts.file;
    try {
      const problem = (await this.opts.init?.(conn)) ?? null;
      return problem === null ? ok(undefined) : err(this.error('io', problem));
    } catch (e) {
      return err(
        this.error(
          isDamaged(e) ? 'damaged' : 'io',
          `cannot create the tables in ${file}: ${firstLine(e)}${damagedHint(file, e)}`,
        ),
      );
    }
  }

  private async checkSchema(conn: DuckDBConnection): Promise<ResultsResult<'current' | 'outdated'>> {
    const file = this.opts.file;
    let state: string;
    try {
      state = (await this.opts.schemaState?.(conn)) ?? 'current';
    } catch (e) {
      this.closeNow();
      return err(
        this.error(
          isDamaged(e) ? 'damaged' : 'io',
          `cannot read results database ${file}: ${firstLine(e)}${damagedHint(file, e)}`,
        ),
      );
    }
    if (state === 'current' || state === 'outdated') return ok(state);
    this.closeNow();
    return err(this.error('io', state));
  }

  /** One read-write open that migrates an outdated file (read-only sessions only). */
  private async upgrade(): Promise<ResultsResult> {
    const { schemaState: _readersOnly, ...rest } = this.opts;
    const writer = new DbSession({ ...rest, readOnly: false, keepOpen: false });
    const r = await writer.run(async () => undefined, false);
    await writer.close();
    if (r.ok) await this.opts.afterUpgrade?.(writer.openedIdentity, writer.closedIdentity);
    return r;
  }

  private closeNow(clean = true): void {
    const wasOpen = this.instance !== null;
    try {
      this.conn?.closeSync();
    } catch {
      // already closed
    }
    try {
      this.instance?.closeSync();
    } catch {
      // already closed
    }
    this.conn = null;
    this.instance = null;
    if (wasOpen) this.closedIdentity = clean && !this.opts.readOnly ? dbIdentity(this.opts.file) : null;
  }

  private error(kind: ResultsError['kind'], message: string): ResultsError {
    return { kind, file: this.opts.file, message };
  }
}
