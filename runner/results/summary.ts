/**
 * What `pefuse status` shows, as data (for `--json`) and as text tables: experiments, stages by kind
 * and status, failures with reasons, and the metrics of the latest run per point.
 */
import { hostname } from 'node:os';
import type { JsonValue } from '../util/json.js';
import { err, ok } from '../util/result.js';
import { pidAlive, pidOfRunId } from './recorded.js';
import type { ResultsDb, ResultsResult } from './types.js';

export interface StatusSummary {
  file: string;
  experiments: Record<string, JsonValue>[];
  stages: Record<string, JsonValue>[];
  failures: Record<string, JsonValue>[];
  /** Metrics of the points of each experiment's latest run (other settings are other points). */
  metrics: Record<string, JsonValue>[];
  /** Per experiment: points with metrics that earlier runs (other `--set`/`--limit`) recorded, not shown. */
  hidden: Record<string, JsonValue>[];
  /** Points of each experiment's latest run without metrics (test splits have no public targets). */
  unscored: Record<string, JsonValue>[];
}

const QUERIES = {
  experiments: `
    SELECT e.name AS experiment, e.spec_file, e.n_points AS points,
      (SELECT count(*) FROM points p WHERE p.experiment = e.name) AS points_recorded,
      r.id AS last_run, r.status AS last_status, r.host AS last_host, strftime(r.started_at, '%Y-%m-%d %H:%M') AS started
    FROM experiments e
    LEFT JOIN (SELECT * FROM runs QUALIFY row_number() OVER (PARTITION BY experiment ORDER BY started_at DESC) = 1) r
      ON r.experiment = e.name
    ORDER BY e.name`,
  stages: `
    SELECT kind, status, count(*) AS stages, sum(items) AS items, sum(cached_items) AS cached_items,
      sum(seconds) AS seconds
    FROM stages GROUP BY kind, status ORDER BY kind, status`,
  failures: `
    SELECT key, kind, backend, failure_reason AS reason, failure_message AS message, failure_item AS item, attempts
    FROM stages WHERE status = 'failed' ORDER BY kind, key`,
  metrics: `
    SELECT m.experiment, m.point_id, p.idx, p.params, m.dataset, m.split, m.subset, m.name, m.value, m.n
    FROM latest_metrics m LEFT JOIN points p USING (experiment, point_id)
    WHERE p.run_id IS NULL OR p.run_id = (SELECT r.id FROM runs r WHERE r.experiment = m.experiment
                                          ORDER BY r.started_at DESC LIMIT 1)
    ORDER BY m.experiment, p.idx NULLS LAST, m.point_id, m.name`,
  hidden: `
    SELECT m.experiment, count(DISTINCT m.point_id) AS points
    FROM latest_metrics m JOIN points p USING (experiment, point_id)
    WHERE p.run_id IS NOT NULL AND p.run_id <> (SELECT r.id FROM runs r WHERE r.experiment = m.experiment
                                                ORDER BY r.started_at DESC LIMIT 1)
    GROUP BY m.experiment ORDER BY m.experiment`,
  unscored: `
    SELECT p.experiment, p.point_id, p.idx, p.params,
      json_extract_string(p.config, '$.dataset.split') AS split
    FROM points p
    WHERE p.run_id = (SELECT r.id FROM runs r WHERE r.experiment = p.experiment ORDER BY r.started_at DESC LIMIT 1)
      AND NOT EXISTS (SELECT 1 FROM latest_metrics m WHERE m.experiment = p.experiment AND m.point_id = p.point_id)
    ORDER BY p.experiment, p.idx`,
} as const;

/**
 * Reads the summary. A last run still `running` whose process is gone from this host is shown as
 * `killed` (status opens the file read-only; the next `pefuse run` records it so). `params` of the
 * metrics rows are objects, not JSON text.
 */
export async function readStatus(
  db: ResultsDb,
  alive: (pid: number) => boolean = pidAlive,
): Promise<ResultsResult<StatusSummary>> {
  const out: StatusSummary = {
    file: db.file,
    experiments: [],
    stages: [],
    failures: [],
    metrics: [],
    hidden: [],
    unscored: [],
  };
  for (const name of ['experiments', 'stages', 'failures', 'metrics', 'hidden', 'unscored'] as const) {
    const r = await db.query(QUERIES[name]);
    if (!r.ok) return err(r.error);
    out[name] = r.value;
  }
  const host = hostname();
  for (const e of out.experiments) {
    const pid = typeof e.last_run === 'string' ? pidOfRunId(e.last_run) : null;
    if (e.last_status === 'running' && e.last_host === host && pid !== null && !alive(pid))
      e.last_status = 'killed';
  }
  for (const m of out.metrics) m.params = jsonObject(m.params);
  for (const m of out.unscored) m.params = jsonObject(m.params);
  return ok(out);
}

/** DuckDB hands JSON columns over as text. */
function jsonObject(v: JsonValue | undefined): JsonValue {
  if (typeof v !== 'string') return v ?? null;
  try {
    return JSON.parse(v) as JsonValue;
  } catch {
    return v;
  }
}

/** Metric names by family, then K: recall@1 < recall@5 < recall@10 < recall_subset@1 < recall_subset@2. */
export function metricOrder(a: string, b: string): number {
  const [fa = '', ka = ''] = a.split('@');
  const [fb = '', kb = ''] = b.split('@');
  if (fa !== fb) return fa < fb ? -1 : 1;
  return ka.localeCompare(kb, 'en', { numeric: true });
}

