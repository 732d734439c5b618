/**
 * What users read (issue 9 part A, defects 4, 6, 10, 12, 13): a sweep that changes nothing, a `--set`
 * the sweep overrides, `~` in paths, status for test-split runs, advice that fits the failure, and a
 * non-UTF-8 spec located at its first bad byte.
 */
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pefuse, tempDir } from '../helpers/cli.js';
import { cirrDataWithImages, cirrRoot } from '../stages/datasets/fixtures.js';

const SYN = `experiment: m
datasets:
  - { name: synthetic, seed: 7, n_gallery: 24, n_queries: 8 }
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
diffusion: { backend: dummy, pipeline: dummy, steps: 10 }
retrieval: { backend: dummy, model: dummy }
`;

function project(files: Record<string, string | Buffer>): string {
  const dir = tempDir('pefuse-msg-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('a swept value that reaches no stage key (defect 4)', () => {
  it('is a warning at the sweep axis in validate and plan', async () => {
    const dir = project({
      'spec.yaml': `${SYN}sweep:\n  grid: { diffusion.guidance_scale: [1.5, 4.5, 7.5] }\n`,
    });
    const v = await pefuse(['validate', 'spec.yaml'], { cwd: dir });
    expect(v.exitCode).toBe(0);
    expect(v.stderr).toBe(
      `spec.yaml:9:11: warning: sweeping \`diffusion.guidance_scale\` changes no stage of any point (mode t2i): its points compute the same thing
  9 |   grid: { diffusion.guidance_scale: [1.5, 4.5, 7.5] }
    |           ^^^^^^^^^^^^^^^^^^^^^^^^
  hint: no stage of these points reads this setting (a mode uses only the blocks it needs); remove the axis, or sweep it under a mode whose stages use it

1 warning
`,
    );
    const p = await pefuse(['plan', 'spec.yaml'], { cwd: dir });
    expect(p.stderr).toContain(
      'spec.yaml:9:11: warning: sweeping `diffusion.guidance_scale` changes no stage',
    );
  });

  it('is silent when the axis changes the stages of some mode it is swept with', async () => {
    const dir = project({
      'spec.yaml': `${SYN}sweep:\n  grid: { mode: [t2i, i2i], diffusion.guidance_scale: [1.5, 4.5] }\n`,
    });
    const v = await pefuse(['validate', 'spec.yaml'], { cwd: dir });
    expect(v.stderr).toBe('');
    expect(v.exitCode).toBe(0);
  });

  it('--set on a path the sweep overrides in some arms is a warning at the axis', async () => {
    const dir = project({
      'spec.yaml': `${SYN}sweep:\n  union:\n    - grid: { mllm.temperature: [0.0, 0.4] }\n    - grid: { mllm.top_p: [0.5, 0.7] }\n`,
    });
    const v = await pefuse(['validate', 'spec.yaml', '--set', 'mllm.temperature=0.9'], { cwd: dir });
    expect(v.exitCode).toBe(0);
    expect(v.stderr).toBe(
      `spec.yaml:10:15: warning: \`--set mllm.temperature=0.9\` is overridden by the sweep in 2 of 4 sweep points: there the swept value of \`mllm.temperature\` is used
  10 |     - grid: { mllm.temperature: [0.0, 0.4] }
     |               ^^^^^^^^^^^^^^^^
  hint: the --set applies only to the sweep points that do not sweep \`mllm.temperature\`

1 warning
`,
    );
  });
});

describe('`~` in paths (defect 10)', () => {
  it('`~/…` is the home directory; `~user/…` is refused, located', async () => {
    const home = tempDir('pefuse-home-');
    const spec = (root: string) => `experiment: t
datasets:
  - { name: cirr, split: val, root: ${root} }
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
retrieval: { backend: dummy, model: dummy }
`;
    const dir = project({ 'a.yaml': spec('~/cirr-data'), 'b.yaml': spec('~bob/cirr-data') });
    const a = await pefuse(['validate', 'a.yaml'], { cwd: dir, env: { HOME: home } });
    expect(a.exitCode).toBe(0);
    expect(a.stderr).toContain(`a.yaml:3:37: warning: dataset root not found: ${join(home, 'cirr-data')}`);
    expect(a.stderr).not.toContain(join(dir, '~'));
    // With the data there, the root resolves.
    cpSync(join(await cirrDataWithImages(), 'cirr'), join(home, 'cirr-data'), { recursive: true });
    const ok = await pefuse(['validate', 'a.yaml'], { cwd: dir, env: { HOME: home } });
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe('a.yaml: ok (1 point, 6 stages)\n');

    const b = await pefuse(['validate', 'b.yaml'], { cwd: dir, env: { HOME: home } });
    expect(b.exitCode).toBe(2);
    expect(b.stderr).toBe(
      `b.yaml:3:37: error: \`~bob/cirr-data\`: \`~bob\` (another user's home directory) is not expanded
  3 |   - { name: cirr, split: val, root: ~bob/cirr-data }
    |                                     ^^^^^^^^^^^^^^
  hint: write the full path, or \`~/…\` for your own home directory

1 error
`,
    );
    expect(existsSync(join(dir, '~bob'))).toBe(false);
  });
});

