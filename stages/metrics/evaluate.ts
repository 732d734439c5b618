/**
 * The one place metrics are computed, shared by `pefuse evaluate` and the `metrics` stage: a loaded
 * dataset + per-query rankings (dataset query order) → `MetricsOutput` (percentages, hit counts, n).
 *
 *   --scores FILE.npy ─ rankingsFromScores ─┐
 *   --rankings FILE.json ─ rankingsFromJson ─┼─▶ evaluateRankings ─▶ MetricsOutput
 *   score stage (top-K indices) ─────────────┘
 */
import { err, ok, type Result } from '../../runner/util/result.js';
import type { MetricsOutput } from '../contracts.js';
import type { LoadedDataset } from '../datasets/types.js';
import { CIRCO_KS, circoMetrics } from './circo.js';
import { datasetLabel } from './describe.js';
import {
  CIRR_RECALL_KS,
  CIRR_SUBSET_KS,
  cirrRecall,
  FASHIONIQ_RECALL_KS,
  fashionIqRecall,
  GENECIS_RECALL_KS,
  genecisRecall,
  type MetricValues,
  type RankedQuery,
} from './recall.js';

export type { RankedQuery } from './recall.js';

/** Override the official K lists (library use, e.g. to check CIRR R@100 against a reference vector). */
export interface MetricKs {
  recall?: readonly number[];
  recallSubset?: readonly number[];
  map?: readonly number[];
}

/** Why a split cannot be evaluated locally (test splits), or null. */
export function noGroundTruth(loaded: LoadedDataset): string | null {
  if (loaded.hasGroundTruth) return null;
  const name = datasetLabel(loaded);
  const how =
    loaded.dataset === 'fashioniq'
      ? 'Fashion-IQ test has no public server; the field reports val'
      : `the ${name.split(' ')[0]} test server evaluates it: write a submission with pefuse export`;
  return `${name} has no ground truth (${how})`;
}

export function evaluateRankings(
  loaded: LoadedDataset,
  ranked: readonly RankedQuery[],
  ks: MetricKs = {},
): Result<MetricsOutput, string> {
  const r = evaluateRankingsPerQuery(loaded, ranked, ks);
  return r.ok ? ok(r.value.output) : r;
}

/** `evaluateRankings` plus each metric's per-query values (dataset query order; see `MetricValues`). */
export function evaluateRankingsPerQuery(
  loaded: LoadedDataset,
  ranked: readonly RankedQuery[],
  ks: MetricKs = {},
): Result<{ output: MetricsOutput; perQuery: Record<string, number[]> }, string> {
  const noGt = noGroundTruth(loaded);
  if (noGt !== null) return err(noGt);
  if (ranked.length !== loaded.queries.length)
    throw new Error(`evaluateRankings: ${ranked.length} rankings for ${loaded.queries.length} queries`);
  let values: MetricValues;
  switch (loaded.dataset) {
    case 'cirr':
      values = cirrRecall(
        loaded.queries,
        ranked,
        ks.recall ?? CIRR_RECALL_KS,
        ks.recallSubset ?? CIRR_SUBSET_KS,
      );
      break;
    case 'fashioniq':
      values = fashionIqRecall(loaded.queries, ranked, ks.recall ?? FASHIONIQ_RECALL_KS);
      break;
    case 'circo':
      values = circoMetrics(loaded.queries, ranked, ks.map ?? CIRCO_KS);
      break;
    case 'genecis':
      values = genecisRecall(ranked, ks.recall ?? GENECIS_RECALL_KS);
      break;
  }
  return ok({
    output: {
      dataset: loaded.dataset,
      split: loaded.split,
      subset: loaded.subset,
      n: loaded.queries.length,
      metrics: values.metrics,
      hits: values.hits,
    },
    perQuery: values.perQuery,
  });
}

/** An aligned, readable table of a metrics output (the non-JSON form of `pefuse evaluate`). */
export function formatMetricsTable(m: MetricsOutput): string {
  const title = datasetLabel(m);
  const rows = Object.keys(m.metrics).map((k) => [k, m.metrics[k]!.toFixed(2), String(m.hits[k] ?? '')]);
  const head = ['metric', 'value (%)', 'hits'];
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) =>
    `${r[0]!.padEnd(w[0]!)}  ${r[1]!.padStart(w[1]!)}  ${r[2]!.padStart(w[2]!)}`.trimEnd();
  return [`${title} (n = ${m.n})`, line(head), ...rows.map(line)].join('\n') + '\n';
}
