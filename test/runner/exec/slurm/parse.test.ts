/**
 * The Slurm executor's pure parts: reading what sbatch/squeue/scontrol print (several Slurm versions'
 * shapes, junk lines), cutting stages into shards and placing them, the --array value, shell quoting,
 * and judging the cache's filesystem. No Slurm needed.
 */
import { describe, expect, it } from 'vitest';
import {
  commandClient,
  parseSbatchParsable,
  parseScontrol,
  parseSqueue,
  taskIds,
} from '../../../../runner/exec/slurm/client.js';
import { slurmRefusals } from '../../../../runner/exec/slurm/layout.js';
import { slurmOptions } from '../../../../runner/exec/slurm/options.js';
import { placeStage, shardsOf } from '../../../../runner/exec/slurm/placement.js';
import { arraySpec, renderScript, shellQuote } from '../../../../runner/exec/slurm/script.js';
import { judgeFsType } from '../../../../runner/exec/slurm/shared-fs.js';
import type { Plan } from '../../../../runner/plan/types.js';

describe('reading Slurm output', () => {
  it('sbatch --parsable: an id, an id;cluster, or nothing usable', () => {
    expect(parseSbatchParsable('1234\n')).toBe('1234');
    expect(parseSbatchParsable('sbatch: warning: something\n5678;cluster-a\n')).toBe('5678');
    expect(parseSbatchParsable('Submitted batch job 12\n')).toBeNull();
  });

  it('squeue lines: array tasks, pending remainders, junk', () => {
    const out = [
      '41|0|RUNNING|None|node-3',
      '41|[1-3%2]|PENDING|JobArrayTaskLimit|',
      '42|N/A|PENDING|Priority|(null)',
      'garbage line',
      '43|7|COMPLETING|None|gpu[01-02]',
    ].join('\n');
    expect(parseSqueue(out)).toEqual([
      { jobId: '41', task: 0, state: 'RUNNING', reason: null, node: 'node-3', exitCode: null },
      { jobId: '41', task: 1, state: 'PENDING', reason: 'JobArrayTaskLimit', node: null, exitCode: null },
      { jobId: '41', task: 2, state: 'PENDING', reason: 'JobArrayTaskLimit', node: null, exitCode: null },
      { jobId: '41', task: 3, state: 'PENDING', reason: 'JobArrayTaskLimit', node: null, exitCode: null },
      { jobId: '42', task: null, state: 'PENDING', reason: 'Priority', node: null, exitCode: null },
      { jobId: '43', task: 7, state: 'COMPLETING', reason: null, node: 'gpu[01-02]', exitCode: null },
    ]);
  });

  it('scontrol show job -o: one line per task, exit codes, qualified states', () => {
    const out = [
      'JobId=51 ArrayJobId=50 ArrayTaskId=1 JobName=x UserId=u(1) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=7:0 NodeList=n1 Command=/a b',
      'JobId=50 ArrayJobId=50 ArrayTaskId=0 JobName=x JobState=CANCELLED Reason=None ExitCode=0:15 NodeList=(null)',
      'JobId=60 JobName=plain JobState=TIMEOUT ExitCode=0:1 NodeList=n2',
      '',
    ].join('\n');
    expect(parseScontrol(out)).toEqual([
      { jobId: '50', task: 1, state: 'FAILED', reason: 'NonZeroExitCode', node: 'n1', exitCode: 7 },
      { jobId: '50', task: 0, state: 'CANCELLED', reason: null, node: null, exitCode: 0 },
      { jobId: '60', task: null, state: 'TIMEOUT', reason: null, node: 'n2', exitCode: 0 },
    ]);
  });

  it('task id sets', () => {
    expect(taskIds('3')).toEqual([3]);
    expect(taskIds('[0-2,5%4]')).toEqual([0, 1, 2, 5]);
    expect(taskIds('0-6:3')).toEqual([0, 3, 6]);
    expect(taskIds('N/A')).toEqual([null]);
    expect(taskIds(undefined)).toEqual([null]);
  });

  it('a tool that is not installed or fails is a value, not an exception', async () => {
    const client = commandClient(async (cmd) =>
      cmd === 'sbatch'
        ? { code: null, stdout: '', stderr: 'spawn sbatch ENOENT', missing: true }
        : { code: 1, stdout: '', stderr: 'squeue: error: Invalid user\n', missing: false },
    );
    expect(await client.available()).toMatch(/^sbatch is not on PATH/);
    expect(await client.submit('x.sh')).toEqual({ ok: false, error: 'sbatch is not on PATH' });
    expect(await client.states(['1'])).toEqual({
      ok: false,
      error: 'squeue failed: squeue: error: Invalid user',
    });
  });
});

