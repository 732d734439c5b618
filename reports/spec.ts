/**
 * The spec's `report:` block: typed items and the checks a schema cannot express (a metric the dataset
 * does not record, an axis the sweep does not vary, options that do not apply to a kind), each a located
 * diagnostic like the rest of the spec. The schema (runner/spec/spec.schema.json `reportItem`) checks
 * shapes and enums first.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Diagnostic, diag } from '../runner/diagnostics/diagnostic.js';
import { didYouMean } from '../runner/diagnostics/suggest.js';
import type { ParamValue } from '../runner/plan/types.js';
import { type LNode, toJson } from '../runner/spec/located.js';
import type { JsonValue } from '../runner/util/json.js';
import type { DatasetName } from '../stages/contracts.js';
import { metricChoices, resolveMetric } from '../stages/metrics/names.js';

export type FigureKind = 'sensitivity' | 'scaling' | 'heatmap';
export type TableKind = 'results' | 'compute';
export type GridKind = 'best' | 'worst' | 'chosen';

interface Common {
  name?: string;
  title?: string;
  metric?: string;
}
export type ReportItem =
  | (Common & {
      figure: 'sensitivity';
      params?: string[];
      series?: string;
      base?: Record<string, ParamValue>;
    })
  | (Common & { figure: 'scaling'; x?: string; series?: string })
  | (Common & { figure: 'heatmap'; x: string; y: string })
  | (Common & { table: 'results'; metrics?: string[]; rows?: string[]; baselines?: string })
  | (Common & { table: 'compute'; rows?: string[]; baselines?: string })
  | (Common & { grid: GridKind; queries?: string[]; count?: number });

const COMMON = ['name', 'title', 'metric'];
/** The options each kind takes (besides name, title and metric). */
const OPTIONS: Record<string, readonly string[]> = {
  sensitivity: ['params', 'series', 'base'],
  scaling: ['x', 'series'],
  heatmap: ['x', 'y'],
  results: ['metrics', 'rows', 'baselines'],
  compute: ['rows', 'baselines'],
  best: ['count'],
  worst: ['count'],
  chosen: ['queries'],
};
const KIND_KEYS = ['figure', 'table', 'grid'] as const;

/** The kind an item names (`sensitivity`, `results`, `best`…), or null. */
export function itemKind(item: ReportItem): string {
  if ('figure' in item) return item.figure;
  if ('table' in item) return item.table;
  return item.grid;
}

/** The file stem of an item's outputs. */
export function itemName(item: ReportItem): string {
  if (item.name) return item.name;
  if ('figure' in item) {
    if (item.figure === 'heatmap') return `heatmap-${slug(item.x)}-${slug(item.y)}`;
    return item.figure === 'scaling' ? 'scaling' : 'sensitivity';
  }
  if ('table' in item) return item.table === 'results' ? 'results' : 'compute';
  return `grid-${item.grid}`;
}

export const slug = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_');

/** What the checks need to know about the planned points. */
export interface ReportContext {
  /** Swept fields: keys of the points' params (always `dataset`; `repeat` with repeats). */
  swept: Map<string, ParamValue[]>;
  datasets: DatasetName[];
  specFile: string;
}

/** The `report:` block as typed items (after the schema check), or [] when absent. */
export function reportItems(tree: LNode): ReportItem[] {
  if (tree.kind !== 'map') return [];
  const node = tree.entries.get('report')?.value;
  if (node?.kind !== 'seq') return [];
  return toJson(node) as unknown as ReportItem[];
}

/** The plan's `report` block (JSON, checked at compile time) as typed items. */
export function reportItemsOf(report: JsonValue): ReportItem[] {
  return Array.isArray(report) ? (report as unknown as ReportItem[]) : [];
}

