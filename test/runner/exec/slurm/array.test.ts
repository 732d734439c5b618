/**
 * runArray (the Slurm executor's per-stage job loop) against a real single-node Slurm on localhost:
 * shards run as array tasks, a shard that fails once is resubmitted alone, one that keeps failing fails
 * the stage with its log, cancelling calls scancel, and a restarted orchestrator re-attaches to a job
 * still queued or running instead of submitting it again. Skipped, saying why, without Slurm or root.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ArrayNotice,
  type ArrayStage,
  runArray,
  type ShardJob,
} from '../../../../runner/exec/slurm/array.js';
import { commandClient, runCommand, type SlurmClient } from '../../../../runner/exec/slurm/client.js';
import { appendJob, readJobs } from '../../../../runner/exec/slurm/jobs.js';
import { slurmOptions } from '../../../../runner/exec/slurm/options.js';
import { renderScript, SHARD_VAR, slurmDir } from '../../../../runner/exec/slurm/script.js';
import { tempDir } from '../../../helpers/cli.js';
import { type SlurmCluster, slurmSkipReason, startSlurmCluster } from '../../../helpers/slurm-cluster.js';

const SKIP = slurmSkipReason();
const title = (t: string) => (SKIP === null ? t : `${t} — ${SKIP}`);

/** A stage whose shard `i` runs `sh -c BODY sh i` in its folder (BODY sees the shard as $1). */
function shellStage(body: string, shards: number): ArrayStage & { dir: string } {
  const dir = join(tempDir('pefuse-slurm-array-'), 'stages', 'k');
  mkdirSync(slurmDir(dir), { recursive: true });
  writeFileSync(join(dir, 'stage.json'), '{}');
  return {
    dir,
    key: 'k0123456789abcdef',
    kind: 'embed.image',
    stageDir: dir,
    shards,
    async writeScript(list, seq) {
      const file = join(slurmDir(dir), `submit-${seq}.sh`);
      writeFileSync(
        file,
        renderScript(
          {
            key: 'k0123456789abcdef',
            kind: 'embed.image',
            stageDir: dir,
            shards: list,
            gpu: false,
            visibleFile: join(dir, 'stage.json'),
            command: ['sh', '-c', body, 'sh', SHARD_VAR],
            cwd: dir,
          },
          slurmOptions({}),
        ),
      );
      return file;
    },
  };
}

/** A client that counts calls (the real one underneath). */
function counting(): SlurmClient & { submits: number; cancels: string[][] } {
  const real = commandClient(runCommand());
  const c = {
    submits: 0,
    cancels: [] as string[][],
    available: () => real.available(),
    submit: (f: string) => {
      c.submits++;
      return real.submit(f);
    },
    states: (ids: readonly string[]) => real.states(ids),
    cancel: (ids: readonly string[]) => {
      c.cancels.push([...ids]);
      return real.cancel(ids);
    },
  };
  return c;
}

