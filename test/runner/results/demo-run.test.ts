/**
 * What `pefuse run` leaves in results.duckdb for the demo, queried the way a user would: item counts of
 * in-process stages, the compute table, a database rebuilt by a fully cached re-run, runs killed -9.
 */
import { readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { openResults } from '../../../runner/results/index.js';
import type { JsonValue } from '../../../runner/util/json.js';
import { pefuse, REPO_ROOT, tempDir } from '../../helpers/cli.js';

const DEMO = 'experiments/demo.yaml';
const LIMIT = '3';

async function query(file: string, sql: string): Promise<Record<string, JsonValue>[]> {
  const db = openResults(file, { readOnly: true });
  const r = await db.query(sql);
  await db.close();
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** Row counts of every table a user queries (the README's examples). */
const COUNTS = `SELECT
  (SELECT count(*) FROM stages) AS stages, (SELECT sum(items) FROM stages) AS items,
  (SELECT round(sum(seconds), 6) FROM stages) AS seconds,
  (SELECT count(*) FROM item_timings) AS item_timings, (SELECT count(*) FROM generations) AS generations,
  (SELECT count(*) FROM rank_sets) AS rank_sets, (SELECT count(*) FROM rankings_named) AS rankings_named,
  (SELECT count(*) FROM metrics) AS metrics, (SELECT count(*) FROM latest_metrics) AS latest_metrics,
  (SELECT count(*) FROM points) AS points, (SELECT count(*) FROM compute_table) AS compute_rows`;

/** A pid that is surely dead: a process that has exited. */
async function deadPid(): Promise<number> {
  const child = execa(process.execPath, ['-e', '0']);
  await child;
  return child.pid!;
}

describe('results database after `pefuse run` on the demo', () => {
  let cache = '';
  let file = '';
  let first: Record<string, JsonValue> = {};

  beforeAll(async () => {
    cache = join(tempDir('pefuse-demo-db-'), 'cache');
    file = join(cache, 'results.duckdb');
    const r = await pefuse(['--cache', cache, 'run', DEMO, '--limit', LIMIT, '--reporter', 'plain']);
    expect(r.exitCode).toBe(0);
    first = (await query(file, COUNTS))[0]!;
  }, 120_000);

  it('counts the items of in-process stages (dataset, embeddings, score, metrics)', async () => {
    const rows = await query(
      file,
      `SELECT s.kind, p.role, min(s.items) AS min_items, max(s.items) AS max_items
       FROM stages s JOIN (SELECT DISTINCT stage_key, role FROM point_stages) p ON p.stage_key = s.key
       GROUP BY ALL ORDER BY s.kind, p.role`,
    );
    const n = Number(LIMIT);
    expect(rows).toEqual([
      { kind: 'dataset', role: 'dataset', min_items: n, max_items: n },
      { kind: 'diffusion.edit', role: 'query-image', min_items: n, max_items: n },
      { kind: 'embed.image', role: 'gallery-embed', min_items: 240, max_items: 240 },
      { kind: 'embed.image', role: 'query-embed', min_items: n, max_items: n },
      { kind: 'embed.text', role: 'gallery-embed', min_items: 240, max_items: 240 },
      { kind: 'embed.text', role: 'query-embed', min_items: n, max_items: n },
      { kind: 'metrics', role: 'metrics', min_items: n, max_items: n },
      { kind: 'mllm.caption', role: 'gallery-caption', min_items: 240, max_items: 240 },
      { kind: 'mllm.compose', role: 'query-text', min_items: n, max_items: n },
      { kind: 'score', role: 'score', min_items: n, max_items: n },
    ]);
  });

  it('compute_table: n_queries, and a pipeline time that adds query embedding and scoring to generation', async () => {
    const rows = await query(
      file,
      `WITH per AS (
         SELECT p.point_id, s.kind, p.role, s.seconds / s.items AS s_item
         FROM point_stages p JOIN stages s ON s.key = p.stage_key)
       SELECT c.point_id, c.generator, c.embedder, c.peak_mem_mb, c.n_queries, c.infer_s_per_sample AS infer,
         c.pipeline_s_per_sample AS pipeline,
         (SELECT sum(s_item) FROM per WHERE per.point_id = c.point_id AND per.role IN ('query-embed', 'score'))
           AS embed_and_score
       FROM compute_table c ORDER BY c.point_id`,
    );
    expect(rows).toHaveLength(24);
    for (const r of rows) {
      expect(r).toMatchObject({ generator: 'dummy', embedder: 'dummy', peak_mem_mb: null, n_queries: 3 });
      expect(r.embed_and_score).toBeGreaterThan(0);
      // Generation items are timed one by one; embedding and scoring are stage seconds / items.
      expect(r.pipeline).toBeCloseTo(Number(r.infer) + Number(r.embed_and_score), 9);
    }
    // pefuse's own memory (in-process scoring) is not a worker's peak: not recorded.
    expect(
      await query(file, `SELECT count(*) AS n FROM stages WHERE peak_mem_mb IS NOT NULL AND kind = 'score'`),
    ).toEqual([{ n: 0 }]);
  });

  it('a deleted results.duckdb is filled again by the fully cached re-run, rankings included', async () => {
    expect(first).toMatchObject({ stages: 90, rank_sets: 24, rankings_named: 24 * 3 * 50, points: 24 });
    expect(first.item_timings).toBeGreaterThan(0);
    expect(first.generations).toBeGreaterThan(0);
    rmSync(file, { force: true });
    rmSync(`${file}.wal`, { force: true });

    const again = await pefuse(['--cache', cache, 'run', DEMO, '--limit', LIMIT, '--reporter', 'plain']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout.split('\n')[0]).toMatch(/: 24 points, all 90 stages cached$/);
    expect((await query(file, COUNTS))[0]).toEqual(first);

    // The README's "top-5 of one query" example answers again.
    const point = (await query(file, `SELECT point_id FROM points ORDER BY idx LIMIT 1`))[0]!.point_id;
    const top = await query(
      file,
      `SELECT rank, gallery_id FROM rankings_named
       WHERE stage_key = (SELECT stage_key FROM point_stages WHERE point_id = '${point}' AND role = 'score')
         AND query_id = (SELECT min(query_id) FROM rankings_named) AND rank <= 5 ORDER BY rank`,
    );
    expect(top.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5]);

    // A second cached re-run adds nothing: it records its run and moves the points to it, and leaves
    // the stage rows (which record the same computations) as they are.
    const STAGE_ROWS = `SELECT key, status, run_id, updated_at FROM stages ORDER BY key`;
    const stagesBefore = await query(file, STAGE_ROWS);
    await pefuse(['--cache', cache, 'run', DEMO, '--limit', LIMIT, '--reporter', 'plain']);
    expect((await query(file, COUNTS))[0]).toEqual(first);
    expect(await query(file, STAGE_ROWS)).toEqual(stagesBefore);
    const latest = `(SELECT id FROM runs WHERE experiment = 'demo' ORDER BY started_at DESC LIMIT 1)`;
    expect(
      await query(file, `SELECT count(*) AS n FROM points WHERE experiment = 'demo' AND run_id = ${latest}`),
    ).toEqual([{ n: 24 }]);
  }, 120_000);

  it("the README's sensitivity-curve SQL example gives one curve per mode and no NULL row", async () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    // The first SQL block of the README that reads fig2's points (the Results database section).
    const block = readme
      .split('```sql\n')
      .slice(1)
      .find((b) => b.slice(0, b.indexOf('```')).includes("'fig2-mllm-sensitivity'"));
    expect(block).toBeDefined();
    const first = block!.slice(0, block!.indexOf(';')).replace("'fig2-mllm-sensitivity'", "'demo'");
    const rows = await query(file, first);
    // The demo sweeps mllm.temperature (0, 0.4, 0.8) under t2i and t2t, 2 repeats each; the other arm
    // (i2i, i2t: guidance scale) has no temperature.
    const curves = new Set(rows.map((r) => `${r.mode} ${r.temperature}`));
    expect([...curves].sort()).toEqual(['t2i 0', 't2i 0.4', 't2i 0.8', 't2t 0', 't2t 0.4', 't2t 0.8']);
    expect(rows.every((r) => Number(r.n) === 2)).toBe(true);
  });

  it('a run left `running` by a killed pefuse is marked `killed` by the next run on this host', async () => {
    const pid = await deadPid();
    const db = openResults(file);
    const w = await db.recordRun({
      id: `2020-01-01T00:00:00.000Z-${pid}`,
      experiment: 'demo',
      specFile: DEMO,
      startedAt: new Date('2020-01-01T00:00:00Z'),
      status: 'running',
      host: hostname(),
    });
    await db.close();
    expect(w.ok).toBe(true);
    const r = await pefuse(['--cache', cache, 'run', DEMO, '--limit', LIMIT, '--reporter', 'plain']);
    expect(r.exitCode).toBe(0);
    expect(await query(file, `SELECT status FROM runs WHERE id LIKE '2020-%'`)).toEqual([
      { status: 'killed' },
    ]);
    expect(await query(file, `SELECT count(*) AS n FROM runs WHERE status = 'running'`)).toEqual([{ n: 0 }]);
  }, 120_000);
});
