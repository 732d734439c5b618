/**
 * Planning the diffusion stage: parameters and defaults per pipeline (one definition,
 * stages/diffusion/params.ts), located errors and warnings (stages/diffusion/plan-checks.ts), the
 * paper's Figure 3 and Table 5 specs, and `plan`'s one line about running on the CPU.
 */
import { describe, expect, it } from 'vitest';
import type { PlannedStage } from '../../../runner/plan/types.js';
import { itemSeed } from '../../../stages/dummy/items.js';
import { pefuse } from '../../helpers/cli.js';
import { BASE, type Checked, check } from '../../runner/spec/helpers.js';

const I2I = BASE.replace('mode: t2i', 'mode: i2i');

const diffusionStages = (r: Checked): PlannedStage[] =>
  (r.plan?.stages ?? []).filter((s) => s.node.kind === 'diffusion.edit');

describe('diffusion.edit parameters by pipeline', () => {
  it('each pipeline keys only what it reads, with its own defaults and default checkpoint', async () => {
    const plan = async (d: string) => {
      const r = await check({ 'spec.yaml': `${I2I}diffusion: ${d}\n` });
      expect(r.ok, r.text).toBe(true);
      const [s] = diffusionStages(r);
      return { params: s?.record.params, model: s?.record.model, backend: s?.node.backend };
    };
    expect(await plan('{ backend: diffusers, pipeline: sdxl-instructpix2pix }')).toEqual({
      params: {
        pipeline: 'sdxl-instructpix2pix',
        text: 'caption',
        guidance_scale: 7.5,
        image_guidance_scale: 3,
        steps: 30,
        size: 768,
        dtype: 'bf16',
        seed: 0,
      },
      model: {
        backend: 'diffusers',
        pipeline: 'sdxl-instructpix2pix',
        model: 'diffusers/sdxl-instructpix2pix-768',
      },
      backend: 'diffusers:sdxl-instructpix2pix',
    });
    expect(await plan('{ backend: diffusers, pipeline: sdxl-turbo }')).toEqual({
      params: {
        pipeline: 'sdxl-turbo',
        text: 'caption',
        guidance_scale: 0,
        strength: 0.5,
        steps: 60,
        size: 512,
        dtype: 'bf16',
        seed: 0,
      },
      model: { backend: 'diffusers', pipeline: 'sdxl-turbo', model: 'stabilityai/sdxl-turbo' },
      backend: 'diffusers:sdxl-turbo',
    });
    const generic = await plan(
      '{ backend: diffusers, pipeline: generic, model: org/img2img, revision: abc }',
    );
    expect(generic.params).toMatchObject({ pipeline: 'generic', strength: 0.8, size: 512, steps: 30 });
    expect(generic.params).not.toHaveProperty('image_guidance_scale');
    expect(generic.model).toEqual({
      backend: 'diffusers',
      pipeline: 'generic',
      model: 'org/img2img',
      revision: 'abc',
    });
  });

  it('writing a default out or leaving it out is the same stage', async () => {
    const keyOf = async (d: string) =>
      diffusionStages(await check({ 'spec.yaml': `${I2I}diffusion: ${d}\n` }))[0]?.key;
    expect(await keyOf('{ backend: diffusers, pipeline: sdxl-turbo }')).toBe(
      await keyOf(
        '{ backend: diffusers, pipeline: sdxl-turbo, model: stabilityai/sdxl-turbo, size: 512, strength: 0.5, guidance_scale: 0.0, steps: 60, dtype: bf16 }',
      ),
    );
  });

  it('a parameter the pipeline ignores is a located warning, and stays out of the key', async () => {
    const r = await check({
      'spec.yaml': `${I2I}diffusion: { backend: diffusers, pipeline: sdxl-turbo, image_guidance_scale: 3.0 }\n`,
    });
    expect(r.ok).toBe(true);
    expect(
      r.text,
    ).toBe(`spec.yaml:7:78: warning: the sdxl-turbo pipeline ignores \`diffusion.image_guidance_scale\` (it stays out of the stage key)
  7 | diffusion: { backend: diffusers, pipeline: sdxl-turbo, image_guidance_scale: 3.0 }
    |                                                                              ^^^
  hint: sdxl-turbo reads guidance_scale, strength, steps, size, dtype

1 warning
`);
    const plain = await check({
      'spec.yaml': `${I2I}diffusion: { backend: diffusers, pipeline: sdxl-turbo }\n`,
    });
    expect(diffusionStages(r)[0]?.key).toBe(diffusionStages(plain)[0]?.key);
    const ip2p = await check({
      'spec.yaml': `${I2I}diffusion: { backend: diffusers, pipeline: sdxl-instructpix2pix, strength: 0.3 }\n`,
    });
    expect(ip2p.text).toContain('warning: the sdxl-instructpix2pix pipeline ignores `diffusion.strength`');
  });

  it('located errors: steps × strength < 1, generic without a model, diffusers with the dummy pipeline', async () => {
    const low = await check({
      'spec.yaml': `${I2I}diffusion: { backend: diffusers, pipeline: generic, model: m, steps: 3, strength: 0.3 }\n`,
    });
    expect(low.ok).toBe(false);
    expect(low.text.split('\n')[0]).toBe(
      'spec.yaml:7:70: error: `diffusion.steps` × `diffusion.strength` = 3 × 0.3 < 1: the generic pipeline would run no denoising step',
    );
    expect(low.text).toContain(
      'hint: it runs int(steps × strength) steps; e.g. steps: 4 or more at strength 0.3',
    );
    const exact = await check({
      'spec.yaml': `${I2I}diffusion: { backend: diffusers, pipeline: sdxl-turbo, steps: 2, strength: 0.5 }\n`,
    });
    expect(exact.ok, exact.text).toBe(true);
    const generic = await check({
      'spec.yaml': `${I2I}diffusion: { backend: diffusers, pipeline: generic }\n`,
    });
    expect(generic.text.split('\n')[0]).toBe(
      'spec.yaml:7:44: error: `pipeline: generic` needs a `diffusion.model` (the checkpoint id)',
    );
    const dummy = await check({ 'spec.yaml': `${I2I}diffusion: { backend: diffusers, pipeline: dummy }\n` });
    expect(dummy.text.split('\n')[0]).toBe(
      'spec.yaml:7:44: error: `pipeline: dummy` runs only with `backend: dummy`',
    );
  });

  it('every diffusion parameter is sweepable, and repeats give items other seeds', async () => {
    const r = await check({
      'spec.yaml': `${I2I}diffusion: { backend: diffusers, pipeline: sdxl-turbo }
repeats: 2
sweep:
  grid:
    diffusion.strength: [0.5, 1.0]
    diffusion.size: [512, 1024]
    diffusion.dtype: [fp16, fp32]
    diffusion.model: [a/b, c/d]
`,
    });
    expect(r.ok, r.text).toBe(true);
    expect(diffusionStages(r)).toHaveLength(2 * 2 * 2 * 2 * 2);
    const seeds = new Set(diffusionStages(r).map((s) => s.record.params.seed));
    expect(seeds).toEqual(new Set([0, 1]));
    expect(itemSeed({ seed: 0 }, 'q1')).not.toBe(itemSeed({ seed: 1 }, 'q1'));
    expect(itemSeed({ seed: 0 }, 'q1')).not.toBe(itemSeed({ seed: 0 }, 'q2'));
    expect(itemSeed({ seed: 0 }, 'q1')).toBe(itemSeed({ seed: 0, guidance_scale: 3 }, 'q1'));
  });
});

