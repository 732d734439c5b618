/**
 * The per-request MLLM seed: f(the point's declared seed, item id, description index), the same for
 * every backend (the OpenAI-compatible client sends it as `seed`, the transformers worker seeds torch
 * with it), within 31 bits so every server accepts it. Python never derives seeds: each item request
 * carries its seeds.
 */
import { deriveSeed } from '../datasets/synthetic/prng.js';

export function mllmSeed(pointSeed: number, itemId: string, description: number): number {
  return deriveSeed('mllm', pointSeed, itemId, description) & 0x7fffffff;
}

/** The seeds of an item's `descriptions` descriptions, in order. */
export function mllmSeeds(pointSeed: number, itemId: string, descriptions: number): number[] {
  return Array.from({ length: Math.max(1, descriptions) }, (_, d) => mllmSeed(pointSeed, itemId, d));
}
