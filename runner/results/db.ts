/**
 * `openResults(file)`: the results database the executor writes after each stage publishes, and that
 * `pefuse status` / reports read. See types.ts for the single-writer policy and schema.ts for tables.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { StageKey, StageKind } from '../plan/stage.js';
import type { Point } from '../plan/types.js';
import type { ItemRecord } from '../store/types.js';
import type { JsonValue } from '../util/json.js';
import { err, ok } from '../util/result.js';
import { appendRows, type Cell } from './append.js';
import { DbSession } from './connection.js';
import { LATEST_SCHEMA_VERSION, migrate, newerSchemaProblem, schemaVersion } from './migrations.js';
import { checkRankings, writeRankings } from './rankings.js';
import { markDeadRuns, readRecorded } from './recorded.js';
import { VIEWS_DDL } from './schema.js';
import type {
  ExperimentRow,
  GenerationRow,
  MetricsInput,
  RankingsInput,
  RecordedStage,
  ResultsDb,
  ResultsError,
  ResultsOptions,
  ResultsResult,
  RunRow,
  StageRow,
} from './types.js';

export function openResults(file: string, opts: ResultsOptions = {}): ResultsDb {
  return new DuckResults(
    new DbSession({
      file,
      readOnly: opts.readOnly ?? false,
      keepOpen: opts.keepOpen ?? false,
      lockTimeoutMs: opts.lockTimeoutMs ?? 30_000,
      lingerMs: opts.lingerMs ?? 1000,
      init: async (conn) => {
        const problem = await migrate(conn, file);
        if (problem !== null) return problem;
        for (const sql of VIEWS_DDL) await conn.run(sql);
        return null;
      },
      schemaState: async (conn) => {
        const version = await schemaVersion(conn);
        if (version === LATEST_SCHEMA_VERSION) return 'current';
        return newerSchemaProblem(file, version) ?? 'outdated';
      },
    }),
  );
}

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** `recall_subset@5` → {metric: recall_subset, k: 5}; `map@10/cardinality` → {map, 10, cardinality}. */
export function parseMetricName(name: string): { metric: string; k: number | null; aspect: string | null } {
  const m = /^([^@]+)@(\d+)(?:\/(.+))?$/.exec(name);
  if (!m) return { metric: name, k: null, aspect: null };
  return { metric: m[1]!, k: Number(m[2]), aspect: m[3] ?? null };
}

/** The JSON type name of a typed parameter value (`point_params.type`). */
export function paramType(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (typeof v === 'string' || typeof v === 'boolean') return typeof v;
  return Array.isArray(v) ? 'array' : 'object';
}

/** Query side or gallery side, from the stage's role in the point's chain. */
export function sideOfRole(role: string): 'query' | 'gallery' {
  return /gallery/i.test(role) ? 'gallery' : 'query';
}

class DuckResults implements ResultsDb {
  #writeError: ResultsError | null = null;
  #wroteAny = false;

  constructor(private readonly session: DbSession) {}

  get file(): string {
    return this.session.file;
  }

  get writeError(): ResultsError | null {
    return this.#writeError;
  }

  get wroteAny(): boolean {
    return this.#wroteAny;
  }

  /** Every write's outcome passes here, so `writeError` / `wroteAny` tell the run what happened. */
  private note<T>(r: ResultsResult<T>): ResultsResult<T> {
    if (r.ok) this.#wroteAny = true;
    else this.#writeError ??= r.error;
    return r;
  }

  private write(op: (conn: DuckDBConnection) => Promise<void>): Promise<ResultsResult> {
    return this.session.run(op, true).then((r) => this.note(r));
  }

  recorded(
    experiment: string,
    keys: readonly StageKey[],
  ): Promise<ResultsResult<Map<StageKey, RecordedStage>>> {
    if (keys.length === 0) return Promise.resolve(ok(new Map()));
    return this.session.run((c) => readRecorded(c, experiment, keys), false);
  }

  markDeadRuns(host: string, alive: (pid: number) => boolean): Promise<ResultsResult<number>> {
    return this.session.run((c) => markDeadRuns(c, host, alive), true).then((r) => this.note(r));
  }

  init(): Promise<ResultsResult> {
    return this.write(async () => undefined);
  }

