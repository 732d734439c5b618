import { afterAll, describe, expect, it } from 'vitest';
import { releaseSessions } from '../../../stages/score/sessions.js';
import { l2normalizeRows, planChunks, type TopKOptions, topK } from '../../../stages/score/topk.js';
import { topKReference } from '../../../stages/score/topk-reference.js';
import { expectMatchesReference, integerRows, randomRows } from './helpers.js';

afterAll(releaseSessions);

async function run(opts: TopKOptions) {
  const r = await topK(opts);
  if (!r.ok) throw new Error(`unexpected error: ${r.error.message}`);
  return r.value;
}

describe('topK (onnxruntime) against the float64 reference', () => {
  const dim = 48;
  const queries = l2normalizeRows(randomRows(37, dim, 1), dim);
  const gallery = l2normalizeRows(randomRows(901, dim, 2), dim);

  it('returns the exact top-k on random normalised data', async () => {
    const ours = await run({ queries, gallery, dim, k: 50, threads: 2 });
    const ref = topKReference({ queries, gallery, dim, k: 50 });
    expectMatchesReference(ours, ref, queries, gallery, dim);
    expect(ours.indices.length).toBe(37 * 50);
  });

  it('gives identical results chunked and unchunked (queries, gallery, both, budget-driven)', async () => {
    const whole = await run({ queries, gallery, dim, k: 20, threads: 2 });
    for (const chunk of [{ queries: 5 }, { gallery: 100 }, { queries: 8, gallery: 33 }, { gallery: 1 }]) {
      const part = await run({ queries, gallery, dim, k: 20, threads: 2, chunk });
      expect(Array.from(part.indices), JSON.stringify(chunk)).toEqual(Array.from(whole.indices));
      expect(Array.from(part.scores), JSON.stringify(chunk)).toEqual(Array.from(whole.scores));
    }
    const budget = await run({ queries, gallery, dim, k: 20, threads: 2, maxScoreBytes: 4 * 7 * 64 });
    expect(Array.from(budget.indices)).toEqual(Array.from(whole.indices));
  });

  it('gives identical results with 1 and 2 threads', async () => {
    const one = await run({ queries, gallery, dim, k: 10, threads: 1 });
    const two = await run({ queries, gallery, dim, k: 10, threads: 2 });
    expect(Array.from(one.indices)).toEqual(Array.from(two.indices));
    expect(Array.from(one.scores)).toEqual(Array.from(two.scores));
  });

  it('drops excluded gallery rows (any number per query), also when they would rank first', async () => {
    const exclude: number[][] = [];
    for (let q = 0; q < 37; q++) exclude.push(q % 3 === 0 ? [] : q % 3 === 1 ? [q] : [q, q + 1, q + 2, q]);
    // Plant the excluded row as the best match of query 1.
    const g = gallery.slice();
    g.set(queries.subarray(dim, 2 * dim), 1 * dim);
    for (const chunk of [undefined, { gallery: 50 }]) {
      const ours = await run({ queries, gallery: g, dim, k: 30, threads: 2, exclude, chunk });
      const ref = topKReference({ queries, gallery: g, dim, k: 30, exclude });
      expectMatchesReference(ours, ref, queries, g, dim);
      for (let q = 0; q < 37; q++)
        for (const x of exclude[q]!)
          expect(Array.from(ours.indices.subarray(q * 30, q * 30 + 30))).not.toContain(x);
    }
  });
});

describe('topK ties: score descending, then lower gallery index first', () => {
  const dim = 8;
  const queries = integerRows(23, dim, 5);
  // 40 distinct rows, each repeated at scattered positions, so equal scores abound.
  const base = integerRows(40, dim, 6);
  const nG = 300;
  const gallery = new Float32Array(nG * dim);
  for (let g = 0; g < nG; g++)
    gallery.set(base.subarray(((g * 7) % 40) * dim, (((g * 7) % 40) + 1) * dim), g * dim);

  it('orders exact ties by gallery index, unchunked and across chunk boundaries', async () => {
    const ref = topKReference({ queries, gallery, dim, k: 25 });
    for (const chunk of [undefined, { gallery: 17 }, { gallery: 64, queries: 4 }, { gallery: 1 }]) {
      const ours = await run({ queries, gallery, dim, k: 25, threads: 2, chunk });
      expect(Array.from(ours.indices), JSON.stringify(chunk)).toEqual(Array.from(ref.indices));
    }
  });

  it('keeps the lower index when a tie straddles the k boundary with exclusions', async () => {
    const exclude = Array.from({ length: 23 }, (_, q) => [q, 2 * q]);
    const ref = topKReference({ queries, gallery, dim, k: 9, exclude });
    for (const chunk of [undefined, { gallery: 10 }]) {
      const ours = await run({ queries, gallery, dim, k: 9, threads: 2, exclude, chunk });
      expect(Array.from(ours.indices)).toEqual(Array.from(ref.indices));
    }
  });

  it('ties duplicate normalised rows exactly (bit-identical scores), even in different chunks', async () => {
    const d = 64;
    const q = l2normalizeRows(randomRows(9, d, 11), d);
    const g = l2normalizeRows(randomRows(200, d, 12), d);
    // Row 150 duplicates row 3 (different chunk with gallery: 100), row 4 duplicates row 3 (same chunk).
    g.copyWithin(150 * d, 3 * d, 4 * d);
    g.copyWithin(4 * d, 3 * d, 4 * d);
    for (const chunk of [undefined, { gallery: 100 }]) {
      const ours = await run({ queries: q, gallery: g, dim: d, k: 200, threads: 2, chunk });
      for (let i = 0; i < 9; i++) {
        const row = Array.from(ours.indices.subarray(i * 200, (i + 1) * 200));
        const p3 = row.indexOf(3);
        expect(row.slice(p3, p3 + 3)).toEqual([3, 4, 150]);
        expect(ours.scores[i * 200 + p3]).toBe(ours.scores[i * 200 + p3 + 2]);
      }
    }
  });
});

