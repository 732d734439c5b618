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
  it('prints the plan summary first, runs, and a re-run resumes or reuses everything', async () => {
    const cache = join(tempDir(), 'cache');
    const first = await pefuse(['--cache', cache, 'run', DEMO, '--limit', '3', '--reporter', 'plain']);
    const lines = first.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^experiment demo \(.*demo\.yaml\): \d+ points, \d+ of \d+ stages to run, \d+ cached$/,
    );
    expect(lines).toContain('  dataset           1 stages     0 cached     1 to run');
    if (first.exitCode === 0) {
      const again = await pefuse(['--cache', cache, 'run', DEMO, '--limit', '3', '--reporter', 'plain']);
      expect(again.exitCode).toBe(0);
      expect(again.stdout.split('\n')[0]).toMatch(/: \d+ points, all (\d+) stages cached$/);
      expect(again.stdout).toMatch(
        /\ndone: (\d+) stages \(\1 cached, 0 computed\), 0 items done in [\d.]+s\n$/,
      );
    } else {
      // Until every stage kind has an implementation, the run fails cleanly with a summary.
      expect(first.exitCode).toBe(1);
      expect(first.stderr).toMatch(/\nre-run the same command to resume: finished items are kept\n$/);
      expect(first.stdout).toMatch(
        /\nfinished with failures: \d+ stages \(.*\), \d+ items done(, \d+ failed)? in [\d.]+s\n$/,
      );
    }
  });

  it('--reporter json prints only events on stdout, one JSON object per line', async () => {
    const cache = join(tempDir(), 'cache');
    const r = await pefuse(['--cache', cache, 'run', DEMO, '--limit', '2', '--reporter', 'json']);
    expect([0, 1]).toContain(r.exitCode);
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