  recordRun(run: RunRow): Promise<ResultsResult> {
    return this.write(async (c) => {
      await c.run(
        `INSERT INTO runs VALUES ($1, $2, $3, $4::TIMESTAMP, $5::TIMESTAMP, $6, $7, $8::JSON::VARCHAR[])
         ON CONFLICT (id) DO UPDATE SET finished_at = excluded.finished_at, status = excluded.status`,
        [
          run.id,
          run.experiment,
          run.specFile,
          iso(run.startedAt),
          iso(run.finishedAt),
          run.status,
          run.host,
          JSON.stringify(run.argv ?? []),
        ],
      );
    });
  }

  recordExperiment(e: ExperimentRow): Promise<ResultsResult> {
    return this.write(async (c) => {
      await c.run(
        `INSERT INTO experiments VALUES ($1, $2, $3, $4, $5::JSON, now()::TIMESTAMP, now()::TIMESTAMP)
         ON CONFLICT (name) DO UPDATE SET spec_file = excluded.spec_file, spec_sha256 = excluded.spec_sha256,
           n_points = excluded.n_points, report = excluded.report, updated_at = excluded.updated_at`,
        [e.name, e.specFile, e.specSha256 ?? null, e.nPoints, JSON.stringify(e.report ?? null)],
      );
    });
  }

  recordPoints(
    experiment: string,
    points: readonly Point[],
    runId: string | null = null,
  ): Promise<ResultsResult> {
    return this.write(async (c) => {
      const ids = JSON.stringify(points.map((p) => p.id));
      for (const t of ['point_params', 'point_stages']) {
        await c.run(
          `DELETE FROM ${t} WHERE experiment = $1 AND list_contains($2::JSON::VARCHAR[], point_id)`,
          [experiment, ids],
        );
      }
      for (const p of points) {
        await c.run(
          `INSERT INTO points VALUES ($1, $2, $3, $4::JSON, $5::JSON, $6, now()::TIMESTAMP)
           ON CONFLICT (experiment, point_id) DO UPDATE SET idx = excluded.idx, params = excluded.params,
             config = excluded.config, run_id = excluded.run_id, updated_at = excluded.updated_at`,
          [experiment, p.id, p.index, JSON.stringify(p.params), JSON.stringify(p.config), runId],
        );
      }
      const params: Cell[][] = [];
      const stages: Cell[][] = [];
      for (const p of points) {
        for (const [path, v] of Object.entries(p.params)) {
          params.push([experiment, p.id, path, JSON.stringify(v), paramType(v)]);
        }
        for (const [role, key] of Object.entries(p.stages))
          stages.push([experiment, p.id, role, key, sideOfRole(role)]);
      }
      await appendRows(c, 'point_params', ['varchar', 'varchar', 'varchar', 'varchar', 'varchar'], params);
      await appendRows(c, 'point_stages', ['varchar', 'varchar', 'varchar', 'varchar', 'varchar'], stages);
    });
  }

  recordStage(s: StageRow): Promise<ResultsResult> {
    return this.write(async (c) => {
      await c.run(
        `INSERT INTO stages VALUES ($1, $2, $3, $4::JSON, $5, $6::DOUBLE, $7::INTEGER, $8::INTEGER, $9::INTEGER,
           $10::INTEGER, $11::VARCHAR, $12::VARCHAR, $13::VARCHAR, $14::VARCHAR, $15::VARCHAR, $16::DOUBLE,
           $17::TIMESTAMP, $18::TIMESTAMP, $19::VARCHAR, now()::TIMESTAMP)
         ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, backend = excluded.backend, record = excluded.record,
           status = excluded.status, seconds = coalesce(excluded.seconds, stages.seconds),
           items = coalesce(excluded.items, stages.items), cached_items = excluded.cached_items,
           failed_items = excluded.failed_items, attempts = excluded.attempts,
           failure_reason = excluded.failure_reason, failure_message = excluded.failure_message,
           failure_item = excluded.failure_item, host = coalesce(excluded.host, stages.host),
           device = coalesce(excluded.device, stages.device),
           peak_mem_mb = coalesce(excluded.peak_mem_mb, stages.peak_mem_mb),
           started_at = coalesce(excluded.started_at, stages.started_at),
           finished_at = coalesce(excluded.finished_at, stages.finished_at),
           run_id = excluded.run_id, updated_at = excluded.updated_at`,
        [
          s.key,
          s.kind,
          s.backend,
          JSON.stringify(s.record),
          s.status,
          s.seconds ?? null,
          s.items ?? null,
          s.cachedItems ?? null,
          s.failedItems ?? null,
          s.attempts ?? 0,
          s.failure?.reason ?? null,
          s.failure?.message ?? null,
          s.failure?.item ?? null,
          s.host ?? null,
          s.device ?? null,
          s.peakMemMb ?? null,
          iso(s.startedAt),
          iso(s.finishedAt),
          s.runId ?? null,
        ],
      );
    });
  }

