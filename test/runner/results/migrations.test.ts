import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, openResults } from '../../../runner/results/index.js';
import { migrate, schemaVersion } from '../../../runner/results/migrations.js';
import { pefuse, tempDir } from '../../helpers/cli.js';
import { recordDemo } from './fixtures.js';

async function withConn<T>(
  file: string,
  f: (c: Awaited<ReturnType<DuckDBInstance['connect']>>) => Promise<T>,
) {
  const inst = await DuckDBInstance.create(file);
  const conn = await inst.connect();
  try {
    return await f(conn);
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

/** A results file as this version of pefuse writes it, holding a small recorded experiment. */
async function writtenToday(): Promise<string> {
  const file = join(tempDir('pefuse-mig-'), 'results.duckdb');
  const db = openResults(file);
  await recordDemo(db);
  await db.close();
  return file;
}

describe('results schema migrations', () => {
  it('versions are increasing and unique; a new file is at the latest', async () => {
    const versions = MIGRATIONS.map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
    const file = await writtenToday();
    expect(await withConn(file, schemaVersion)).toBe(LATEST_SCHEMA_VERSION);
  });

  it('a later migration reaches a file written today, keeps its rows, and runs once', async () => {
    const file = await writtenToday();
    const next = {
      version: LATEST_SCHEMA_VERSION + 1,
      name: 'test: a column added later',
      sql: ['ALTER TABLE generations ADD COLUMN test_note VARCHAR', "UPDATE runs SET host = host || ''"],
    };
    await withConn(file, async (conn) => {
      const before = (await conn.runAndReadAll('SELECT count(*)::INT AS n FROM metrics')).getRowObjects()[0]
        ?.n;
      expect(await migrate(conn, file, [...MIGRATIONS, next])).toBeNull();
      expect(await schemaVersion(conn)).toBe(next.version);
      // Applying again is a no-op (ALTER TABLE would fail on a second run).
      expect(await migrate(conn, file, [...MIGRATIONS, next])).toBeNull();
      const cols = (
        await conn.runAndReadAll(
          `SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'generations'`,
        )
      )
        .getRowObjects()
        .map((r) => r.c);
      expect(cols).toContain('test_note');
      const after = (await conn.runAndReadAll('SELECT count(*)::INT AS n FROM metrics')).getRowObjects()[0]
        ?.n;
      expect(after).toBe(before);
      expect(before).toBeGreaterThan(0);
    });
  });

  it('a file from a newer pefuse is refused with a plain message, by writers and by `status`', async () => {
    const file = await writtenToday();
    await withConn(file, (c) => c.run(`UPDATE meta SET value = '999' WHERE key = 'schema_version'`));
    const db = openResults(file);
    const r = await db.init();
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/written by a newer pefuse \(schema version 999/);
    await db.close();
    const status = await pefuse(['status', '--db', file]);
    expect(status.exitCode).not.toBe(0);
    expect(status.stderr + status.stdout).toMatch(/newer pefuse/);
    expect(status.stderr).not.toMatch(/\n\s+at /);
  });

  it('a read-only reader (`status`) upgrades an outdated file first', async () => {
    const file = await writtenToday();
    await withConn(file, (c) => c.run(`DELETE FROM meta WHERE key = 'schema_version'`));
    const status = await pefuse(['status', '--db', file]);
    expect(status.exitCode).toBe(0);
    expect(await withConn(file, schemaVersion)).toBe(LATEST_SCHEMA_VERSION);
  });
});
