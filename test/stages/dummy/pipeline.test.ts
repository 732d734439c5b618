import { describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/cli.js';
import { type Mode, runDummyPipeline } from './pipeline.js';

const MODES: Mode[] = ['t2i', 'i2i', 't2t', 'i2t'];

describe('the dummy pipeline, end to end at library level', () => {
  it('retrieves far above chance in all four conversion modes, and noise lowers recall', async () => {
    const root = tempDir();
    const base = await runDummyPipeline(root, {
      mllm: { temperature: 0.1, top_p: 0.9 },
      diffusion: { steps: 10 },
    });
    expect(base.errors).toEqual([]);
    expect([base.nQueries, base.nGallery]).toEqual([80, 240]);
    // Chance for Recall@10 with the reference excluded: 10 / 239 ≈ 4.2 %.
    const chance = (100 * 10) / (base.nGallery - 1);
    for (const mode of MODES) expect(base.recall[mode][10], mode).toBeGreaterThan(10 * chance);

    const noisy = await runDummyPipeline(root, {
      mllm: { temperature: 0.8, top_p: 0.9 },
      diffusion: { guidance_scale: 1.5, steps: 10 },
    });
    for (const mode of MODES) expect(noisy.recall[mode][1], mode).toBeLessThan(base.recall[mode][1]!);
  });
});
