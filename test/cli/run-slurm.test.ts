/**
 * `pefuse run SPEC --executor slurm` end to end, on a real single-node Slurm on localhost
 * (test/helpers/slurm-cluster.ts), driving the real CLI: the demo gives the local executor's metrics,
 * a shard that fails once is resubmitted, Ctrl-C cancels the jobs with scancel, and a restarted
 * orchestrator re-attaches to jobs still queued or running. Skipped, saying why, without Slurm or root.
 * Each test states its own timeout: a 2-CPU machine runs these in minutes, not seconds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openResults } from '../../runner/results/index.js';
import { BIN, pefuse, REPO_ROOT, tempDir } from '../helpers/cli.js';
import { type SlurmCluster, slurmSkipReason, startSlurmCluster } from '../helpers/slurm-cluster.js';

const SKIP = slurmSkipReason();
const title = (t: string) => (SKIP === null ? t : `${t} — ${SKIP}`);
const DEMO = join(REPO_ROOT, 'experiments', 'demo.yaml');

/** Every `jobs.jsonl` line of a cache, by stage key. */
function jobLines(cache: string): Map<string, { job: string; shards: number[]; attempts: number[] }[]> {
  const out = new Map<string, { job: string; shards: number[]; attempts: number[] }[]>();
  const stages = join(cache, 'stages');
  if (!existsSync(stages)) return out;
  for (const key of readdirSync(stages)) {
    const f = join(stages, key, 'slurm', 'jobs.jsonl');
    if (!existsSync(f)) continue;
    out.set(
      key,
      readFileSync(f, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    );
  }
  return out;
}

async function metricsOf(db: string): Promise<string[]> {
  const r = openResults(db, { readOnly: true });
  const q = await r.query(
    'SELECT point_id, metric, value FROM latest_metrics ORDER BY point_id, metric, k, aspect',
  );
  await r.close();
  if (!q.ok) throw new Error(q.error.message);
  return q.value.map((row) => `${row.point_id} ${row.metric} ${row.value}`);
}

/** Starts `pefuse …` in the background (for Ctrl-C and kill -9). */
function background(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (d) => {
    text += d;
  });
  child.stderr?.on('data', (d) => {
    text += d;
  });
  return { child, output: () => text };
}

