/**
 * What a report reads from the results database, read-only: the experiment's points of its latest run
 * (matched by experiment and run, not by re-planning, so an unset data variable does not hide them),
 * their latest metric rows, per-query values (for bootstrap intervals), compute timings and provenance.
 */
import type { ParamValue } from '../runner/plan/types.js';
import type { ResultsDb } from '../runner/results/types.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../runner/util/json.js';
import type { DatasetName } from '../stages/contracts.js';
import { resolveMetric } from '../stages/metrics/names.js';

export interface PointData {
  id: string;
  index: number;
  params: Record<string, ParamValue>;
  config: JsonObject;
  /** Benchmark name (`circo`), and the point's dataset label (`dataset` param). */
  dataset: DatasetName;
  datasetLabel: string;
  /** Subset (Fashion-IQ category, GeneCIS task) or null. */
  subset: string | null;
  split: string;
  /** Latest metric values (percent), empty when the point has none yet. */
  metrics: Record<string, number>;
  metricsStage: string | null;
  n: number;
}

export interface ComputeRow {
  pointId: string;
  generator: string | null;
  embedder: string | null;
  device: string | null;
  peakMemMb: number | null;
  inferSPerSample: number | null;
  pipelineSPerSample: number | null;
  nQueries: number | null;
}

export interface StageProvenance {
  key: string;
  kind: string;
  backend: string | null;
  status: string | null;
  seconds: number | null;
  items: number | null;
  device: string | null;
  record: JsonValue;
}

export interface ExperimentData {
  experiment: string;
  specFile: string | null;
  run: {
    id: string;
    status: string;
    startedAt: string | null;
    finishedAt: string | null;
    argv: string[];
  } | null;
  /** The latest run's points (all points when no run recorded them). */
  points: PointData[];
  /** Points of the latest run that have no metrics yet (a sweep still running, failed or test splits). */
  missing: PointData[];
  /** Points the database holds for the experiment from earlier runs only (not in the report). */
  olderPoints: number;
}

type Row = Record<string, JsonValue>;

async function rows(db: ResultsDb, sql: string, params: Record<string, string>): Promise<Row[]> {
  const r = await db.query(sql, params);
  if (!r.ok) throw new ReportDataError(r.error.message);
  return r.value;
}

/** A database read failed (damaged file, missing table): the report says so instead of throwing a trace. */
export class ReportDataError extends Error {}

const str = (v: JsonValue | undefined): string | null => (typeof v === 'string' ? v : null);
const num = (v: JsonValue | undefined): number | null => (typeof v === 'number' ? v : null);
const obj = (v: JsonValue | undefined): JsonObject => {
  if (typeof v === 'string') {
    try {
      const p = JSON.parse(v) as JsonValue;
      return isJsonObject(p) ? p : {};
    } catch {
      return {};
    }
  }
  return isJsonObject(v ?? null) ? (v as JsonObject) : {};
};

export async function readExperiment(db: ResultsDb, experiment: string): Promise<ExperimentData | null> {
  const e = { e: experiment };
  const exp = await rows(db, 'SELECT name, spec_file FROM experiments WHERE name = $e', e);
  const runRows = await rows(
    db,
    `SELECT id, status, started_at::VARCHAR AS started_at, finished_at::VARCHAR AS finished_at, argv
     FROM runs WHERE experiment = $e ORDER BY started_at DESC LIMIT 1`,
    e,
  );
  const pointRows = await rows(
    db,
    'SELECT point_id, idx, params, config, run_id FROM points WHERE experiment = $e ORDER BY idx',
    e,
  );
  if (exp.length === 0 && pointRows.length === 0) return null;
  const run = runRows[0]
    ? {
        id: String(runRows[0].id),
        status: String(runRows[0].status),
        startedAt: str(runRows[0].started_at),
        finishedAt: str(runRows[0].finished_at),
        argv: Array.isArray(runRows[0].argv) ? runRows[0].argv.map(String) : [],
      }
    : null;
  const ofRun = run ? pointRows.filter((p) => p.run_id === run.id) : [];
  const chosen = ofRun.length > 0 ? ofRun : pointRows;
  const metricRows = await rows(
    db,
    `SELECT point_id, stage_key, name, value, dataset, split, subset, n FROM latest_metrics WHERE experiment = $e`,
    e,
  );
  const byPoint = new Map<string, Row[]>();
  for (const m of metricRows) {
    const id = String(m.point_id);
    const list = byPoint.get(id) ?? [];
    list.push(m);
    byPoint.set(id, list);
  }
  const points: PointData[] = chosen.map((p) => {
    const params = obj(p.params) as Record<string, ParamValue>;
    const config = obj(p.config);
    const ds = obj(config.dataset);
    const ms = byPoint.get(String(p.point_id)) ?? [];
    const metrics: Record<string, number> = {};
    for (const m of ms) if (typeof m.value === 'number') metrics[String(m.name)] = m.value;
    const name = (str(ds.name) ?? str(ms[0]?.dataset) ?? 'synthetic') as DatasetName;
    return {
      id: String(p.point_id),
      index: num(p.idx) ?? 0,
      params,
      config,
      dataset: name,
      datasetLabel: typeof params.dataset === 'string' ? params.dataset : name,
      subset: str(ds.category) ?? str(ds.task) ?? null,
      split: str(ds.split) ?? str(ms[0]?.split) ?? 'val',
      metrics,
      metricsStage: str(ms[0]?.stage_key),
      n: num(ms[0]?.n) ?? 0,
    };
  });
  return {
    experiment,
    specFile: str(exp[0]?.spec_file),
    run,
    points: points.filter((p) => Object.keys(p.metrics).length > 0),
    missing: points.filter((p) => Object.keys(p.metrics).length === 0),
    olderPoints: pointRows.length - chosen.length,
  };
}

