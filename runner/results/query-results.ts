/**
 * Per-query results of a `metrics` stage (`query_results`): one row per stage, query and metric, the
 * query's contribution in percent (100/0 for a recall hit, 100 × AP for mAP), so a metric is the mean of
 * its rows. The report's paired bootstrap resamples these. Keyed by the metrics stage key, like rankings:
 * points sharing a stage share its rows.
 *
 * The table comes from schema migration 3 (runner/results/migrations.ts).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { StageKey } from '../contract/stage.js';
import { appendRows, type Cell } from './append.js';

export interface PerQuery {
  /** Query ids, in the order of each metric's values. */
  ids: readonly string[];
  values: Readonly<Record<string, readonly number[]>>;
}

/** Replaces the stage's rows. Lists whose length differs from `ids` are a caller bug and are skipped. */
export async function writeQueryResults(
  conn: DuckDBConnection,
  stageKey: StageKey,
  pq: PerQuery,
): Promise<void> {
  await conn.run('DELETE FROM query_results WHERE stage_key = $1', [stageKey]);
  const rows: Cell[][] = [];
  for (const [metric, values] of Object.entries(pq.values)) {
    if (values.length !== pq.ids.length) continue;
    values.forEach((v, i) => {
      rows.push([stageKey, pq.ids[i]!, metric, v]);
    });
  }
  await appendRows(conn, 'query_results', ['varchar', 'varchar', 'varchar', 'double'], rows);
}
