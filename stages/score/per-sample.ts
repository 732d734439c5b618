/**
 * Top-K over per-sample galleries (GeneCIS: each query ranks its own `[target] + gallery`, about 15
 * items). The work is tiny (15 dot products per query), so plain JS with float64 accumulation is used;
 * the ranking rule is the same as `topK`: score descending, then lower position in the query's own
 * gallery first, so the target (position 0) wins exact ties, as in the official code's stable order.
 */
import { err, ok, type Result } from '../../runner/util/result.js';
import type { TopKError, TopKResult } from './topk.js';

export interface PerSampleOptions {
  /** Row-major [nQ, dim]. */
  queries: Float32Array;
  /** Row-major [nRows, dim]: every gallery image once. */
  matrix: Float32Array;
  dim: number;
  /** Per query, the rows of `matrix` that form its gallery, in gallery order. */
  galleries: ReadonlyArray<ReadonlyArray<number>>;
  k: number;
}

/**
 * `indices` are positions in the query's own gallery (0 = first entry), not matrix rows. `k` is
 * `min(k, largest gallery)`; shorter galleries are padded with -1 / -Infinity.
 */
export function topKPerSample(opts: PerSampleOptions): Result<TopKResult, TopKError> {
  const { queries, matrix, dim, galleries } = opts;
  if (!Number.isInteger(dim) || dim <= 0)
    return err({ message: `dim must be a positive integer, got ${dim}` });
  if (!Number.isInteger(opts.k) || opts.k <= 0)
    return err({ message: `k must be a positive integer, got ${opts.k}` });
  if (queries.length % dim !== 0 || matrix.length % dim !== 0)
    return err({ message: `queries/matrix lengths are not whole numbers of ${dim}-dimensional rows` });
  const nQ = queries.length / dim;
  const nRows = matrix.length / dim;
  if (galleries.length !== nQ)
    return err({ message: `galleries has ${galleries.length} entries for ${nQ} queries` });
  const k = Math.min(
    opts.k,
    galleries.reduce((m, g) => Math.max(m, g.length), 0),
  );
  const indices = new Int32Array(nQ * k).fill(-1);
  const scores = new Float32Array(nQ * k).fill(Number.NEGATIVE_INFINITY);
  for (let q = 0; q < nQ; q++) {
    const gal = galleries[q]!;
    const s = new Float64Array(gal.length);
    for (let p = 0; p < gal.length; p++) {
      const row = gal[p]!;
      if (!Number.isInteger(row) || row < 0 || row >= nRows)
        return err({
          message: `galleries[${q}][${p}] is row ${row}, outside 0..${nRows - 1}`,
          matrix: 'gallery',
        });
      let acc = 0;
      for (let j = 0; j < dim; j++) acc += queries[q * dim + j]! * matrix[row * dim + j]!;
      if (!Number.isFinite(acc)) {
        const inQuery = queries.subarray(q * dim, (q + 1) * dim).some((v) => !Number.isFinite(v));
        return inQuery
          ? err({
              message: `queries row ${q} contains NaN or Infinity; embeddings must be finite`,
              matrix: 'queries',
              row: q,
            })
          : err({
              message: `gallery row ${row} contains NaN or Infinity; embeddings must be finite`,
              matrix: 'gallery',
              row,
            });
      }
      // Rounded to float32 like the ORT path, so equal vectors tie exactly.
      s[p] = Math.fround(acc);
    }
    const order = [...gal.keys()].sort((a, b) => s[b]! - s[a]! || a - b);
    for (let r = 0; r < Math.min(k, order.length); r++) {
      indices[q * k + r] = order[r]!;
      scores[q * k + r] = s[order[r]!]!;
    }
  }
  return ok({ k, indices, scores });
}
