/**
 * Points whose inputs do not resolve (a dataset root that is not there because `${env:VAR}` is unset and
 * its default was used, a gallery that cannot be built) plan with a warning, are marked unresolved, are
 * refused by `run`, and stop `gc` from deleting anything on their strength (issue 9, defects 1, 3, 7).
 */
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../runner/store/index.js';
import { itWithShared, pefuse, SHARED, tempDir } from '../helpers/cli.js';
import { circoRoot, cirrDataWithImages } from '../stages/datasets/fixtures.js';

const SPEC = `experiment: unresolved
datasets:
  - { name: cirr, split: val, root: "\${env:MYDATA:-data}/cirr" }
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
retrieval: { backend: dummy, model: dummy }
`;

function backdate(path: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  const walk = (p: string) => {
    try {
      for (const n of readdirSync(p)) walk(join(p, n));
    } catch {
      // a file
    }
    utimesSync(p, t, t);
  };
  walk(path);
}

async function computed(): Promise<{ dir: string; data: string; cache: string }> {
  const data = await cirrDataWithImages();
  const dir = tempDir('pefuse-proj-');
  writeFileSync(join(dir, 'spec.yaml'), SPEC);
  const r = await pefuse(['run', 'spec.yaml'], { cwd: dir, env: { MYDATA: data } });
  expect(r.exitCode).toBe(0);
  const cache = join(dir, 'cache');
  backdate(cache, 3 * 3_600_000);
  return { dir, data, cache };
}

describe('a spec whose dataset root does not resolve (an unset variable)', () => {
  it('gc refuses, names the spec, the root and the variable, and removes nothing', async () => {
    const { dir, cache } = await computed();
    const before = await openStore(cache).stages.list();
    expect(before).toHaveLength(6);
    const r = await pefuse(['gc', 'spec.yaml'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `pefuse gc: spec.yaml does not fully resolve:\n  dataset root not found: ${join(dir, 'data', 'cirr')} (spec.yaml:3:37); $MYDATA is not set, so its default was used\n` +
        'pefuse gc: nothing was removed: spec.yaml does not fully resolve (above), so gc cannot tell which cache entries it reaches. ' +
        'Fix what is named above (the spec, an unset variable, a missing path), or leave the spec out of the list (pefuse gc SPEC…), then run gc again.\n',
    );
    expect(await openStore(cache).stages.list()).toEqual(before);
  });

  it('gc --dry-run reports what it can and names the spec it could not plan', async () => {
    const { dir, cache } = await computed();
    const r = await pefuse(['gc', '--dry-run', 'spec.yaml'], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('pefuse gc: spec.yaml does not fully resolve:');
    expect(r.stderr).toContain(
      'pefuse gc --dry-run: spec.yaml does not fully resolve (above): the counts below treat what it reaches as unreachable, and a real gc refuses until this is fixed',
    );
    expect(r.stdout).toContain('would remove 6 stages');
    expect(await openStore(cache).stages.list()).toHaveLength(6);
  });

  it('plan marks its points unresolved (not "will run" under another key) and run refuses them', async () => {
    const { dir } = await computed();
    const plan = await pefuse(['plan', 'spec.yaml'], { cwd: dir });
    expect(plan.exitCode).toBe(0);
    expect(plan.stderr).toContain('warning: dataset root not found');
    expect(plan.stderr).toContain('hint: $MYDATA is not set, so the default was used');
    expect(plan.stdout).toContain('0 of 6 stages will run, 0 cached, 6 unresolved (not run)');
    expect(plan.stdout).toContain(
      '1 of 1 points are unresolved (see the warnings above): `pefuse run` refuses them',
    );
    expect(plan.stdout).not.toMatch(/\brun\s+(data|input) changed/);

    const run = await pefuse(['run', 'spec.yaml'], { cwd: dir });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(
      new RegExp(
        `refused 1 point whose inputs did not resolve \\(it would be computed from the wrong inputs\\):\\n  dataset root not found: ${join(dir, 'data', 'cirr')}: [0-9a-f]{12}\\n`,
      ),
    );
    expect(run.stderr).toContain('pefuse run: no point of the plan resolved; nothing was run');
    expect(run.stderr).not.toContain('re-run the same command');
  });

  it('run still runs the resolved points of the plan, and says which were refused', async () => {
    const dir = tempDir('pefuse-proj-');
    writeFileSync(
      join(dir, 'spec.yaml'),
      SPEC.replace(
        'datasets:\n',
        'datasets:\n  - { name: synthetic, seed: 1, n_gallery: 20, n_queries: 4 }\n',
      ),
    );
    const r = await pefuse(['run', 'spec.yaml'], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('refused 1 point whose inputs did not resolve');
    expect(r.stderr).toContain('finished the resolved points; 1 unresolved point was refused (see above)');
    expect(r.stdout).toContain('done: 6 stages (0 cached, 6 computed)');
  });

  it('gc -v lists the stages it removes', async () => {
    const { dir, data, cache } = await computed();
    // Another temperature's stages, then the spec as written: those three are unreachable.
    const other = await pefuse(['run', 'spec.yaml', '--set', 'mllm.temperature=0.7'], {
      cwd: dir,
      env: { MYDATA: data },
    });
    expect(other.exitCode).toBe(0);
    backdate(cache, 3 * 3_600_000);
    const r = await pefuse(['gc', '-v', 'spec.yaml'], { cwd: dir, env: { MYDATA: data } });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[1]).toMatch(/^removed 4 stages, /);
    expect(
      lines
        .slice(2)
        .map((l) =>
          l
            .replace(/ [0-9a-f]{12} /, ' KEY ')
            .replace(/\s+/g, ' ')
            .trim(),
        )
        .sort(),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^removed KEY embed.text \d/),
        expect.stringMatching(/^removed KEY metrics \d/),
        expect.stringMatching(/^removed KEY mllm.compose \d/),
        expect.stringMatching(/^removed KEY score \d/),
      ]),
    );
    expect(lines).toHaveLength(6);
  });
});