describe('shards and placement', () => {
  it('shards are contiguous and as even as possible', () => {
    expect(shardsOf(160, 100)).toEqual([
      { index: 0, first: 0, size: 80 },
      { index: 1, first: 80, size: 80 },
    ]);
    expect(shardsOf(7, 3).map((s) => s.size)).toEqual([2, 2, 3]);
    expect(shardsOf(5, 500)).toEqual([{ index: 0, first: 0, size: 5 }]);
    // At most 1000 shards (Slurm's default MaxArraySize): larger shards instead.
    const many = shardsOf(1_000_000, 10);
    expect([many.length, many[0]!.size, many.at(-1)!.first + many.at(-1)!.size]).toEqual([
      1000, 1000, 1_000_000,
    ]);
  });

  it('HTTP stages and item-less stages stay on the submit host; GPU stages always go to Slurm', () => {
    const o = slurmOptions({ shard_size: 100, local_max_items: 50 });
    expect(placeStage({ kind: 'mllm.compose', resource: 'http', items: 10_000, unit: 'item' }, o).where).toBe(
      'local',
    );
    expect(placeStage({ kind: 'metrics', resource: 'cpu', items: null, unit: 'none' }, o).where).toBe(
      'local',
    );
    expect(placeStage({ kind: 'score', resource: 'cpu', items: 5000, unit: 'none' }, o)).toEqual({
      where: 'local',
      why: 'not split into shards: runs on the submit host',
    });
    expect(placeStage({ kind: 'score', resource: 'cpu', items: 50, unit: 'chunk' }, o).where).toBe('local');
    expect(placeStage({ kind: 'embed.image', resource: 'cpu', items: 250, unit: 'chunk' }, o)).toMatchObject({
      where: 'slurm',
      gpu: false,
      why: '250 items in 3 shards of ≤ 100',
    });
    expect(placeStage({ kind: 'diffusion.edit', resource: 'gpu', items: 3, unit: 'item' }, o)).toMatchObject({
      where: 'slurm',
      gpu: true,
      shards: [{ index: 0, first: 0, size: 3 }],
    });
  });
});

describe('scripts', () => {
  it('--array values', () => {
    expect(arraySpec([0, 1, 2, 3], null)).toBe('0-3');
    expect(arraySpec([5, 1, 2, 9], 4)).toBe('1-2,5,9%4');
  });

  it('shell quoting', () => {
    expect(shellQuote('/a/b-c.yaml')).toBe('/a/b-c.yaml');
    expect(shellQuote("it's here")).toBe(`'it'\\''s here'`);
    expect(shellQuote('')).toBe(`''`);
  });

  it('a GPU stage asks for its gres; defaults are filled in', () => {
    const text = renderScript(
      {
        key: 'abcdef0123456789',
        kind: 'diffusion.edit',
        stageDir: '/c/stages/abc',
        shards: [0, 1],
        gpu: true,
        visibleFile: '/c/stages/abc/stage.json',
        command: ['/p/bin/pefuse.js', 'x'],
        node: '/opt/node/bin/node',
        cwd: '/home/me/exp',
      },
      slurmOptions({ gpus: 2, gpu_type: 'a100' }),
    );
    expect(text).toContain('#SBATCH --gres=gpu:a100:2\n');
    expect(text).toContain('#SBATCH --cpus-per-task=4\n');
    expect(text).toContain('PEFUSE_NODE=${PEFUSE_NODE:-/opt/node/bin/node}\n');
    expect(text).toContain('"$PEFUSE_NODE" /p/bin/pefuse.js x\n');
    expect(text.startsWith('#!/bin/bash\n#SBATCH --job-name=pefuse-diffusion.edit-abcdef012345\n')).toBe(
      true,
    );
  });
});

describe('the cache filesystem', () => {
  it('NFS and Lustre are shared, ext4 is local, an unknown type says it cannot tell', () => {
    expect(judgeFsType(0x6969, '/c').verdict).toBe('shared');
    expect(judgeFsType(0x0bd00bd0, '/c')).toMatchObject({ verdict: 'shared', fs: 'lustre' });
    expect(judgeFsType(0xef53, '/c')).toMatchObject({ verdict: 'local', fs: 'ext4' });
    expect(judgeFsType(0x12345678, '/c').message).toBe(
      'cannot verify that the cache /c is shared with the compute nodes (filesystem type 0x12345678); each shard checks it can see the cache before it starts',
    );
  });
});

describe('refused under Slurm', () => {
  const plan = (server: unknown, status = 'run') =>
    ({
      points: [
        {
          index: 0,
          config: { mllm: { backend: 'vllm', model: 'm', ...(server !== undefined ? { server } : {}) } },
        },
      ],
      stages: [{ status, points: [0], node: { kind: 'mllm.compose' } }],
    }) as unknown as Plan;

  it('a server pefuse starts itself (mllm.server), when an MLLM stage is to run', () => {
    expect(slurmRefusals(plan({}))).toEqual([
      expect.stringMatching(
        /^the spec asks pefuse to start the MLLM server itself \(mllm.server\), which --executor slurm does not do/,
      ),
    ]);
    expect(slurmRefusals(plan(undefined))).toEqual([]);
    expect(slurmRefusals(plan({}, 'cached'))).toEqual([]);
  });
});
