/**
 * Seeded randomness for the synthetic dataset and the dummy backends. Everything "random" in the offline
 * demo must be a pure function of (seed, item id, …) so that reruns hit the cache and repeats differ
 * only through their seed.
 */
import { createHash } from 'node:crypto';

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32 with its raw uint32 outputs: tiny, fast, good enough for test data (not for cryptography).
 * The one definition, also used by the tests, the benchmarks and the reference-vector generators (the
 * reference vectors specify the uint32 stream).
 */
export function mulberry32Uint32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** mulberry32 as uniform numbers in [0, 1) (the uint32 stream / 2^32). */
export function mulberry32(seed: number): Rng {
  const next = mulberry32Uint32(seed);
  return () => next() / 4294967296;
}

/** A 32-bit seed derived from any list of parts (base seed, repeat, item id…), stable across platforms. */
export function deriveSeed(...parts: ReadonlyArray<string | number>): number {
  const h = createHash('sha256').update(parts.map(String).join('\u0000')).digest();
  return h.readUInt32LE(0);
}

/** An Rng seeded from parts (see deriveSeed). */
export function rngFor(...parts: ReadonlyArray<string | number>): Rng {
  return mulberry32(deriveSeed(...parts));
}

/** A uniform integer in [0, n). */
export function randInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** A uniformly chosen element of a non-empty list. */
export function pick<T>(rng: Rng, list: readonly T[]): T {
  const v = list[randInt(rng, list.length)];
  if (v === undefined) throw new Error('pick: empty list');
  return v;
}

/** Fisher–Yates shuffle into a new array. */
export function shuffled<T>(rng: Rng, list: readonly T[]): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randInt(rng, i + 1);
    const tmp = out[i]!;
    out[i] = out[j]!;
    out[j] = tmp;
  }
  return out;
}

/** A standard normal sample (Box–Muller). */
export function gaussian(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
