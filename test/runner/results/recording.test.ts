/**
 * What a run tells the user about recording: the last line when writes failed (locked past the wait),
 * damaged files, `--db` paths checked up front, what a cached re-run finds already recorded.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dbFileProblem, openResults, resultsLine } from '../../../runner/results/index.js';
import { tempDir } from '../../helpers/cli.js';
import { K, POINTS, recordDemo } from './fixtures.js';
import { holdDb } from './holder.js';

describe('the last line of a run about the results database', () => {
  it('names the file when everything was recorded', async () => {
    const file = join(tempDir('pefuse-rec-'), 'results.duckdb');
    const db = openResults(file);
    expect((await db.recordExperiment({ name: 'demo', specFile: 'demo.yaml', nPoints: 1 })).ok).toBe(true);
    await db.close();
    expect(db.writeError).toBeNull();
    expect(resultsLine(db)).toBe(`results: ${file} (\`pefuse status\` shows the metrics of every point)\n`);
  });

  it('says the results were not recorded, and how to record them, when the file stayed locked', async () => {
    const file = join(tempDir('pefuse-rec-'), 'results.duckdb');
    const holder = await holdDb(file);
    try {
      const db = openResults(file, { lockTimeoutMs: 200 });
      expect((await db.recordExperiment({ name: 'demo', specFile: 'demo.yaml', nPoints: 1 })).ok).toBe(false);
      await db.close();
      expect(db.writeError?.kind).toBe('locked');
      expect(resultsLine(db)).toBe(
        `results were not recorded in ${file}: it stayed locked by another process (pid ${holder.child.pid}). ` +
          'The cache is complete: run the same command again once that process is done ' +
          '(everything is cached; it only records the results).\n',
      );
    } finally {
      await holder.release();
    }
  });

  it('says "some results" when part of the run was recorded before the file got locked', async () => {
    const file = join(tempDir('pefuse-rec-'), 'results.duckdb');
    const db = openResults(file, { lockTimeoutMs: 200, lingerMs: 0 });
    expect((await db.recordExperiment({ name: 'demo', specFile: 'demo.yaml', nPoints: 1 })).ok).toBe(true);
    await db.close();
    const holder = await holdDb(file);
    try {
      expect((await db.recordExperiment({ name: 'x', specFile: 'x.yaml', nPoints: 1 })).ok).toBe(false);
      await db.close();
      expect(resultsLine(db)).toMatch(/^some results were not recorded in .*: it stayed locked by another/);
    } finally {
      await holder.release();
    }
  });
});

describe('a damaged results database', () => {
  it('gets the advice to delete it and re-run (everything is cached), and the run says so last', async () => {
    const file = join(tempDir('pefuse-rec-'), 'results.duckdb');
    writeFileSync(file, 'not a database at all');
    const db = openResults(file);
    const r = await db.recordExperiment({ name: 'demo', specFile: 'demo.yaml', nPoints: 1 });
    await db.close();
    expect(!r.ok && r.error.message).toBe(
      `cannot open results database ${file}: IO Error: The file "${file}" exists, but it is not a valid DuckDB database file!; ` +
        `the results database is damaged: delete ${file} and re-run your specs (everything is cached, results are recorded again)`,
    );
    expect(db.writeError?.kind).toBe('damaged');
    expect(resultsLine(db)).toBe(
      `results were not recorded in ${file}: the file is damaged. Delete it and run the same command again ` +
        '(everything is cached; it only records the results).\n',
    );
  });
});

describe('--db is checked before anything runs', () => {
  it('refuses a folder, a path under a file and names the fix; accepts a new file in a new folder', async () => {
    const dir = tempDir('pefuse-rec-');
    expect(await dbFileProblem(dir, false)).toBe(
      `the results database ${dir} is a folder, not a file; pass the file itself, e.g. --db ${join(dir, 'results.duckdb')}`,
    );
    expect(await dbFileProblem(dir, true)).toBe(
      `the results database ${dir} is a folder, not a file; pass the file itself, e.g. --db ${join(dir, 'results.duckdb')}`,
    );
    const plain = join(dir, 'plain.txt');
    writeFileSync(plain, 'x');
    expect(await dbFileProblem(join(plain, 'sub', 'r.duckdb'), true)).toBe(
      `cannot create the results database ${join(plain, 'sub', 'r.duckdb')}: ${plain} is a file, not a folder; pass --db FILE to use another file`,
    );
    mkdirSync(join(dir, 'ok'));
    expect(await dbFileProblem(join(dir, 'ok', 'new', 'r.duckdb'), true)).toBeNull();
    // Reading a file that does not exist yet is `pefuse status`'s "no results database … yet" (exit 2).
    expect(await dbFileProblem(join(dir, 'none.duckdb'), false)).toBeNull();
  });
});

describe('what a cached re-run finds already recorded', () => {
  it('reports per stage key the timings, generations, rankings and the points whose latest metrics they are', async () => {
    const db = openResults(join(tempDir('pefuse-rec-'), 'results.duckdb'));
    await recordDemo(db);
    const r = await db.recorded('demo', [K.compose0, K.score0, K.metrics0, K.gembed]);
    const missing = await db.recorded('demo', [K.compose0.replace(/^./, 'f') as typeof K.compose0]);
    await db.close();
    // A key the database has no stage row for: nothing recorded.
    expect(missing.ok && [...missing.value.values()]).toEqual([
      { timings: false, generations: false, rankings: false, metricPoints: [], row: null },
    ]);
    expect(r.ok && Object.fromEntries(r.value)).toEqual({
      [K.compose0]: {
        timings: true,
        generations: true,
        rankings: false,
        metricPoints: [],
        row: expect.anything(),
      },
      [K.score0]: {
        timings: false,
        generations: false,
        rankings: true,
        metricPoints: [],
        row: expect.anything(),
      },
      [K.metrics0]: {
        timings: false,
        generations: false,
        rankings: false,
        metricPoints: [POINTS[0]!.id],
        row: expect.anything(),
      },
      [K.gembed]: {
        timings: false,
        generations: false,
        rankings: false,
        metricPoints: [],
        row: expect.anything(),
      },
    });
  });

  it('leaves the peak memory of in-process stages (pefuse itself) out of the compute table', async () => {
    const db = openResults(join(tempDir('pefuse-rec-'), 'results.duckdb'));
    await recordDemo(db);
    const rec = {
      scheme: 1,
      kind: 'score',
      impl_version: 1,
      params: {},
      model: null,
      inputs: {},
      data: null,
    };
    await db.recordStage({
      key: K.score0,
      kind: 'score',
      backend: 'onnxruntime',
      record: rec as never,
      status: 'published',
      seconds: 0.04,
      items: 4,
      peakMemMb: 99_999,
    });
    const ct = await db.query(`SELECT peak_mem_mb FROM compute_table WHERE point_id = '${POINTS[0]!.id}'`);
    await db.close();
    expect(ct.ok && ct.value).toEqual([{ peak_mem_mb: 1536 }]);
  });
});
