/**
 * Exact cosine top-K over L2-normalised float32 rows, on onnxruntime-node.
 *
 * Why ORT: measured on the project machine (docs/scoring-performance.md), a `Gemm(transB=1) -> TopK`
 * graph runs at ~75-80 % of the CPU's fp32 ceiling and 2.3-4x faster than NumPy, where WebAssembly SIMD
 * is 4.5x and blocked plain JS ~40x slower than ORT. Nothing here loops over the score matrix in JS:
 * JS only merges the per-chunk top lists (k+e candidates per query and chunk).
 *
 * Ranking rule (the spec, docs/cir-benchmarks.md §5): score descending, then lower gallery index first,
 * so ties are deterministic and identical whatever the chunking.
 */
import { err, ok, type Result } from '../../runner/util/result.js';
import { ort, scoringSession } from './sessions.js';

/** Score-matrix bytes one ORT run may hold before the work is chunked (queries first, then gallery). */
export const DEFAULT_MAX_SCORE_BYTES = 512 * 1024 * 1024;

/**
 * Query rows per run. Measured on the 2-core dev VM: 256-512-row chunks are ~10 % faster than one run
 * on CIRR/Fashion-IQ shapes (4,148 x 2,315; 1,900 x 6,000) and neutral at CIRCO scale; larger query
 * blocks fall out of the L2 cache inside the GEMM.
 */
const MAX_QUERY_ROWS = 512;

export interface TopKOptions {
  /** Row-major [nQ, dim], already L2-normalised (see `l2normalizeRows`). */
  queries: Float32Array;
  /** Row-major [nG, dim], already L2-normalised. */
  gallery: Float32Array;
  dim: number;
  k: number;
  /**
   * Per query (same length as the queries), gallery indices that must not be returned (CIRR: the
   * reference image). Any number per query; duplicates are harmless.
   */
  exclude?: ReadonlyArray<ReadonlyArray<number>> | undefined;
  /** ORT intra-op threads (the cores granted to this stage). */
  threads: number;
  /** Force chunk sizes in rows; otherwise chosen from `maxScoreBytes`. */
  chunk?: { queries?: number; gallery?: number } | undefined;
  /** Bound on one run's score buffer (Q-chunk x G-chunk x 4 bytes); default `DEFAULT_MAX_SCORE_BYTES`. */
  maxScoreBytes?: number | undefined;
  /** Called after each query chunk with the number of queries scored so far. */
  onProgress?: ((queriesDone: number) => void) | undefined;
}

/**
 * Row-major [nQ, k]: gallery indices and their cosine scores, best first. `k` is `min(requested k,
 * gallery size)`; a query left with fewer candidates after exclusion is padded with index -1 and score
 * -Infinity.
 */
export interface TopKResult {
  k: number;
  indices: Int32Array;
  scores: Float32Array;
}

/** Why the inputs cannot be scored: a caller or data problem, reported as a message (never thrown). */
export interface TopKError {
  message: string;
  /** Set when one input row is at fault (e.g. NaN), so callers can name the item. */
  matrix?: 'queries' | 'gallery';
  row?: number;
}

export interface ChunkPlan {
  queries: number;
  gallery: number;
}

/**
 * Chunk sizes (rows) so that one run's score buffer stays under `maxScoreBytes` (and at most
 * MAX_QUERY_ROWS queries). Query chunks come first because they need no merging and keep the GEMM wide;
 * the gallery is chunked only when even 64 queries against the whole gallery would not fit (huge
 * galleries).
 */
export function planChunks(
  nQ: number,
  nG: number,
  maxScoreBytes: number,
  forced?: { queries?: number; gallery?: number },
): ChunkPlan {
  const budget = Math.max(4, Math.floor(maxScoreBytes / 4)); // floats
  let gallery = forced?.gallery ?? 0;
  let queries = forced?.queries ?? 0;
  if (gallery <= 0) {
    const fitQ = Math.floor(budget / Math.max(1, nG));
    gallery = fitQ >= Math.min(nQ, 64) ? nG : Math.max(1, Math.floor(budget / Math.min(nQ, 64)));
  }
  gallery = Math.min(Math.max(1, gallery), Math.max(1, nG));
  if (queries <= 0) {
    queries = Math.min(MAX_QUERY_ROWS, Math.max(1, Math.floor(budget / gallery)));
    // Even chunks (800 -> 2 x 400, not 512 + 288).
    queries = Math.ceil(nQ / Math.ceil(nQ / queries));
  }
  queries = Math.min(Math.max(1, queries), Math.max(1, nQ));
  return { queries, gallery };
}

