/**
 * `openResults(file)`: the results database the executor writes after each stage publishes, and that
 * `pefuse status` / reports read. See types.ts for the single-writer policy and schema.ts for tables.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { StageKey, StageKind } from '../contract/stage.js';
import type { Point } from '../plan/types.js';
import type { ItemRecord } from '../store/types.js';
import type { JsonValue } from '../util/json.js';
import { err, ok } from '../util/result.js';
import { appendRows } from './append.js';
import { DbSession } from './connection.js';
import { carryProof, hasDeferredRuns } from './deferred.js';
import { iso, writeExperiment, writeMetrics, writePoints, writeRun, writeStages } from './ingest.js';
import { LATEST_SCHEMA_VERSION, migrate, newerSchemaProblem, schemaVersion } from './migrations.js';
import { writeQueryResults } from './query-results.js';
import { checkRankings, writeRankings } from './rankings.js';
import { markDeadRuns, readRecorded } from './recorded.js';
import { replayDeferredRuns } from './replay.js';
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
  SlurmJobRow,
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
        // Runs that fully cached re-runs left for the database (deferred.ts).
        await replayDeferredRuns(conn, file);
        return null;
      },
      pendingWrites: () => hasDeferredRuns(file),
      // Recording waiting runs changes the file, not what the proof says it holds: carry the proof.
      afterUpgrade: (opened, closed) => carryProof(file, opened, closed),
      schemaState: async (conn) => {
        const version = await schemaVersion(conn);
        if (version === LATEST_SCHEMA_VERSION) return 'current';
        return newerSchemaProblem(file, version) ?? 'outdated';
      },
    }),
  );
}

export { paramType, parseMetricName, sideOfRole } from './ingest.js';

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

  get closedIdentity(): string | null {
    return this.session.closedIdentity;
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
    return this.write((c) => writeRun(c, run));
  }

  recordExperiment(e: ExperimentRow): Promise<ResultsResult> {
    return this.write((c) => writeExperiment(c, e));
  }

  recordPoints(
    experiment: string,
    points: readonly Point[],
    runId: string | null = null,
  ): Promise<ResultsResult> {
    return this.write((c) => writePoints(c, experiment, points, runId));
  }

  recordStage(s: StageRow): Promise<ResultsResult> {
    return this.recordStages([s]);
  }

  recordStages(rows: readonly StageRow[]): Promise<ResultsResult> {
    return this.write((c) => writeStages(c, rows));
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
      await writeMetrics(c, m);
      if (m.perQuery) await writeQueryResults(c, m.stageKey, m.perQuery);
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
      // Appended to a staging table, then inserted by column name: migrations add generations columns in
      // version order, and a file's column order depends on the order they reached it.
      await c.run(
        `CREATE OR REPLACE TEMP TABLE generations_in (${GENERATION_COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})`,
      );
      await appendRows(
        c,
        'generations_in',
        GENERATION_COLUMNS.map(([, t]) =>
          t === 'INTEGER' ? 'integer' : t === 'DOUBLE' ? 'double' : 'varchar',
        ),
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
          g.description ?? 0,
          g.promptTokens ?? null,
          g.completionTokens ?? null,
          g.finishReason ?? null,
          g.latencyS ?? null,
        ]),
      );
      await c.run('INSERT INTO generations BY NAME SELECT * FROM generations_in');
      await c.run('DROP TABLE generations_in');
    });
  }

  recordSlurmJobs(rows: readonly SlurmJobRow[]): Promise<ResultsResult> {
    if (rows.length === 0) return Promise.resolve(ok(undefined));
    return this.write(async (c) => {
      for (const j of rows)
        await c.run(
          `INSERT INTO slurm_jobs VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::TIMESTAMP, $10::TIMESTAMP, $11)
           ON CONFLICT (job_id, shard) DO UPDATE SET state = excluded.state, exit_code = excluded.exit_code,
             node = coalesce(excluded.node, slurm_jobs.node), finished_at = excluded.finished_at,
             run_id = excluded.run_id`,
          [
            j.stageKey,
            j.jobId,
            j.shard,
            j.attempt,
            j.state,
            j.exitCode ?? null,
            j.node ?? null,
            j.logPath ?? null,
            iso(j.submittedAt),
            iso(j.finishedAt),
            j.runId ?? null,
          ],
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

/** The generations columns pefuse writes, in the order `recordGenerations` gives the cells. */
const GENERATION_COLUMNS: ReadonlyArray<readonly [string, 'VARCHAR' | 'INTEGER' | 'DOUBLE']> = [
  ['stage_key', 'VARCHAR'],
  ['kind', 'VARCHAR'],
  ['backend', 'VARCHAR'],
  ['item_id', 'VARCHAR'],
  ['text', 'VARCHAR'],
  ['tokens', 'INTEGER'],
  ['image_sha256', 'VARCHAR'],
  ['image_path', 'VARCHAR'],
  ['truncated_tokens', 'INTEGER'],
  ['description', 'INTEGER'],
  ['prompt_tokens', 'INTEGER'],
  ['completion_tokens', 'INTEGER'],
  ['finish_reason', 'VARCHAR'],
  ['latency_s', 'DOUBLE'],
];

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