  recordItemTimings(stageKey: StageKey, items: readonly ItemRecord[]): Promise<ResultsResult> {
    return this.write(async (c) => {
      await c.run('DELETE FROM item_timings WHERE stage_key = $1', [stageKey]);
      await appendRows(
        c,
        'item_timings',
        ['varchar', 'varchar', 'double', 'boolean'],
        items.map((it) => [stageKey, it.id, it.seconds, it.cached === true]),
      );
    });
  }

  recordMetrics(m: MetricsInput): Promise<ResultsResult> {
    return this.write(async (c) => {
      await c.run('DELETE FROM metrics WHERE experiment = $1 AND point_id = $2 AND stage_key = $3', [
        m.experiment,
        m.pointId,
        m.stageKey,
      ]);
      for (const [name, value] of Object.entries(m.metrics)) {
        const { metric, k, aspect } = parseMetricName(name);
        await c.run(
          `INSERT INTO metrics VALUES ($1, $2, $3, $4::VARCHAR, $5, $6, $7::VARCHAR, $8, $9, $10::INTEGER,
             $11::VARCHAR, $12::DOUBLE, $13::DOUBLE, $14::INTEGER, now()::TIMESTAMP)`,
          [
            m.experiment,
            m.pointId,
            m.stageKey,
            m.runId ?? null,
            m.dataset,
            m.split,
            m.subset,
            name,
            metric,
            k,
            aspect,
            value,
            m.hits?.[name] ?? null,
            m.n,
          ],
        );
      }
    });
  }

  recordRankings(r: RankingsInput): Promise<ResultsResult> {
    const problem = checkRankings(r);
    if (problem !== null) {
      // A caller bug (shapes disagree); reported as a value so a run is not lost over it.
      return Promise.resolve(
        this.note(err({ kind: 'io', file: this.file, message: `rankings of ${r.stageKey}: ${problem}` })),
      );
    }
    return this.write(async (c) => {
      await writeRankings(c, r);
    });
  }

  recordGenerations(
    stageKey: StageKey,
    kind: StageKind,
    backend: string,
    rows: readonly GenerationRow[],
  ): Promise<ResultsResult> {
    return this.write(async (c) => {
      await c.run('DELETE FROM generations WHERE stage_key = $1', [stageKey]);
      await appendRows(
        c,
        'generations',
        ['varchar', 'varchar', 'varchar', 'varchar', 'varchar', 'integer', 'varchar', 'varchar', 'integer'],
        rows.map((g) => [
          stageKey,
          kind,
          backend,
          g.itemId,
          g.text ?? null,
          g.tokens ?? null,
          g.image ?? null,
          g.imagePath ?? null,
          g.truncatedTokens ?? null,
        ]),
      );
    });
  }

  query(
    sql: string,
    params?: Record<string, string | number | boolean | null>,
  ): Promise<ResultsResult<Record<string, JsonValue>[]>> {
    return this.session.run(async (c) => {
      const reader = await c.runAndReadAll(sql, params);
      return reader.getRowObjectsJS().map((row) => toJson(row) as Record<string, JsonValue>);
    }, false);
  }

  async flush(): Promise<ResultsResult> {
    await this.session.idle();
    return ok(undefined);
  }

  close(): Promise<ResultsResult> {
    return this.session.close();
  }
}

/** DuckDB JS values → plain JSON (bigint → number, Date → ISO string). */
function toJson(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(toJson);
  if (typeof v === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJson(x);
    return out;
  }
  return String(v);
}
