/** Facts with one definition, checked where they meet (defaults vs metric depths, the PRNG streams). */
import { describe, expect, it } from 'vitest';
import { VIEWS_DDL } from '../../runner/results/schema.js';
import { mulberry32, mulberry32Uint32 } from '../../stages/datasets/synthetic/prng.js';
import { SCORE_DEFAULTS } from '../../stages/defaults.js';
import { metricDepth } from '../../stages/metrics/ks.js';

describe('one source of truth', () => {
  it('the default score.k reaches the deepest K of every dataset', () => {
    const depths = (['cirr', 'fashioniq', 'circo', 'genecis', 'synthetic'] as const).map((d) => [
      d,
      metricDepth(d),
    ]);
    expect(Object.fromEntries(depths)).toEqual({
      cirr: 50,
      fashioniq: 50,
      circo: 50,
      genecis: 3,
      synthetic: 50,
    });
    for (const [, k] of depths) expect(SCORE_DEFAULTS.k).toBeGreaterThanOrEqual(k as number);
  });

  it('mulberry32: the [0, 1) stream is the uint32 stream / 2^32', () => {
    const a = mulberry32(42);
    const b = mulberry32Uint32(42);
    for (let i = 0; i < 1000; i++) expect(a() * 2 ** 32).toBe(b());
    // The uint32 stream itself is pinned by ../shared/refvectors (test/stages/metrics/refvectors.test.ts).
  });

  it('compute_table names no stage kind by hand', () => {
    const view = VIEWS_DDL.find((d) => d.includes('VIEW compute_table'))!;
    expect(view).toContain(`kind IN ('mllm.compose', 'diffusion.edit')) AS generator`);
    expect(view).not.toContain('LIKE');
  });
});
