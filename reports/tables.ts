/**
 * The results table (the paper's Tables 1–4, 7–12) and the compute table (Table 5) as `TableModel`s.
 */
import { readFileSync } from 'node:fs';
import { metricLabel } from '../stages/metrics/names.js';
import type { ComputeRow, ExperimentData, PointData } from './data.js';
import {
  cellStats,
  groupPerQuery,
  groupPoints,
  methodLabel,
  metricStats,
  REPEAT_FIELDS,
  showValue,
  tableColumns,
} from './groups.js';
import type { ReportItem } from './spec.js';
import { formatInterval, meanStd, pairedBootstrap } from './stats.js';
import type { TableModel, TableRow } from './table-format.js';

/** The mode a point ran (its configuration's, when the sweep does not set it). */
const modeOf = (p: PointData | undefined) => (typeof p?.config.mode === 'string' ? p.config.mode : undefined);

/** Swept fields that name a row by default: all but dataset and repeat. */
export function defaultRowFields(points: readonly PointData[]): string[] {
  const fields = new Set<string>();
  for (const p of points)
    for (const k of Object.keys(p.params)) if (k !== 'dataset' && !REPEAT_FIELDS.has(k)) fields.add(k);
  return [...fields];
}

/** A baselines file (experiments/baselines/*.json), as `make-baselines.ts` writes it. */
export interface BaselinesFile {
  source: string;
  table: string;
  columns: string[];
  lost_cells: string[];
  rows: {
    method: string | null;
    retrieval_model: string | null;
    backbone: string | null;
    origin: string | null;
    marker?: string;
    values: Record<string, number | null>;
    uncertain?: string[];
    not_reported?: string[];
  }[];
}

export function readBaselines(file: string): BaselinesFile {
  return JSON.parse(readFileSync(file, 'utf8')) as BaselinesFile;
}

export interface ResultsTableInput {
  item: Extract<ReportItem, { table: 'results' }>;
  data: ExperimentData;
  perQuery: ReadonlyMap<string, ReadonlyMap<string, number>> | null;
  baselines: BaselinesFile | null;
  seed: number;
}

export function resultsTable({ item, data, perQuery, baselines, seed }: ResultsTableInput): TableModel {
  const points = data.points;
  const fields = item.rows ?? defaultRowFields(points);
  const groups = groupPoints(points, fields);
  const cols = tableColumns(points, item.metrics);
  const other = fields.filter((f) => f !== 'mode');
  const rows: TableRow[] = groups.map((g) => ({
    labels: [
      methodLabel(g.config.mode ?? modeOf(g.points[0]), g.points[0]),
      ...other.map((f) => showValue(g.config[f])),
    ],
    values: cols.map((c) => cellStats(g.points, c)),
    origin: 'reproduced',
  }));
  const notes: string[] = [];
  if (baselines) {
    const byLabel = new Map(cols.map((c, i) => [c.label, i]));
    const unmatched = baselines.columns.filter((c) => !byLabel.has(c));
    for (const b of baselines.rows) {
      const values = cols.map((c) => {
        const v = b.values[c.label];
        return typeof v === 'number' ? { mean: v, std: null, n: 1 } : null;
      });
      if (values.every((v) => v === null)) continue;
      const model = [b.retrieval_model, b.backbone ? `(${b.backbone})` : null].filter(Boolean).join(' ');
      const labels = [`${b.method ?? ''}${b.marker ?? ''}`, ...other.map((_, i) => (i === 0 ? model : ''))];
      if (other.length === 0 && model) labels[0] = `${labels[0]} · ${model}`;
      rows.push({ labels, values, origin: 'reported' });
    }
    notes.push(`reported: as printed in ${baselines.source} (${baselines.table}); — = not reported or lost`);
    for (const l of baselines.lost_cells) notes.push(`lost cell: ${l}`);
    if (unmatched.length > 0) notes.push(`paper columns not in this table: ${unmatched.join(', ')}`);
  }
  const table: TableModel = {
    title: item.title ?? `${data.experiment}: results (mean ± std over repeats)`,
    labelHeaders: ['Method', ...other],
    valueHeaders: cols.map((c) => c.label),
    better: cols.map(() => 'higher'),
    rows,
    notes,
  };
  // Paired bootstrap of each reproduced row against the best one (single-dataset tables).
  const datasets = new Set(points.map((p) => p.datasetLabel));
  const metric = item.metric ?? cols[0]?.metric;
  if (perQuery && metric && datasets.size === 1 && groups.length > 1) {
    const means = groups.map((g) => metricStats(g.points, metric)?.mean ?? Number.NEGATIVE_INFINITY);
    const best = means.indexOf(Math.max(...means));
    const bestQ = groupPerQuery(groups[best]!, perQuery);
    if (bestQ.size > 0) {
      table.extraHeader = `best − row, ${metricLabel(metric)} [95% CI]`;
      groups.forEach((g, i) => {
        if (i === best) {
          rows[i]!.extra = 'best';
          return;
        }
        const iv = pairedBootstrap(bestQ, groupPerQuery(g, perQuery), seed);
        rows[i]!.extra = iv ? `${formatInterval(iv)}${iv.significant ? '' : ' (tied)'}` : 'no per-query data';
      });
      notes.push(
        `intervals: paired bootstrap over ${bestQ.size} queries, 10,000 resamples, percentile 95%, repeats averaged per query, seed ${seed}`,
      );
    }
  } else if (datasets.size > 1 && perQuery) {
    notes.push('no bootstrap intervals: the table spans several datasets (intervals are per query set)');
  }
  return table;
}

