/** Seeded data and comparison helpers for the scoring tests. */
import { expect } from 'vitest';
import { mulberry32 } from '../../../stages/datasets/synthetic/prng.js';
import type { TopKResult } from '../../../stages/score/topk.js';
import type { ReferenceTopK } from '../../../stages/score/topk-reference.js';

/** A seeded PRNG (mulberry32), so failures reproduce. */
export const rng = mulberry32;

/** Rows of approximately Gaussian values (not normalised). */
export function randomRows(rows: number, dim: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < out.length; i++) out[i] = r() + r() + r() - 1.5;
  return out;
}

/** Small integers: every dot product is exact in float32 whatever the summation order, so ties are exact. */
export function integerRows(rows: number, dim: number, seed: number, values = 3): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(r() * values) - 1;
  return out;
}

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += a[ai * dim + j]! * b[bi * dim + j]!;
  return s;
}

/**
 * Our result equals the float64 reference: same k, and per query the same set of ids, except that an
 * id may differ when its exact score is within `tol` of the reference's k-th score (a float32 tie).
 * Scores agree to 1e-5.
 */
export function expectMatchesReference(
  ours: TopKResult,
  ref: ReferenceTopK,
  queries: Float32Array,
  gallery: Float32Array,
  dim: number,
  tol = 1e-6,
): void {
  expect(ours.k).toBe(ref.k);
  const k = ref.k;
  const nQ = queries.length / dim;
  for (let q = 0; q < nQ; q++) {
    const a = Array.from(ours.indices.subarray(q * k, (q + 1) * k));
    const b = Array.from(ref.indices.subarray(q * k, (q + 1) * k));
    const kth = ref.exact[q * k + k - 1]!;
    const setB = new Set(b);
    for (const id of a) {
      if (setB.has(id)) continue;
      expect(id, `query ${q}: id ${id} not in the reference top-${k}`).toBeGreaterThanOrEqual(0);
      expect(Math.abs(dot(queries, q, gallery, id, dim) - kth), `query ${q}: id ${id}`).toBeLessThanOrEqual(
        tol,
      );
    }
    for (let r = 0; r < k; r++) {
      if (b[r]! < 0) expect(a[r]).toBe(-1);
      else expect(Math.abs(ours.scores[q * k + r]! - ref.exact[q * k + r]!)).toBeLessThan(1e-5);
    }
  }
}
