/**
 * Vega-Lite specs of the report's figures, with their data inline (so a `.vl.json` can be edited and
 * re-rendered alone): sensitivity (mean line ± std band over repeats, one panel per swept parameter,
 * base value marked, series by a second field), scaling (backbones ordered by size) and heatmap (best
 * cell marked, cells not significantly different from it outlined).
 */
import type { ParamValue } from '../runner/plan/types.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../runner/util/json.js';
import { DIFFUSION_DEFAULTS, MLLM_DEFAULTS } from '../stages/defaults.js';
import { PARAMETER_COUNTS_M } from '../stages/embed/model/profiles.js';
import { metricLabel, tableMetrics } from '../stages/metrics/names.js';
import type { ExperimentData, PointData } from './data.js';
import { groupPerQuery, groupPoints, metricStats, showValue } from './groups.js';
import { type ReportItem, sensitivityParams, sweptFields } from './spec.js';
import { type Interval, pairedBootstrap } from './stats.js';

export type VlSpec = JsonObject;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
export const FONT = 'DejaVu Sans';
const CONFIG: JsonObject = {
  font: FONT,
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12 },
};

/** The value a point's configuration gives a dotted path (`mllm.temperature`). */
function configAt(config: JsonObject, path: string): JsonValue | undefined {
  let v: JsonValue | undefined = config;
  for (const seg of path.split('.')) {
    if (!isJsonObject(v ?? null)) return undefined;
    v = (v as JsonObject)[seg];
  }
  return v;
}

const DEFAULTS: Record<string, Record<string, JsonValue>> = {
  mllm: MLLM_DEFAULTS as unknown as Record<string, JsonValue>,
  diffusion: DIFFUSION_DEFAULTS as unknown as Record<string, JsonValue>,
};

/**
 * A parameter's base value: the spec's `base:` entry, else the value the configurations that do not
 * sweep it share, else the stage default; null when none is known.
 */
export function baseValue(
  param: string,
  points: readonly PointData[],
  given: Record<string, ParamValue> | undefined,
): ParamValue | null {
  if (given && param in given) return given[param]!;
  const values = new Set(
    points.filter((p) => !(param in p.params)).map((p) => JSON.stringify(configAt(p.config, param) ?? null)),
  );
  if (values.size === 1) {
    const v = JSON.parse([...values][0]!) as JsonValue;
    if (v !== null && typeof v !== 'object') return v;
  }
  const [block, key] = param.split('.');
  const d = block && key ? DEFAULTS[block]?.[key] : undefined;
  return d !== undefined && typeof d !== 'object' ? (d as ParamValue) : null;
}

/** The metric a figure plots: the item's, else the first table metric of the first dataset. */
export function figureMetric(item: { metric?: string }, points: readonly PointData[]): string {
  return item.metric ?? tableMetrics(points[0]?.dataset ?? 'synthetic')[0]!;
}