describe('the paper specs', () => {
  it('fig3 plans 84 points: one mllm.compose per repeat feeding 72 diffusion.edit stages', async () => {
    const r = await pefuse(['plan', 'experiments/fig3-diffusion-sensitivity.yaml', '--json'], {
      env: { PEFUSE_DATA: '/nonexistent', PEFUSE_MODELS: '/nonexistent' },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout) as { points: number; totals: Record<string, { stages: number }> };
    expect(p.points).toBe(84);
    expect(p.totals['mllm.compose']?.stages).toBe(3);
    expect(p.totals['diffusion.edit']?.stages).toBe(72);
  });

  it('table5 plans SDXL-InstructPix2Pix and SDXL-Turbo with and without the MLLM; plan says the CPU is slow', async () => {
    // No GPU, whatever the machine running the tests has (an empty CUDA_VISIBLE_DEVICES means none).
    const env = { PEFUSE_DATA: '/nonexistent', PEFUSE_MODELS: '/nonexistent', CUDA_VISIBLE_DEVICES: '' };
    const v = await pefuse(['validate', 'experiments/table5-compute.yaml'], { env });
    expect(v.exitCode, v.stderr).toBe(0);
    const r = await pefuse(['plan', 'experiments/table5-compute.yaml', '--json'], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout) as {
      points: number;
      point_list: { params: Record<string, unknown> }[];
      totals: Record<string, { stages: number }>;
      stages: { kind: string; backend: string }[];
      warnings: string[];
    };
    expect(p.points).toBe(4);
    expect(
      p.point_list.map((x) => `${x.params['diffusion.pipeline']}/${x.params['diffusion.text']}`).sort(),
    ).toEqual([
      'sdxl-instructpix2pix/caption',
      'sdxl-instructpix2pix/mllm',
      'sdxl-turbo/caption',
      'sdxl-turbo/mllm',
    ]);
    expect(p.totals['mllm.compose']?.stages).toBe(1);
    expect(p.totals['diffusion.edit']?.stages).toBe(4);
    expect(
      p.warnings.some((w) => w.includes('the sdxl-turbo pipeline ignores `diffusion.image_guidance_scale`')),
    ).toBe(true);
    const text = await pefuse(['plan', 'experiments/table5-compute.yaml'], { env });
    expect(text.stdout).toContain(
      '\nnote: no GPU (--gpus, resources.gpus, CUDA_VISIBLE_DEVICES): 4 diffusion stages will run on the CPU, which is slow (minutes per SDXL image; fine for a tiny checkpoint with dtype: fp32)\n',
    );
    const gpu = await pefuse(['plan', 'experiments/table5-compute.yaml'], {
      env: { ...env, CUDA_VISIBLE_DEVICES: '0' },
    });
    expect(gpu.stdout).not.toContain('note: no GPU');
  });
});
