/**
 * Spec diagnostics as users see them: each case writes a spec to a temp dir, runs the real
 * `pefuse validate`, and compares stderr verbatim (location, source line, underline, hint).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pefuse, tempDir } from '../helpers/cli.js';

const BASE = `experiment: t
datasets:
  - { name: synthetic }
mode: t2i
mllm: { backend: dummy, model: m }
retrieval: { backend: dummy, model: d }
`;

async function validate(files: Record<string, string>, args: string[] = []) {
  const dir = tempDir();
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return pefuse(['validate', 'spec.yaml', ...args], { cwd: dir });
}

describe('pefuse validate: spec errors', () => {
  it('accepts a good spec', async () => {
    const r = await validate({ 'spec.yaml': BASE });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('spec.yaml: ok (1 point, 6 stages)\n');
    expect(r.exitCode).toBe(0);
  });

  it('1. YAML syntax: duplicate key', async () => {
    const r = await validate({ 'spec.yaml': `${BASE}mode: i2i\n` });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(`spec.yaml:7:1: error: YAML duplicate key: Map keys must be unique
  7 | mode: i2i
    | ^^^^
  hint: each key may appear once per mapping; merge the two entries

1 error
`);
  });

  it('2. unknown key with a did-you-mean', async () => {
    const r = await validate({
      'spec.yaml': `${BASE}diffusion: { backend: dummy, pipeline: dummy, image_guidance: 2 }\n`,
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(`spec.yaml:7:47: error: unknown key \`image_guidance\` in diffusion
  7 | diffusion: { backend: dummy, pipeline: dummy, image_guidance: 2 }
    |                                               ^^^^^^^^^^^^^^
  hint: did you mean \`image_guidance_scale\`?

1 error
`);
  });

  it('3. unknown parameter path in a sweep', async () => {
    const r = await validate({ 'spec.yaml': `${BASE}sweep:\n  grid:\n    mllm.temprature: [0.1, 0.5]\n` });
    expect(r.stderr).toBe(`spec.yaml:9:5: error: unknown parameter path \`mllm.temprature\`
  9 |     mllm.temprature: [0.1, 0.5]
    |     ^^^^^^^^^^^^^^^
  hint: did you mean \`mllm.temperature\`?

1 error
`);
    expect(r.exitCode).toBe(2);
  });

  it('4. a mode that needs a missing model block (swept mode)', async () => {
    const r = await validate({ 'spec.yaml': `${BASE}sweep:\n  grid:\n    mode: [t2i, i2i]\n` });
    expect(
      r.stderr,
    ).toBe(`spec.yaml:9:17: error: mode \`i2i\` needs a \`diffusion\` block (it edits the reference image into a target image)
  9 |     mode: [t2i, i2i]
    |                 ^^^
  hint: add e.g. \`diffusion: {backend: diffusers, pipeline: sdxl-instructpix2pix}\`

1 error
`);
  });

  it('5. duplicate axis across a product', async () => {
    const r = await validate({
      'spec.yaml': `${BASE}sweep:\n  product:\n    - grid: { mllm.top_p: [0.5, 0.9] }\n    - grid: { mllm.top_p: [1.0] }\n`,
    });
    expect(
      r.stderr,
    ).toBe(`spec.yaml:10:28: error: duplicate axis \`mllm.top_p\`: it is swept by two members of this product
  10 |     - grid: { mllm.top_p: [1.0] }
     |                            ^^^
  spec.yaml:9:28: note: first swept here
    9 |     - grid: { mllm.top_p: [0.5, 0.9] }
      |                            ^^^
  hint: sweep each parameter in one member only

1 error
`);
  });

  it('6. empty sweep axis', async () => {
    const r = await validate({ 'spec.yaml': `${BASE}sweep:\n  grid:\n    mllm.top_k: []\n` });
    expect(r.stderr).toBe(`spec.yaml:9:17: error: empty sweep: axis \`mllm.top_k\` has no values
  9 |     mllm.top_k: []
    |                 ^^
  hint: list at least one value, or remove the axis

1 error
`);
  });

  it('7. unknown dataset', async () => {
    const r = await validate({ 'spec.yaml': BASE.replace('name: synthetic', 'name: coco, root: x') });
    expect(r.stderr).toBe(`spec.yaml:3:13: error: unknown dataset \`coco\`
  3 |   - { name: coco, root: x }
    |             ^^^^
  hint: did you mean \`circo\`?

1 error
`);
  });

  it('8. zip lists of unequal length', async () => {
    const r = await validate({
      'spec.yaml': `${BASE}sweep:\n  zip:\n    mllm.temperature: [0.1, 0.5, 0.9]\n    mllm.top_p: [0.9, 1.0]\n`,
    });
    expect(
      r.stderr,
    ).toBe(`spec.yaml:10:5: error: zip axes must have the same length: \`mllm.temperature\` has 3 values, \`mllm.top_p\` has 2
  10 |     mllm.top_p: [0.9, 1.0]
     |     ^^^^^^^^^^
  spec.yaml:9:5: note: \`mllm.temperature\` is here
    9 |     mllm.temperature: [0.1, 0.5, 0.9]
      |     ^^^^^^^^^^^^^^^^
  hint: use \`grid\` for all combinations

1 error
`);
  });

  it('9. a swept value of the wrong type, and an out-of-range value, both reported', async () => {
    const r = await validate({
      'spec.yaml': `${BASE}sweep:\n  grid:\n    mllm.temperature: [0.1, hot, -1]\n`,
    });
    expect(r.stderr).toBe(`spec.yaml:9:29: error: \`mllm.temperature\` must be a number (got "hot")
  9 |     mllm.temperature: [0.1, hot, -1]
    |                             ^^^

spec.yaml:9:34: error: \`mllm.temperature\` must be >= 0 (got -1)
  9 |     mllm.temperature: [0.1, hot, -1]
    |                                  ^^

2 errors
`);
  });

  it('10. enum value with a suggestion, and a missing required key', async () => {
    const r = await validate({
      'spec.yaml': BASE.replace('mode: t2i', 'mode: t2l').replace(
        'retrieval: { backend: dummy, model: d }',
        'retrieval: { backend: dummy }',
      ),
    });
    expect(
      r.stderr,
    ).toBe(`spec.yaml:4:7: error: \`mode\` must be one of t2i, i2i, t2t, i2t (got the string "t2l")
  4 | mode: t2l
    |       ^^^
  hint: did you mean \`t2i\`?

spec.yaml:6:14: error: \`retrieval\` is missing the required key \`model\`
  6 | retrieval: { backend: dummy }
    |              ^^^^^^^

2 errors
`);
  });

  it('11. an unset environment variable', async () => {
    const r = await validate({
      'spec.yaml': BASE.replace(
        '{ name: synthetic }',
        '{ name: circo, root: "${env:PEFUSE_TEST_UNSET}/circo" }',
      ),
    });
    expect(r.stderr).toBe(`spec.yaml:3:26: error: environment variable PEFUSE_TEST_UNSET is not set
  3 |   - { name: circo, root: "\${env:PEFUSE_TEST_UNSET}/circo" }
    |                          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  hint: export PEFUSE_TEST_UNSET=… before running, or give a default: \${env:PEFUSE_TEST_UNSET:-/path}

1 error
`);
  });

  it('12. errors inside an included fragment point at the fragment', async () => {
    const r = await validate({
      'spec.yaml': `include: [parts/models.yaml]\nexperiment: t\ndatasets: [{ name: synthetic }]\nmode: t2i\n`,
      'parts/models.yaml': 'mllm: { backend: dumy, model: m }\nretrieval: { backend: dummy, model: d }\n',
    });
    expect(
      r.stderr,
    ).toBe(`parts/models.yaml:1:18: error: \`mllm.backend\` must be one of vllm, sglang, ollama, openai, transformers, dummy, raw (got the string "dumy")
  1 | mllm: { backend: dumy, model: m }
    |                  ^^^^
  hint: did you mean \`dummy\`?

1 error
`);
  });

  it('13. a bad --set override names the command line', async () => {
    const r = await validate({ 'spec.yaml': BASE }, ['--set', 'mllm.top_p=2']);
    expect(r.stderr).toBe(`<command line>:1:18: error: \`mllm.top_p\` must be <= 1 (got 2)
  1 | --set mllm.top_p=2
    |                  ^

1 error
`);
    expect(r.exitCode).toBe(2);
  });

  it('14. collects problems from several specs before exiting', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.yaml'), BASE.replace('mode: t2i', 'mode: x'));
    writeFileSync(join(dir, 'b.yaml'), BASE);
    writeFileSync(join(dir, 'c.yaml'), 'experiment: [\n');
    const r = await pefuse(['validate', 'a.yaml', 'b.yaml', 'c.yaml', 'missing.yaml'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe(
      'a.yaml: 1 error\nb.yaml: ok (1 point, 6 stages)\nc.yaml: 1 error\nmissing.yaml: 1 error\n',
    );
    expect(r.stderr).toContain('a.yaml:4:7: error: `mode` must be one of t2i, i2i, t2t, i2t');
    expect(r.stderr).toContain('c.yaml:1:13: error: YAML: this `[` is never closed');
    expect(r.stderr).toContain('pefuse: error: missing.yaml: file not found');
    expect(r.stderr).not.toMatch(/\n\s+at /); // never a stack trace
  });
});

describe('pefuse validate: specs that used to crash, hang or pass and then fail in run', () => {
  it('a 10^8-point grid is refused at once with exit 2 (no out-of-memory crash)', async () => {
    const axis = `[${Array.from({ length: 100 }, (_, i) => i + 1).join(', ')}]`;
    const grid = ['mllm.top_k', 'mllm.max_tokens', 'mllm.timeout_s', 'retrieval.batch_size']
      .map((a) => `    ${a}: ${axis}`)
      .join('\n');
    const r = await validate({ 'spec.yaml': `${BASE}sweep:\n  grid:\n${grid}\n` });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'spec.yaml:7:1: error: the sweep expands to up to 100,000,000 points (limit 100,000; counted before exclude and duplicates are removed): 1 dataset × 100,000,000 sweep combinations × 1 repeat',
    );
  });

  it('an alias bomb is refused with exit 2', async () => {
    const levels = 'abcdefgh'.split('');
    const bomb = levels
      .map(
        (l, i) =>
          `  ${l}: &${l} [${Array(10)
            .fill(i === 0 ? 'x' : `*${levels[i - 1]}`)
            .join(',')}]`,
      )
      .join('\n');
    const r = await validate({ 'spec.yaml': `${BASE}report:\n${bomb}\n` });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'spec.yaml:11:31: error: too many alias expansions: the aliases here copy more than 10000 values',
    );
  });

  it('5000 levels of nesting: a clean error, exit 2', async () => {
    const r = await validate({ 'spec.yaml': `${BASE}report: ${'['.repeat(5000)}${']'.repeat(5000)}\n` });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('spec.yaml:7:1: error: nesting is too deep (more than 100 levels)');
  });

  it('synthetic sizes that `run` rejects are rejected by validate', async () => {
    const r = await validate({
      'spec.yaml': BASE.replace('{ name: synthetic }', '{ name: synthetic, n_gallery: 500 }'),
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'spec.yaml:3:35: error: `datasets[0].n_gallery` must be an integer from 10 to 432 (got 500)',
    );
  });

  it('every MLLM backend of the schema has a runner: vllm and transformers plan without a warning', async () => {
    for (const backend of ['vllm', 'transformers']) {
      const r = await validate({
        'spec.yaml': BASE.replace('backend: dummy, model: m', `backend: ${backend}, model: m`),
      });
      expect(r.exitCode).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('spec.yaml: ok (1 point, 6 stages)\n');
    }
  });
});

describe('pefuse validate: score depth', () => {
  it('refuses a score.k below the deepest metric K (recall@50 from a top-20 list would be wrong)', async () => {
    const r = await pefuse(['validate', 'experiments/demo.yaml', '--set', 'score.k=20']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(
      '<command line>:1:15: error: `score.k` is 20, but the synthetic metrics read the top 50 (recall@50)',
    );
  });
});

describe('pefuse validate: sweep paths', () => {
  it("refuses Object.prototype's member names as parameter paths (mllm.toString)", async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'p.yaml'),
      'experiment: t\ndatasets: [{ name: synthetic, n_gallery: 20, n_queries: 5 }]\nmode: t2i\nmllm: { backend: dummy, model: dummy-mllm }\nretrieval: { backend: dummy, model: dummy }\nsweep:\n  grid: { mllm.toString: [1, 2] }\n',
    );
    const r = await pefuse(['validate', join(dir, 'p.yaml')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('p.yaml:7:11: error: unknown parameter path `mllm.toString`');
  });
});
