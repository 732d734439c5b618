/** Plan-time checks for what `run` would reject: synthetic ranges, backends, endpoints, seeds. */
import { describe, expect, it } from 'vitest';
import { SYNTHETIC_LIMITS } from '../../../stages/datasets/synthetic/index.js';
import { BASE, check } from './helpers.js';

describe('synthetic dataset ranges (one definition: SYNTHETIC_LIMITS)', () => {
  it('n_gallery and n_queries out of range are located errors', async () => {
    const r = await check({
      'spec.yaml': BASE.replace('{ name: synthetic }', '{ name: synthetic, n_gallery: 5, n_queries: 2000 }'),
    });
    expect(
      r.text,
    ).toBe(`spec.yaml:3:35: error: \`datasets[0].n_gallery\` must be an integer from 10 to ${SYNTHETIC_LIMITS.n_gallery.max} (got 5)
  3 |   - { name: synthetic, n_gallery: 5, n_queries: 2000 }
    |                                   ^
  hint: the synthetic generator draws one image per attribute combination; it has ${SYNTHETIC_LIMITS.n_gallery.max}

spec.yaml:3:49: error: \`datasets[0].n_queries\` must be an integer from 1 to 1000 (got 2000)
  3 |   - { name: synthetic, n_gallery: 5, n_queries: 2000 }
    |                                                 ^^^^
  hint: the synthetic generator makes at most 1000 queries per split

2 errors
`);
  });

  it('the limits are the generator’s own', () => {
    expect(SYNTHETIC_LIMITS.n_gallery).toEqual({ min: 10, max: 432 });
    expect(SYNTHETIC_LIMITS.n_queries).toEqual({ min: 1, max: 1000 });
  });

  it('the bounds themselves are accepted', async () => {
    const r = await check({
      'spec.yaml': BASE.replace('{ name: synthetic }', '{ name: synthetic, n_gallery: 432, n_queries: 1 }'),
    });
    expect(r.ok).toBe(true);
  });
});

describe('model backends', () => {
  it('every MLLM backend of the schema has a runner: transformers plans without a warning', async () => {
    const r = await check({
      'spec.yaml': BASE.replace(
        'mllm: { backend: dummy, model: m }',
        'mllm: { backend: transformers, model: Qwen/Qwen2.5-VL-7B-Instruct }',
      ),
    });
    expect(r.ok).toBe(true);
    expect(r.text).toBe('');
  });

  it('the diffusers backend runs (no warning); steps × strength < 1 at a swept point is a located error, once', async () => {
    const r = await check({
      'spec.yaml': `${BASE.replace('mode: t2i', 'mode: i2i')}diffusion: { backend: diffusers, pipeline: sdxl-turbo }\nsweep: { grid: { diffusion.steps: [1, 2, 3] } }\n`,
    });
    expect(
      r.text,
    ).toBe(`spec.yaml:7:44: error: \`diffusion.steps\` × \`diffusion.strength\` = 1 × 0.5 < 1: the sdxl-turbo pipeline would run no denoising step
  7 | diffusion: { backend: diffusers, pipeline: sdxl-turbo }
    |                                            ^^^^^^^^^^
  hint: it runs int(steps × strength) steps; e.g. steps: 2 or more at strength 0.5

1 error
`);
  });
});

describe('mllm.endpoint', () => {
  it.each(['not a url', 'ftp://host/v1', 'localhost:8000'])('%s is not an http(s) URL', async (url) => {
    const r = await check({
      'spec.yaml': BASE.replace('model: m }', `model: m, endpoint: "${url}" }`),
    });
    expect(r.text.split('\n')[0]).toBe(
      `spec.yaml:5:45: error: \`mllm.endpoint\` must be an http(s) URL (got "${url}")`,
    );
    expect(r.text).toContain(
      "  hint: the server's OpenAI-compatible base URL, e.g. `endpoint: http://localhost:8000/v1`\n",
    );
  });

  it('https is fine', async () => {
    const r = await check({
      'spec.yaml': BASE.replace('model: m }', 'model: m, endpoint: "https://api.example.org/v1" }'),
    });
    expect(r.ok).toBe(true);
  });
});

describe('repeats', () => {
  it('duplicate seeds are an error', async () => {
    const r = await check({ 'spec.yaml': `${BASE}repeats: { seeds: [1, 2, 1] }\n` });
    expect(r.text).toBe(`spec.yaml:7:26: error: duplicate seed 1 in \`repeats.seeds\`
  7 | repeats: { seeds: [1, 2, 1] }
    |                          ^
  spec.yaml:7:20: note: first listed here
    7 | repeats: { seeds: [1, 2, 1] }
      |                    ^
  hint: each repeat needs its own seed; remove the duplicate

1 error
`);
  });
});