describe.skipIf(SKIP !== null)('runArray on localhost Slurm', () => {
  let cluster: SlurmCluster;
  const saved: Record<string, string | undefined> = {};
  const options = slurmOptions({ poll_s: 0.5, max_attempts: 2 });

  beforeAll(async () => {
    cluster = await startSlurmCluster();
    for (const [k, v] of Object.entries(cluster.env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await cluster?.stop();
  });

  it(
    title('every shard runs once as an array task; a shard that fails once is resubmitted alone'),
    async () => {
      // Shard 1 fails on its first attempt only (it leaves a flag behind).
      const stage = shellStage(
        'echo "shard $1" > out-$1.txt; if [ "$1" = 1 ] && [ ! -e flag ]; then touch flag; exit 9; fi',
        3,
      );
      const notices: ArrayNotice[] = [];
      const rows: ShardJob[] = [];
      const client = counting();
      const r = await runArray(stage, {
        client,
        options,
        notify: (n) => notices.push(n),
        onJob: (j) => rows.push(j),
      });
      expect(r.ok, r.ok ? '' : `${r.failure?.message}\n${cluster.logs()}`).toBe(true);
      for (const s of [0, 1, 2])
        expect(readFileSync(join(stage.dir, `out-${s}.txt`), 'utf8')).toBe(`shard ${s}\n`);
      const jobs = await readJobs(stage.dir);
      expect(jobs.map((j) => [j.shards, j.attempts])).toEqual([
        [
          [0, 1, 2],
          [1, 1, 1],
        ],
        [[1], [2]],
      ]);
      expect(client.submits).toBe(2);
      const failedOnce = notices.find((n) => n.type === 'shard-failed');
      expect(failedOnce).toMatchObject({
        type: 'shard-failed',
        willResubmit: true,
        why: expect.stringContaining('exit 9'),
      });
      const last = new Map(rows.map((j) => [`${j.job}_${j.shard}`, j]));
      expect([...last.values()].map((j) => [j.shard, j.attempt, j.state, j.exitCode]).sort()).toEqual([
        [0, 1, 'COMPLETED', 0],
        [1, 1, 'FAILED', 9],
        [1, 2, 'COMPLETED', 0],
        [2, 1, 'COMPLETED', 0],
      ]);
    },
  );

  it(title('a shard that keeps failing fails the stage after max_attempts, with its log'), async () => {
    const stage = shellStage('echo "boom from $1" >&2; exit 4', 1);
    const client = counting();
    const r = await runArray(stage, { client, options });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.failure?.reason).toBe('worker-exit');
    expect(r.failure?.message).toMatch(
      /^shard 0 of 1 failed 2 times \(last: job \d+_0 FAILED, exit 4 on \S+\); log: .*shard-0\.job-\d+\.log$/,
    );
    expect(r.log).toContain('boom from 0');
    expect(client.submits).toBe(2);
  });

  it(title('cancelling calls scancel on the live jobs'), async () => {
    const stage = shellStage('sleep 120', 2);
    const client = counting();
    const ac = new AbortController();
    const run = runArray(stage, {
      client,
      options,
      signal: ac.signal,
      notify: (n) => {
        if (n.type === 'submitted') setTimeout(() => ac.abort(), 500);
      },
    });
    const r = await run;
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.cancelled).toBe(true);
    expect(r.failure?.reason).toBe('cancelled');
    const [job] = await readJobs(stage.dir);
    expect(client.cancels).toEqual([[job!.job]]);
    for (let i = 0; i < 40; i++) {
      const s = await client.states([job!.job]);
      if (s.ok && s.value.length > 0 && s.value.every((t) => t.state === 'CANCELLED')) return;
      await new Promise((res) => setTimeout(res, 250));
    }
    throw new Error('the jobs were not cancelled');
  });

  it(title('a restarted orchestrator re-attaches to a job still queued or running'), async () => {
    const stage = shellStage('sleep 3; echo "shard $1" > out-$1.txt', 2);
    // What an earlier orchestrator left behind when it died: a submitted job, recorded.
    const client = counting();
    const file = await stage.writeScript([0, 1], 1);
    const id = await client.submit(file);
    if (!id.ok) throw new Error(id.error);
    await appendJob(stage.dir, {
      job: id.value,
      shards: [0, 1],
      attempts: [1, 1],
      of: 2,
      submitted_at: new Date().toISOString(),
    });
    const notices: ArrayNotice[] = [];
    const r = await runArray(stage, { client, options, notify: (n) => notices.push(n) });
    expect(r.ok, r.ok ? '' : r.failure?.message).toBe(true);
    expect(notices[0]).toEqual({ type: 'attached', job: id.value, shards: [0, 1] });
    expect(client.submits).toBe(1);
    expect((await readJobs(stage.dir)).length).toBe(1);
    for (const s of [0, 1]) expect(existsSync(join(stage.dir, `out-${s}.txt`))).toBe(true);
  });

  it(
    title('jobs of an earlier cut of the stage (another shard count) still running are cancelled'),
    async () => {
      const stage = shellStage('echo "shard $1" > out-$1.txt', 2);
      const client = counting();
      const old = await stage.writeScript([0], 1);
      const id = await client.submit(old);
      if (!id.ok) throw new Error(id.error);
      // Recorded as shard 0 of 3: a cut this run does not use.
      await appendJob(stage.dir, {
        job: id.value,
        shards: [0],
        attempts: [1],
        of: 3,
        submitted_at: new Date().toISOString(),
      });
      const notices: ArrayNotice[] = [];
      const r = await runArray(stage, { client, options, notify: (n) => notices.push(n) });
      expect(r.ok, r.failure?.message).toBe(true);
      expect(client.cancels[0]).toEqual([id.value]);
      expect(notices[0]).toEqual({ type: 'cancelled', job: id.value, shards: [] });
      expect(client.submits).toBe(2);
    },
  );
});
