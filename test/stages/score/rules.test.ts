import { describe, expect, it } from 'vitest';
import type { QueryRecord } from '../../../stages/contracts.js';
import { topKPerSample } from '../../../stages/score/per-sample.js';
import { scoringPlan } from '../../../stages/score/rules.js';

const q = (id: string, ref: string, gallery?: string[]): QueryRecord => ({
  id,
  reference: { id: ref, path: `/img/${ref}.png` },
  text: 'is red',
  targets: [],
  ...(gallery ? { gallery } : {}),
});
const rows = new Map([
  ['a', 0],
  ['b', 1],
  ['c', 2],
]);

describe('scoringPlan: dataset rules', () => {
  it('CIRR excludes the reference when it is in the gallery, nothing otherwise', () => {
    expect(scoringPlan('cirr', [q('1', 'b'), q('2', 'zz'), q('3', 'a')], rows)).toEqual({
      problems: [],
      plan: { mode: 'shared', exclude: [[1], [], [0]] },
    });
  });

  it('Fashion-IQ, CIRCO and synthetic keep the reference', () => {
    for (const ds of ['fashioniq', 'circo', 'synthetic'] as const)
      expect(scoringPlan(ds, [q('1', 'b')], rows)).toEqual({
        problems: [],
        plan: { mode: 'shared', exclude: undefined },
      });
  });

  it('GeneCIS ranks per-sample galleries and reports queries it cannot score', () => {
    const r = scoringPlan(
      'genecis',
      [q('0', 'x', ['c', 'a']), q('1', 'x', ['a', 'nope']), q('2', 'x')],
      rows,
    );
    expect(r).toEqual({
      problems: [
        { query: 1, message: 'GeneCIS query 1: gallery image nope has no embedding' },
        { query: 2, message: 'GeneCIS query 2 has no gallery list' },
      ],
      plan: { mode: 'per-sample', galleries: [[2, 0], [], []], ids: [['c', 'a'], ['a', 'nope'], []] },
    });
  });
});

describe('topKPerSample', () => {
  // 2-d rows: m0=(1,0) m1=(0,1) m2=(1,0) duplicate of m0, m3=(0.6,0.8)
  const matrix = new Float32Array([1, 0, 0, 1, 1, 0, 0.6, 0.8]);
  const queries = new Float32Array([1, 0, 0, 1]);

  it('ranks each query within its own gallery; exact ties keep gallery order (target first)', () => {
    const r = topKPerSample({
      queries,
      matrix,
      dim: 2,
      galleries: [
        [2, 1, 0, 3],
        [3, 1],
      ],
      k: 3,
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.k).toBe(3);
    // query 0: positions 0 (m2, 1.0) and 2 (m0, 1.0) tie -> position 0 first; then position 3 (0.6).
    expect(Array.from(r.value.indices)).toEqual([0, 2, 3, 1, 0, -1]);
    expect(Array.from(r.value.scores)).toEqual([
      1,
      1,
      Math.fround(0.6),
      1,
      Math.fround(0.8),
      Number.NEGATIVE_INFINITY,
    ]);
  });

  it('rejects NaN with the row named', () => {
    const bad = matrix.slice();
    bad[3 * 2] = Number.NaN;
    expect(topKPerSample({ queries, matrix: bad, dim: 2, galleries: [[0], [3]], k: 1 })).toEqual({
      ok: false,
      error: {
        message: 'gallery row 3 contains NaN or Infinity; embeddings must be finite',
        matrix: 'gallery',
        row: 3,
      },
    });
  });
});
