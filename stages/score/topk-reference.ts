/**
 * The readable reference for `topK`: float64 dot products, a full stable sort, the same ranking rule
 * (score descending, lower gallery index first). Used by tests to check exactness; far too slow for
 * real galleries (O(nQ·nG·d) in scalar JS).
 */
import type { TopKResult } from './topk.js';

export interface ReferenceTopK extends TopKResult {
  /** The float64 scores, [nQ, k], for tolerance checks at rank boundaries. */
  exact: Float64Array;
}

export function topKReference(opts: {
  queries: Float32Array;
  gallery: Float32Array;
  dim: number;
  k: number;
  exclude?: ReadonlyArray<ReadonlyArray<number>> | undefined;
}): ReferenceTopK {
  const { queries, gallery, dim } = opts;
  const nQ = queries.length / dim;
  const nG = gallery.length / dim;
  const k = Math.min(opts.k, nG);
  const indices = new Int32Array(nQ * k).fill(-1);
  const scores = new Float32Array(nQ * k).fill(Number.NEGATIVE_INFINITY);
  const exact = new Float64Array(nQ * k).fill(Number.NEGATIVE_INFINITY);
  const all = new Float64Array(nG);
  for (let q = 0; q < nQ; q++) {
    for (let g = 0; g < nG; g++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += queries[q * dim + j]! * gallery[g * dim + j]!;
      all[g] = s;
    }
    const ex = new Set(opts.exclude?.[q] ?? []);
    const order = [...Array(nG).keys()].filter((g) => !ex.has(g));
    order.sort((a, b) => all[b]! - all[a]! || a - b);
    for (let r = 0; r < Math.min(k, order.length); r++) {
      indices[q * k + r] = order[r]!;
      scores[q * k + r] = all[order[r]!]!;
      exact[q * k + r] = all[order[r]!]!;
    }
  }
  return { k, indices, scores, exact };
}
