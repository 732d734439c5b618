/**
 * The Slurm client and the sbatch scripts against a real single-node Slurm on localhost
 * (test/helpers/slurm-cluster.ts): an array job runs one task per shard, writes its log and exit
 * marker into the stage folder, and its states are read back with squeue/scontrol; scancel cancels.
 * Skipped, saying why, where Slurm is not installed or this is not root.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandClient, runCommand, type TaskState } from '../../../../runner/exec/slurm/client.js';
import { slurmOptions } from '../../../../runner/exec/slurm/options.js';
import {
  exitFile,
  logFile,
  renderScript,
  SHARD_VAR,
  slurmDir,
} from '../../../../runner/exec/slurm/script.js';
import { tempDir } from '../../../helpers/cli.js';
import { type SlurmCluster, slurmSkipReason, startSlurmCluster } from '../../../helpers/slurm-cluster.js';

const SKIP = slurmSkipReason();
const title = (t: string) => (SKIP === null ? t : `${t} — ${SKIP}`);

describe.skipIf(SKIP !== null)('localhost Slurm', () => {
  let cluster: SlurmCluster;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    cluster = await startSlurmCluster();
    // The client runs the Slurm tools with this process's environment.
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

  async function waitDone(jobId: string, n: number): Promise<TaskState[]> {
    const client = commandClient(runCommand());
    for (let i = 0; i < 240; i++) {
      const r = await client.states([jobId]);
      if (r.ok) {
        const tasks = r.value.filter((t) => t.task !== null);
        if (tasks.length === n && tasks.every((t) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(t.state)))
          return tasks.sort((a, b) => a.task! - b.task!);
      }
      await new Promise((res) => setTimeout(res, 250));
    }
    throw new Error(`job ${jobId} did not finish\n${cluster.logs()}`);
  }

  it(
    title('an array job runs one task per shard; logs and exit markers land in the stage folder'),
    async () => {
      const stageDir = join(tempDir('pefuse-slurm-stage-'), 'stages', 'abc');
      mkdirSync(slurmDir(stageDir), { recursive: true });
      const visible = join(stageDir, 'description.json');
      writeFileSync(visible, '{}');
      const o = slurmOptions({ array_parallelism: 2, mem: '100M', time: '5' });
      const script = renderScript(
        {
          key: 'abcdef0123456789',
          kind: 'embed.image',
          stageDir,
          shards: [0, 1, 2],
          gpu: false,
          visibleFile: visible,
          command: ['sh', '-c', 'echo "shard $1"; [ "$1" != 1 ] || exit 7', 'sh', SHARD_VAR],
          cwd: stageDir,
        },
        o,
      );
      const file = join(slurmDir(stageDir), 'submit-1.sh');
      writeFileSync(file, script);
      const client = commandClient(runCommand());
      expect(await client.available()).toBeNull();
      const id = await client.submit(file);
      expect(id.ok, id.ok ? '' : id.error).toBe(true);
      if (!id.ok) return;
      const tasks = await waitDone(id.value, 3);
      expect(tasks.map((t) => [t.task, t.state, t.exitCode])).toEqual([
        [0, 'COMPLETED', 0],
        [1, 'FAILED', 7],
        [2, 'COMPLETED', 0],
      ]);
      for (const shard of [0, 1, 2]) {
        expect(readFileSync(logFile(stageDir, shard, id.value), 'utf8')).toContain(`shard ${shard}`);
        expect(readFileSync(exitFile(stageDir, shard, id.value), 'utf8').trim()).toBe(
          shard === 1 ? '7' : '0',
        );
      }
    },
  );

  it(title('a task that cannot see the stage folder says the cache is not shared'), async () => {
    const stageDir = join(tempDir('pefuse-slurm-stage-'), 'stages', 'abc');
    mkdirSync(slurmDir(stageDir), { recursive: true });
    const script = renderScript(
      {
        key: 'abcdef0123456789',
        kind: 'dataset',
        stageDir,
        shards: [0],
        gpu: false,
        visibleFile: join(stageDir, 'not-there.json'),
        command: ['true'],
        cwd: stageDir,
      },
      slurmOptions({}),
    );
    const file = join(slurmDir(stageDir), 'submit-1.sh');
    writeFileSync(file, script);
    const client = commandClient(runCommand());
    const id = await client.submit(file);
    if (!id.ok) throw new Error(id.error);
    const [t] = await waitDone(id.value, 1);
    expect(t!.exitCode).toBe(3);
    expect(readFileSync(logFile(stageDir, 0, id.value), 'utf8')).toMatch(
      /not-there\.json is not visible on .*: the cache must be on a filesystem every node sees/,
    );
    expect(existsSync(exitFile(stageDir, 0, id.value))).toBe(false);
  });

  it(title('scancel cancels a queued or running array'), async () => {
    const stageDir = join(tempDir('pefuse-slurm-stage-'), 'stages', 'abc');
    mkdirSync(slurmDir(stageDir), { recursive: true });
    const visible = join(stageDir, 'description.json');
    writeFileSync(visible, '{}');
    const script = renderScript(
      {
        key: 'abcdef0123456789',
        kind: 'dataset',
        stageDir,
        shards: [0, 1],
        gpu: false,
        visibleFile: visible,
        command: ['sleep', '300'],
        cwd: stageDir,
      },
      slurmOptions({}),
    );
    const file = join(slurmDir(stageDir), 'submit-1.sh');
    writeFileSync(file, script);
    const client = commandClient(runCommand());
    const id = await client.submit(file);
    if (!id.ok) throw new Error(id.error);
    const live = await client.states([id.value]);
    expect(live.ok && live.value.some((t) => ['PENDING', 'RUNNING', 'CONFIGURING'].includes(t.state))).toBe(
      true,
    );
    expect((await client.cancel([id.value])).ok).toBe(true);
    const tasks = await waitDone(id.value, 2);
    expect(tasks.map((t) => t.state)).toEqual(['CANCELLED', 'CANCELLED']);
  });
});
