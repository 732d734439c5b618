/**
 * CIRCO metrics as the evaluation server computes them (`miccunifi/CIRCO:src/evaluation.py::compute_metrics`):
 * precision counted at GT positions only, AP@K = sum(precisions[:K]) / min(#GT, K); Recall@K counts only
 * `target_img_id` (the first GT); semantic mAP@10 averages AP@10 over the queries carrying each aspect.
 * The reference is NOT excluded (it is never a GT, so it just costs a slot).
 */
import type { QueryRecord } from '../contracts.js';
import { CIRCO_KS } from './ks.js';
import type { MetricValues, RankedQuery } from './recall.js';

export { CIRCO_KS };

/** The server's aspect list, in its order (other aspects are ignored, as there). */
export const CIRCO_ASPECTS = [
  'cardinality',
  'addition',
  'negation',
  'direct_addressing',
  'compare_change',
  'comparative_statement',
  'statement_with_conjunction',
  'spatial_relations_background',
  'viewpoint',
] as const;

/** Per-query AP@K values and the number of GTs within the top K. */
export function circoAveragePrecision(
  ranked: readonly string[],
  gts: readonly string[],
  ks: readonly number[],
): { ap: number[]; gtHits: number[] } {
  const gtSet = new Set(gts);
  const precisions: number[] = [];
  const found: number[] = [];
  let cum = 0;
  ranked.forEach((id, pos) => {
    const hit = gtSet.has(id);
    if (hit) cum++;
    precisions.push(hit ? cum / (pos + 1) : 0);
    found.push(cum);
  });
  const ap = ks.map((k) => {
    let s = 0;
    for (let i = 0; i < Math.min(k, precisions.length); i++) s += precisions[i]!;
    return s / Math.min(gts.length, k);
  });
  const gtHits = ks.map((k) => (Math.min(k, found.length) === 0 ? 0 : found[Math.min(k, found.length) - 1]!));
  return { ap, gtHits };
}

/**
 * mAP@K, Recall@K and `map@10/<aspect>` as percentages. `hits` for `recall@K` counts queries whose target is
 * in the top K; for `map@K` (and per aspect) it counts GT images retrieved within the top K, summed.
 */
export function circoMetrics(
  queries: readonly QueryRecord[],
  ranked: readonly RankedQuery[],
  ks: readonly number[] = CIRCO_KS,
): MetricValues {
  const n = queries.length;
  const apSum = ks.map(() => 0);
  const gtHitSum = ks.map(() => 0);
  const recallHits = ks.map(() => 0);
  const apQ = ks.map(() => new Array<number>(n).fill(0));
  const recallQ = ks.map(() => new Array<number>(n).fill(0));
  const aspectAp = new Map<string, { sum: number; count: number; gtHits: number }>();
  const i10 = ks.indexOf(10);
  queries.forEach((q, i) => {
    const ids = ranked[i]!.ids;
    const { ap, gtHits } = circoAveragePrecision(ids, q.targets, ks);
    const target = q.extra?.target_img_id ?? q.targets[0]!;
    const targetPos = ids.indexOf(target);
    ks.forEach((k, j) => {
      apSum[j]! += ap[j]!;
      gtHitSum[j]! += gtHits[j]!;
      apQ[j]![i] = 100 * ap[j]!;
      if (targetPos >= 0 && targetPos < k) {
        recallHits[j]!++;
        recallQ[j]![i] = 100;
      }
    });
    const ap10 = i10 >= 0 ? ap[i10]! : circoAveragePrecision(ids, q.targets, [10]).ap[0]!;
    const hits10 = i10 >= 0 ? gtHits[i10]! : circoAveragePrecision(ids, q.targets, [10]).gtHits[0]!;
    for (const aspect of q.aspects ?? []) {
      const a = aspectAp.get(aspect) ?? { sum: 0, count: 0, gtHits: 0 };
      a.sum += ap10;
      a.count++;
      a.gtHits += hits10;
      aspectAp.set(aspect, a);
    }
  });
  const out: MetricValues = { metrics: {}, hits: {}, perQuery: {} };
  ks.forEach((k, j) => {
    out.metrics[`map@${k}`] = n === 0 ? 0 : (100 * apSum[j]!) / n;
    out.hits[`map@${k}`] = gtHitSum[j]!;
    out.perQuery[`map@${k}`] = apQ[j]!;
  });
  ks.forEach((k, j) => {
    out.metrics[`recall@${k}`] = n === 0 ? 0 : (100 * recallHits[j]!) / n;
    out.hits[`recall@${k}`] = recallHits[j]!;
    out.perQuery[`recall@${k}`] = recallQ[j]!;
  });
  for (const aspect of CIRCO_ASPECTS) {
    const a = aspectAp.get(aspect);
    if (a === undefined) continue; // np.mean([]) would be NaN; an absent aspect has no value
    out.metrics[`map@10/${aspect}`] = (100 * a.sum) / a.count;
    out.hits[`map@10/${aspect}`] = a.gtHits;
  }
  return out;
}
