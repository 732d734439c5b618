import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { openResults } from '../../runner/results/db.js';
import { pefuse, tempDir } from '../helpers/cli.js';
import { recordDemo } from '../runner/results/fixtures.js';
import { holdDb } from '../runner/results/holder.js';

async function demoCache(): Promise<string> {
  const cache = tempDir('pefuse-status-');
  const db = openResults(join(cache, 'results.duckdb'));
  await recordDemo(db);
  await db.close();
  return cache;
}

describe('pefuse status', () => {
  it('says so when there is no results database yet', async () => {
    const cache = tempDir('pefuse-status-');
    const r = await pefuse(['--cache', cache, 'status']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(
      `pefuse status: no results database at ${join(cache, 'results.duckdb')} yet: run \`pefuse run SPEC\` first\n`,
    );
    expect(r.stdout).toBe('');
  });

  it('summarises experiments, stages by kind and status, failures and the latest metrics', async () => {
    const cache = await demoCache();
    const r = await pefuse(['--cache', cache, 'status']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(
      [
        `results database: ${join(cache, 'results.duckdb')}`,
        '',
        'Experiments',
        'experiment  points  last run  status  started (UTC)',
        '----------  ------  --------  ------  ----------------',
        'demo             2  run-1     failed  2025-01-02 03:04',
        '',
        'Stages by kind',
        'kind          published  cached  failed  skipped  running  seconds',
        '------------  ---------  ------  ------  -------  -------  -------',
        'dataset               0       1       0        0        0     0.20',
        'embed.image           1       0       0        0        0     3.00',
        'embed.text            1       0       0        1        0     0.40',
        'metrics               1       0       0        0        0     0.01',
        'mllm.compose          1       0       1        0        0     8.00',
        'score                 1       0       0        0        0     0.04',
        '',
        'Failures (1)',
        'stage         kind          backend  reason       message',
        '------------  ------------  -------  -----------  -----------------------------------',
        '333d186a42bd  mllm.compose  dummy    worker-exit  worker exited with code 3 (item q2)',
        '',
        'Metrics of demo (the points of its latest run, %)',
        'point         data           params                                n  recall@1  recall@5  recall@10',
        '------------  -------------  ------------------------------------  -  --------  --------  ---------',
        'p0aaaaaaaaaa  synthetic/val  mllm.temperature=0 repeat=0 mode=t2i  4     25.00     50.00      75.00',
        '',
        'Points of demo without metrics (its latest run)',
        'point         data           params                                  note',
        '------------  -------------  --------------------------------------  --------------------------------------',
        'p1aaaaaaaaaa  synthetic/val  mllm.temperature=0.5 repeat=0 mode=t2i  no metrics (its stages did not finish)',
        '',
      ].join('\n'),
    );
  });

  it('prints one JSON document with --json, and honours --db', async () => {
    const cache = await demoCache();
    const r = await pefuse(['status', '--db', join(cache, 'results.duckdb'), '--json']);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc)).toEqual([
      'file',
      'experiments',
      'stages',
      'failures',
      'metrics',
      'hidden',
      'unscored',
    ]);
    expect(doc.failures).toEqual([
      expect.objectContaining({
        kind: 'mllm.compose',
        backend: 'dummy',
        reason: 'worker-exit',
        item: 'q2',
        attempts: 3,
      }),
    ]);
    // params is an object, as in the spec, not JSON text.
    expect(doc.metrics[0].params).toEqual({
      dataset: 'synthetic/val',
      'mllm.temperature': 0,
      repeat: 0,
      mode: 't2i',
    });
    expect(doc.metrics.map((m: { name: string; value: number }) => `${m.name}=${m.value}`)).toEqual([
      'recall@1=25',
      'recall@10=75',
      'recall@5=50',
    ]);
  });

  it('explains a database held by a running pefuse run', async () => {
    const cache = await demoCache();
    const file = join(cache, 'results.duckdb');
    const holder = await holdDb(file);
    try {
      const r = await pefuse(['--cache', cache, 'status', '--wait', '0.2']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toBe(
        `pefuse status: results database ${file} is locked by another process (pid ${holder.child.pid}), probably a running \`pefuse run\`; gave up after 0.2 s. Wait for it to finish, or pass --db FILE to use another file.\n`,
      );
    } finally {
      await holder.release();
    }
  });

  it('rejects a bad --wait', async () => {
    const r = await pefuse(['status', '--wait', 'soon']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe('pefuse status: --wait expects a number of seconds, got "soon"\n');
  });

  it('shows a run whose pefuse process died on this host (kill -9) as killed, not running', async () => {
    const cache = await demoCache();
    const child = execa(process.execPath, ['-e', '0']);
    await child;
    const db = openResults(join(cache, 'results.duckdb'));
    await db.recordRun({
      id: `2030-01-01T00:00:00.000Z-${child.pid}`,
      experiment: 'demo',
      specFile: 'demo.yaml',
      startedAt: new Date('2030-01-01T00:00:00Z'),
      status: 'running',
      host: hostname(),
    });
    await db.close();
    const r = await pefuse(['--cache', cache, 'status']);
    expect(r.exitCode).toBe(0);
    const id = `2030-01-01T00:00:00.000Z-${child.pid}`;
    expect(r.stdout.split('\n')).toContain(`demo             2  ${id}  killed  2030-01-01 00:00`);
    const json = await pefuse(['--cache', cache, 'status', '--json']);
    expect(JSON.parse(json.stdout).experiments[0].last_status).toBe('killed');
  });

  it('refuses a --db that is a folder (exit 2), like a missing database', async () => {
    const dir = tempDir('pefuse-status-');
    const r = await pefuse(['status', '--db', dir]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(
      `pefuse status: the results database ${dir} is a folder, not a file; pass the file itself, e.g. --db ${join(dir, 'results.duckdb')}\n`,
    );
  });

  it('tells how to recover from a damaged database file', async () => {
    const cache = tempDir('pefuse-status-');
    const file = join(cache, 'results.duckdb');
    writeFileSync(file, 'truncated copy');
    const r = await pefuse(['--cache', cache, 'status']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(
      `pefuse status: cannot open results database ${file}: IO Error: The file "${file}" exists, but it is not a valid DuckDB database file!; ` +
        `the results database is damaged: delete ${file} and re-run your specs (everything is cached, results are recorded again)\n`,
    );
  });
});

describe('pefuse status after runs with other settings', () => {
  it("shows the latest run's points, counts the others in a note, and a written-out default is the same point", async () => {
    const cache = join(tempDir('pefuse-status-cfg-'), 'cache');
    const run = (...set: string[]) =>
      pefuse([
        '--cache',
        cache,
        'run',
        'experiments/demo.yaml',
        '--limit',
        '2',
        '--reporter',
        'plain',
        ...set,
      ]);
    const ids = async () => {
      const s = await pefuse(['--cache', cache, 'status', '--json']);
      const j = JSON.parse(s.stdout) as { metrics: { point_id: string }[]; hidden: { points: number }[] };
      return { ids: new Set(j.metrics.map((m) => m.point_id)), hidden: j.hidden };
    };
    expect((await run()).exitCode).toBe(0);
    const plain = await ids();
    expect(plain.ids.size).toBe(24);
    // top_k 50 is the default: same stage keys, so the same points, nothing hidden.
    expect((await run('--set', 'mllm.top_k=50')).exitCode).toBe(0);
    expect(await ids()).toEqual(plain);
    // top_p changes every chain that uses the MLLM (t2i, t2t, i2t): 18 new points; i2i keeps its 6.
    expect((await run('--set', 'mllm.top_p=0.5')).exitCode).toBe(0);
    const other = await ids();
    expect(other.ids.size).toBe(24);
    expect([...other.ids].filter((id) => plain.ids.has(id))).toHaveLength(6);
    expect(other.hidden).toEqual([{ experiment: 'demo', points: 18 }]);
    const text = await pefuse(['--cache', cache, 'status']);
    expect(text.stdout).toContain(
      'demo: 18 more point(s) with metrics from earlier runs with other settings (--set, --limit, an edited spec) are not shown; they are in the `latest_metrics` view',
    );
  });
});