/** Scores every query against the gallery and keeps the best `k` per query (see TopKResult). */
export async function topK(opts: TopKOptions): Promise<Result<TopKResult, TopKError>> {
  const checked = validate(opts);
  if (!checked.ok) return checked;
  const { nQ, nG, excludeMax } = checked.value;
  const { dim, threads } = opts;
  const kEff = Math.min(opts.k, nG);
  if (nQ === 0 || kEff === 0) return ok({ k: kEff, indices: new Int32Array(0), scores: new Float32Array(0) });

  const plan = planChunks(nQ, nG, opts.maxScoreBytes ?? DEFAULT_MAX_SCORE_BYTES, opts.chunk);
  const want = kEff + excludeMax;
  // Candidates per query: the top-`want` of every gallery chunk, merged at the end.
  let cap = 0;
  for (let g0 = 0; g0 < nG; g0 += plan.gallery) cap += Math.min(want, Math.min(nG, g0 + plan.gallery) - g0);
  const candIdx = new Int32Array(nQ * cap);
  const candScore = new Float32Array(nQ * cap);
  const filled = new Int32Array(nQ);

  const s = await scoringSession(threads);
  const probe = new ort.Tensor('float32', new Float32Array(dim).fill(1), [1, dim]);
  const int64 = (v: number) => new ort.Tensor('int64', BigInt64Array.of(BigInt(v)), [1]);
  for (let q0 = 0; q0 < nQ; q0 += plan.queries) {
    const q1 = Math.min(nQ, q0 + plan.queries);
    const qT = new ort.Tensor('float32', opts.queries.subarray(q0 * dim, q1 * dim), [q1 - q0, dim]);
    for (let g0 = 0; g0 < nG; g0 += plan.gallery) {
      const g1 = Math.min(nG, g0 + plan.gallery);
      const kk = Math.min(want, g1 - g0);
      const gT = new ort.Tensor('float32', opts.gallery.subarray(g0 * dim, g1 * dim), [g1 - g0, dim]);
      const out = await s.run({
        Q: qT,
        P: probe,
        G: gT,
        K: int64(kk),
        R0: int64(q1 - q0),
        R1: int64(q1 - q0 + 1),
      });
      const bad = nonFinite(out, opts, q0, g0, g1);
      if (bad) return err(bad);
      const values = out.values!.data as Float32Array;
      const idx = out.indices!.data as BigInt64Array;
      for (let qi = q0; qi < q1; qi++) {
        const src = (qi - q0) * kk;
        const dst = qi * cap + filled[qi]!;
        for (let j = 0; j < kk; j++) {
          candIdx[dst + j] = g0 + Number(idx[src + j]!);
          candScore[dst + j] = values[src + j]!;
        }
        filled[qi] = filled[qi]! + kk;
      }
      for (const t of Object.values(out)) t.dispose();
    }
    opts.onProgress?.(q1);
  }
  return ok(finalize(nQ, kEff, cap, filled, candIdx, candScore, opts.exclude));
}

/** Per query: drop excluded ids, order by (score desc, index asc), keep k, pad with -1/-Infinity. */
function finalize(
  nQ: number,
  k: number,
  cap: number,
  filled: Int32Array,
  candIdx: Int32Array,
  candScore: Float32Array,
  exclude: ReadonlyArray<ReadonlyArray<number>> | undefined,
): TopKResult {
  const indices = new Int32Array(nQ * k).fill(-1);
  const scores = new Float32Array(nQ * k).fill(Number.NEGATIVE_INFINITY);
  const order: number[] = [];
  for (let q = 0; q < nQ; q++) {
    const ex = exclude?.[q];
    const base = q * cap;
    order.length = 0;
    for (let j = base; j < base + filled[q]!; j++) {
      if (ex !== undefined && ex.length > 0 && ex.includes(candIdx[j]!)) continue;
      order.push(j);
    }
    // One gallery chunk: ORT's list is already in rank order (checked, O(k)); several: merge by sorting.
    if (!inRankOrder(order, candIdx, candScore))
      order.sort((a, b) => candScore[b]! - candScore[a]! || candIdx[a]! - candIdx[b]!);
    const n = Math.min(k, order.length);
    for (let r = 0; r < n; r++) {
      indices[q * k + r] = candIdx[order[r]!]!;
      scores[q * k + r] = candScore[order[r]!]!;
    }
  }
  return { k, indices, scores };
}