/** Table 5's printed columns → (value, std) of the compute table's columns, in order. */
const COMPUTE_BASELINE_COLUMNS: readonly (readonly [string, string | null])[] = [
  ['Memory (MB)', null],
  ['Inference Time (s)', 'Inference Time std (s)'],
  ['Pipeline Time (s)', 'Pipeline Time std (s)'],
  ['Avg mAP', 'Avg mAP std'],
];

export function computeTable(
  item: Extract<ReportItem, { table: 'compute' }>,
  data: ExperimentData,
  compute: ReadonlyMap<string, ComputeRow>,
  baselines: BaselinesFile | null = null,
): TableModel {
  const fields = item.rows ?? defaultRowFields(data.points);
  const other = fields.filter((f) => f !== 'mode');
  const metric = item.metric;
  const rows: TableRow[] = groupPoints(data.points, fields).map((g) => {
    const c = g.points.map((p) => compute.get(p.id)).filter((x): x is ComputeRow => x !== undefined);
    const pick = (f: (r: ComputeRow) => number | null) =>
      meanStd(c.map(f).filter((v): v is number => v !== null));
    const mem = c.map((r) => r.peakMemMb).filter((v): v is number => v !== null);
    const gen = [...new Set(c.map((r) => r.generator).filter(Boolean))].join(', ') || '—';
    const emb = [...new Set(c.map((r) => r.embedder).filter(Boolean))].join(', ') || '—';
    return {
      labels: [
        methodLabel(g.config.mode ?? modeOf(g.points[0]), g.points[0]),
        gen,
        emb,
        ...other.map((f) => showValue(g.config[f])),
      ],
      values: [
        mem.length > 0 ? { mean: Math.max(...mem), std: null, n: mem.length } : null,
        pick((r) => r.inferSPerSample),
        pick((r) => r.pipelineSPerSample),
        ...(metric ? [metricStats(g.points, metric)] : []),
      ],
      origin: 'reproduced',
    };
  });
  const notes: string[] = [];
  if (baselines) {
    const nValues = metric ? 4 : 3;
    for (const b of baselines.rows) {
      const values = COMPUTE_BASELINE_COLUMNS.slice(0, nValues).map(([v, sd]) => {
        const m = b.values[v];
        const s = sd ? b.values[sd] : null;
        return typeof m === 'number' ? { mean: m, std: typeof s === 'number' ? s : null, n: 1 } : null;
      });
      if (values.every((v) => v === null)) continue;
      const models = (b as { models?: string[] }).models?.join(' + ') ?? '';
      rows.push({
        labels: [b.method ?? '', models, b.retrieval_model ?? '', ...other.map(() => '')],
        values,
        origin: 'reported',
      });
    }
    notes.push(
      `reported: as printed in ${baselines.source} (${baselines.table}); its mAP column is the paper's "Avg mAP"`,
    );
  }
  return {
    title: item.title ?? `${data.experiment}: compute per sample (mean ± std over repeats)`,
    labelHeaders: ['Method', 'Generator', 'Embedder', ...other],
    valueHeaders: [
      'GPU memory (MB)',
      'Inference (s/sample)',
      'Pipeline (s/sample)',
      ...(metric ? [metricLabel(metric)] : []),
    ],
    better: ['lower', 'lower', 'lower', ...(metric ? (['higher'] as const) : [])],
    rows,
    notes: [
      ...notes,
      'GPU memory: the largest peak a worker of the configuration reported (— when no worker ran, e.g. dummy backends in process)',
      'inference: generative stages (mllm.compose, diffusion.edit) per item; pipeline: every query-side stage per item; std over repeats',
    ],
    digits: 3,
  };
}