/** Checks the `report:` block against the points; pushes located diagnostics. */
export function checkReport(tree: LNode, ctx: ReportContext, diagnostics: Diagnostic[]): void {
  if (tree.kind !== 'map') return;
  const node = tree.entries.get('report')?.value;
  if (node?.kind !== 'seq') return;
  const names = new Map<string, LNode>();
  node.items.forEach((itemNode, i) => {
    if (itemNode.kind !== 'map') return;
    const present = KIND_KEYS.filter((k) => itemNode.entries.has(k));
    if (present.length !== 1) {
      diagnostics.push(
        diag(
          present.length === 0
            ? `report[${i}]: say what to make with one of \`figure:\`, \`table:\` or \`grid:\``
            : `report[${i}]: one item makes one thing, but this one has ${present.map((k) => `\`${k}\``).join(' and ')}`,
          itemNode.span,
          {
            hint: 'e.g. `- figure: sensitivity` or `- table: results`; list several items for several outputs',
          },
        ),
      );
      return;
    }
    const kindNode = itemNode.entries.get(present[0]!)!.value;
    if (kindNode.kind !== 'scalar' || typeof kindNode.value !== 'string') return;
    const kind = kindNode.value;
    const allowed = OPTIONS[kind];
    if (!allowed) return; // the schema's enum reported it
    for (const [key, entry] of itemNode.entries) {
      if ((KIND_KEYS as readonly string[]).includes(key) || COMMON.includes(key) || allowed.includes(key))
        continue;
      diagnostics.push(
        diag(`\`${key}\` does not apply to ${present[0]} \`${kind}\``, entry.keySpan, {
          hint: `${kind} takes ${[...COMMON, ...allowed].map((o) => `\`${o}\``).join(', ')}`,
        }),
      );
    }
    const item = toJson(itemNode) as unknown as ReportItem;
    const stem = itemName(item);
    const prev = names.get(stem);
    if (prev)
      diagnostics.push(
        diag(`report[${i}] writes \`${stem}.*\`, like an earlier item`, itemNode.span, {
          related: [{ message: 'the earlier item', span: prev.span }],
          hint: 'give one of them a `name:`',
        }),
      );
    else names.set(stem, itemNode);
    const at = (key: string) => itemNode.entries.get(key);
    const checkMetric = (name: string, span: LNode['span']) => {
      for (const d of ctx.datasets) {
        if (resolveMetric(d, name) !== null) continue;
        diagnostics.push(
          diag(`${d} has no metric \`${name}\``, span, {
            hint: didYouMean(name, metricChoices(d)) ?? `${d} records ${metricChoices(d).join(', ')}`,
          }),
        );
        return;
      }
    };
    const checkAxis = (name: string, span: LNode['span'], role: string) => {
      if (ctx.swept.has(name)) return;
      const choices = [...ctx.swept.keys()];
      diagnostics.push(
        diag(`${role} \`${name}\` is not swept in this spec`, span, {
          hint:
            didYouMean(name, choices) ??
            `swept fields: ${choices.join(', ')}; add \`${name}\` to \`sweep:\` or plot a swept field`,
        }),
      );
    };
    const metric = at('metric')?.value;
    if (metric?.kind === 'scalar' && typeof metric.value === 'string') checkMetric(metric.value, metric.span);
    const metrics = at('metrics')?.value;
    if (metrics?.kind === 'seq')
      for (const m of metrics.items)
        if (m.kind === 'scalar' && typeof m.value === 'string') checkMetric(m.value, m.span);
    for (const key of ['x', 'y', 'series'] as const) {
      const v = at(key)?.value;
      if (v?.kind === 'scalar' && typeof v.value === 'string') checkAxis(v.value, v.span, key);
    }
    for (const key of ['params', 'rows'] as const) {
      const v = at(key)?.value;
      if (v?.kind === 'seq')
        for (const p of v.items)
          if (p.kind === 'scalar' && typeof p.value === 'string') checkAxis(p.value, p.span, key);
    }
    const base = at('base')?.value;
    if (base?.kind === 'map') for (const [k, e] of base.entries) checkAxis(k, e.keySpan, 'base');
    if (kind === 'heatmap')
      for (const key of ['x', 'y'])
        if (!at(key))
          diagnostics.push(
            diag(`a heatmap needs \`${key}\` (a swept parameter)`, kindNode.span, {
              hint: `swept fields: ${[...ctx.swept.keys()].join(', ')}`,
            }),
          );
    if (kind === 'scaling' && !at('x')) checkAxis('retrieval.model', kindNode.span, 'the scaling axis');
    if (kind === 'sensitivity' && !at('params') && sensitivityParams(ctx.swept, undefined).length === 0)
      diagnostics.push(
        diag(
          'a sensitivity figure needs a swept numeric parameter, and this spec sweeps none',
          kindNode.span,
        ),
      );
    if (kind === 'chosen' && !at('queries'))
      diagnostics.push(diag('a `chosen` grid needs `queries:` (the query ids to show)', kindNode.span));
    const baselines = at('baselines')?.value;
    if (baselines?.kind === 'scalar' && typeof baselines.value === 'string') {
      const file = resolve(dirname(ctx.specFile), baselines.value);
      if (!existsSync(file))
        diagnostics.push(
          diag(`baselines file \`${baselines.value}\` does not exist (looked for ${file})`, baselines.span, {
            hint: 'paths are relative to the spec file, e.g. `baselines/table1.json`; `pefuse report` needs it',
            severity: 'warning',
          }),
        );
    }
  });
}

/** Fields never plotted as a sensitivity panel. */
const NOT_PARAMS = new Set(['dataset', 'repeat', 'seed']);

/** The default sensitivity panels: swept fields with numeric values, except the series. */
export function sensitivityParams(swept: Map<string, ParamValue[]>, series: string | undefined): string[] {
  return [...swept.entries()]
    .filter(([k, vs]) => !NOT_PARAMS.has(k) && k !== series && vs.some((v) => typeof v === 'number'))
    .map(([k]) => k);
}

/** Swept fields and their distinct values, from the points' params. */
export function sweptFields(
  points: readonly { params: Record<string, ParamValue> }[],
): Map<string, ParamValue[]> {
  const out = new Map<string, ParamValue[]>();
  for (const p of points)
    for (const [k, v] of Object.entries(p.params)) {
      const list = out.get(k) ?? [];
      if (!list.includes(v)) list.push(v);
      out.set(k, list);
    }
  return out;
}

/** The report context of a compiled spec's points. */
export function reportContext(
  points: readonly { params: Record<string, ParamValue>; config: { dataset: { name: string } } }[],
  specFile: string,
): ReportContext {
  return {
    swept: sweptFields(points),
    datasets: [...new Set(points.map((p) => p.config.dataset.name as DatasetName))],
    specFile,
  };
}
