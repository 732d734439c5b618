/**
 * Records the runs that fully cached re-runs left for the database (deferred.ts): on a read-write open,
 * after the migrations, in start order and in one transaction; their files are deleted after the commit.
 * A run already in `runs` is skipped (its file outlived a commit), so replaying twice changes nothing.
 */
import { rm } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { readDeferredRuns } from './deferred.js';
import { writeExperiment, writePoints, writeRun } from './ingest.js';

export async function replayDeferredRuns(conn: DuckDBConnection, dbFile: string): Promise<void> {
  const waiting = await readDeferredRuns(dbFile);
  if (waiting.length === 0) return;
  await conn.run('BEGIN TRANSACTION');
  try {
    for (const { entry } of waiting) {
      const seen = await conn.runAndReadAll('SELECT 1 FROM runs WHERE id = $1', [entry.run.id]);
      if (seen.currentRowCount > 0) continue;
      await writeRun(conn, entry.run);
      await writeExperiment(conn, entry.experiment);
      await writePoints(conn, entry.experiment.name, entry.points, entry.run.id);
    }
    await conn.run('COMMIT');
  } catch (e) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw e;
  }
  for (const { path } of waiting) await rm(path, { force: true });
}
