/**
 * Recall metrics of CIRR, Fashion-IQ and GeneCIS, exactly as the official code computes them, on
 * per-query ranked lists (which may be truncated to the largest K). Values are `100 * hits / n` in
 * float64 (the official float32 percentages differ by < 1e-4; hit counts are the authoritative check).
 */
import type { QueryRecord } from '../contracts.js';
import { CIRR_RECALL_KS, CIRR_SUBSET_KS, FASHIONIQ_RECALL_KS, GENECIS_RECALL_KS } from './ks.js';

/** One query's ranking as the metrics read it. */
export interface RankedQuery {
  /**
   * Gallery ids, best first; at least as long as the largest K (or the whole gallery). GeneCIS: positions
   * in the query's own gallery `[target] + gallery` as decimal strings ("0" is the target).
   */
  ids: readonly string[];
  /**
   * CIRR only: the non-reference `img_set` members in the order of the full ranking. Needed when `ids` is
   * truncated (a score matrix ranked to top-K); when absent, it is taken from `ids`.
   */
  subset?: readonly string[];
}

export interface MetricValues {
  metrics: Record<string, number>;
  hits: Record<string, number>;
  /**
   * Per query (dataset query order), each metric's contribution in percent, so the metric is the mean of
   * its list: 100 or 0 for a recall hit, 100 × AP for mAP. Metrics over a subset of the queries (CIRCO's
   * per-aspect mAP) have none.
   */
  perQuery: Record<string, number[]>;
}

export { CIRR_RECALL_KS, CIRR_SUBSET_KS, FASHIONIQ_RECALL_KS, GENECIS_RECALL_KS };

/** Position (0-based) of `target` in `ids`, ignoring `skip`; -1 when absent. */
function positionOf(ids: readonly string[], target: string, skip: string | null): number {
  let pos = 0;
  for (const id of ids) {
    if (id === skip) continue;
    if (id === target) return pos;
    pos++;
  }
  return -1;
}

function tally(prefix: string, ks: readonly number[], positions: readonly number[], out: MetricValues): void {
  const n = positions.length;
  for (const k of ks) {
    const hits = positions.reduce((h, p) => h + (p >= 0 && p < k ? 1 : 0), 0);
    out.hits[`${prefix}@${k}`] = hits;
    out.metrics[`${prefix}@${k}`] = n === 0 ? 0 : (100 * hits) / n;
    out.perQuery[`${prefix}@${k}`] = positions.map((p) => (p >= 0 && p < k ? 100 : 0));
  }
}

/**
 * CIRR: Recall@K on `target_hard` with the reference REMOVED from the ranking, and Recall_subset@K over
 * the 5 non-reference `img_set` members in global-ranking order (CLIP4Cir / SEARLE / CIRPLANT).
 */
export function cirrRecall(
  queries: readonly QueryRecord[],
  ranked: readonly RankedQuery[],
  ks: readonly number[] = CIRR_RECALL_KS,
  subsetKs: readonly number[] = CIRR_SUBSET_KS,
): MetricValues {
  const positions: number[] = [];
  const subsetPositions: number[] = [];
  queries.forEach((q, i) => {
    const r = ranked[i]!;
    const target = q.targets[0]!;
    const ref = q.reference.id;
    positions.push(positionOf(r.ids, target, ref));
    const members = new Set((q.subset ?? []).filter((m) => m !== ref));
    const order = r.subset ?? r.ids.filter((id) => members.has(id));
    subsetPositions.push(positionOf(order, target, ref));
  });
  const out: MetricValues = { metrics: {}, hits: {}, perQuery: {} };
  tally('recall', ks, positions, out);
  tally('recall_subset', subsetKs, subsetPositions, out);
  return out;
}

/** Fashion-IQ (one category): Recall@K on the target, the reference KEPT in the ranking. */
export function fashionIqRecall(
  queries: readonly QueryRecord[],
  ranked: readonly RankedQuery[],
  ks: readonly number[] = FASHIONIQ_RECALL_KS,
): MetricValues {
  const positions = queries.map((q, i) => positionOf(ranked[i]!.ids, q.targets[0]!, null));
  const out: MetricValues = { metrics: {}, hits: {}, perQuery: {} };
  tally('recall', ks, positions, out);
  return out;
}

/** GeneCIS (one task): Recall@K of position "0" (the target) in each sample's own gallery. */
export function genecisRecall(
  ranked: readonly RankedQuery[],
  ks: readonly number[] = GENECIS_RECALL_KS,
): MetricValues {
  const positions = ranked.map((r) => positionOf(r.ids, '0', null));
  const out: MetricValues = { metrics: {}, hits: {}, perQuery: {} };
  tally('recall', ks, positions, out);
  return out;
}

/**
 * The Fashion-IQ average: the arithmetic mean of the per-category percentages (NOT pooled over queries),
 * as CLIP4Cir (`statistics.mean`) and SEARLE (`np.mean`). Hits and n are summed for reference only.
 */
export function fashionIqAverage(
  categories: readonly Pick<MetricValues, 'metrics' | 'hits'>[],
): MetricValues {
  const out: MetricValues = { metrics: {}, hits: {}, perQuery: {} };
  const keys = Object.keys(categories[0]?.metrics ?? {});
  for (const key of keys) {
    out.metrics[key] = categories.reduce((s, c) => s + c.metrics[key]!, 0) / categories.length;
    out.hits[key] = categories.reduce((s, c) => s + c.hits[key]!, 0);
  }
  return out;
}