async function waitFor(what: string, test: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (test()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const exited = (c: ChildProcess) =>
  new Promise<number>((resolve) => {
    if (c.exitCode !== null) resolve(c.exitCode);
    else c.once('exit', (code) => resolve(code ?? -1));
  });

describe.skipIf(SKIP !== null)('pefuse run --executor slurm on localhost Slurm', () => {
  let cluster: SlurmCluster;
  beforeAll(async () => {
    cluster = await startSlurmCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const slurmSets = [
    '--set',
    'slurm.poll_s=0.5',
    '--set',
    'slurm.local_max_items=100',
    '--set',
    'slurm.shard_size=120',
  ];

  it(title('the demo gives the same metrics as the local executor; jobs are recorded'), async () => {
    const local = tempDir('pefuse-slurm-local-');
    const onSlurm = tempDir('pefuse-slurm-cache-');
    const a = await pefuse(['--cache', local, 'run', DEMO, '--limit', '20'], { timeout: 300_000 });
    expect(a.exitCode, a.stderr).toBe(0);
    const b = await pefuse(
      ['--cache', onSlurm, 'run', DEMO, '--limit', '20', '--executor', 'slurm', ...slurmSets],
      { env: cluster.env, timeout: 400_000 },
    );
    expect(b.exitCode, `${b.stdout}\n${b.stderr}\n${cluster.logs()}`).toBe(0);
    expect(b.stdout).toMatch(/slurm: 17 stages as job arrays \(34 shards\)/);
    expect(await metricsOf(join(onSlurm, 'results.duckdb'))).toEqual(
      await metricsOf(join(local, 'results.duckdb')),
    );
    const jobs = jobLines(onSlurm);
    expect(jobs.size).toBe(17);
    const db = openResults(join(onSlurm, 'results.duckdb'), { readOnly: true });
    const rows = await db.query(
      `SELECT count(*) AS n, count(DISTINCT stage_key) AS stages FROM slurm_jobs WHERE state = 'COMPLETED'`,
    );
    await db.close();
    expect(rows.ok && rows.value[0]).toEqual({ n: 34, stages: 17 });
  }, 600_000);

  /** A small t2i spec: every stage with items goes to Slurm; the gallery embedding in 2 shards. */
  function smallSpec(setup = ''): string {
    const dir = tempDir('pefuse-slurm-spec-');
    const file = join(dir, 'small.yaml');
    writeFileSync(
      file,
      `experiment: small
datasets:
  - { name: synthetic, seed: 3, n_gallery: 60, n_queries: 10 }
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
retrieval: { backend: dummy, model: dummy }
slurm:
  local_max_items: 0
  shard_size: 30
  poll_s: 0.5
  max_attempts: 2
${setup === '' ? '' : `  setup: ${JSON.stringify(setup)}\n`}`,
    );
    return file;
  }

  it(title('a shard that fails once is resubmitted, and the stage publishes'), async () => {
    const cache = tempDir('pefuse-slurm-cache-');
    const flags = tempDir('pefuse-slurm-flags-');
    // slurm.setup runs before each shard: shard 1 of a stage fails on its first attempt only.
    const spec = smallSpec(
      `f=${flags}/$SLURM_JOB_NAME-$SLURM_ARRAY_TASK_ID; if [ "$SLURM_ARRAY_TASK_ID" = 1 ] && [ ! -e "$f" ]; then touch "$f"; echo "injected failure" >&2; exit 1; fi`,
    );
    const r = await pefuse(['--cache', cache, 'run', spec, '--executor', 'slurm', '--reporter', 'plain'], {
      env: cluster.env,
      timeout: 240_000,
    });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}\n${cluster.logs()}`).toBe(0);
    expect(r.stdout).toMatch(
      /slurm +embed\.image +\w{12} +gallery-embed \(dummy\): job \d+: shard 1 of 2 FAILED, exit 1 on \S+; resubmitting/,
    );
    expect(r.stdout).toMatch(
      /slurm +embed\.image +\w{12} +gallery-embed \(dummy\): job \d+ submitted: shard 1 of 2 \(attempt 2\)/,
    );
    const gallery = [...jobLines(cache).values()].filter((l) => l[0]!.shards.length === 2);
    expect(gallery.map((l) => l.map((j) => [j.shards, j.attempts]))).toEqual([
      [
        [
          [0, 1],
          [1, 1],
        ],
        [[1], [2]],
      ],
    ]);
    const db = openResults(join(cache, 'results.duckdb'), { readOnly: true });
    const rows = await db.query(
      `SELECT shard, attempt, state, exit_code FROM slurm_jobs WHERE shard = 1 ORDER BY attempt`,
    );
    await db.close();
    expect(rows.ok && rows.value).toEqual([
      { shard: 1, attempt: 1, state: 'FAILED', exit_code: 1 },
      { shard: 1, attempt: 2, state: 'COMPLETED', exit_code: 0 },
    ]);
  }, 300_000);

  it(title('Ctrl-C cancels the jobs with scancel'), async () => {
    const cache = tempDir('pefuse-slurm-cache-');
    const run = background(
      ['--cache', cache, 'run', smallSpec('sleep 120'), '--executor', 'slurm', '--reporter', 'plain'],
      cluster.env,
    );
    await waitFor('a submitted job', () => jobLines(cache).size > 0);
    run.child.kill('SIGINT');
    const code = await exited(run.child);
    expect(code, run.output()).toBe(1);
    expect(run.output()).toMatch(/cancelled/);
    const ids = [...jobLines(cache).values()].flat().map((j) => j.job);
    const q = await pefuseSqueue(cluster.env);
    for (const id of ids) expect(q).not.toContain(`${id}|`);
  }, 180_000);

  it(title('a restarted orchestrator re-attaches to jobs still queued or running'), async () => {
    const cache = tempDir('pefuse-slurm-cache-');
    const spec = smallSpec('sleep 6');
    const first = background(
      ['--cache', cache, 'run', spec, '--executor', 'slurm', '--reporter', 'plain'],
      cluster.env,
    );
    await waitFor('a submitted job', () => jobLines(cache).size > 0);
    first.child.kill('SIGKILL');
    await exited(first.child);
    const before = jobLines(cache);
    const r = await pefuse(['--cache', cache, 'run', spec, '--executor', 'slurm', '--reporter', 'plain'], {
      env: cluster.env,
      timeout: 240_000,
    });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/re-attached to job \d+: (\d+ shards|shard \d+ of \d+) still queued or running/);
    // The jobs the first orchestrator submitted were not submitted again.
    const after = jobLines(cache);
    for (const [key, lines] of before) expect(after.get(key)).toEqual(lines);
  }, 300_000);
});

/** `squeue` lines as `JOBID|STATE` (live jobs only). */
async function pefuseSqueue(env: Record<string, string>): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  return execFileSync('squeue', ['-h', '-r', '-o', '%F|%T'], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
}
