/**
 * `pefuse report`: reads the results database (read-only) and writes what the spec's `report:` block
 * asks for under the output folder: figures (`.vl.json`, `.svg`, `.png`), tables (`.md`, `.tex`,
 * `.html`), qualitative grids (`.png`) and one self-contained `index.html`. It never runs a stage; a
 * sweep still running gives a partial report that says what is missing.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ResultsDb } from '../runner/results/types.js';
import type { JsonValue } from '../runner/util/json.js';
import { metricLabel } from '../stages/metrics/names.js';
import { type ExperimentData, readCompute, readExperiment, readPerQuery, readStages } from './data.js';
import { type GridOutput, qualitativeGrid } from './grids.js';
import { type PageChart, renderPage } from './page.js';
import { figureMetric, heatmapSpec, scalingSpec, sensitivitySpec, type VlSpec } from './plots.js';
import { renderChart } from './render.js';
import { itemName, type ReportItem } from './spec.js';
import { formatInterval } from './stats.js';
import { toHtml, toLatex, toMarkdown } from './table-format.js';
import { computeTable, readBaselines, resultsTable } from './tables.js';

export const FORMATS = ['vl', 'svg', 'png', 'md', 'tex', 'html', 'page'] as const;
export type Format = (typeof FORMATS)[number];

export interface ReportRequest {
  db: ResultsDb;
  experiment: string;
  items: readonly ReportItem[];
  specFile: string;
  specText: string | null;
  outDir: string;
  formats: ReadonlySet<Format>;
  seed: number;
  version: string;
  gitCommit: string | null;
  /** The cache root, for qualitative grids (images). */
  cacheRoot: string;
}

export interface ReportResult {
  files: string[];
  /** What is missing or partial, for the user (also on the page). */
  status: string[];
  /** One line per output with what it found (best cell, ties…). */
  lines: string[];
}

/** Status lines: points of the latest run without metrics, a run still going, older points left out. */
export function statusLines(data: ExperimentData): string[] {
  const out: string[] = [];
  const total = data.points.length + data.missing.length;
  if (data.run?.status === 'running')
    out.push(`the latest run (${data.run.id}) is still running: this report is partial`);
  if (data.missing.length > 0) {
    const sample = data.missing
      .slice(0, 5)
      .map((p) =>
        Object.entries(p.params)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(' '),
      )
      .join('; ');
    out.push(
      `${data.missing.length} of ${total} points of the latest run have no metrics yet (${sample}${
        data.missing.length > 5 ? '; …' : ''
      }); they are left out`,
    );
  }
  if (data.olderPoints > 0)
    out.push(`${data.olderPoints} points recorded only by earlier runs are not in this report`);
  return out;
}