describe('topK edge cases and input errors', () => {
  const dim = 4;
  const queries = l2normalizeRows(randomRows(3, dim, 21), dim);
  const gallery = l2normalizeRows(randomRows(5, dim, 22), dim);

  it('returns the whole gallery when k is larger than it', async () => {
    const r = await run({ queries, gallery, dim, k: 50, threads: 1 });
    expect(r.k).toBe(5);
    expect(r.indices.length).toBe(15);
    expectMatchesReference(r, topKReference({ queries, gallery, dim, k: 50 }), queries, gallery, dim);
  });

  it('pads with -1 / -Infinity when exclusions leave fewer than k candidates', async () => {
    const r = await run({ queries, gallery, dim, k: 5, threads: 1, exclude: [[0, 1], [], [4]] });
    expect(r.k).toBe(5);
    expect(Array.from(r.indices.subarray(3, 5))).toEqual([-1, -1]);
    expect(r.scores[4]).toBe(Number.NEGATIVE_INFINITY);
    expect(Array.from(r.indices.subarray(5, 10)).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(r.indices[14]).toBe(-1);
  });

  it('handles an empty query set', async () => {
    const r = await run({ queries: new Float32Array(0), gallery, dim, k: 3, threads: 1 });
    expect(r.indices.length).toBe(0);
  });

  it('rejects NaN and Infinity with the row named', async () => {
    const badG = gallery.slice();
    badG[3 * dim + 2] = Number.NaN;
    expect(await topK({ queries, gallery: badG, dim, k: 2, threads: 2 })).toEqual({
      ok: false,
      error: { message: 'gallery row 3 contains NaN; embeddings must be finite', matrix: 'gallery', row: 3 },
    });
    // The last row: a position ORT's TopK would silently skip; and in a later gallery chunk.
    const lastNaN = gallery.slice();
    lastNaN[4 * dim] = Number.NaN;
    for (const chunk of [undefined, { gallery: 2 }])
      expect(await topK({ queries, gallery: lastNaN, dim, k: 2, threads: 1, chunk })).toEqual({
        ok: false,
        error: {
          message: 'gallery row 4 contains NaN; embeddings must be finite',
          matrix: 'gallery',
          row: 4,
        },
      });
    const negInf = gallery.slice();
    negInf[1] = Number.NEGATIVE_INFINITY;
    expect(await topK({ queries, gallery: negInf, dim, k: 2, threads: 1 })).toEqual({
      ok: false,
      error: {
        message: 'gallery row 0 contains Infinity; embeddings must be finite',
        matrix: 'gallery',
        row: 0,
      },
    });
    const badQ = queries.slice();
    badQ[2 * dim] = Number.POSITIVE_INFINITY;
    expect(await topK({ queries: badQ, gallery, dim, k: 2, threads: 2 })).toEqual({
      ok: false,
      error: {
        message: 'queries row 2 contains Infinity; embeddings must be finite',
        matrix: 'queries',
        row: 2,
      },
    });
  });

  it('rejects malformed arguments with a message', async () => {
    const msg = async (o: Partial<TopKOptions>) => {
      const r = await topK({ queries, gallery, dim, k: 2, threads: 1, ...o });
      return r.ok ? 'ok' : r.error.message;
    };
    expect(await msg({ dim: 3 })).toBe('gallery has 20 floats, not a whole number of 3-dimensional rows');
    expect(await msg({ k: 0 })).toBe('k must be a positive integer, got 0');
    expect(await msg({ threads: 0 })).toBe('threads must be a positive integer, got 0');
    expect(await msg({ exclude: [[1]] })).toBe('exclude has 1 entries for 3 queries');
    expect(await msg({ exclude: [[1], [5], []] })).toBe('exclude[1] names gallery index 5, outside 0..4');
  });
});

describe('planChunks', () => {
  it('keeps the whole gallery when it fits, in even query chunks of at most 512', () => {
    expect(planChunks(800, 123_403, 512 * 1024 * 1024)).toEqual({ queries: 400, gallery: 123_403 });
  });
  it('chunks queries first, then the gallery for huge galleries', () => {
    expect(planChunks(4000, 100_000, 400 * 100_000 * 4)).toEqual({ queries: 400, gallery: 100_000 });
    expect(planChunks(4148, 2315, 512 * 1024 * 1024)).toEqual({ queries: 461, gallery: 2315 });
    expect(planChunks(800, 10_000_000, 16 * 1024 * 1024)).toEqual({ queries: 62, gallery: 65_536 });
  });
});

describe('l2normalizeRows', () => {
  it('normalises rows and leaves zero rows at zero', () => {
    const out = l2normalizeRows(new Float32Array([3, 4, 0, 0]), 2);
    expect(Array.from(out)).toEqual([0.6000000238418579, 0.800000011920929, 0, 0]);
  });
});
