/**
 * Versioned migrations of the results schema. A results file records in `meta.schema_version` the last
 * migration applied to it; a read-write open applies the ones after it, in order, each in its own
 * transaction. So a table or column added later reaches files written by an older pefuse instead of
 * breaking their inserts.
 *
 * Rules: append a migration with the next version; never edit or reorder one that has shipped (files in
 * users' caches were written by it). Views are not migrated: they are replaced on every open
 * (`VIEWS_DDL` in schema.ts), so they may use any column the latest migration has.
 */
import type { DuckDBConnection } from '@duckdb/node-api';

export interface Migration {
  version: number;
  /** What it adds, for people reading a file's history. */
  name: string;
  sql: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'the first schema: runs, experiments, points, stages, timings, metrics, rankings, generations',
    sql: [
      `CREATE TABLE IF NOT EXISTS runs (
        id VARCHAR PRIMARY KEY, experiment VARCHAR, spec_file VARCHAR, started_at TIMESTAMP,
        finished_at TIMESTAMP, status VARCHAR, host VARCHAR, argv VARCHAR[])`,
      `CREATE TABLE IF NOT EXISTS experiments (
        name VARCHAR PRIMARY KEY, spec_file VARCHAR, spec_sha256 VARCHAR, n_points INTEGER, report JSON,
        first_seen TIMESTAMP, updated_at TIMESTAMP)`,
      `CREATE TABLE IF NOT EXISTS points (
        experiment VARCHAR, point_id VARCHAR, idx INTEGER, params JSON, config JSON, run_id VARCHAR,
        updated_at TIMESTAMP, PRIMARY KEY (experiment, point_id))`,
      `CREATE TABLE IF NOT EXISTS point_params (
        experiment VARCHAR, point_id VARCHAR, path VARCHAR, value JSON, type VARCHAR)`,
      `CREATE TABLE IF NOT EXISTS point_stages (
        experiment VARCHAR, point_id VARCHAR, role VARCHAR, stage_key VARCHAR, side VARCHAR)`,
      `CREATE TABLE IF NOT EXISTS stages (
        key VARCHAR PRIMARY KEY, kind VARCHAR, backend VARCHAR, record JSON, status VARCHAR, seconds DOUBLE,
        items INTEGER, cached_items INTEGER, failed_items INTEGER, attempts INTEGER, failure_reason VARCHAR,
        failure_message VARCHAR, failure_item VARCHAR, host VARCHAR, device VARCHAR, peak_mem_mb DOUBLE,
        started_at TIMESTAMP, finished_at TIMESTAMP, run_id VARCHAR, updated_at TIMESTAMP)`,
      `CREATE TABLE IF NOT EXISTS item_timings (stage_key VARCHAR, item_id VARCHAR, seconds DOUBLE, cached BOOLEAN)`,
      `CREATE TABLE IF NOT EXISTS metrics (
        experiment VARCHAR, point_id VARCHAR, stage_key VARCHAR, run_id VARCHAR, dataset VARCHAR, split VARCHAR,
        subset VARCHAR, name VARCHAR, metric VARCHAR, k INTEGER, aspect VARCHAR, value DOUBLE, hits DOUBLE,
        n INTEGER, recorded_at TIMESTAMP)`,
      `CREATE TABLE IF NOT EXISTS rank_sets (
        stage_key VARCHAR PRIMARY KEY, id INTEGER, k INTEGER, n_queries INTEGER, n_gallery INTEGER,
        query_list VARCHAR, gallery_list VARCHAR, recorded_at TIMESTAMP)`,
      `CREATE TABLE IF NOT EXISTS id_lists (list VARCHAR PRIMARY KEY, n INTEGER, ids VARCHAR[])`,
      `CREATE TABLE IF NOT EXISTS rankings (set_id INTEGER, q INTEGER, rank SMALLINT, g INTEGER, score FLOAT)`,
      `CREATE TABLE IF NOT EXISTS generations (
        stage_key VARCHAR, kind VARCHAR, backend VARCHAR, item_id VARCHAR, text VARCHAR, tokens INTEGER,
        image_sha256 VARCHAR)`,
    ],
  },
  {
    version: 3,
    name: 'per-query results of metrics stages (query_results), for paired bootstrap intervals in reports',
    sql: [
      `CREATE TABLE IF NOT EXISTS query_results (
        stage_key VARCHAR, query_id VARCHAR, metric VARCHAR, value DOUBLE)`,
    ],
  },
  {
    version: 4,
    name: 'MLLM generations: description index, prompt/completion tokens, finish reason, latency per item; stages: served model and server version',
    sql: [
      `ALTER TABLE generations ADD COLUMN IF NOT EXISTS description INTEGER`,
      `ALTER TABLE generations ADD COLUMN IF NOT EXISTS prompt_tokens INTEGER`,
      `ALTER TABLE generations ADD COLUMN IF NOT EXISTS completion_tokens INTEGER`,
      `ALTER TABLE generations ADD COLUMN IF NOT EXISTS finish_reason VARCHAR`,
      `ALTER TABLE generations ADD COLUMN IF NOT EXISTS latency_s DOUBLE`,
      `ALTER TABLE stages ADD COLUMN IF NOT EXISTS served_model VARCHAR`,
      `ALTER TABLE stages ADD COLUMN IF NOT EXISTS server_version VARCHAR`,
    ],
  },
  {
    version: 5,
    name: 'generations: image_path (the generated image in the object store) and truncated_tokens',
    sql: [
      `ALTER TABLE generations ADD COLUMN IF NOT EXISTS image_path VARCHAR`,
      `ALTER TABLE generations ADD COLUMN IF NOT EXISTS truncated_tokens INTEGER`,
    ],
  },
  {
    version: 6,
    name: 'slurm_jobs: the Slurm job and array task of each shard a stage ran as (--executor slurm), its state, exit code, node and log',
    sql: [
      `CREATE TABLE IF NOT EXISTS slurm_jobs (
        stage_key VARCHAR, job_id VARCHAR, shard INTEGER, attempt INTEGER, state VARCHAR, exit_code INTEGER,
        node VARCHAR, log_path VARCHAR, submitted_at TIMESTAMP, finished_at TIMESTAMP, run_id VARCHAR,
        PRIMARY KEY (job_id, shard))`,
    ],
  },
];