function inRankOrder(order: number[], idx: Int32Array, score: Float32Array): boolean {
  for (let r = 1; r < order.length; r++) {
    const a = order[r - 1]!;
    const b = order[r]!;
    if (score[a]! < score[b]! || (score[a] === score[b] && idx[a]! > idx[b]!)) return false;
  }
  return true;
}

function validate(opts: TopKOptions): Result<{ nQ: number; nG: number; excludeMax: number }, TopKError> {
  const { dim, k, threads } = opts;
  if (!Number.isInteger(dim) || dim <= 0)
    return err({ message: `dim must be a positive integer, got ${dim}` });
  if (!Number.isInteger(k) || k <= 0) return err({ message: `k must be a positive integer, got ${k}` });
  if (!Number.isInteger(threads) || threads <= 0)
    return err({ message: `threads must be a positive integer, got ${threads}` });
  for (const [name, m] of [
    ['queries', opts.queries],
    ['gallery', opts.gallery],
  ] as const) {
    if (m.length % dim !== 0)
      return err({
        message: `${name} has ${m.length} floats, not a whole number of ${dim}-dimensional rows`,
        matrix: name,
      });
  }
  const nQ = opts.queries.length / dim;
  const nG = opts.gallery.length / dim;
  let excludeMax = 0;
  if (opts.exclude !== undefined) {
    if (opts.exclude.length !== nQ)
      return err({ message: `exclude has ${opts.exclude.length} entries for ${nQ} queries` });
    for (let q = 0; q < nQ; q++) {
      const ex = opts.exclude[q]!;
      for (const g of ex)
        if (!Number.isInteger(g) || g < 0 || g >= nG)
          return err({
            message: `exclude[${q}] names gallery index ${g}, outside 0..${nG - 1}`,
            matrix: 'queries',
            row: q,
          });
      excludeMax = Math.max(excludeMax, new Set(ex).size);
    }
  }
  return ok({ nQ, nG, excludeMax });
}

/**
 * The graph's finiteness checks (see scoringModelBytes): `qcheck` per query row, `gcheck` over the
 * gallery chunk. Only on failure is the offending gallery row searched for in JS.
 */
function nonFinite(
  out: Record<string, ort.Tensor>,
  opts: TopKOptions,
  q0: number,
  g0: number,
  g1: number,
): TopKError | undefined {
  const { dim } = opts;
  const qcheck = out.qcheck!.data as Float32Array;
  for (let r = 0; r < qcheck.length; r++)
    if (!Number.isFinite(qcheck[r]!)) return rowError(opts.queries, q0 + r, dim, 'queries');
  if (Number.isFinite((out.gcheck!.data as Float32Array)[0]!)) return undefined;
  for (let r = g0; r < g1; r++) {
    const row = opts.gallery.subarray(r * dim, (r + 1) * dim);
    if (row.some((v) => !Number.isFinite(v))) return rowError(opts.gallery, r, dim, 'gallery');
  }
  return {
    message: 'gallery values are too large (their sums overflow float32); embeddings must be normalised',
    matrix: 'gallery',
  };
}

function rowError(m: Float32Array, row: number, dim: number, name: 'queries' | 'gallery'): TopKError {
  const values = m.subarray(row * dim, (row + 1) * dim);
  const what = values.some((v) => Number.isNaN(v))
    ? 'NaN'
    : values.some((v) => !Number.isFinite(v))
      ? 'Infinity'
      : 'values too large to square in float32';
  return { message: `${name} row ${row} contains ${what}; embeddings must be finite`, matrix: name, row };
}

/**
 * L2-normalises each row into a new array (float64 accumulation). A zero row stays zero (it then scores
 * 0 against everything) rather than becoming NaN.
 */
export function l2normalizeRows(m: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let o = 0; o < m.length; o += dim) {
    let ss = 0;
    for (let j = o; j < o + dim; j++) ss += m[j]! * m[j]!;
    if (ss === 0) continue;
    const inv = 1 / Math.sqrt(ss);
    for (let j = o; j < o + dim; j++) out[j] = m[j]! * inv;
  }
  return out;
}