export async function writeReport(req: ReportRequest): Promise<ReportResult | { missing: string }> {
  const data = await readExperiment(req.db, req.experiment);
  if (!data) return { missing: `the results database has nothing for experiment \`${req.experiment}\`` };
  const status = statusLines(data);
  const files: string[] = [];
  const lines: string[] = [];
  const charts: PageChart[] = [];
  const tables: { title: string; html: string }[] = [];
  const grids: { title: string; png: Buffer; caption: string }[] = [];
  await mkdir(req.outDir, { recursive: true });
  const out = async (name: string, content: string | Buffer) => {
    const f = join(req.outDir, name);
    await writeFile(f, content);
    files.push(f);
  };
  const perQueryCache = new Map<string, Map<string, Map<string, number>>>();
  const perQuery = async (metric: string) => {
    if (!perQueryCache.has(metric))
      perQueryCache.set(metric, await readPerQuery(req.db, data.points, metric));
    const m = perQueryCache.get(metric)!;
    return m.size > 0 ? m : null;
  };
  const compute = await readCompute(req.db, req.experiment);
  if (data.points.length === 0) status.push('no point has metrics yet: figures and tables are empty');

  for (const [i, item] of req.items.entries()) {
    const name = itemName(item);
    if ('figure' in item) {
      let spec: VlSpec;
      const notes: string[] = [];
      if (item.figure === 'sensitivity') {
        const s = sensitivitySpec(item, data);
        spec = s.spec;
        notes.push(
          `mean line and ±1 std band over repeats; dashed rule: base value; panels: ${s.panels.join(', ')}`,
        );
      } else if (item.figure === 'scaling') {
        spec = scalingSpec(item, data);
        notes.push('backbones ordered by parameter count; bars: ±1 std over repeats');
      } else {
        const metric = figureMetric(item, data.points);
        const h = heatmapSpec(item, data, await perQuery(metric), req.seed);
        spec = h.spec;
        if (h.best) {
          const tiedText = h.intervals
            ? `${h.tied.length} cell(s) not significantly different (outlined; paired bootstrap 95%, 10,000 resamples, seed ${req.seed})`
            : 'no per-query results recorded: ties not tested';
          const line = `${name}: best ${item.x}=${h.best.x}, ${item.y}=${h.best.y} (${metricLabel(metric)} ${h.best.mean.toFixed(2)}); ${tiedText}`;
          lines.push(line);
          notes.push(line);
          for (const t of h.tied)
            notes.push(`tied: ${item.x}=${t.x}, ${item.y}=${t.y}: best − cell ${formatInterval(t.interval)}`);
        }
      }
      if (req.formats.has('vl')) await out(`${name}.vl.json`, JSON.stringify(spec, null, 2) + '\n');
      if (req.formats.has('svg') || req.formats.has('png')) {
        const r = await renderChart(spec);
        if (req.formats.has('svg')) await out(`${name}.svg`, r.svg);
        if (req.formats.has('png')) await out(`${name}.png`, r.png);
        for (const w of r.warnings) lines.push(`${name}: vega warning: ${w}`);
      }
      charts.push({ id: `chart-${i}`, title: String(spec.title ?? name), spec, notes });
    } else if ('table' in item) {
      let model: ReturnType<typeof resultsTable>;
      if (item.table === 'results') {
        const baselines = item.baselines
          ? readBaselines(resolve(dirname(req.specFile), item.baselines))
          : null;
        const metric = item.metric ?? null;
        const pq = await perQuery(metric ?? firstMetric(data, item.metrics));
        model = resultsTable({ item, data, perQuery: pq, baselines, seed: req.seed });
      } else {
        const baselines = item.baselines
          ? readBaselines(resolve(dirname(req.specFile), item.baselines))
          : null;
        model = computeTable(item, data, compute, baselines);
      }
      if (req.formats.has('md')) await out(`${name}.md`, toMarkdown(model));
      if (req.formats.has('tex')) await out(`${name}.tex`, toLatex(model));
      const html = toHtml(model);
      if (req.formats.has('html')) await out(`${name}.html`, html);
      tables.push({ title: model.title, html });
    } else {
      const g: GridOutput | { missing: string } = await qualitativeGrid(item, data, req);
      if ('missing' in g) {
        status.push(`${name}: ${g.missing}`);
        continue;
      }
      await out(`${name}.png`, g.png);
      grids.push({ title: g.title, png: g.png, caption: g.caption });
    }
  }
  if (req.formats.has('page')) {
    const stages = await readStages(
      req.db,
      req.experiment,
      data.points.map((p) => p.id),
    );
    const html = renderPage({
      experiment: req.experiment,
      generatedAt: new Date().toISOString(),
      status,
      charts,
      tables,
      grids,
      provenance: {
        specFile: req.specFile,
        specText: req.specText,
        version: req.version,
        gitCommit: req.gitCommit,
        run: (data.run ?? null) as unknown as JsonValue,
        stages,
      },
    });
    await out('index.html', html);
  }
  return { files, status, lines };
}

function firstMetric(data: ExperimentData, metrics: readonly string[] | undefined): string {
  return metrics?.[0] ?? figureMetric({}, data.points);
}
