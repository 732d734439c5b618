import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openResults, parseMetricName } from '../../../runner/results/index.js';
import type { ResultsDb } from '../../../runner/results/types.js';
import type { JsonValue } from '../../../runner/util/json.js';
import { tempDir } from '../../helpers/cli.js';
import { K, POINTS, recordDemo } from './fixtures.js';
import { holdDb } from './holder.js';

async function rows(db: ResultsDb, sql: string): Promise<Record<string, JsonValue>[]> {
  const r = await db.query(sql);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

async function demoDb(): Promise<ResultsDb> {
  const db = openResults(join(tempDir('pefuse-db-'), 'results.duckdb'));
  await recordDemo(db);
  return db;
}

describe('results database', () => {
  it('creates every table and view', async () => {
    const db = openResults(join(tempDir('pefuse-db-'), 'sub', 'results.duckdb'));
    expect((await db.init()).ok).toBe(true);
    const names = (await rows(db, `SELECT table_name AS n FROM information_schema.tables ORDER BY 1`)).map(
      (r) => r.n,
    );
    for (const t of [
      'experiments',
      'points',
      'point_params',
      'point_stages',
      'stages',
      'item_timings',
      'metrics',
      'rankings',
      'rank_sets',
      'id_lists',
      'generations',
      'runs',
      'compute_table',
      'latest_metrics',
      'rankings_named',
    ]) {
      expect(names).toContain(t);
    }
    await db.close();
  });

  it('records points with typed params as JSON and as a long table', async () => {
    const db = await demoDb();
    const pp = await rows(
      db,
      `SELECT path, value, type FROM point_params WHERE point_id = '${POINTS[1]!.id}' ORDER BY path`,
    );
    expect(pp).toEqual([
      { path: 'dataset', value: '"synthetic/val"', type: 'string' },
      { path: 'mllm.temperature', value: '0.5', type: 'number' },
      { path: 'mode', value: '"t2i"', type: 'string' },
      { path: 'repeat', value: '0', type: 'integer' },
    ]);
    const t = await rows(db, `SELECT idx, params->>'$."mllm.temperature"' AS t FROM points ORDER BY idx`);
    expect(t).toEqual([
      { idx: 0, t: '0' },
      { idx: 1, t: '0.5' },
    ]);
    const ps = await rows(
      db,
      `SELECT role, side FROM point_stages WHERE point_id = '${POINTS[0]!.id}' ORDER BY role`,
    );
    expect(ps.map((r) => `${r.role}:${r.side}`)).toEqual([
      'dataset:query',
      'gallery-embed:gallery',
      'metrics:query',
      'query-embed:query',
      'query-text:query',
      'score:query',
    ]);
    await db.close();
  });

  it('shows a dummy backend as dummy and keeps failures with their reason', async () => {
    const db = await demoDb();
    expect(await rows(db, `SELECT DISTINCT backend FROM stages`)).toEqual([{ backend: 'dummy' }]);
    expect(await rows(db, `SELECT DISTINCT backend FROM generations`)).toEqual([{ backend: 'dummy' }]);
    expect(
      await rows(
        db,
        `SELECT kind, failure_reason, failure_message, failure_item, attempts FROM stages WHERE status = 'failed'`,
      ),
    ).toEqual([
      {
        kind: 'mllm.compose',
        failure_reason: 'worker-exit',
        failure_message: 'worker exited with code 3',
        failure_item: 'q2',
        attempts: 3,
      },
    ]);
    await db.close();
  });

  it('stores rankings compactly and resolves them to ids in rankings_named', async () => {
    const db = await demoDb();
    expect(await rows(db, `SELECT count(*) AS n FROM rankings`)).toEqual([{ n: 7 }]); // one -1 entry skipped
    const named = await rows(
      db,
      `SELECT query_id, rank, gallery_id, round(score::DOUBLE, 2) AS s FROM rankings_named ORDER BY query_id, rank`,
    );
    expect(named.slice(0, 3)).toEqual([
      { query_id: 'q1', rank: 1, gallery_id: 'g0', s: 0.9 },
      { query_id: 'q1', rank: 2, gallery_id: 'g1', s: 0.5 },
      { query_id: 'q2', rank: 1, gallery_id: 'g1', s: 0.8 },
    ]);
    expect(named.at(-1)).toEqual({ query_id: 'q4', rank: 1, gallery_id: 'g0', s: 0.6 });
    await db.close();
  });

  it('maps per-query galleries (GeneCIS) to ids', async () => {
    const db = openResults(join(tempDir('pefuse-db-'), 'r.duckdb'));
    const r = await db.recordRankings({
      stageKey: K.score1,
      queryIds: ['a', 'b'],
      galleryIds: [
        ['x', 'y'],
        ['y', 'z'],
      ],
      indices: Int32Array.from([1, 0, 1, 0]),
      scores: Float32Array.from([0.9, 0.1, 0.8, 0.2]),
      k: 2,
    });
    expect(r.ok).toBe(true);
    const named = await rows(
      db,
      `SELECT query_id || '>' || gallery_id AS e FROM rankings_named ORDER BY query_id, rank`,
    );
    expect(named.map((x) => x.e)).toEqual(['a>y', 'a>x', 'b>z', 'b>y']);
    await db.close();
  });

  it('refuses rankings whose shapes disagree', async () => {
    const db = openResults(join(tempDir('pefuse-db-'), 'r.duckdb'));
    const r = await db.recordRankings({
      stageKey: K.score1,
      queryIds: ['a'],
      galleryIds: ['x'],
      indices: new Int32Array(3),
      scores: new Float32Array(2),
      k: 2,
    });
    expect(!r.ok && r.error.message).toBe(`rankings of ${K.score1}: indices has 3 entries, expected 1×2`);
    await db.close();
  });

  it('is idempotent: recording the same stages again replaces rows instead of adding them', async () => {
    const db = await demoDb();
    const count = async () =>
      rows(
        db,
        `SELECT (SELECT count(*) FROM stages) s, (SELECT count(*) FROM points) p, (SELECT count(*) FROM point_params) pp,
           (SELECT count(*) FROM point_stages) ps, (SELECT count(*) FROM metrics) m, (SELECT count(*) FROM rankings) r,
           (SELECT count(*) FROM id_lists) il, (SELECT count(*) FROM item_timings) it, (SELECT count(*) FROM generations) g`,
      );
    const before = await count();
    await recordDemo(db);
    expect(await count()).toEqual(before);
    await db.close();
  });

  it('parses metric names into metric, k and aspect', () => {
    expect(parseMetricName('recall_subset@5')).toEqual({ metric: 'recall_subset', k: 5, aspect: null });
    expect(parseMetricName('map@10/cardinality')).toEqual({ metric: 'map', k: 10, aspect: 'cardinality' });
    expect(parseMetricName('accuracy')).toEqual({ metric: 'accuracy', k: null, aspect: null });
  });

  it('gives the compute table per point: memory, inference and pipeline time per sample', async () => {
    const db = await demoDb();
    const ct = await rows(db, `SELECT * FROM compute_table ORDER BY point_id`);
    expect(ct[0]).toEqual({
      experiment: 'demo',
      point_id: POINTS[0]!.id,
      generator: 'dummy',
      embedder: 'dummy',
      device: 'cpu',
      peak_mem_mb: 1536,
      // compose items took 1, 2, 3, 4 s
      infer_s_per_sample: 2.5,
      // compose 2.5 + query embed 0.4/4 + score 0.04/4 (gallery embedding is offline)
      pipeline_s_per_sample: expect.closeTo(2.5 + 0.1 + 0.01, 9),
      n_queries: 4,
    });
    await db.close();
  });

  it('gives the latest metrics per point', async () => {
    const db = await demoDb();
    const m = await rows(db, `SELECT point_id, name, metric, k, value, hits FROM latest_metrics ORDER BY k`);
    expect(m).toEqual([
      { point_id: POINTS[0]!.id, name: 'recall@1', metric: 'recall', k: 1, value: 25, hits: 1 },
      { point_id: POINTS[0]!.id, name: 'recall@5', metric: 'recall', k: 5, value: 50, hits: 2 },
      { point_id: POINTS[0]!.id, name: 'recall@10', metric: 'recall', k: 10, value: 75, hits: 3 },
    ]);
    await db.close();
  });

  it('batches calls made while a batch is being written into one open', async () => {
    const db = openResults(join(tempDir('pefuse-db-'), 'r.duckdb'));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        db.recordItemTimings(K.compose0, [{ id: `q${i}`, output: null, seconds: i }]),
      ),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    // Delete-then-insert by stage key: the last call wins.
    expect(await rows(db, `SELECT item_id FROM item_timings`)).toEqual([{ item_id: 'q19' }]);
    await db.close();
  });

  it('waits for another process that holds the file, then writes', async () => {
    const file = join(tempDir('pefuse-db-'), 'r.duckdb');
    const holder = await holdDb(file);
    const db = openResults(file, { lockTimeoutMs: 60_000 });
    const pending = db.recordExperiment({ name: 'demo', specFile: 'demo.yaml', nPoints: 1 });
    setTimeout(() => void holder.release(), 300);
    expect((await pending).ok).toBe(true);
    expect(await rows(db, `SELECT name FROM experiments`)).toEqual([{ name: 'demo' }]);
    await db.close();
  });

  it('gives up with a clear message when the file stays locked', async () => {
    const file = join(tempDir('pefuse-db-'), 'r.duckdb');
    const holder = await holdDb(file);
    try {
      const db = openResults(file, { lockTimeoutMs: 300 });
      const r = await db.recordExperiment({ name: 'demo', specFile: 'demo.yaml', nPoints: 1 });
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.kind).toBe('locked');
        expect(r.error.message).toBe(
          `results database ${file} is locked by another process (pid ${holder.child.pid}), probably a running \`pefuse run\`; gave up after 0.3 s. Wait for it to finish, or pass --db FILE to use another file.`,
        );
      }
      await db.close();
    } finally {
      await holder.release();
    }
  });

  it('reports a missing file when opened read-only', async () => {
    const file = join(tempDir('pefuse-db-'), 'none.duckdb');
    const db = openResults(file, { readOnly: true });
    const r = await db.query('SELECT 1');
    expect(!r.ok && r.error).toEqual({
      kind: 'missing',
      file,
      message: `no results database at ${file} yet: run \`pefuse run SPEC\` first`,
    });
    const w = await db.recordExperiment({ name: 'x', specFile: 'x', nPoints: 0 });
    expect(!w.ok && w.error.message).toBe(`results database ${file} was opened read-only`);
  });
});
