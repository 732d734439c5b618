/** Synthetic checks of ranking ties, reference rules, metric formulas and bad-input messages. */
import { describe, expect, it } from 'vitest';
import type { NpyArray } from '../../../runner/util/npy.js';
import { loadDataset } from '../../../stages/datasets/index.js';
import type { LoadedDataset, LoadOptions } from '../../../stages/datasets/types.js';
import { circoAveragePrecision } from '../../../stages/metrics/circo.js';
import { evaluateRankings, formatMetricsTable } from '../../../stages/metrics/evaluate.js';
import { buildSubmissions } from '../../../stages/metrics/export.js';
import { orderColumns, topKRow } from '../../../stages/metrics/rank-scores.js';
import { rankingsFromJson } from '../../../stages/metrics/rankings-input.js';
import { rankingsFromScores } from '../../../stages/metrics/scores-input.js';
import { circoRoot, cirrRoot, fashionIqRoot, genecisRoot } from '../datasets/fixtures.js';

async function load(opts: LoadOptions): Promise<LoadedDataset> {
  const r = await loadDataset(opts);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const f32 = (rows: number[][]): NpyArray => ({
  dtype: '<f4',
  shape: [rows.length, rows[0]!.length],
  data: Float32Array.from(rows.flat()),
});

function unwrap<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

describe('topKRow / orderColumns (stable descending, ties to the lower index)', () => {
  it('breaks ties by gallery index and skips the excluded column', () => {
    const row = Float64Array.from([1, 3, 3, 2, 3]);
    expect(Array.from(topKRow(row, 3))).toEqual([1, 2, 4]);
    expect(Array.from(topKRow(row, 3, 1))).toEqual([2, 4, 3]);
    expect(Array.from(topKRow(row, 10))).toEqual([1, 2, 4, 3, 0]);
    expect(Array.from(topKRow(row, 10, 4))).toEqual([1, 2, 3, 0]);
    expect(Array.from(topKRow(Float32Array.from([-Infinity, 0, Infinity, 0]), 4))).toEqual([2, 1, 3, 0]);
    expect(orderColumns(row, [4, 0, 2, 3])).toEqual([2, 4, 3, 0]);
  });

  it('agrees with a full stable sort on random rows with many ties', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % 17;
    };
    for (let t = 0; t < 50; t++) {
      const row = Float32Array.from({ length: 300 }, rand);
      const full = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]! || a - b);
      expect(Array.from(topKRow(row, 50))).toEqual(full.slice(0, 50));
      expect(Array.from(topKRow(row, 50, full[0]!))).toEqual(full.slice(1, 51));
    }
  });
});

