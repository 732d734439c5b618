/**
 * Fully cached re-runs whose plan the database provably holds leave DuckDB closed and write their run
 * to `<db>.deferred/runs/` (runner/results/deferred.ts); the next open of the database records it. What
 * must keep holding: `status` shows the latest run's points, a deleted or changed database is filled
 * again the usual way, and a waiting run is recorded once.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { openResults } from '../../../runner/results/index.js';
import type { JsonValue } from '../../../runner/util/json.js';
import { BIN, pefuse, REPO_ROOT, tempDir } from '../../helpers/cli.js';

const DEMO = 'experiments/demo.yaml';
const PROBE = fileURLToPath(new URL('../../fixtures/load-probe/probe.mjs', import.meta.url));

async function query(file: string, sql: string): Promise<Record<string, JsonValue>[]> {
  const db = openResults(file, { readOnly: true });
  const r = await db.query(sql);
  await db.close();
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const COUNTS = `SELECT
  (SELECT count(*) FROM stages) AS stages, (SELECT count(*) FROM item_timings) AS item_timings,
  (SELECT count(*) FROM generations) AS generations, (SELECT count(*) FROM rankings_named) AS rankings,
  (SELECT count(*) FROM metrics) AS metrics, (SELECT count(*) FROM points) AS points,
  (SELECT count(*) FROM point_params) AS point_params, (SELECT count(*) FROM point_stages) AS point_stages`;
const LATEST = `(SELECT id FROM runs WHERE experiment = 'demo' ORDER BY started_at DESC LIMIT 1)`;
const ON_LATEST = `SELECT count(*) AS n FROM points WHERE experiment = 'demo' AND run_id = ${LATEST}`;
const STAGE_ROWS = `SELECT key, status, run_id, updated_at FROM stages ORDER BY key`;

/** A cached re-run under the load probe: its exit code, and whether it loaded DuckDB. */
async function probedRun(cache: string): Promise<{ exitCode: number; duckdb: boolean; stdout: string }> {
  const out = join(tempDir('pefuse-deferred-probe-'), 'loaded.txt');
  const r = await execa(
    process.execPath,
    ['--import', PROBE, BIN, '--cache', cache, 'run', DEMO, '--limit', '2', '--reporter', 'plain'],
    { cwd: REPO_ROOT, env: { PEFUSE_LOAD_PROBE: out, NO_COLOR: '1' }, reject: false, stdin: 'ignore' },
  );
  return {
    exitCode: r.exitCode ?? -1,
    duckdb: /node_modules\/@duckdb\//.test(readFileSync(out, 'utf8')),
    stdout: String(r.stdout),
  };
}

describe('a fully cached re-run of a plan the database already holds', () => {
  let cache = '';
  let file = '';
  let waiting = '';
  let first: Record<string, JsonValue> = {};

  beforeAll(async () => {
    cache = join(tempDir('pefuse-deferred-'), 'cache');
    file = join(cache, 'results.duckdb');
    waiting = join(`${file}.deferred`, 'runs');
    const r = await pefuse(['--cache', cache, 'run', DEMO, '--limit', '2', '--reporter', 'plain']);
    expect(r.exitCode).toBe(0);
    first = (await query(file, COUNTS))[0]!;
  }, 120_000);

  it('runs without DuckDB, and the next reader records its run: status shows its points', async () => {
    const stagesBefore = await query(file, STAGE_ROWS);
    const runsBefore = (await query(file, 'SELECT count(*) AS n FROM runs'))[0]!.n as number;
    expect(existsSync(join(`${file}.deferred`, 'proof.json'))).toBe(true);

    const again = await probedRun(cache);
    expect(again.exitCode).toBe(0);
    expect(again.duckdb).toBe(false);
    expect(again.stdout).toContain(`results: ${file} (\`pefuse status\` shows the metrics of every point)`);
    const files = readdirSync(waiting);
    expect(files).toHaveLength(1);
    const runId = (JSON.parse(readFileSync(join(waiting, files[0]!), 'utf8')) as { run: { id: string } }).run
      .id;

    // `status` (a reader) records the waiting run first: it is the latest, with the plan's points.
    const status = await pefuse(['--cache', cache, 'status']);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain(runId);
    expect(readdirSync(waiting)).toEqual([]);
    expect(await query(file, `SELECT id, status FROM runs WHERE id = ${LATEST}`)).toEqual([
      { id: runId, status: 'ok' },
    ]);
    expect(await query(file, ON_LATEST)).toEqual([{ n: first.points }]);
    expect((await query(file, 'SELECT count(*) AS n FROM runs'))[0]!.n).toBe(runsBefore + 1);
    // Nothing else changed: same rows, stage rows untouched.
    expect((await query(file, COUNTS))[0]).toEqual(first);
    expect(await query(file, STAGE_ROWS)).toEqual(stagesBefore);
  }, 120_000);

  it('a waiting run is recorded once, even if its file outlives the commit', async () => {
    const again = await probedRun(cache);
    expect(again.duckdb).toBe(false);
    const [name] = readdirSync(waiting);
    const keep = join(tempDir('pefuse-deferred-copy-'), name!);
    copyFileSync(join(waiting, name!), keep);
    const runs = async () => (await query(file, 'SELECT count(*) AS n FROM runs'))[0]!.n as number;
    const before = await runs();
    expect(before).toBeGreaterThan(0); // the read above recorded it
    copyFileSync(keep, join(waiting, name!)); // as if deleting it had failed after the commit
    expect(await runs()).toBe(before);
    expect(readdirSync(waiting)).toEqual([]);
  }, 120_000);

  it('a database changed by another writer, or deleted, is recorded through DuckDB as before', async () => {
    // Another writer: the file's identity changes, the proof no longer applies.
    const db = openResults(file);
    expect((await db.recordExperiment({ name: 'other', specFile: 'other.yaml', nPoints: 0 })).ok).toBe(true);
    await db.close();
    const changed = await probedRun(cache);
    expect(changed.exitCode).toBe(0);
    expect(changed.duckdb).toBe(true);
    expect(readdirSync(waiting)).toEqual([]);
    expect(await query(file, ON_LATEST)).toEqual([{ n: first.points }]);

    // Deleted: the re-run fills a new file with everything (and proves it again for the next run).
    rmSync(file, { force: true });
    rmSync(`${file}.wal`, { force: true });
    const rebuilt = await probedRun(cache);
    expect(rebuilt.exitCode).toBe(0);
    expect(rebuilt.duckdb).toBe(true);
    expect((await query(file, COUNTS))[0]).toEqual(first);
    expect(await query(file, ON_LATEST)).toEqual([{ n: first.points }]);
    const next = await probedRun(cache);
    expect(next.duckdb).toBe(false);
    expect(readdirSync(waiting)).toHaveLength(1);
  }, 240_000);
});
