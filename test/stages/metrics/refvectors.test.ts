/**
 * Library-level reproduction of every public reference vector in ../shared/refvectors: hit counts
 * exactly, official percentages within 1e-4, official fractions within 1e-12, submission dicts equal.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { NpyArray } from '../../../runner/util/npy.js';
import { loadDataset } from '../../../stages/datasets/index.js';
import type { LoadedDataset, LoadOptions } from '../../../stages/datasets/types.js';
import { evaluateRankings } from '../../../stages/metrics/evaluate.js';
import { cirrSubmissions } from '../../../stages/metrics/export.js';
import { topKRow } from '../../../stages/metrics/rank-scores.js';
import { rankingsFromJson } from '../../../stages/metrics/rankings-input.js';
import { fashionIqAverage } from '../../../stages/metrics/recall.js';
import { rankingsFromScores } from '../../../stages/metrics/scores-input.js';
import { needShared, SHARED } from '../../helpers/cli.js';
import { cirV1, mulberry32, permV1, sha256Int32, sharedJson, toFloat32 } from './refvector-gen.js';

const CIRR = (split: string) => [
  `datasets/cirr/captions/cap.rc2.${split}.json`,
  `datasets/cirr/image_splits/split.rc2.${split}.json`,
];
const FIQ = ['dress', 'shirt', 'toptee'].flatMap((c) => [
  `datasets/fashion-iq/captions/cap.${c}.val.json`,
  `datasets/fashion-iq/image_splits/split.${c}.val.json`,
]);
const G = {
  cirrVal: needShared('refvectors/cirr_val.seed1001.json', ...CIRR('val')),
  fiq: needShared('refvectors/fashioniq_val.seed2001-2002-2003.json', ...FIQ),
  genecis: needShared('refvectors/genecis_focus_object.seed4001.json', 'datasets/genecis/focus_object.json'),
  circo: needShared('refvectors/circo_val.seed6001.json', 'datasets/circo/annotations/val.json'),
  cirrTest: needShared('refvectors/cirr_test1_export.seed3001.json', ...CIRR('test1')),
};
const DATA = `${SHARED}/datasets`;

// biome-ignore lint/suspicious/noExplicitAny: refvector JSON is read loosely and checked value by value
type Any = any;

async function load(opts: Omit<LoadOptions, 'root'> & { root?: string }): Promise<LoadedDataset> {
  const r = await loadDataset({ root: DATA, ...opts } as LoadOptions);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

function matrix(m: Int32Array, rows: number, cols: number): NpyArray {
  return { dtype: '<f4', shape: [rows, cols], data: toFloat32(m) };
}

function columns(loaded: LoadedDataset): Map<string, number> {
  return new Map(loaded.gallery.map((g, j) => [g.id, j]));
}

function expectChecks(m: Int32Array, cols: number, checks: Any, seed: number): void {
  const next = mulberry32(seed);
  expect(Array.from({ length: 5 }, next)).toEqual(checks.first_prng_outputs);
  expect(Array.from(m.subarray(0, 10))).toEqual(checks.score_row0_first10);
  expect(Array.from(m.subarray(cols, cols + 10))).toEqual(checks.score_row1_first10);
  expect(m.reduce((s, v) => s + v, 0)).toBe(checks.score_sum);
  expect(sha256Int32(m)).toBe(checks.score_sha256_int32le);
}

function ksOf(o: Record<string, unknown>): number[] {
  return Object.keys(o).map(Number);
}

describe('public reference vectors (../shared/refvectors)', () => {
  describe.skipIf(G.cirrVal.skip)(G.cirrVal.title('cirr_val.seed1001 (cir-v1, reference removed)'), () => {
    let rv: Any;
    let loaded: LoadedDataset;
    let scores: Int32Array;
    beforeAll(async () => {
      rv = sharedJson('refvectors', 'cirr_val.seed1001.json');
      loaded = await load({ dataset: 'cirr', split: 'val' });
      const raw = sharedJson<Any[]>('datasets', 'cirr', 'captions', 'cap.rc2.val.json');
      const col = columns(loaded);
      scores = cirV1({
        seed: rv.generator.seed,
        numGallery: loaded.gallery.length,
        refIdx: raw.map((r) => col.get(r.reference)!),
        tgtIdx: raw.map((r) => col.get(r.target_hard)!),
        softIdx: raw.map((r) =>
          Object.keys(r.target_soft)
            .filter((k) => k !== r.target_hard && k !== r.reference)
            .map((k) => col.get(k)!),
        ),
      });
    });

    it('generates the documented matrix', () => {
      expect([loaded.queries.length, loaded.gallery.length]).toEqual(rv.checks.shape);
      expectChecks(scores, loaded.gallery.length, rv.checks, rv.generator.seed);
    });

    it('reproduces Recall@K and Recall_subset@K', () => {
      const [q, n] = rv.checks.shape;
      const ranked = rankingsFromScores(loaded, matrix(scores, q, n), { k: 100 });
      if (!ranked.ok) throw new Error(ranked.error);
      const out = evaluateRankings(loaded, ranked.value, {
        recall: ksOf(rv.expected.recall.hits),
        recallSubset: ksOf(rv.expected.recall_subset.hits),
      });
      if (!out.ok) throw new Error(out.error);
      const m = out.value;
      expect(m.n).toBe(rv.expected.num_queries);
      for (const [k, hits] of Object.entries(rv.expected.recall.hits))
        expect(m.hits[`recall@${k}`]).toBe(hits);
      for (const [k, hits] of Object.entries(rv.expected.recall_subset.hits))
        expect(m.hits[`recall_subset@${k}`]).toBe(hits);
      for (const [k, p] of Object.entries(rv.expected.recall.percent_official_clip4cir_searle_cirevl))
        expect(Math.abs(m.metrics[`recall@${k}`]! - (p as number))).toBeLessThan(1e-4);
      for (const [k, p] of Object.entries(rv.expected.recall_subset.percent_official_clip4cir_searle_cirevl))
        expect(Math.abs(m.metrics[`recall_subset@${k}`]! - (p as number))).toBeLessThan(1e-4);
      for (const [k, f] of Object.entries(rv.expected.recall.fraction_official_cirplant_hardlabel))
        expect(Math.abs(m.metrics[`recall@${k}`]! / 100 - (f as number))).toBeLessThan(1e-12);
      for (const [k, f] of Object.entries(rv.expected.recall_subset.fraction_official_cirplant_hardlabel))
        expect(Math.abs(m.metrics[`recall_subset@${k}`]! / 100 - (f as number))).toBeLessThan(1e-12);
    });

    it('would get the documented wrong hits if the reference were kept (exclusion rule)', () => {
      const n = loaded.gallery.length;
      const data = toFloat32(scores);
      const col = columns(loaded);
      const ks = ksOf(rv.diagnostics.wrong_recall_hits_if_reference_not_removed);
      const hits = ks.map(() => 0);
      loaded.queries.forEach((q, i) => {
        const top = topKRow(data.subarray(i * n, (i + 1) * n), 100);
        const pos = top.indexOf(col.get(q.targets[0]!)!);
        ks.forEach((k, j) => {
          if (pos >= 0 && pos < k) hits[j]!++;
        });
      });
      expect(Object.fromEntries(ks.map((k, j) => [String(k), hits[j]]))).toEqual(
        rv.diagnostics.wrong_recall_hits_if_reference_not_removed,
      );
    });
  });

  describe.skipIf(G.fiq.skip)(
    G.fiq.title('fashioniq_val.seed2001-2002-2003 (cir-v1, reference kept)'),
    () => {
      const rv: Any = !G.fiq.skip ? sharedJson('refvectors', 'fashioniq_val.seed2001-2002-2003.json') : null;
      const defaults: { metrics: Record<string, number>; hits: Record<string, number> }[] = [];
      for (const cat of ['dress', 'shirt', 'toptee'] as const) {
        it(`reproduces ${cat} R@1/5/10/50/100 and the reference-removed diagnostic`, async () => {
          const c = rv.categories[cat];
          const loaded = await load({
            dataset: 'fashioniq',
            split: 'val',
            category: cat,
            root: `${DATA}/fashion-iq`,
          });
          const col = columns(loaded);
          const n = loaded.gallery.length;
          const scores = cirV1({
            seed: c.generator.seed,
            numGallery: n,
            refIdx: loaded.queries.map((q) => col.get(q.reference.id)!),
            tgtIdx: loaded.queries.map((q) => col.get(q.targets[0]!)!),
          });
          expectChecks(scores, n, c.checks, c.generator.seed);
          const ranked = rankingsFromScores(loaded, matrix(scores, loaded.queries.length, n), { k: 100 });
          if (!ranked.ok) throw new Error(ranked.error);
          const out = evaluateRankings(loaded, ranked.value, { recall: ksOf(c.expected.hits) });
          if (!out.ok) throw new Error(out.error);
          for (const [k, hits] of Object.entries(c.expected.hits))
            expect(out.value.hits[`recall@${k}`]).toBe(hits);
          for (const [k, p] of Object.entries(c.expected.percent_official_clip4cir_searle))
            expect(Math.abs(out.value.metrics[`recall@${k}`]! - (p as number))).toBeLessThan(1e-4);
          const official = evaluateRankings(loaded, ranked.value);
          if (!official.ok) throw new Error(official.error);
          expect(Object.keys(official.value.metrics)).toEqual(['recall@10', 'recall@50']);
          defaults.push(official.value);

          // Removing the reference (wrong for Fashion-IQ) gives the documented wrong numbers.
          const data = toFloat32(scores);
          const wrong = ksOf(c.diagnostics.wrong_hits_if_reference_were_removed).map((k) =>
            loaded.queries.reduce((h, q, i) => {
              const top = topKRow(data.subarray(i * n, (i + 1) * n), 100, col.get(q.reference.id)!);
              const pos = top.indexOf(col.get(q.targets[0]!)!);
              return h + (pos >= 0 && pos < k ? 1 : 0);
            }, 0),
          );
          expect(wrong).toEqual(Object.values(c.diagnostics.wrong_hits_if_reference_were_removed));
        });
      }
      it('reproduces the average of the three categories (not pooled)', () => {
        expect(defaults).toHaveLength(3);
        const avg = fashionIqAverage(defaults);
        for (const [k, p] of Object.entries(rv.expected_average.percent_np_mean_searle))
          expect(Math.abs(avg.metrics[`recall@${k}`]! - (p as number))).toBeLessThan(1e-4);
      });
    },
  );

  describe.skipIf(G.genecis.skip)(G.genecis.title('genecis_focus_object.seed4001 (stored scores)'), () => {
    let rv: Any;
    let loaded: LoadedDataset;
    // biome-ignore lint/suspicious/noDuplicateTestHooks: its own describe.skipIf block (biome reads it as one scope)
    beforeAll(async () => {
      rv = sharedJson('refvectors', 'genecis_focus_object.seed4001.json');
      loaded = await load({
        dataset: 'genecis',
        split: 'val',
        task: 'focus_object',
        root: `${DATA}/genecis`,
      });
    });
    const run = (l: LoadedDataset, rows: number[][]) => {
      const data = Float32Array.from(rows.flat());
      const ranked = rankingsFromScores(l, { dtype: '<f4', shape: [rows.length, 15], data });
      if (!ranked.ok) throw new Error(ranked.error);
      const out = evaluateRankings(l, ranked.value);
      if (!out.ok) throw new Error(out.error);
      return out.value;
    };
    it('reproduces R@1/2/3', () => {
      const m = run(loaded, rv.inputs.scores);
      expect(m.n).toBe(rv.expected.num_samples);
      for (const [k, hits] of Object.entries(rv.expected.hits)) expect(m.hits[`recall@${k}`]).toBe(hits);
      for (const [k, f] of Object.entries(rv.expected.fraction_official_genecis_validate))
        expect(Math.abs(m.metrics[`recall@${k.slice(2)}`]! / 100 - (f as number))).toBeLessThan(1e-12);
      for (const [k, p] of Object.entries(rv.expected.percent_official_cirevl))
        expect(Math.abs(m.metrics[`recall@${k.slice(2)}`]! - (p as number))).toBeLessThan(1e-4);
    });
    it('reproduces the tie block with the canonical stable rule (target wins ties)', () => {
      const rows: number[][] = rv.tie_block.scores;
      const m = run({ ...loaded, queries: loaded.queries.slice(0, rows.length) }, rows);
      for (const [k, hits] of Object.entries(rv.tie_block.expected_hits_canonical_stable))
        expect(m.hits[`recall@${k}`]).toBe(hits);
      for (const [k, f] of Object.entries(rv.tie_block.observed_official_torch113_cpu_fraction))
        expect(Math.abs(m.metrics[`recall@${k.slice(2)}`]! / 100 - (f as number))).toBeLessThan(1e-12);
    });
  });

  describe.skipIf(G.circo.skip)(G.circo.title('circo_val.seed6001 (stored rankings, server code)'), () => {
    let rv: Any;
    let loaded: LoadedDataset;
    // biome-ignore lint/suspicious/noDuplicateTestHooks: its own describe.skipIf block (biome reads it as one scope)
    beforeAll(async () => {
      rv = sharedJson('refvectors', 'circo_val.seed6001.json');
      loaded = await load({ dataset: 'circo', split: 'val', root: `${DATA}/circo` });
    });
    it('warns that the gallery list is absent but still evaluates rankings', () => {
      expect(loaded.galleryKnown).toBe(false);
      expect(loaded.warnings).toHaveLength(1);
    });
    it('reproduces mAP@K, Recall@K and semantic mAP@10 (fractions within 1e-12)', () => {
      const ranked = rankingsFromJson(loaded, rv.inputs.predictions);
      if (!ranked.ok) throw new Error(ranked.error);
      const out = evaluateRankings(loaded, ranked.value);
      if (!out.ok) throw new Error(out.error);
      const m = out.value.metrics;
      for (const [k, f] of Object.entries(rv.expected.map_at_k_fraction_official))
        expect(Math.abs(m[`map@${k}`]! / 100 - (f as number))).toBeLessThan(1e-12);
      for (const [k, f] of Object.entries(rv.expected.recall_at_k_fraction_official)) {
        expect(Math.abs(m[`recall@${k}`]! / 100 - (f as number))).toBeLessThan(1e-12);
        expect(out.value.hits[`recall@${k}`]).toBe(Math.round((f as number) * rv.expected.num_queries));
      }
      for (const [a, f] of Object.entries(rv.expected.semantic_map_at10_fraction_official))
        expect(Math.abs(m[`map@10/${a}`]! / 100 - (f as number))).toBeLessThan(1e-12);
      for (const [k, p] of Object.entries(rv.expected.percent_searle_lincir_cirevl_torch_float32.map))
        expect(Math.abs(m[`map@${k}`]! - (p as number))).toBeLessThan(1e-4);
    });
    it('rejects the invalid example (a duplicated id) like the server', () => {
      const list: number[] = rv.inputs.predictions['0'];
      const bad = { ...rv.inputs.predictions, '0': [...list.slice(0, 49), list[0]] };
      expect(rankingsFromJson(loaded, bad)).toEqual({
        ok: false,
        error: `--rankings: query "0" has a duplicate id ${list[0]} (at [0] and [49]): ids must be unique per query`,
      });
    });
  });

  describe.skipIf(G.cirrTest.skip)(G.cirrTest.title('cirr_test1_export.seed3001 (perm-v1)'), () => {
    it('reproduces both submission dicts exactly', async () => {
      const rv: Any = sharedJson('refvectors', 'cirr_test1_export.seed3001.json');
      const full = await load({ dataset: 'cirr', split: 'test' });
      const [from, to] = rv.generator.query_range;
      const loaded = { ...full, queries: full.queries.slice(from, to) };
      const col = columns(loaded);
      const n = loaded.gallery.length;
      const scores = permV1(
        rv.generator.seed,
        n,
        loaded.queries.map((q) => col.get(q.reference.id)!),
      );
      expectChecks(scores, n, rv.checks, rv.generator.seed);
      const ranked = rankingsFromScores(loaded, matrix(scores, loaded.queries.length, n));
      if (!ranked.ok) throw new Error(ranked.error);
      const files = cirrSubmissions(loaded, ranked.value, '--scores');
      if (!files.ok) throw new Error(files.error);
      expect(files.value.map((f) => f.name)).toEqual([
        'test1_pred_ranks_recall.json',
        'test1_pred_ranks_recall_subset.json',
      ]);
      expect(JSON.parse(JSON.stringify(files.value[0]!.content))).toEqual(rv.expected.recall_submission);
      expect(JSON.parse(JSON.stringify(files.value[1]!.content))).toEqual(
        rv.expected.recall_subset_submission,
      );
    });
  });
});