/** A point's value of a metric or aggregate (mean of its parts), or null when not recorded. */
export function metricValue(p: PointData, metric: string): number | null {
  const parts = resolveMetric(p.dataset, metric);
  if (!parts) return null;
  let s = 0;
  for (const m of parts) {
    const v = p.metrics[m];
    if (v === undefined) return null;
    s += v;
  }
  return s / parts.length;
}

/**
 * Per-query values of a metric (or aggregate) for the given points, keyed point id → query id → value.
 * Points without per-query rows (recorded before the metrics stage kept them) are absent.
 */
export async function readPerQuery(
  db: ResultsDb,
  points: readonly PointData[],
  metric: string,
): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>();
  const keys = [...new Set(points.map((p) => p.metricsStage).filter((k): k is string => k !== null))];
  if (keys.length === 0) return out;
  const r = await db.query(
    `SELECT stage_key, query_id, metric, value FROM query_results
     WHERE list_contains($keys::JSON::VARCHAR[], stage_key)`,
    { keys: JSON.stringify(keys) },
  );
  if (!r.ok) return out; // a database from before per-query results: no intervals
  const byStage = new Map<string, Map<string, Map<string, number>>>();
  for (const row of r.value) {
    const sk = String(row.stage_key);
    const s = byStage.get(sk) ?? new Map<string, Map<string, number>>();
    const q = s.get(String(row.query_id)) ?? new Map<string, number>();
    q.set(String(row.metric), Number(row.value));
    s.set(String(row.query_id), q);
    byStage.set(sk, s);
  }
  for (const p of points) {
    const parts = resolveMetric(p.dataset, metric);
    const s = p.metricsStage ? byStage.get(p.metricsStage) : undefined;
    if (!parts || !s) continue;
    const values = new Map<string, number>();
    for (const [q, ms] of s) {
      let sum = 0;
      let ok = true;
      for (const m of parts) {
        const v = ms.get(m);
        if (v === undefined) ok = false;
        else sum += v;
      }
      if (ok) values.set(q, sum / parts.length);
    }
    if (values.size > 0) out.set(p.id, values);
  }
  return out;
}

export async function readCompute(db: ResultsDb, experiment: string): Promise<Map<string, ComputeRow>> {
  const out = new Map<string, ComputeRow>();
  for (const r of await rows(db, 'SELECT * FROM compute_table WHERE experiment = $e', { e: experiment }))
    out.set(String(r.point_id), {
      pointId: String(r.point_id),
      generator: str(r.generator),
      embedder: str(r.embedder),
      device: str(r.device),
      peakMemMb: num(r.peak_mem_mb),
      inferSPerSample: num(r.infer_s_per_sample),
      pipelineSPerSample: num(r.pipeline_s_per_sample),
      nQueries: num(r.n_queries),
    });
  return out;
}

/** The stages of the given points with their key records (provenance), one row per stage key. */
export async function readStages(db: ResultsDb, experiment: string, pointIds: readonly string[]) {
  const r = await rows(
    db,
    `SELECT DISTINCT s.key, s.kind, s.backend, s.status, s.seconds, s.items, s.device, s.record
     FROM point_stages p JOIN stages s ON s.key = p.stage_key
     WHERE p.experiment = $e AND list_contains($ids::JSON::VARCHAR[], p.point_id)
     ORDER BY s.kind, s.key`,
    { e: experiment, ids: JSON.stringify(pointIds) },
  );
  return r.map(
    (s): StageProvenance => ({
      key: String(s.key),
      kind: String(s.kind),
      backend: str(s.backend),
      status: str(s.status),
      seconds: num(s.seconds),
      items: num(s.items),
      device: str(s.device),
      record: typeof s.record === 'string' ? (JSON.parse(s.record) as JsonValue) : (s.record ?? null),
    }),
  );
}

/** Generated texts of one stage, keyed by item id (the MLLM descriptions of a qualitative grid). */
export async function readGenerations(db: ResultsDb, stageKey: string): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  for (const r of await rows(db, 'SELECT item_id, text, image_sha256 FROM generations WHERE stage_key = $k', {
    k: stageKey,
  }))
    out.set(String(r.item_id), r);
  return out;
}
