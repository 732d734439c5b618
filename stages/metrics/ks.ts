/**
 * The depths (K) every metric is reported at, per dataset: the one definition read by the metrics, by
 * `pefuse evaluate`'s depth checks and by planning (`score.k` must reach the deepest K).
 */
import type { DatasetName } from '../contracts.js';

export const CIRR_RECALL_KS = [1, 2, 5, 10, 50] as const;
/** Recall_subset ranks the `img_set` members among themselves, so it needs no depth of the top-K list. */
export const CIRR_SUBSET_KS = [1, 2, 3] as const;
export const FASHIONIQ_RECALL_KS = [10, 50] as const;
export const GENECIS_RECALL_KS = [1, 2, 3] as const;
/** mAP@1 is not on the CIRCO server's list; it is recorded for the y axis of the paper's Figures 2 and 3. */
export const CIRCO_KS = [1, 5, 10, 25, 50] as const;
/** The synthetic demo dataset reports recall like Fashion-IQ, at more depths. */
export const SYNTHETIC_KS = [1, 5, 10, 50] as const;

/** The K lists that read a dataset's top-K ranked list. */
const RANKED_KS: Record<DatasetName, readonly number[]> = {
  cirr: CIRR_RECALL_KS,
  fashioniq: FASHIONIQ_RECALL_KS,
  circo: CIRCO_KS,
  genecis: GENECIS_RECALL_KS,
  synthetic: SYNTHETIC_KS,
};

/** The deepest rank a dataset's metrics read (recall@50, map@50; GeneCIS recall@3). */
export function metricDepth(dataset: DatasetName): number {
  return Math.max(...RANKED_KS[dataset]);
}

/** The metrics at the deepest K, for messages (`recall@50 / map@50`). */
export function deepestMetricNames(dataset: DatasetName): string {
  const k = metricDepth(dataset);
  return dataset === 'circo' ? `recall@${k} / map@${k}` : `recall@${k}`;
}
