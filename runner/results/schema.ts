/**
 * The results schema (architecture §7). Tables are created and changed by the versioned migrations in
 * migrations.ts; the views below are replaced on every read-write open.
 *
 * Points carry typed parameters two ways, because one column per parameter would need ALTER TABLE
 * whenever a spec sweeps a new parameter (awkward with DuckDB and with many experiments in one file):
 * - `points.params`: JSON object keyed by dotted path, e.g. `{"mllm.temperature": 0.7, "dataset": "cirr"}`
 *   (`params->>'$."mllm.temperature"'`);
 * - `point_params(experiment, point_id, path, value JSON, type)`: the same, one row per parameter, with
 *   `type` ∈ string | integer | number | boolean | null, for joins and GROUP BY.
 *
 * Rankings are long-format with integer positions (about 8 bytes per row on disk): `rankings(set_id, q,
 * rank, g, score)`; `rank_sets` maps a score stage key to its set id and to the query / gallery id lists
 * (`id_lists(list, n, ids VARCHAR[])`, one row per distinct list, so 30 points over one gallery store its
 * ids once; position p is `ids[p + 1]`).
 * The view `rankings_named` resolves them to ids.
 */
import { KIND_CLASS, type KindClass, STAGE_KINDS } from '../contract/stage.js';
import { LATEST_SCHEMA_VERSION } from './migrations.js';

/** The schema version a file has once every migration in migrations.ts ran. */
export const SCHEMA_VERSION = LATEST_SCHEMA_VERSION;

/** `'a', 'b'`: the stage kinds of `classes`, as an SQL IN list (generated, never spelled out in SQL). */
const kinds = (...classes: KindClass[]): string =>
  STAGE_KINDS.filter((k) => classes.includes(KIND_CLASS[k]))
    .map((k) => `'${k}'`)
    .join(', ');

export const TABLES = [
  'meta',
  'runs',
  'experiments',
  'points',
  'point_params',
  'point_stages',
  'stages',
  'item_timings',
  'metrics',
  'rank_sets',
  'id_lists',
  'rankings',
  'generations',
  'query_results',
  'slurm_jobs',
] as const;

export const VIEWS = ['rankings_named', 'latest_metrics', 'compute_table'] as const;

/**
 * The views, replaced on every read-write open after the migrations ran (tables live in migrations.ts:
 * a view can be changed freely, a table only by a new migration).
 */
export const VIEWS_DDL: readonly string[] = [
  // Rankings with ids instead of positions.
  `CREATE OR REPLACE VIEW rankings_named AS
    SELECT rs.stage_key, qi.ids[r.q + 1] AS query_id, r.rank, gi.ids[r.g + 1] AS gallery_id, r.score
    FROM rankings r
    JOIN rank_sets rs ON rs.id = r.set_id
    JOIN id_lists qi ON qi.list = rs.query_list
    JOIN id_lists gi ON gi.list = rs.gallery_list`,

  // For each point, the metric rows of its most recently recorded metrics stage.
  `CREATE OR REPLACE VIEW latest_metrics AS
    SELECT m.* FROM metrics m
    QUALIFY m.stage_key = first(m.stage_key ORDER BY m.recorded_at DESC)
      OVER (PARTITION BY m.experiment, m.point_id)`,

  // The paper's compute table, one row per point. Query side = stages whose role does not mention
  // "gallery" (gallery embedding/captioning is offline indexing, amortised over every query).
  // - infer_s_per_sample: mean per-item seconds of the generative stages (mllm.compose, diffusion.edit);
  // - pipeline_s_per_sample: sum over query-side stages of their per-item seconds (item timings when
  //   recorded, else stage seconds / items);
  // - peak_mem_mb: the largest peak memory a worker of the point reported (stages that run inside pefuse
  //   — dataset, score, metrics — are left out: their number would be pefuse's own RSS);
  // - n_queries: the queries the point's score stage ranked.
  `CREATE OR REPLACE VIEW compute_table AS
    WITH ps AS (
      SELECT p.experiment, p.point_id, p.side, s.key, s.kind, s.backend, s.seconds, s.items, s.peak_mem_mb,
             s.device
      FROM point_stages p JOIN stages s ON s.key = p.stage_key
    ),
    per_stage AS (
      SELECT ps.*,
        coalesce(
          (SELECT avg(t.seconds) FROM item_timings t WHERE t.stage_key = ps.key AND NOT t.cached),
          ps.seconds / nullif(ps.items, 0)) AS s_per_item
      FROM ps
    )
    SELECT experiment, point_id,
      string_agg(DISTINCT backend, ', ' ORDER BY backend)
        FILTER (WHERE kind IN (${kinds('generator')})) AS generator,
      string_agg(DISTINCT backend, ', ' ORDER BY backend) FILTER (WHERE kind IN (${kinds('embedder')})) AS embedder,
      any_value(device) FILTER (WHERE device IS NOT NULL) AS device,
      max(peak_mem_mb) FILTER (WHERE kind IN (${kinds('generator', 'caption', 'embedder')})) AS peak_mem_mb,
      avg(s_per_item) FILTER (WHERE kind IN (${kinds('generator')})) AS infer_s_per_sample,
      sum(s_per_item) FILTER (WHERE side = 'query' AND kind NOT IN (${kinds('data', 'metrics')})) AS pipeline_s_per_sample,
      max(items) FILTER (WHERE kind IN (${kinds('score')})) AS n_queries
    FROM per_stage
    GROUP BY experiment, point_id`,
];
