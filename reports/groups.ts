/**
 * Grouping points into configurations (params without `repeat` / `seed`) and table columns (datasets ×
 * metrics with the paper's printed labels), with values as mean ± std over repeats.
 */
import type { ParamValue } from '../runner/plan/types.js';
import { requiredBlocks } from '../runner/spec/semantic.js';
import type { Mode } from '../runner/spec/types.js';
import type { DatasetName } from '../stages/contracts.js';
import { metricLabel, tableMetrics } from '../stages/metrics/names.js';
import { metricValue, type PointData } from './data.js';
import { averageRepeats, type MeanStd, meanStd } from './stats.js';

/** Params that tell repeats apart, never part of a configuration. */
export const REPEAT_FIELDS = new Set(['repeat', 'seed']);

export const configOf = (p: PointData, fields?: readonly string[]): Record<string, ParamValue> => {
  const out: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(p.params))
    if (!REPEAT_FIELDS.has(k) && (fields === undefined || fields.includes(k))) out[k] = v;
  return out;
};

export const keyOf = (c: Record<string, ParamValue>): string =>
  JSON.stringify(
    Object.keys(c)
      .sort()
      .map((k) => [k, c[k]]),
  );

export interface Group {
  key: string;
  config: Record<string, ParamValue>;
  points: PointData[];
}

/** Points grouped by their params restricted to `fields` (all but repeat/seed when undefined). */
export function groupPoints(points: readonly PointData[], fields?: readonly string[]): Group[] {
  const groups = new Map<string, Group>();
  for (const p of points) {
    const config = configOf(p, fields);
    const key = keyOf(config);
    const g = groups.get(key) ?? { key, config, points: [] };
    g.points.push(p);
    groups.set(key, g);
  }
  return [...groups.values()];
}

/** The repeat a point belongs to (its `repeat` param, else 0). */
export const repeatOf = (p: PointData): number => (typeof p.params.repeat === 'number' ? p.params.repeat : 0);

/** Mean ± std over repeats of a metric; points of one repeat (several datasets) are averaged first. */
export function metricStats(points: readonly PointData[], metric: string): MeanStd | null {
  const byRepeat = new Map<number, number[]>();
  for (const p of points) {
    const v = metricValue(p, metric);
    if (v === null) continue;
    const list = byRepeat.get(repeatOf(p)) ?? [];
    list.push(v);
    byRepeat.set(repeatOf(p), list);
  }
  return meanStd([...byRepeat.values()].map((vs) => vs.reduce((s, v) => s + v, 0) / vs.length));
}

/** Per-query values of a group for the bootstrap: its repeats averaged per query. */
export function groupPerQuery(
  g: Group,
  perQuery: ReadonlyMap<string, ReadonlyMap<string, number>>,
): Map<string, number> {
  const reps = g.points.map((p) => perQuery.get(p.id)).filter((m) => m !== undefined);
  return averageRepeats(reps as ReadonlyMap<string, number>[]);
}

/** One column of a results table. */
export interface Column {
  /** Printed label, as in the paper (`Shirt R@10`, `R@1`, `CIRCO mAP@5`). */
  label: string;
  metric: string;
  /** The points' dataset labels this column averages (a Fashion-IQ "Average" spans three). */
  datasets: string[];
}

const ORDER: Record<string, number> = {
  shirt: 0,
  dress: 1,
  toptee: 2,
  focus_attribute: 0,
  change_attribute: 1,
  focus_object: 2,
  change_object: 3,
};
const DISPLAY: Record<DatasetName, string> = {
  fashioniq: 'Fashion-IQ',
  cirr: 'CIRR',
  circo: 'CIRCO',
  genecis: 'GeneCIS',
  synthetic: 'synthetic',
};
const title = (s: string) =>
  s
    .split('_')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join(' ');

/**
 * The columns of a results table: one group per dataset subset when the table has one benchmark
 * (Fashion-IQ also gets the paper's "Average" over categories), one group per benchmark (subsets
 * averaged) when it has several, no group label for a single dataset.
 */
