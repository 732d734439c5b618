/** `pefuse run` through the real CLI: usage errors (exit 2), and the demo end to end. */
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../runner/store/index.js';
import { BIN, pefuse, REPO_ROOT, tempDir } from '../helpers/cli.js';

const DEMO = 'experiments/demo.yaml';

describe('pefuse run: usage errors exit 2 before anything runs', () => {
  it('--executor slurm where sbatch is not on PATH says so; an unknown executor is named', async () => {
    // A PATH with node and no Slurm tools.
    const bin = tempDir('pefuse-nopath-');
    symlinkSync(process.execPath, join(bin, 'node'));
    const r = await pefuse(['--cache', tempDir(), 'run', DEMO, '--executor', 'slurm'], {
      env: { PATH: bin },
    });
    expect([r.exitCode, r.stderr]).toEqual([
      2,
      'pefuse run: --executor slurm: sbatch is not on PATH (is this a Slurm submit host? try `module load slurm`)\n',
    ]);
    const bad = await pefuse(['run', DEMO, '--executor', 'pbs']);
    expect([bad.exitCode, bad.stderr]).toEqual([
      2,
      'pefuse run: unknown executor "pbs" (available: local, slurm)\n',
    ]);
  });

  it('pefuse help NAME names an unknown command', async () => {
    const r = await pefuse(['help', 'bogus']);
    expect([r.exitCode, r.stderr]).toEqual([
      2,
      "pefuse help: unknown command 'bogus' (commands: validate, plan, run, explain, evaluate, export, status, report, gc, tokenize, doctor)\n",
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
      'pefuse run: --gpus: expected a comma-separated list of GPU indices or UUIDs such as "0,1" or "GPU-5f1c…" (see nvidia-smi -L), got "0,,1"\n',
    ]);
    const cache = await pefuse(['--cache', '', 'run', DEMO]);
    expect([cache.exitCode, cache.stderr]).toEqual([
      2,
      'pefuse: --cache expects a folder, got an empty string\n',
    ]);
    const word = await pefuse(['run', DEMO, '--gpus', 'abc']);
    expect([word.exitCode, word.stderr]).toEqual([
      2,
      'pefuse run: --gpus: expected a comma-separated list of GPU indices or UUIDs such as "0,1" or "GPU-5f1c…" (see nvidia-smi -L), got "abc"\n',
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

describe('pefuse run heals a cache whose objects went bad', () => {
  it('a corrupt object read by a later stage: its producer is withdrawn, and a re-run recomputes it', async () => {
    const cache = join(tempDir(), 'cache');
    const args = ['--cache', cache, 'run', DEMO, '--limit', '2', '--reporter', 'plain'];
    expect((await pefuse(args)).exitCode).toBe(0);
    // Flip a byte of the gallery's image embeddings (the largest embed.image matrix; every i2i score reads it).
    const stagesDir = join(cache, 'stages');
    const gallery = readdirSync(stagesDir)
      .map((k) => join(stagesDir, k, 'manifest.json'))
      .filter((p) => existsSync(p))
      .map((p) => JSON.parse(readFileSync(p, 'utf8')) as Manifest)
      .filter((m) => m.record.kind === 'embed.image')
      .sort((a, b) => b.output.matrix.size - a.output.matrix.size)[0];
    expect(gallery).toBeDefined();
    const sha = gallery!.output.matrix.sha256;
    const object = join(cache, 'objects', sha.slice(0, 2), sha);
    const bytes = readFileSync(object);
    bytes[bytes.length - 1] = bytes.at(-1)! ^ 0xff;
    writeFileSync(object, bytes);

    // New score stages read it: they fail, naming the withdrawn producer; nothing else is lost.
    const first = await pefuse([...args, '--set', 'score.k=60']);
    expect(first.exitCode).toBe(1);
    expect(first.stderr).toContain(
      `cached object ${sha.slice(0, 12)} is corrupt (content does not match its sha256); it will be recomputed; the cached output of embed.image stage ${gallery!.key.slice(0, 12)} was withdrawn: re-run the same command to recompute it`,
    );
    expect(existsSync(join(stagesDir, gallery!.key, 'manifest.withdrawn.json'))).toBe(true);

    // The advice works: the re-run recomputes that embedding and finishes.
    const second = await pefuse([...args, '--set', 'score.k=60']);
    expect([second.exitCode, second.stderr]).toEqual([0, expect.not.stringContaining('corrupt')]);
    expect(readFileSync(object)).not.toEqual(bytes);
  });
});

interface Manifest {
  key: string;
  record: { kind: string };
  output: { matrix: { sha256: string; size: number } };
}

describe('pefuse run: the cache folder and the output pipe are checked like input', () => {
  it('a cache path that is a file, or under a file, is a one-line usage error before anything runs', async () => {
    const dir = tempDir();
    const file = join(dir, 'cfile');
    writeFileSync(file, 'not a folder');
    const r = await pefuse(['--cache', file, 'run', DEMO]);
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([
      2,
      '',
      `pefuse run: the cache ${file} is a file, not a directory; pass --cache DIR (or set PEFUSE_CACHE) to a folder\n`,
    ]);
    const under = await pefuse(['--cache', join(file, 'sub'), 'run', DEMO]);
    expect([under.exitCode, under.stderr]).toEqual([
      2,
      `pefuse run: cannot create the cache ${join(file, 'sub')}: ${file} is a file; pass --cache DIR (or set PEFUSE_CACHE) to a folder\n`,
    ]);
    const status = await pefuse(['--cache', file, 'status']);
    expect([status.exitCode, status.stderr]).toEqual([
      2,
      `pefuse status: the cache ${file} is a file, not a directory; pass --cache DIR (or set PEFUSE_CACHE) to a folder\n`,
    ]);
  });

  it('a --db that is a folder is a one-line usage error before anything runs', async () => {
    const dir = tempDir();
    const r = await pefuse(['--cache', join(dir, 'cache'), 'run', DEMO, '--limit', '2', '--db', dir]);
    expect([r.exitCode, r.stderr]).toEqual([
      2,
      `pefuse run: the results database ${dir} is a folder, not a file; pass the file itself, e.g. --db ${join(dir, 'results.duckdb')}\n`,
    ]);
  });

  it('a --db that is not a DuckDB file (a spec passed by mistake) is refused, never called damaged', async () => {
    const dir = tempDir();
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, 'experiment: x\n');
    const r = await pefuse(['--cache', join(dir, 'cache'), 'run', DEMO, '--limit', '2', '--db', spec]);
    expect([r.exitCode, r.stderr]).toEqual([
      2,
      `pefuse run: ${spec} is not a DuckDB database (no DuckDB header): it cannot be the results database; pass --db FILE to use another file\n`,
    ]);
    expect(readFileSync(spec, 'utf8')).toBe('experiment: x\n');
  });

  it('a reader that closes the pipe early (| head) drains the run like Ctrl-C: no stack trace, no stale locks, resumable', async () => {
    const cache = join(tempDir(), 'cache');
    const child = execa(process.execPath, [BIN, '--cache', cache, 'run', DEMO, '--reporter', 'plain'], {
      cwd: REPO_ROOT,
      reject: false,
      stdin: 'ignore',
    });
    // Read the first chunk (the plan summary), then close our end like `head` does.
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.stdout!.destroy();
    const r = await child;
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).not.toMatch(/EPIPE|\n\s+at |internal error/);
    expect(String(r.stderr)).toContain('re-run the same command to resume');
    const stagesDir = join(cache, 'stages');
    const started = existsSync(stagesDir) ? readdirSync(stagesDir) : [];
    const locks = started.filter((k) => existsSync(join(stagesDir, k, 'lock')));
    expect(locks).toEqual([]);
    const again = await pefuse(['--cache', cache, 'run', DEMO, '--reporter', 'plain']);
    expect(again.exitCode).toBe(0);
  });
});

describe('pefuse run resumes only journaled items whose objects are still cached', () => {
  it('recomputes a journaled item whose output object was deleted, instead of publishing a missing object', async () => {
    const cache = join(tempDir(), 'cache');
    const args = ['--cache', cache, 'run', DEMO, '--limit', '2', '--reporter', 'plain'];
    expect((await pefuse(args)).exitCode).toBe(0);
    // Turn a published diffusion stage back into an interrupted one: its items in the journal, no manifest.
    const store = openStore(cache);
    const key = (await store.stages.list()).find((k) =>
      readFileSync(join(cache, 'stages', k, 'manifest.json'), 'utf8').includes('"kind":"diffusion.edit"'),
    )!;
    const m = JSON.parse(readFileSync(join(cache, 'stages', key, 'manifest.json'), 'utf8')) as {
      items: { id: string; output: { image: { sha256: string } } }[];
    };
    for (const item of m.items) await store.stages.journal(key).append(item as never);
    rmSync(join(cache, 'stages', key, 'manifest.json'));
    const sha = m.items[0]!.output.image.sha256;
    rmSync(join(cache, 'objects', sha.slice(0, 2), sha));

    const again = await pefuse(args);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain(
      `diffusion.edit stage ${key.slice(0, 12)}: 1 journaled item(s) name objects no longer in the cache; those items are recomputed`,
    );
    expect(existsSync(join(cache, 'objects', sha.slice(0, 2), sha))).toBe(true);
  });
});

describe('pefuse run rebuilding the results database from a damaged cache', () => {
  it('withdraws a cached score stage whose rankings object is missing, and the next run recomputes it', async () => {
    const cache = join(tempDir(), 'cache');
    const args = ['--cache', cache, 'run', DEMO, '--limit', '2', '--reporter', 'plain'];
    expect((await pefuse(args)).exitCode).toBe(0);
    const store = openStore(cache);
    const key = (await store.stages.list()).find((k) =>
      readFileSync(join(cache, 'stages', k, 'manifest.json'), 'utf8').includes('"kind":"score"'),
    )!;
    const m = JSON.parse(readFileSync(join(cache, 'stages', key, 'manifest.json'), 'utf8')) as {
      output: { indices: { sha256: string } };
    };
    const sha = m.output.indices.sha256;
    rmSync(join(cache, 'objects', sha.slice(0, 2), sha));
    rmSync(join(cache, 'results.duckdb'));

    const rebuild = await pefuse(args);
    expect(rebuild.exitCode).toBe(0);
    expect(rebuild.stdout).toContain(
      `score stage ${key.slice(0, 12)}: an output object is missing or corrupt, so its rankings were not recorded; the stage was withdrawn: re-run the same command to recompute it`,
    );
    const healed = await pefuse(args);
    expect(healed.exitCode).toBe(0);
    expect(healed.stdout).toMatch(/\ndone: 90 stages \(89 cached, 1 computed\)/);
    expect(existsSync(join(cache, 'objects', sha.slice(0, 2), sha))).toBe(true);
  });
});