describe('CIRR metrics: reference removed, subset over the 5 non-reference members', () => {
  const scores = f32([
    [10, 9, 1, 1, 1, 1, 1, 1], // reference on top; removed, so the target is first
    [5, 0, 9, 5, 0, 0, 5, 0], // target (6) ties with 0 and 3, which win (lower index)
    [0, 0, 0, 0, 0, 0, 0, 0], // everything ties: target 4 is 4th after removing reference 3
  ]);
  const expected = {
    'recall@1': 1,
    'recall@2': 1,
    'recall@5': 3,
    'recall@10': 3,
    'recall@50': 3,
    'recall_subset@1': 1,
    'recall_subset@2': 2,
    'recall_subset@3': 2,
  };

  it('from scores', async () => {
    const d = await load({ dataset: 'cirr', split: 'val', root: cirrRoot() });
    const m = unwrap(evaluateRankings(d, unwrap(rankingsFromScores(d, scores))));
    expect(m.hits).toEqual(expected);
    expect(m.metrics['recall@5']).toBe(100);
    expect(m.metrics['recall_subset@2']).toBeCloseTo(200 / 3, 12);
    expect(formatMetricsTable(m)).toBe(
      [
        'CIRR val (n = 3)',
        'metric           value (%)  hits',
        'recall@1             33.33     1',
        'recall@2             33.33     1',
        'recall@5            100.00     3',
        'recall@10           100.00     3',
        'recall@50           100.00     3',
        'recall_subset@1      33.33     1',
        'recall_subset@2      66.67     2',
        'recall_subset@3      66.67     2',
        '',
      ].join('\n'),
    );
  });

  it('from rankings that still contain the reference (it is removed there too)', async () => {
    const d = await load({ dataset: 'cirr', split: 'val', root: cirrRoot() });
    const img = (i: number) => `dev-${i}-0-img0`;
    const json = {
      100: [0, 1, 2, 3, 4, 5, 6, 7].map(img),
      101: [2, 0, 3, 6, 1, 4, 5, 7].map(img),
      102: [0, 1, 2, 3, 4, 5, 6, 7].map(img),
    };
    const m = unwrap(evaluateRankings(d, unwrap(rankingsFromJson(d, json))));
    expect(m.hits).toEqual(expected);
  });

  it('writes the two submission files (reference removed, top-3 subset)', async () => {
    const d = await load({ dataset: 'cirr', split: 'test', root: cirrRoot() });
    const files = unwrap(buildSubmissions(d, unwrap(rankingsFromScores(d, scores)), '--scores'));
    const img = (i: number) => `dev-${i}-0-img0`;
    expect(files.map((f) => f.name)).toEqual([
      'test1_pred_ranks_recall.json',
      'test1_pred_ranks_recall_subset.json',
    ]);
    expect(files[0]!.content).toEqual({
      version: 'rc2',
      metric: 'recall',
      100: [1, 2, 3, 4, 5, 6, 7].map(img),
      101: [0, 3, 6, 1, 4, 5, 7].map(img),
      102: [0, 1, 2, 4, 5, 6, 7].map(img),
    });
    expect(files[1]!.content).toEqual({
      version: 'rc2',
      metric: 'recall_subset',
      100: [1, 2, 3].map(img),
      101: [3, 6, 4].map(img),
      102: [0, 1, 2].map(img),
    });
  });

  it('refuses rankings too short for a submission', async () => {
    const d = await load({ dataset: 'cirr', split: 'test', root: cirrRoot() });
    const img = (i: number) => `dev-${i}-0-img0`;
    const short = { 100: [1].map(img), 101: [0].map(img), 102: [0].map(img) };
    expect(buildSubmissions(d, unwrap(rankingsFromJson(d, short)), '--rankings')).toEqual({
      ok: false,
      error:
        '--rankings: query "100" ranks 1 images besides the reference; the recall submission needs the top 7 (give longer lists, full rankings or --scores)',
    });
    const noSubset = {
      100: [1, 6, 7, 2, 3, 4, 5].map(img),
      101: [0, 1, 3, 4, 5, 6, 7].map(img),
      102: [0, 1, 2, 4, 5, 6, 7].map(img),
    };
    unwrap(buildSubmissions(d, unwrap(rankingsFromJson(d, noSubset)), '--rankings'));
  });
});

describe('Fashion-IQ metrics: the reference stays in the ranking', () => {
  it('a top-ranked reference pushes the target down', async () => {
    const d = await load({ dataset: 'fashioniq', split: 'val', root: fashionIqRoot(), category: 'dress' });
    const ranked = unwrap(
      rankingsFromScores(
        d,
        f32([
          [9, 8, 0, 0, 0],
          [0, 0, 0, 5, 0],
        ]),
      ),
    );
    const m = unwrap(evaluateRankings(d, ranked, { recall: [1, 2] }));
    expect(m.hits).toEqual({ 'recall@1': 1, 'recall@2': 2 });
    expect(unwrap(evaluateRankings(d, ranked)).metrics).toEqual({ 'recall@10': 100, 'recall@50': 100 });
    expect(m.subset).toBe('dress');
  });
});

