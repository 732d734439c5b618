/**
 * Ranking a GIVEN score matrix (`pefuse evaluate --scores`, `pefuse export --scores`). The canonical tie
 * rule of the reference vectors: descending score, ties to the lower gallery index (a stable sort). The
 * official code uses unstable sorts, so tie order is implementation-defined there; refvector metrics are
 * built not to depend on it except for the GeneCIS tie block, which states this rule.
 *
 * Partial selection with a bounded heap (O(N log K) per row, no per-row index array), because Q×N is up
 * to 800×123,403 for CIRCO and only the top 50 matter.
 */

/** A row of scores (a subarray view of the matrix). */
export type ScoreRow = Float32Array | Float64Array;

/**
 * The `k` best column indices of `row`, best first, skipping column `exclude` (CIRR's reference; -1 for
 * none). Returns fewer than `k` when the row is shorter. NaN must have been rejected by the caller.
 */
export function topKRow(row: ScoreRow, k: number, exclude = -1): Int32Array {
  const n = row.length;
  const cap = Math.max(0, Math.min(k, exclude >= 0 && exclude < n ? n - 1 : n));
  const heapIdx = new Int32Array(cap);
  const heapScore = new Float64Array(cap);
  let size = 0;
  // Min-heap on "worse": lower score, or equal score and higher index, sits at the root.
  const worse = (a: number, b: number) =>
    heapScore[a]! < heapScore[b]! || (heapScore[a] === heapScore[b] && heapIdx[a]! > heapIdx[b]!);
  const swap = (a: number, b: number) => {
    const i = heapIdx[a]!;
    heapIdx[a] = heapIdx[b]!;
    heapIdx[b] = i;
    const s = heapScore[a]!;
    heapScore[a] = heapScore[b]!;
    heapScore[b] = s;
  };
  const siftDown = (start: number, end: number) => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= end) return;
      const r = l + 1;
      const c = r < end && worse(r, l) ? r : l;
      if (!worse(c, i)) return;
      swap(c, i);
      i = c;
    }
  };
  if (cap === 0) return heapIdx;
  for (let j = 0; j < n; j++) {
    if (j === exclude) continue;
    const s = row[j]!;
    if (size < cap) {
      heapIdx[size] = j;
      heapScore[size] = s;
      let i = size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(i, p)) break;
        swap(i, p);
        i = p;
      }
    } else if (s > heapScore[0]!) {
      // A later column never beats an equal score (it has the higher index), so only strictly greater wins.
      heapIdx[0] = j;
      heapScore[0] = s;
      siftDown(0, cap);
    }
  }
  // Heap sort in place: repeatedly move the worst to the end, leaving best-first order.
  for (let end = size - 1; end > 0; end--) {
    swap(0, end);
    siftDown(0, end);
  }
  return heapIdx;
}

/** Columns `cols` ordered as the full stable ranking of `row` would order them (CIRR Recall_subset). */
export function orderColumns(row: ScoreRow, cols: readonly number[]): number[] {
  return [...cols].sort((a, b) => (row[a]! > row[b]! ? -1 : row[a]! < row[b]! ? 1 : a - b));
}

/**
 * Flat index of the first NaN, +Infinity or -Infinity in `data`, or -1. Infinities are refused like NaN:
 * several +Inf in a row tie, and the official (unstable) sorts order such ties arbitrarily.
 */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}