export function sensitivitySpec(
  item: Extract<ReportItem, { figure: 'sensitivity' }>,
  data: ExperimentData,
): { spec: VlSpec; panels: string[] } {
  const points = data.points;
  const metric = figureMetric(item, points);
  const swept = sweptFields(points);
  const params = item.params ?? sensitivityParams(swept, item.series);
  const values: JsonObject[] = [];
  for (const param of params) {
    const own = points.filter((p) => param in p.params);
    const fields = item.series ? [param, item.series] : [param];
    for (const g of groupPoints(own, fields)) {
      const s = metricStats(g.points, metric);
      const x = g.config[param];
      if (!s || typeof x !== 'number') continue;
      const sd = s.std ?? 0;
      values.push({
        kind: 'curve',
        param,
        x,
        series: item.series ? showValue(g.config[item.series]) : metricLabel(metric),
        mean: s.mean,
        lo: s.mean - sd,
        hi: s.mean + sd,
        n: s.n,
      });
    }
    const base = baseValue(param, points, item.base);
    if (typeof base === 'number') values.push({ kind: 'base', param, x: base });
  }
  const color = {
    field: 'series',
    type: 'nominal',
    title: item.series ?? 'metric',
    legend: { symbolOpacity: 1 },
  };
  const x = { field: 'x', type: 'quantitative', title: null, scale: { zero: false }, axis: { tickCount: 5 } };
  const spec: VlSpec = {
    $schema: SCHEMA,
    title: item.title ?? `${data.experiment}: ${metricLabel(metric)} vs. each swept parameter`,
    data: { values },
    facet: { field: 'param', type: 'nominal', title: null, sort: params },
    columns: Math.min(params.length, 3),
    spec: {
      width: 220,
      height: 160,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'curve'" }],
          mark: { type: 'area', opacity: 0.2 },
          encoding: {
            x,
            y: { field: 'lo', type: 'quantitative', title: `${metricLabel(metric)} (%)` },
            y2: { field: 'hi' },
            color,
          },
        },
        {
          transform: [{ filter: "datum.kind === 'curve'" }],
          mark: { type: 'line', point: true },
          encoding: {
            x,
            y: { field: 'mean', type: 'quantitative' },
            color,
            tooltip: [
              { field: 'x', type: 'quantitative', title: 'value' },
              { field: 'mean', type: 'quantitative', format: '.2f' },
              { field: 'n', type: 'quantitative', title: 'repeats' },
            ],
          },
        },
        {
          transform: [{ filter: "datum.kind === 'base'" }],
          mark: { type: 'rule', strokeDash: [4, 3], color: '#666' },
          encoding: { x },
        },
      ],
    },
    resolve: { scale: { x: 'independent' } },
    config: CONFIG,
  };
  return { spec, panels: params };
}

/** "openclip-vit-l-14 (428M)" labels, ordered by parameter count (unknown sizes last, in spec order). */
export function bySize(models: readonly string[]): { model: string; label: string; size: number | null }[] {
  return models
    .map((m, i) => ({ m, i, size: PARAMETER_COUNTS_M[m] ?? null }))
    .sort((a, b) => (a.size ?? Number.POSITIVE_INFINITY) - (b.size ?? Number.POSITIVE_INFINITY) || a.i - b.i)
    .map(({ m, size }) => ({ model: m, label: size === null ? m : `${m} (${Math.round(size)}M)`, size }));
}

export function scalingSpec(item: Extract<ReportItem, { figure: 'scaling' }>, data: ExperimentData): VlSpec {
  const xField = item.x ?? 'retrieval.model';
  const seriesField = item.series ?? 'dataset';
  const own = data.points.filter((p) => xField in p.params);
  const models = [...new Set(own.map((p) => showValue(p.params[xField])))];
  const order = bySize(models);
  const labelOf = new Map(order.map((o) => [o.model, o.label]));
  const values: JsonObject[] = [];
  for (const g of groupPoints(own, [xField, seriesField])) {
    const metric = figureMetric(item, g.points);
    const s = metricStats(g.points, metric);
    if (!s) continue;
    const series =
      seriesField === 'dataset'
        ? `${showValue(g.config.dataset)} ${metricLabel(metric)}`
        : showValue(g.config[seriesField]);
    values.push({
      model: labelOf.get(showValue(g.config[xField])) ?? showValue(g.config[xField]),
      series,
      mean: s.mean,
      lo: s.mean - (s.std ?? 0),
      hi: s.mean + (s.std ?? 0),
    });
  }
  const x = {
    field: 'model',
    type: 'ordinal',
    sort: order.map((o) => o.label),
    title: `${xField} (by parameters)`,
    axis: { labelAngle: -30 },
  };
  const color = { field: 'series', type: 'nominal', title: seriesField };
  return {
    $schema: SCHEMA,
    title: item.title ?? `${data.experiment}: scaling with backbone size`,
    data: { values },
    width: 360,
    height: 240,
    layer: [
      {
        mark: { type: 'rule' },
        encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color },
      },
      {
        mark: { type: 'line', point: true },
        encoding: { x, y: { field: 'mean', type: 'quantitative', title: 'metric (%)' }, color },
      },
    ],
    config: CONFIG,
  };
}