/** A metric value as a percentage with two decimals (100.00, 33.33). */
function metricCell(v: JsonValue | undefined): string {
  return typeof v === 'number' ? v.toFixed(2) : cell(v);
}

function cell(v: JsonValue | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(2);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A plain text table: header, a rule, rows; numeric-looking columns right-aligned. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^-?[\d.]*$/.test(r[i] ?? '')));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function paramsText(params: JsonValue | undefined): string {
  let obj: JsonValue | undefined = params;
  if (typeof params === 'string') {
    try {
      obj = JSON.parse(params) as JsonValue;
    } catch {
      return params;
    }
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return cell(obj);
  return Object.entries(obj)
    .filter(([k]) => k !== 'dataset')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

export function renderStatus(s: StatusSummary): string {
  const parts: string[] = [`results database: ${s.file}`];
  if (s.experiments.length === 0 && s.stages.length === 0) {
    parts.push('', 'nothing recorded yet: run `pefuse run SPEC` to fill it.');
    return `${parts.join('\n')}\n`;
  }
  parts.push(
    '',
    'Experiments',
    textTable(
      ['experiment', 'points', 'last run', 'status', 'started (UTC)'],
      s.experiments.map((e) => [
        cell(e.experiment),
        cell(e.points),
        cell(e.last_run),
        cell(e.last_status),
        cell(e.started),
      ]),
    ),
  );

  // Stages: one row per kind, one column per status.
  const statuses = ['published', 'cached', 'failed', 'skipped', 'running'];
  const kinds = [...new Set(s.stages.map((r) => String(r.kind)))];
  const count = (kind: string, status: string) =>
    s.stages
      .filter((r) => r.kind === kind && r.status === status)
      .reduce((n, r) => n + Number(r.stages ?? 0), 0);
  parts.push(
    '',
    'Stages by kind',
    textTable(
      ['kind', ...statuses, 'seconds'],
      kinds.map((k) => [
        k,
        ...statuses.map((st) => String(count(k, st))),
        s.stages
          .filter((r) => r.kind === k)
          .reduce((n, r) => n + Number(r.seconds ?? 0), 0)
          .toFixed(2),
      ]),
    ),
  );

  if (s.failures.length > 0) {
    parts.push(
      '',
      `Failures (${s.failures.length})`,
      textTable(
        ['stage', 'kind', 'backend', 'reason', 'message'],
        s.failures.map((f) => [
          String(f.key).slice(0, 12),
          cell(f.kind),
          cell(f.backend),
          cell(f.reason),
          cell(f.item ? `${f.message} (item ${cell(f.item)})` : f.message),
        ]),
      ),
    );
  }

  // Metrics: one table per experiment, one row per (point, dataset split), one column per metric.
  const byExp = new Map<string, Record<string, JsonValue>[]>();
  for (const m of s.metrics) {
    const list = byExp.get(String(m.experiment)) ?? [];
    list.push(m);
    byExp.set(String(m.experiment), list);
  }
  for (const [exp, rows] of byExp) {
    const names = [...new Set(rows.map((r) => String(r.name)))].sort(metricOrder);
    const groups = new Map<string, Record<string, JsonValue>[]>();
    for (const r of rows) {
      const g = `${r.point_id}\u0000${r.dataset}\u0000${r.split}\u0000${r.subset ?? ''}`;
      groups.set(g, [...(groups.get(g) ?? []), r]);
    }
    const table = [...groups.values()].map((g) => {
      const first = g[0]!;
      const ds = [first.dataset, first.subset, first.split].filter((x) => x !== null && x !== '').join('/');
      return [
        cell(first.point_id),
        ds,
        paramsText(first.params),
        cell(first.n),
        ...names.map((n) => metricCell(g.find((r) => r.name === n)?.value)),
      ];
    });
    parts.push(
      '',
      `Metrics of ${exp} (the points of its latest run, %)`,
      textTable(['point', 'data', 'params', 'n', ...names], table),
    );
  }
  // Points without metrics: test splits have no public targets (their rankings go to `pefuse export`).
  const unscoredBy = new Map<string, Record<string, JsonValue>[]>();
  for (const u of s.unscored)
    unscoredBy.set(String(u.experiment), [...(unscoredBy.get(String(u.experiment)) ?? []), u]);
  for (const [exp, rows] of unscoredBy) {
    parts.push(
      '',
      `Points of ${exp} without metrics (its latest run)`,
      textTable(
        ['point', 'data', 'params', 'note'],
        rows.map((u) => [
          cell(u.point_id),
          cell((u.params as Record<string, JsonValue> | null)?.dataset),
          paramsText(u.params),
          u.split === 'test' || u.split === 'test1'
            ? 'no metrics (test split; use export)'
            : 'no metrics (its stages did not finish)',
        ]),
      ),
    );
  }
  for (const h of s.hidden) {
    parts.push(
      '',
      `${h.experiment}: ${h.points} more point(s) with metrics from earlier runs with other settings ` +
        '(--set, --limit, an edited spec) are not shown; they are in the `latest_metrics` view',
    );
  }
  return `${parts.join('\n')}\n`;
}