export function tableColumns(points: readonly PointData[], metrics?: readonly string[]): Column[] {
  const datasets = new Map<string, PointData>();
  for (const p of points) if (!datasets.has(p.datasetLabel)) datasets.set(p.datasetLabel, p);
  const list = [...datasets.values()];
  const benchmarks = [...new Set(list.map((p) => p.dataset))];
  const metricsOf = (d: DatasetName) => (metrics ? [...metrics] : tableMetrics(d));
  const cols: Column[] = [];
  if (list.length === 1) {
    const p = list[0]!;
    for (const m of metricsOf(p.dataset))
      cols.push({ label: metricLabel(m), metric: m, datasets: [p.datasetLabel] });
    return cols;
  }
  if (benchmarks.length === 1) {
    const d = benchmarks[0]!;
    const sorted = list.sort((a, b) => (ORDER[a.subset ?? ''] ?? 9) - (ORDER[b.subset ?? ''] ?? 9));
    for (const p of sorted)
      for (const m of metricsOf(d))
        cols.push({
          label: `${title(p.subset ?? p.datasetLabel)} ${metricLabel(m)}`,
          metric: m,
          datasets: [p.datasetLabel],
        });
    if (d === 'fashioniq')
      for (const m of metricsOf(d))
        cols.push({
          label: `Average ${metricLabel(m)}`,
          metric: m,
          datasets: sorted.map((p) => p.datasetLabel),
        });
    return cols;
  }
  for (const d of benchmarks) {
    const labels = list.filter((p) => p.dataset === d).map((p) => p.datasetLabel);
    for (const m of metricsOf(d))
      cols.push({ label: `${DISPLAY[d]} ${metricLabel(m)}`, metric: m, datasets: labels });
  }
  return cols;
}

/** A column's value for a group of points (a row, with its datasets): mean ± std over repeats. */
export function cellStats(points: readonly PointData[], col: Column): MeanStd | null {
  const own = points.filter((p) => col.datasets.includes(p.datasetLabel));
  if (col.datasets.length > 1) {
    // An average over datasets: needs every dataset in each repeat.
    const byRepeat = new Map<number, PointData[]>();
    for (const p of own) byRepeat.set(repeatOf(p), [...(byRepeat.get(repeatOf(p)) ?? []), p]);
    const vals: number[] = [];
    for (const ps of byRepeat.values()) {
      const vs = col.datasets.map((d) => {
        const p = ps.find((x) => x.datasetLabel === d);
        return p ? metricValue(p, col.metric) : null;
      });
      if (vs.every((v) => v !== null)) vals.push((vs as number[]).reduce((s, v) => s + v, 0) / vs.length);
    }
    return meanStd(vals);
  }
  return metricStats(own, col.metric);
}

/** "0.1" / "t2i" / "true" for labels. */
export const showValue = (v: ParamValue | undefined): string =>
  v === undefined || v === null ? '—' : String(v);

const MODE_ARROWS: Record<string, string> = { t2i: 'T→I', i2i: 'I→I', t2t: 'T→T', i2t: 'I→T' };
/** "PEFUSE (T→I)" for a mode, as the paper names its rows. */
export const methodOfMode = (mode: ParamValue | undefined): string =>
  typeof mode === 'string' && MODE_ARROWS[mode] ? `PEFUSE (${MODE_ARROWS[mode]})` : 'PEFUSE';

/**
 * The method label of a row: "PEFUSE (T→I)", marked "[dummy]" when a model block the mode uses (or the
 * retrieval model) is a dummy backend, so synthetic numbers never pass for a real model's.
 */
export function methodLabel(mode: ParamValue | undefined, point: PointData | undefined): string {
  const base = methodOfMode(mode);
  if (point === undefined || typeof mode !== 'string' || !(mode in MODE_ARROWS)) return base;
  const block = (name: string): Record<string, unknown> => {
    const b = point.config[name];
    return typeof b === 'object' && b !== null && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
  };
  const text = block('diffusion').text;
  const used = ['retrieval', ...requiredBlocks(mode as Mode, typeof text === 'string' ? text : undefined)];
  return used.some((b) => block(b).backend === 'dummy') ? `${base} [dummy]` : base;
}