export interface HeatmapResult {
  spec: VlSpec;
  best: { x: string; y: string; mean: number } | null;
  /** Cells tied with the best (interval of best − cell contains 0), excluding the best itself. */
  tied: { x: string; y: string; interval: Interval }[];
  intervals: boolean;
}

export function heatmapSpec(
  item: Extract<ReportItem, { figure: 'heatmap' }>,
  data: ExperimentData,
  perQuery: ReadonlyMap<string, ReadonlyMap<string, number>> | null,
  seed: number,
): HeatmapResult {
  const metric = figureMetric(item, data.points);
  const own = data.points.filter((p) => item.x in p.params && item.y in p.params);
  const groups = groupPoints(own, [item.x, item.y]);
  const cells = groups
    .map((g) => ({ g, s: metricStats(g.points, metric) }))
    .filter((c): c is { g: (typeof groups)[number]; s: NonNullable<typeof c.s> } => c.s !== null);
  let bestI = -1;
  cells.forEach((c, i) => {
    if (bestI < 0 || c.s.mean > cells[bestI]!.s.mean) bestI = i;
  });
  const tied: HeatmapResult['tied'] = [];
  const tiedSet = new Set<number>();
  const bestQ = bestI >= 0 && perQuery ? groupPerQuery(cells[bestI]!.g, perQuery) : null;
  if (bestQ && bestQ.size > 0)
    cells.forEach((c, i) => {
      if (i === bestI) return;
      const iv = pairedBootstrap(bestQ, groupPerQuery(c.g, perQuery!), seed);
      if (iv && !iv.significant) {
        tiedSet.add(i);
        tied.push({ x: showValue(c.g.config[item.x]), y: showValue(c.g.config[item.y]), interval: iv });
      }
    });
  const values = cells.map((c, i) => ({
    x: showValue(c.g.config[item.x]),
    y: showValue(c.g.config[item.y]),
    mean: c.s.mean,
    std: c.s.std ?? 0,
    label: c.s.mean.toFixed(1),
    best: i === bestI,
    tied: tiedSet.has(i),
  }));
  const means = values.map((v) => v.mean);
  const mid = means.length > 0 ? (Math.min(...means) + Math.max(...means)) / 2 : 0;
  const sortOf = (field: string) =>
    [...new Set(own.map((p) => p.params[field]))]
      .sort((a, b) =>
        typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b)),
      )
      .map(showValue);
  const x = { field: 'x', type: 'ordinal', title: item.x, sort: sortOf(item.x) };
  const y = { field: 'y', type: 'ordinal', title: item.y, sort: sortOf(item.y) };
  const spec: VlSpec = {
    $schema: SCHEMA,
    title: item.title ?? `${data.experiment}: ${metricLabel(metric)} over ${item.x} × ${item.y}`,
    data: { values },
    width: { step: 48 },
    height: { step: 36 },
    layer: [
      {
        mark: { type: 'rect' },
        encoding: {
          x,
          y,
          color: {
            field: 'mean',
            type: 'quantitative',
            title: `${metricLabel(metric)} (%)`,
            scale: { scheme: 'viridis' },
          },
          tooltip: [
            { field: 'mean', type: 'quantitative', format: '.2f' },
            { field: 'std', type: 'quantitative', format: '.2f' },
          ],
        },
      },
      {
        transform: [{ filter: 'datum.tied' }],
        mark: { type: 'rect', filled: false, stroke: '#ff7f0e', strokeWidth: 2, strokeDash: [4, 2] },
        encoding: { x, y },
      },
      {
        transform: [{ filter: 'datum.best' }],
        mark: { type: 'rect', filled: false, stroke: 'black', strokeWidth: 3 },
        encoding: { x, y },
      },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          x,
          y,
          text: { field: 'label' },
          // Viridis is light at the top: dark text on bright cells.
          color: { condition: { test: `datum.mean > ${mid}`, value: 'black' }, value: 'white' },
        },
      },
    ],
    config: CONFIG,
  };
  const best = bestI >= 0 ? { x: values[bestI]!.x, y: values[bestI]!.y, mean: values[bestI]!.mean } : null;
  return { spec, best, tied, intervals: bestQ !== null && bestQ.size > 0 };
}