describe('CIRCO metrics (server formula)', () => {
  it('counts precision at GT positions and divides by min(#GT, K)', () => {
    const r = circoAveragePrecision(['x', 'a', 'y', 'b', 'z', 'c'], ['a', 'b', 'c'], [1, 2, 5, 50]);
    expect(r.ap).toEqual([0, 0.5 / 2, 1 / 3, (0.5 + 0.5 + 0.5) / 3]);
    expect(r.gtHits).toEqual([0, 1, 2, 3]);
    // Shorter than K still divides by min(#GT, K).
    expect(circoAveragePrecision(['a'], ['a', 'b'], [5]).ap).toEqual([0.5]);
  });

  it('Recall@K counts only the annotated target; per-aspect mAP@10 over the queries with that aspect', async () => {
    const d = await load({ dataset: 'circo', split: 'val', root: circoRoot() });
    const rest = (skip: number[]) =>
      Array.from({ length: 60 }, (_, i) => 1000 + i).filter((i) => !skip.includes(i));
    const json = {
      0: [1002, 1000, 1001, ...rest([1000, 1001, 1002, 1003])].slice(0, 50), // GT 1002 first, target 3rd
      1: [...rest([1011]).slice(0, 10), 1011, ...rest([1011]).slice(10, 49)],
    };
    const m = unwrap(evaluateRankings(d, unwrap(rankingsFromJson(d, json))));
    const ap0at5 = (1 + 2 / 3) / 3;
    const ap1at25 = 1 / 11;
    expect(m.hits).toMatchObject({ 'recall@5': 1, 'recall@10': 1, 'recall@25': 2, 'map@5': 2, 'map@25': 3 });
    expect(m.metrics['map@5']).toBeCloseTo((100 * ap0at5) / 2, 12);
    expect(m.metrics['map@25']).toBeCloseTo((100 * (ap0at5 + ap1at25)) / 2, 12);
    expect(m.metrics['map@10/addition']).toBeCloseTo(100 * ap0at5, 12);
    expect(m.metrics['map@10/cardinality']).toBeCloseTo((100 * ap0at5) / 2, 12);
    expect(Object.keys(m.metrics).filter((k) => k.startsWith('map@10/'))).toEqual([
      'map@10/cardinality',
      'map@10/addition',
    ]);
  });

  it('exports exactly 50 unique int ids per query, reference included', async () => {
    const d = await load({ dataset: 'circo', split: 'test', root: circoRoot() });
    const row = Array.from({ length: 60 }, (_, i) => 60 - i);
    const files = unwrap(buildSubmissions(d, unwrap(rankingsFromScores(d, f32([row, row]))), '--scores'));
    const want = Array.from({ length: 50 }, (_, i) => 1000 + i);
    expect(files).toEqual([
      { name: 'circo_test_submission.json', content: { 0: want, 1: want }, queries: 2, listLength: 50 },
    ]);
    const short = unwrap(rankingsFromJson(d, { 0: want, 1: want.slice(0, 49) }));
    expect(buildSubmissions(d, short, '--rankings')).toEqual({
      ok: false,
      error: '--rankings: query "1" has 49 ids; the CIRCO server needs exactly 50 per query',
    });
  });
});

describe('GeneCIS metrics: per-sample gallery, target at position 0', () => {
  it('the target wins its ties (canonical stable rule), also against its own duplicate', async () => {
    const d = await load({ dataset: 'genecis', split: 'val', root: genecisRoot(), task: 'focus_object' });
    const m = unwrap(
      evaluateRankings(
        d,
        unwrap(
          rankingsFromScores(
            d,
            f32([
              [5, 5, 1, 5],
              [1, 2, 3, 1],
            ]),
          ),
        ),
      ),
    );
    expect(m.hits).toEqual({ 'recall@1': 1, 'recall@2': 1, 'recall@3': 2 });
    const r = unwrap(rankingsFromJson(d, { 0: [3, 0, 1, 2], 1: ['2', '1', '0', '3'] }));
    expect(unwrap(evaluateRankings(d, r)).hits).toEqual({ 'recall@1': 0, 'recall@2': 1, 'recall@3': 2 });
  });
});

