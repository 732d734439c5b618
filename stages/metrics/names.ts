/**
 * The metric names each dataset records (the keys of `evaluate --json` and of the `metrics` stage), in
 * the paper's column order, and the named aggregates a report may plot or tabulate. The K lists come
 * from ks.ts, their one definition.
 */
import type { DatasetName } from '../contracts.js';
import { CIRCO_ASPECTS } from './circo.js';
import {
  CIRCO_KS,
  CIRR_RECALL_KS,
  CIRR_SUBSET_KS,
  FASHIONIQ_RECALL_KS,
  GENECIS_RECALL_KS,
  SYNTHETIC_KS,
} from './ks.js';

const at = (prefix: string, ks: readonly number[]) => ks.map((k) => `${prefix}@${k}`);

/** The metrics a dataset records, in the paper's column order. */
export function datasetMetrics(dataset: DatasetName): string[] {
  switch (dataset) {
    case 'cirr':
      return [...at('recall', CIRR_RECALL_KS), ...at('recall_subset', CIRR_SUBSET_KS)];
    case 'fashioniq':
      return at('recall', FASHIONIQ_RECALL_KS);
    case 'circo':
      return [...at('map', CIRCO_KS), ...at('recall', CIRCO_KS), ...CIRCO_ASPECTS.map((a) => `map@10/${a}`)];
    case 'genecis':
      return at('recall', GENECIS_RECALL_KS);
    case 'synthetic':
      return at('recall', SYNTHETIC_KS);
  }
}

/** The columns a results table shows by default (the paper's tables). */
export function tableMetrics(dataset: DatasetName): string[] {
  switch (dataset) {
    case 'circo':
      return at(
        'map',
        CIRCO_KS.filter((k) => k !== 1),
      );
    default:
      return datasetMetrics(dataset).filter((m) => !m.includes('/'));
  }
}

/** A named aggregate: the arithmetic mean of some of a dataset's metrics. */
export interface Aggregate {
  name: string;
  description: string;
  /** The metrics averaged, or null where the dataset lacks the aggregate. */
  of(dataset: DatasetName): string[] | null;
}

export const AGGREGATES: readonly Aggregate[] = [
  {
    name: 'mean_map',
    description: 'mean of mAP@K over K in {1, 5, 10, 25, 50} (the y axis of the paper’s Figures 2 and 3)',
    of: (d) => (d === 'circo' ? at('map', CIRCO_KS) : null),
  },
  {
    name: 'mean_recall',
    description: 'mean of the dataset’s Recall@K (Fashion-IQ: the paper’s average of R@10 and R@50)',
    of: (d) => (d === 'circo' ? null : datasetMetrics(d).filter((m) => m.startsWith('recall@'))),
  },
  {
    name: 'cirr_avg',
    description: 'CIRR’s usual average (Recall@5 + Recall_subset@1) / 2',
    of: (d) => (d === 'cirr' ? ['recall@5', 'recall_subset@1'] : null),
  },
];

/** What a metric name means for a dataset: a recorded metric, an aggregate of them, or unknown (null). */
export function resolveMetric(dataset: DatasetName, name: string): string[] | null {
  if (datasetMetrics(dataset).includes(name)) return [name];
  const agg = AGGREGATES.find((a) => a.name === name);
  return agg ? agg.of(dataset) : null;
}

/** Every name `resolveMetric` accepts for a dataset (for suggestions). */
export function metricChoices(dataset: DatasetName): string[] {
  return [...datasetMetrics(dataset), ...AGGREGATES.filter((a) => a.of(dataset) !== null).map((a) => a.name)];
}

/** How the paper prints a metric: `R@10`, `Rsubset@1`, `mAP@5`. */
export function metricLabel(name: string): string {
  const agg = AGGREGATES.find((a) => a.name === name);
  if (agg) return agg.name === 'mean_map' ? 'mean mAP@K' : agg.name === 'cirr_avg' ? 'Avg' : 'mean R@K';
  return name
    .replace(/^recall_subset@/, 'Rsubset@')
    .replace(/^recall@/, 'R@')
    .replace(/^map@/, 'mAP@');
}
