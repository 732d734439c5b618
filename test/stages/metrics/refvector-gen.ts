/**
 * The reference-vector generators of `../shared/refvectors/README.md` ("Generators"), implemented exactly
 * as documented: mulberry32 (uint32 output), `cir-v1` (CIRR val / Fashion-IQ val score matrices) and
 * `perm-v1` (CIRR test1 export). Test-only: production code never sees refvectors.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32Uint32 } from '../../../stages/datasets/synthetic/prng.js';
import { SHARED } from '../../helpers/cli.js';

/** mulberry32 without the final division: uint32 outputs (the one definition, in prng.ts). */
export const mulberry32 = mulberry32Uint32;

export interface CirV1Input {
  seed: number;
  numGallery: number;
  /** Per query (annotation order): reference column, target column, and (CIRR) the soft-plus-one columns. */
  refIdx: readonly number[];
  tgtIdx: readonly number[];
  /** `soft_plus_one`: columns of `target_soft` keys (JSON order) other than target_hard and reference. */
  softIdx?: readonly (readonly number[])[];
}

/** `cir-v1`: one PRNG stream over the whole matrix in row-major order; int scores as Int32Array. */
export function cirV1(input: CirV1Input): Int32Array {
  const next = mulberry32(input.seed);
  const n = input.numGallery;
  const q = input.refIdx.length;
  const out = new Int32Array(q * n);
  const base = new Int32Array(n);
  for (let i = 0; i < q; i++) {
    for (let j = 0; j < n; j++) base[j] = 2 * (next() >>> 22);
    const d = next() >>> 22;
    const dq = Math.floor(d ** 4 / 2 ** 30);
    const t = 2047 - 2 * dq;
    const r = next() >>> 31;
    const row = out.subarray(i * n, (i + 1) * n);
    row.set(base);
    if (r === 1) row[input.refIdx[i]!] = 2048;
    row[input.tgtIdx[i]!] = t;
    for (const k of input.softIdx?.[i] ?? []) row[k] = base[k]! + 1;
  }
  return out;
}

/** `perm-v1`: Fisher-Yates permutation scores per query, reference boosted to N when r == 1. */
export function permV1(seed: number, numGallery: number, refIdx: readonly number[]): Int32Array {
  const next = mulberry32(seed);
  const n = numGallery;
  const out = new Int32Array(refIdx.length * n);
  const arr = new Int32Array(n);
  refIdx.forEach((ref, q) => {
    for (let j = 0; j < n; j++) arr[j] = j;
    for (let i = n - 1; i >= 1; i--) {
      const j = next() % (i + 1);
      const tmp = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = tmp;
    }
    if (next() >>> 31 === 1) arr[ref] = n;
    out.set(arr, q * n);
  });
  return out;
}

/** `checks.score_sha256_int32le`. */
export function sha256Int32(m: Int32Array): string {
  return createHash('sha256')
    .update(Buffer.from(m.buffer, m.byteOffset, m.byteLength))
    .digest('hex');
}

export function toFloat32(m: Int32Array): Float32Array {
  return Float32Array.from(m);
}

/** Reads a refvector or an annotation file from `../shared` (tests only). */
export function sharedJson<T = unknown>(...parts: string[]): T {
  return JSON.parse(readFileSync(join(SHARED, ...parts), 'utf8')) as T;
}