describe('a gallery that cannot be built (defect 3)', () => {
  it('is the first warning, is not folded with others, and marks the points unresolved', async () => {
    const dir = tempDir('pefuse-proj-');
    const circo = circoRoot({ info: false });
    writeFileSync(
      join(dir, 'spec.yaml'),
      `experiment: g
datasets:
  - { name: circo, split: val, root: ${circo} }
  - { name: cirr, split: val, root: /nonexistent/a }
  - { name: cirr, split: test1, root: /nonexistent/b }
  - { name: fashioniq, split: val, category: dress, root: /nonexistent/c }
  - { name: fashioniq, split: val, category: shirt, root: /nonexistent/d }
mode: t2i
mllm: { backend: openai, model: m }
retrieval: { backend: dummy, model: dummy }
`,
    );
    const r = await pefuse(['plan', 'spec.yaml'], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.includes(': warning: '));
    expect(warnings[0]).toMatch(/^spec.yaml:3:38: warning: CIRCO gallery unknown: /);
    // Four missing roots: three shown, one folded, and only with its own kind.
    expect(warnings.filter((w) => w.includes('dataset root not found'))).toHaveLength(3);
    expect(r.stderr).toContain('(1 more warning like "dataset root not found: /nonexistent/a" not shown)');
    // Another kind of warning (a sampling field the openai API rejects) is shown, not folded in.
    expect(warnings.some((w) => w.includes('is not sent to backend "openai"'))).toBe(true);
    expect(r.stdout).toContain('5 of 5 points are unresolved');
    const json = JSON.parse((await pefuse(['plan', 'spec.yaml', '--json'], { cwd: dir })).stdout);
    expect(json.point_list[0].unresolved).toEqual([`the circo gallery cannot be built from ${circo}`]);
    const run = await pefuse(['run', 'spec.yaml'], { cwd: dir });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`  the circo gallery cannot be built from ${circo}: `);
  });

  itWithShared('datasets/circo/annotations/val.json')(
    'fig2 on the real CIRCO annotations shows the gallery warning first',
    async () => {
      const cache = tempDir();
      const env = { PEFUSE_DATA: join(SHARED, 'datasets') };
      const r = await pefuse(['plan', 'experiments/fig2-mllm-sensitivity.yaml', '--cache', cache], { env });
      expect(r.exitCode).toBe(0);
      const warnings = r.stderr.split('\n').filter((l) => l.includes(': warning: '));
      expect(warnings.slice(0, 2).join('\n')).toContain('warning: CIRCO gallery unknown');
      expect(r.stderr).not.toContain('more warning');
      expect(r.stderr).not.toContain('diffusers');
      expect(r.stdout).toContain('54 of 54 points are unresolved');
    },
  );
});

describe('a partly present data folder (defect 7)', () => {
  it('validate reports per spec; gc --dry-run plans the others and names the one it could not', async () => {
    const dir = tempDir('pefuse-proj-');
    mkdirSync(join(dir, 'fiq', 'captions'), { recursive: true });
    writeFileSync(
      join(dir, 'fiq.yaml'),
      `experiment: fiq
datasets: [{ name: fashioniq, split: val, category: dress, root: fiq }]
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
retrieval: { backend: dummy, model: dummy }
`,
    );
    writeFileSync(
      join(dir, 'syn.yaml'),
      `experiment: syn
datasets: [{ name: synthetic, n_gallery: 20, n_queries: 4 }]
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
retrieval: { backend: dummy, model: dummy }
`,
    );
    const v = await pefuse(['validate', 'fiq.yaml', 'syn.yaml'], { cwd: dir });
    expect(v.exitCode).toBe(2);
    expect(v.stdout).toBe('fiq.yaml: 1 error\nsyn.yaml: ok (1 point, 6 stages)\n');
    expect(v.stderr).toContain('fiq.yaml:2:66: error: ');

    const run = await pefuse(['run', 'syn.yaml'], { cwd: dir });
    expect(run.exitCode).toBe(0);
    const dry = await pefuse(['gc', '--dry-run', 'fiq.yaml', 'syn.yaml'], { cwd: dir });
    expect(dry.exitCode).toBe(2);
    expect(dry.stderr).toContain(
      'pefuse gc --dry-run: fiq.yaml could not be planned (errors above): the counts below treat what it reaches as unreachable, and a real gc refuses until this is fixed',
    );
    expect(dry.stdout).toMatch(/^2 specs reach 6 stages \(cache: cache\)\nwould remove 0 stages/);
    const real = await pefuse(['gc', 'fiq.yaml', 'syn.yaml'], { cwd: dir });
    expect(real.exitCode).toBe(2);
    expect(real.stderr).toContain(
      'pefuse gc: nothing was removed: fiq.yaml could not be planned (errors above)',
    );
  });
});
