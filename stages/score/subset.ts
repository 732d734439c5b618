/**
 * CIRR Recall_subset needs the order of each query's `img_set` members (reference removed) in the FULL
 * ranking, but the score stage keeps only the top-K; a member ranked below K would be lost. So the
 * members (5 per query) are scored here directly and published as `subset_order` beside the top-K
 * (read by the metrics stage). Same rule as the ranking: score descending (float32, as the ORT scores),
 * then lower gallery index first.
 */
import type { QueryRecord } from '../contracts.js';

export function subsetOrder(
  queries: readonly QueryRecord[],
  queryVectors: Float32Array,
  gallery: Float32Array,
  dim: number,
  galleryRow: ReadonlyMap<string, number>,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  queries.forEach((q, i) => {
    if (!q.subset) return;
    const members: { id: string; row: number; score: number }[] = [];
    for (const id of q.subset) {
      const row = galleryRow.get(id);
      if (id === q.reference.id || row === undefined || members.some((m) => m.id === id)) continue;
      let s = 0;
      for (let j = 0; j < dim; j++) s += queryVectors[i * dim + j]! * gallery[row * dim + j]!;
      members.push({ id, row, score: Math.fround(s) });
    }
    members.sort((a, b) => b.score - a.score || a.row - b.row);
    out[q.id] = members.map((m) => m.id);
  });
  return out;
}
