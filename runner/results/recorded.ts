/**
 * Queries that let `pefuse run` repair the database instead of trusting it: what is already recorded for
 * a run's cached stages (so a re-run after deleting or losing results.duckdb records everything again,
 * while a normal fully cached re-run adds nothing but the run and its points), and runs left `running` by a
 * process that died.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { StageKey } from '../contract/stage.js';
import type { RecordedStage } from './types.js';

/** One row per key; EXISTS sub-queries stop at the first row, so this stays cheap on large tables. */
const RECORDED_SQL = `
  WITH k AS (SELECT DISTINCT unnest($keys::JSON::VARCHAR[]) AS key),
  lm AS (
    SELECT DISTINCT stage_key, point_id FROM latest_metrics
    WHERE experiment = $experiment AND stage_key IN (SELECT key FROM k)
  )
  SELECT k.key,
    EXISTS (SELECT 1 FROM item_timings t WHERE t.stage_key = k.key) AS timings,
    EXISTS (SELECT 1 FROM generations g WHERE g.stage_key = k.key) AS generations,
    EXISTS (SELECT 1 FROM rank_sets r WHERE r.stage_key = k.key) AS rankings,
    (SELECT list(lm.point_id) FROM lm WHERE lm.stage_key = k.key) AS metric_points,
    s.status AS stage_status, s.finished_at AS stage_finished_at
  FROM k LEFT JOIN stages s ON s.key = k.key`;

export async function readRecorded(
  conn: DuckDBConnection,
  experiment: string,
  keys: readonly StageKey[],
): Promise<Map<StageKey, RecordedStage>> {
  const out = new Map<StageKey, RecordedStage>();
  if (keys.length === 0) return out;
  const reader = await conn.runAndReadAll(RECORDED_SQL, { keys: JSON.stringify(keys), experiment });
  for (const row of reader.getRowObjectsJS()) {
    const points = row.metric_points;
    out.set(String(row.key) as StageKey, {
      timings: row.timings === true,
      generations: row.generations === true,
      rankings: row.rankings === true,
      metricPoints: Array.isArray(points) ? points.map(String) : [],
      row:
        row.stage_status === null || row.stage_status === undefined
          ? null
          : {
              status: String(row.stage_status),
              finishedAt: row.stage_finished_at instanceof Date ? row.stage_finished_at.toISOString() : null,
            },
    });
  }
  return out;
}

/** The pid in a run id `<ISO start>-<pid>`, or null for ids made some other way. */
export function pidOfRunId(id: string): number | null {
  const m = /-(\d+)$/.exec(id);
  const pid = m ? Number(m[1]) : Number.NaN;
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function markDeadRuns(
  conn: DuckDBConnection,
  host: string,
  alive: (pid: number) => boolean,
): Promise<number> {
  const reader = await conn.runAndReadAll(`SELECT id FROM runs WHERE status = 'running' AND host = $host`, {
    host,
  });
  const dead = reader
    .getRowObjectsJS()
    .map((r) => String(r.id))
    .filter((id) => {
      const pid = pidOfRunId(id);
      return pid !== null && !alive(pid);
    });
  if (dead.length > 0) {
    await conn.run(
      `UPDATE runs SET status = 'killed' WHERE status = 'running' AND list_contains($ids::JSON::VARCHAR[], id)`,
      { ids: JSON.stringify(dead) },
    );
  }
  return dead.length;
}