describe('status after a test-split run (defects 6, 13)', () => {
  it('shows the test point id with "no metrics (test split; use export)", metrics with two decimals, recall@K first', async () => {
    const data = await cirrDataWithImages();
    const dir = project({
      'spec.yaml': `experiment: st
datasets:
  - { name: cirr, split: val, root: ${join(data, 'cirr')} }
  - { name: cirr, split: test1, root: ${join(data, 'cirr')} }
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
retrieval: { backend: dummy, model: dummy }
`,
    });
    const run = await pefuse(['run', 'spec.yaml'], { cwd: dir });
    expect(run.exitCode).toBe(0);
    const plan = JSON.parse((await pefuse(['plan', 'spec.yaml', '--json'], { cwd: dir })).stdout);
    const testId = plan.point_list.find(
      (p: { params: { dataset: string } }) => p.params.dataset === 'cirr/test1',
    ).id;
    const r = await pefuse(['status'], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    const header = lines.find((l) => l.startsWith('point ') && l.includes('recall'))!;
    const names = header.split(/\s+/).slice(4);
    expect(names).toEqual([
      'recall@1',
      'recall@2',
      'recall@5',
      'recall@10',
      'recall@50',
      'recall_subset@1',
      'recall_subset@2',
      'recall_subset@3',
    ]);
    const row = lines[lines.indexOf(header) + 2]!;
    for (const v of row.split(/\s+/).slice(3)) expect(v).toMatch(/^\d+\.\d\d$/);
    expect(r.stdout).toContain(
      `Points of st without metrics (its latest run)\npoint         data        params  note\n------------  ----------  ------  -----------------------------------\n${testId}  cirr/test1          no metrics (test split; use export)\n`,
    );
    // The id is the one `export --run` takes.
    const out = join(dir, 'sub');
    const ex = await pefuse(
      [
        'export',
        '--dataset',
        'cirr',
        '--split',
        'test1',
        '--data-root',
        join(data, 'cirr'),
        '--run',
        testId,
        '--out',
        out,
      ],
      { cwd: dir },
    );
    expect(ex.stderr).toBe('');
    expect(ex.exitCode).toBe(0);
  });
});

describe('messages (defect 12)', () => {
  it('a failure a re-run cannot fix does not say "re-run the same command to resume"', async () => {
    const dir = project({
      'spec.yaml': `experiment: t
datasets:
  - { name: cirr, split: val, root: ${cirrRoot()} }
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
retrieval: { backend: dummy, model: dummy }
`,
    });
    const r = await pefuse(['run', 'spec.yaml'], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('input-missing');
    expect(r.stderr).not.toContain('re-run the same command to resume');
    expect(r.stderr).toContain(
      'fix what the failures above name, then run the same command again: finished work is kept',
    );
  });

  it('an unused model block does not warn (an MLLM block in an i2i spec); a used one does, in user words', async () => {
    // backend openai cannot take top_k / repetition_penalty: a plan warning, only where the block is used.
    const spec = (mode: string) => `experiment: t
datasets: [{ name: synthetic, n_gallery: 20, n_queries: 4 }]
mode: ${mode}
mllm: { backend: openai, model: gpt-4o }
diffusion: { backend: dummy, pipeline: dummy, steps: 2 }
retrieval: { backend: dummy, model: dummy }
`;
    const dir = project({ 'i2i.yaml': spec('i2i'), 't2i.yaml': spec('t2i') });
    const a = await pefuse(['validate', 'i2i.yaml'], { cwd: dir });
    expect(a.stderr).toBe('');
    const b = await pefuse(['validate', 't2i.yaml'], { cwd: dir });
    expect(b.stderr).toContain('warning: mllm.top_k is not sent to backend "openai"');
    expect(b.stderr + b.stdout).not.toMatch(/lands with|its own issue|not-implemented/);
  });

  it('a non-UTF-8 spec names file:line:col of the first bad byte', async () => {
    const dir = project({
      'spec.yaml': Buffer.concat([
        Buffer.from('experiment: t\nmode: t2i # caf'),
        Buffer.from([0xe9]),
        Buffer.from('\nx: '),
        Buffer.from([0xff]),
        Buffer.from('\n'),
      ]),
    });
    const r = await pefuse(['validate', 'spec.yaml'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'spec.yaml:2:16: error: not a UTF-8 text file (byte 0xE9 is not valid UTF-8; Latin-1?)',
    );
  });
});

describe('smaller things (defect 13)', () => {
  it('--gpus 0 on a machine without a visible GPU warns', async () => {
    if (existsSync('/proc/driver/nvidia/gpus')) return; // a GPU host: nothing to warn about
    const dir = project({ 'spec.yaml': SYN });
    const r = await pefuse(['run', 'spec.yaml', '--gpus', '0'], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(
      'pefuse run: warning: --gpus names GPU 0, but no GPU is visible on this machine (no NVIDIA driver found)',
    );
  });
});
