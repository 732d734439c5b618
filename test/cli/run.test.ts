/** `pefuse run` through the real CLI: usage errors (exit 2), and the demo end to end. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pefuse, tempDir } from '../helpers/cli.js';

const DEMO = 'experiments/demo.yaml';

describe('pefuse run: usage errors exit 2 before anything runs', () => {
  it('refuses the slurm executor for now', async () => {
    const r = await pefuse(['run', DEMO, '--executor', 'slurm']);
    expect([r.exitCode, r.stderr]).toEqual([
      2,
      'pefuse run: the slurm executor is not available yet; use --executor local (the default)\n',
    ]);
  });

  it('names the allowed reporters and checks numbers', async () => {
    const bad = await pefuse(['run', DEMO, '--reporter', 'fancy']);
    expect([bad.exitCode, bad.stderr]).toEqual([
      2,
      'pefuse run: unknown reporter "fancy" (available: tty, plain, json)\n',
    ]);
    const retries = await pefuse(['run', DEMO, '--retries', 'x']);
    expect([retries.exitCode, retries.stderr]).toEqual([
      2,
      'pefuse run: --retries must be an integer ≥ 0 (got "x")\n',
    ]);
    const limit = await pefuse(['run', DEMO, '--limit', '0']);
    expect([limit.exitCode, limit.stderr]).toEqual([
      2,
      'pefuse run: --limit must be an integer ≥ 1 (got "0")\n',
    ]);
    const gpus = await pefuse(['run', DEMO, '--gpus', '0,,1']);
    expect([gpus.exitCode, gpus.stderr]).toEqual([
      2,
      'pefuse run: --gpus: expected a comma-separated list of GPU ids such as "0,1", got "0,,1"\n',
    ]);
  });

  it('reports spec errors with their location and runs nothing', async () => {
    const dir = tempDir();
    const spec = join(dir, 'broken.yaml');
    writeFileSync(spec, 'experiment: broken\ndatasets: 12\n');
    const r = await pefuse(['--cache', join(dir, 'cache'), 'run', spec]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('broken.yaml:2:');
    expect(r.stdout).toBe('');
  });
});

describe('pefuse run on the demo', () => {
  it('runs the demo end to end: plan summary first, results in DuckDB, a re-run is fully cached', async () => {
    const cache = join(tempDir(), 'cache');
    const first = await pefuse(['--cache', cache, 'run', DEMO, '--limit', '3', '--reporter', 'plain']);
    expect(first.stderr).not.toMatch(/Warning|\n\s+at /);
    expect(first.exitCode).toBe(0);
    const lines = first.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^experiment demo \(.*demo\.yaml\): 24 points, 90 of 90 stages to run, 0 cached$/,
    );
    expect(lines).toContain('  dataset           1 stages     0 cached     1 to run');
    expect(first.stdout).toMatch(/\ndone: 90 stages \(0 cached, 90 computed\), \d+ items done in [\d.]+s\n/);
    expect(first.stdout).toMatch(
      /\nresults: .*results\.duckdb \(`pefuse status` shows the metrics of every point\)\n$/,
    );

    const again = await pefuse(['--cache', cache, 'run', DEMO, '--limit', '3', '--reporter', 'plain']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout.split('\n')[0]).toMatch(/: 24 points, all 90 stages cached$/);
    expect(again.stdout).toMatch(/\ndone: 90 stages \(90 cached, 0 computed\), 0 items done in [\d.]+s\n/);

    // What the demo leaves in the results database: every point has metrics, backends say dummy.
    const status = await pefuse(['--cache', cache, 'status', '--json']);
    expect(status.exitCode).toBe(0);
    const s = JSON.parse(status.stdout) as { experiments: { experiment: string; points: number }[] };
    expect(s.experiments).toEqual([expect.objectContaining({ experiment: 'demo', points: 24 })]);
    expect(status.stdout).toContain('"recall@10"');
  });

  it('--reporter json prints only events on stdout, one JSON object per line', async () => {
    const cache = join(tempDir(), 'cache');
    const r = await pefuse(['--cache', cache, 'run', DEMO, '--limit', '2', '--reporter', 'json']);
    expect(r.exitCode).toBe(0);
    const events = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; t: number });
    expect(events[0]?.type).toBe('run-started');
    expect(events.at(-1)?.type).toBe('run-finished');
    expect(events.filter((e) => e.type === 'stage-planned').length).toBeGreaterThan(0);
    expect(r.stderr.split('\n')[0]).toMatch(/^experiment demo /);
  });
});
