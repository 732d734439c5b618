/**
 * Statistics of a report: mean ± sample standard deviation over repeats, and the paired bootstrap
 * interval of a metric difference over queries.
 *
 * Paired bootstrap (documented in README "Reports"): for two configurations A and B,
 * 1. each configuration's per-query values (100/0 per recall hit, 100 × AP for mAP; an aggregate
 *    averages its metrics per query) are averaged over its repeats, per query;
 * 2. only queries both have are kept (n of them, in query-id order), d_q = A_q − B_q;
 * 3. 10,000 times: draw n query indices uniformly with replacement (mulberry32 seeded with `seed`; the
 *    same draw serves both rows because the difference is resampled), take the mean of d over the draw;
 * 4. the 95% interval is the 2.5th and 97.5th percentiles of those means (linear interpolation between
 *    order statistics, like NumPy's default). The difference is significant when 0 lies outside.
 */
import { mulberry32 } from '../stages/datasets/synthetic/prng.js';

export const BOOTSTRAP_RESAMPLES = 10_000;
export const DEFAULT_BOOTSTRAP_SEED = 0;

export interface MeanStd {
  mean: number;
  /** Sample standard deviation (n − 1); null with one value. */
  std: number | null;
  n: number;
}

export function meanStd(values: readonly number[]): MeanStd | null {
  if (values.length === 0) return null;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  if (values.length === 1) return { mean, std: null, n: 1 };
  const ss = values.reduce((s, v) => s + (v - mean) ** 2, 0);
  return { mean, std: Math.sqrt(ss / (values.length - 1)), n: values.length };
}

/** Per-query values averaged over repeats (each map: query id → value); queries all repeats have. */
export function averageRepeats(repeats: readonly ReadonlyMap<string, number>[]): Map<string, number> {
  const out = new Map<string, number>();
  if (repeats.length === 0) return out;
  for (const [q] of repeats[0]!) {
    let s = 0;
    let ok = true;
    for (const r of repeats) {
      const v = r.get(q);
      if (v === undefined) ok = false;
      else s += v;
    }
    if (ok) out.set(q, s / repeats.length);
  }
  return out;
}

export interface Interval {
  /** Observed mean difference A − B over the paired queries. */
  diff: number;
  lo: number;
  hi: number;
  /** Paired queries. */
  n: number;
  resamples: number;
  seed: number;
  /** 0 lies outside [lo, hi]. */
  significant: boolean;
}

/** Linear-interpolated percentile (p in [0, 1]) of sorted values. */
export function percentile(sorted: Float64Array | readonly number[], p: number): number {
  const pos = p * (sorted.length - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  const a = sorted[i]!;
  return i + 1 < sorted.length ? a + f * (sorted[i + 1]! - a) : a;
}

const indexCache = new Map<string, Int32Array>();

/**
 * The resampled query positions (resamples × n, row-major) drawn with mulberry32(seed): position =
 * floor(u · n) for each uniform u. The same draw serves every comparison over n queries (kept while small).
 */
function resampleIndices(n: number, seed: number, resamples: number): Int32Array {
  const key = `${n}/${seed}/${resamples}`;
  const hit = indexCache.get(key);
  if (hit) return hit;
  const rng = mulberry32(seed);
  const idx = new Int32Array(resamples * n);
  for (let o = 0; o < idx.length; o++) idx[o] = Math.floor(rng() * n);
  if (idx.length <= 8_000_000) indexCache.set(key, idx);
  return idx;
}

/** Paired bootstrap 95% interval of mean(A − B); null when no query is shared. */
export function pairedBootstrap(
  a: ReadonlyMap<string, number>,
  b: ReadonlyMap<string, number>,
  seed: number = DEFAULT_BOOTSTRAP_SEED,
  resamples: number = BOOTSTRAP_RESAMPLES,
): Interval | null {
  // Paired queries in id order, so the draw does not depend on the order rows were read.
  const d: number[] = [];
  for (const q of [...a.keys()].filter((k) => b.has(k)).sort()) d.push(a.get(q)! - b.get(q)!);
  const n = d.length;
  if (n === 0) return null;
  const diff = d.reduce((s, v) => s + v, 0) / n;
  const idx = resampleIndices(n, seed, resamples);
  const means = new Float64Array(resamples);
  for (let r = 0, o = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++, o++) sum += d[idx[o]!]!;
    means[r] = sum / n;
  }
  means.sort();
  const lo = percentile(means, 0.025);
  const hi = percentile(means, 0.975);
  return { diff, lo, hi, n, resamples, seed, significant: lo > 0 || hi < 0 };
}

/** "+1.23 [0.40, 2.05]" */
export function formatInterval(i: Interval, digits = 2): string {
  const f = (v: number) => v.toFixed(digits);
  return `${i.diff >= 0 ? '+' : ''}${f(i.diff)} [${f(i.lo)}, ${f(i.hi)}]`;
}
