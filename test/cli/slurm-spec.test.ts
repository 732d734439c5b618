/**
 * The `slurm:` block as users meet it, through the real CLI: located diagnostics for bad values,
 * `--set slurm.KEY=VALUE` overrides, no effect on stage keys or point ids, and the dry run
 * `pefuse plan SPEC --executor slurm` printing the sbatch scripts it would submit. No Slurm needed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BIN, pefuse, REPO_ROOT, tempDir } from '../helpers/cli.js';

const BASE = `experiment: t
datasets:
  - { name: synthetic, n_gallery: 60, n_queries: 20 }
mode: t2i
mllm: { backend: dummy, model: m }
retrieval: { backend: dummy, model: d }
`;
const DEMO = join(REPO_ROOT, 'experiments', 'demo.yaml');

function specDir(text: string): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'spec.yaml'), text);
  return dir;
}

describe('the slurm: block', () => {
  it('bad values are located diagnostics', async () => {
    const dir = specDir(`${BASE}slurm:
  partition: gpu
  time: 2 hours
  mem: lots
  gpus: -1
  sbatch_flags: [--array=0-3, exclusive]
  partiton: x
`);
    const r = await pefuse(['validate', 'spec.yaml'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`spec.yaml:13:3: error: unknown key \`partiton\` in slurm
  13 |   partiton: x
     |   ^^^^^^^^
  hint: did you mean \`partition\`?`);
    expect(r.stderr).toContain('spec.yaml:11:9: error: `slurm.gpus` must be >= 0 (got -1)');
    expect(r.stderr).toContain(`spec.yaml:9:9: error: \`slurm.time\` is not a Slurm time limit (got "2 hours")
  9 |   time: 2 hours
    |         ^^^^^^^
  hint: write minutes (90), HH:MM:SS (01:30:00) or D-HH:MM:SS (1-00:00:00)`);
    expect(r.stderr).toContain(
      'spec.yaml:10:8: error: `slurm.mem` is not an sbatch memory size (got "lots")',
    );
    expect(r.stderr).toContain(
      'spec.yaml:12:18: error: `slurm.sbatch_flags`: pefuse sets `--array` itself on every job',
    );
    expect(r.stderr).toContain(
      'spec.yaml:12:31: error: `slurm.sbatch_flags`: "exclusive" is not an sbatch flag',
    );
  });

  it('--set slurm.KEY=VALUE is checked like the file', async () => {
    const dir = specDir(BASE);
    const r = await pefuse(['validate', 'spec.yaml', '--set', 'slurm.time=soon'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(
      '<command line>:1:18: error: `slurm.time` is not a Slurm time limit (got "soon")',
    );
  });

  it('a slurm block (from the file or --set) changes no stage key and no point id', async () => {
    const plain = specDir(BASE);
    const withSlurm = specDir(
      `${BASE}slurm: { partition: gpu, account: lab, time: "4:00:00", gpus: 2, shard_size: 7, setup: "module load cuda" }\n`,
    );
    const keys = async (dir: string, extra: string[] = []) => {
      const r = await pefuse(['--cache', join(dir, 'cache'), 'plan', 'spec.yaml', '--json', ...extra], {
        cwd: dir,
      });
      expect(r.exitCode, r.stderr).toBe(0);
      const p = JSON.parse(r.stdout) as { point_list: { id: string }[]; stages: { key: string }[] };
      return { points: p.point_list.map((x) => x.id), stages: p.stages.map((s) => s.key) };
    };
    const a = await keys(plain);
    expect(await keys(withSlurm)).toEqual(a);
    expect(await keys(plain, ['--set', 'slurm.partition=other', '--set', 'slurm.shard_size=3'])).toEqual(a);
  });

  it('plan --executor slurm prints the sbatch scripts it would submit', async () => {
    const cache = tempDir('pefuse-slurm-plan-');
    const r = await pefuse([
      '--cache',
      cache,
      'plan',
      DEMO,
      '--executor',
      'slurm',
      '--set',
      'slurm.partition=gpu',
      '--set',
      'slurm.account=lab',
      '--set',
      'slurm.qos=high',
      '--set',
      'slurm.time=1:00:00',
      '--set',
      'slurm.mem=8G',
      '--set',
      'slurm.shard_size=100',
      '--set',
      'slurm.local_max_items=100',
      '--set',
      'slurm.array_parallelism=2',
      '--set',
      'slurm.sbatch_flags=[--constraint=a100]',
      '--set',
      'slurm.setup=source ~/venv/bin/activate',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      'slurm: 17 stages as job arrays (51 shards), 73 on the submit host, 0 cached or not run',
    );
    expect(r.stdout).toMatch(/slurm: the cache .* is on \S+/);
    expect(r.stdout).toContain('    24 × metrics        not split into shards: runs on the submit host');
    const script = r.stdout.slice(r.stdout.indexOf('# ---- embed.image gallery-embed'));
    const key = /gallery-embed (\w{12})/.exec(script)![1]!;
    expect(script).toContain(`#SBATCH --job-name=pefuse-embed.image-${key}`);
    for (const line of [
      '#SBATCH --array=0-2%2',
      '#SBATCH --partition=gpu',
      '#SBATCH --account=lab',
      '#SBATCH --qos=high',
      '#SBATCH --time=1:00:00',
      '#SBATCH --cpus-per-task=1',
      '#SBATCH --mem=8G',
      '#SBATCH --constraint=a100',
      'source ~/venv/bin/activate',
      '--shard "$SLURM_ARRAY_TASK_ID" --of 3',
    ])
      expect(script).toContain(line);
    expect(script).toMatch(
      new RegExp(`#SBATCH --output=${cache}/stages/${key}\\w+/slurm/shard-%a\\.job-%A\\.log`),
    );
    expect(script).not.toContain('--gres');
  });

  it('a server pefuse starts itself (mllm.server) is refused under Slurm, with what to do instead', async () => {
    const dir = specDir(`experiment: t
datasets:
  - { name: synthetic, n_gallery: 60, n_queries: 20 }
mode: t2i
mllm: { backend: vllm, model: Qwen/Qwen2.5-VL-7B-Instruct, server: {} }
retrieval: { backend: dummy, model: d }
`);
    const r = await pefuse(['--cache', join(dir, 'cache'), 'plan', 'spec.yaml', '--executor', 'slurm'], {
      cwd: dir,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      'slurm: refused: the spec asks pefuse to start the MLLM server itself (mllm.server), which --executor slurm does not do in this version: start the server yourself (on a GPU node, or as its own Slurm job) and give its URL as mllm.endpoint',
    );
  });

  it('plan without --executor slurm prints no scripts; an unknown executor is a usage error', async () => {
    const cache = tempDir('pefuse-slurm-plan-');
    const r = await pefuse(['--cache', cache, 'plan', DEMO]);
    expect(r.stdout).not.toContain('#SBATCH');
    const bad = await pefuse(['--cache', cache, 'plan', DEMO, '--executor', 'pbs']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toBe('pefuse plan: unknown executor "pbs" (available: local, slurm)\n');
  });

  it('the Slurm code loads only for --executor slurm (not for --version, validate or plain plan)', async () => {
    const probe = fileURLToPath(new URL('../fixtures/load-probe/probe.mjs', import.meta.url));
    const loaded = async (...args: string[]) => {
      const out = join(tempDir('pefuse-load-'), 'loaded.txt');
      await execa(process.execPath, ['--import', probe, BIN, ...args], {
        env: { PEFUSE_LOAD_PROBE: out, NO_COLOR: '1' },
        reject: false,
        stdin: 'ignore',
      });
      return /\/runner\/exec\/slurm\//.test(readFileSync(out, 'utf8'));
    };
    const cache = tempDir('pefuse-load-cache-');
    expect(await loaded('--version')).toBe(false);
    expect(await loaded('validate', DEMO)).toBe(false);
    expect(await loaded('--cache', cache, 'plan', DEMO)).toBe(false);
    expect(await loaded('--cache', cache, 'plan', DEMO, '--executor', 'slurm')).toBe(true);
  });
});