/** The version a file has once every migration ran. */
export const LATEST_SCHEMA_VERSION: number = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);

const META_DDL = `CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)`;

/** The file's schema version: 0 for a new (empty) file. */
export async function schemaVersion(conn: DuckDBConnection): Promise<number> {
  const tables = await conn.runAndReadAll(
    `SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'meta' AND table_schema = 'main'`,
  );
  if (Number(tables.getRowObjects()[0]?.n ?? 0) === 0) return 0;
  const r = await conn.runAndReadAll(`SELECT value FROM meta WHERE key = 'schema_version'`);
  const v = r.getRowObjects()[0]?.value;
  return v === undefined || v === null ? 0 : Number(v);
}

/** Why a file cannot be used by this pefuse, or null. */
export function newerSchemaProblem(
  file: string,
  version: number,
  latest = LATEST_SCHEMA_VERSION,
): string | null {
  if (version <= latest) return null;
  return (
    `results database ${file} was written by a newer pefuse (schema version ${version}; this one knows ` +
    `up to ${latest}): upgrade pefuse, or pass another --db`
  );
}

/**
 * Brings the file to the latest version. Returns a problem for the user (a file from a newer pefuse)
 * or null; database errors are thrown to the caller, which reports them as I/O or damage.
 */
export async function migrate(
  conn: DuckDBConnection,
  file: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<string | null> {
  const current = await schemaVersion(conn);
  const latest = migrations.reduce((v, m) => Math.max(v, m.version), 0);
  if (current > latest) return newerSchemaProblem(file, current, latest);
  for (const m of migrations) {
    if (m.version <= current) continue;
    await conn.run('BEGIN TRANSACTION');
    try {
      await conn.run(META_DDL);
      for (const sql of m.sql) await conn.run(sql);
      await conn.run(
        `INSERT INTO meta VALUES ('schema_version', '${m.version}')
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      );
      await conn.run('COMMIT');
    } catch (e) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }
  return null;
}