describe('bad input messages', () => {
  it('score matrices: dtype, shape, rows, columns, NaN, unknown CIRCO gallery', async () => {
    const cirr = await load({ dataset: 'cirr', split: 'val', root: cirrRoot() });
    const row = [0, 0, 0, 0, 0, 0, 0, 0];
    const cases: [NpyArray, string][] = [
      [
        { dtype: '<i4', shape: [3, 8], data: new Int32Array(24) },
        '--scores: unsupported .npy dtype int32 (<i4): expected float32 or float64, little-endian',
      ],
      [
        { dtype: '<f4', shape: [24], data: new Float32Array(24) },
        '--scores: must be a 2-D matrix [queries, gallery], got shape (24)',
      ],
      [f32([row, row]), '--scores: has 2 rows but CIRR val has 3 queries (annotation-file order)'],
      [
        f32([row.slice(1), row.slice(1), row.slice(1)]),
        '--scores: has 7 columns but the CIRR val gallery has 8 images (split-file key order)',
      ],
      [
        f32([row, row, [0, 0, 0, Number.NaN, 0, 0, 0, 0]]),
        '--scores: has NaN at row 2, column 3 (query "102"); scores must be finite numbers',
      ],
      [
        f32([row, [0, Number.NEGATIVE_INFINITY, 0, 0, 0, 0, 0, 0], row]),
        '--scores: has -Infinity at row 1, column 1 (query "101"); scores must be finite numbers',
      ],
    ];
    for (const [npy, error] of cases) expect(rankingsFromScores(cirr, npy)).toEqual({ ok: false, error });
    const fiq = await load({ dataset: 'fashioniq', split: 'val', root: fashionIqRoot(), category: 'dress' });
    expect(rankingsFromScores(fiq, f32([[0], [0]]))).toEqual({
      ok: false,
      error: '--scores: has 1 columns but the Fashion-IQ dress val gallery has 5 images (split array order)',
    });
    const gen = await load({ dataset: 'genecis', split: 'val', root: genecisRoot(), task: 'focus_object' });
    expect(
      rankingsFromScores(
        gen,
        f32([
          [0, 0, 0],
          [0, 0, 0],
        ]),
      ),
    ).toEqual({
      ok: false,
      error:
        '--scores: has 3 columns but GeneCIS focus_object samples have 4 candidates each ([target] + gallery)',
    });
    const root = circoRoot({ info: false });
    const circo = await load({ dataset: 'circo', split: 'val', root });
    expect(rankingsFromScores(circo, f32([[0], [0]]))).toEqual({
      ok: false,
      error: `--scores: cannot be mapped to image ids: ${circo.warnings[0]}. Use --rankings instead`,
    });
  });

  it('rankings: shape, keys, ids, duplicates', async () => {
    const cirr = await load({ dataset: 'cirr', split: 'val', root: cirrRoot() });
    const ok = ['dev-1-0-img0'];
    const cases: [unknown, string][] = [
      [[ok], '--rankings: must be a JSON object {"<pairid>": [ids...]}, got an array'],
      [
        { 100: ok, 101: ok, 102: ok, 7: ok },
        '--rankings: unknown query key "7" (CIRR val queries are keyed by pairid)',
      ],
      [{ 100: ok, 102: ok }, '--rankings: no ranking for query "101" (3 queries expected, 2 given)'],
      [{ 100: 'x', 101: ok, 102: ok }, '--rankings: query "100" must map to an array of image ids'],
      [
        { 100: [3], 101: ok, 102: ok },
        '--rankings: query "100", item [0] must be an image name string, got 3',
      ],
      [
        { 100: ['dev-1-0-img0.png'], 101: ok, 102: ok },
        '--rankings: query "100", item [0]: unknown image id "dev-1-0-img0.png" (not in the CIRR val gallery)',
      ],
      [
        { 100: [...ok, ...ok], 101: ok, 102: ok },
        '--rankings: query "100" has a duplicate id "dev-1-0-img0" (at [0] and [1]): ids must be unique per query',
      ],
    ];
    for (const [json, error] of cases) expect(rankingsFromJson(cirr, json)).toEqual({ ok: false, error });
    const circo = await load({ dataset: 'circo', split: 'val', root: circoRoot() });
    expect(rankingsFromJson(circo, { 0: [1000, '1001', 1.5], 1: [] })).toEqual({
      ok: false,
      error: '--rankings: query "0", item [2] must be an integer image id, got 1.5',
    });
    expect(rankingsFromJson(circo, { 0: [5], 1: [] })).toEqual({
      ok: false,
      error: '--rankings: query "0", item [0]: unknown image id 5 (not in the CIRCO val gallery)',
    });
    const gen = await load({ dataset: 'genecis', split: 'val', root: genecisRoot(), task: 'focus_object' });
    expect(rankingsFromJson(gen, { 0: [0, 4], 1: [] })).toEqual({
      ok: false,
      error:
        '--rankings: query "0", item [1]: position 4 is outside the sample\'s gallery (0..3, [target] + gallery)',
    });
  });

  it('test splits have no ground truth', async () => {
    const d = await load({ dataset: 'cirr', split: 'test', root: cirrRoot() });
    expect(
      evaluateRankings(
        d,
        d.queries.map(() => ({ ids: [] })),
      ),
    ).toEqual({
      ok: false,
      error:
        'CIRR test has no ground truth (the CIRR test server evaluates it: write a submission with pefuse export)',
    });
  });
});
