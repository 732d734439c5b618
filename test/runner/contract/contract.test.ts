/** The stage contract's small pieces: shard selection, chunks, and the checked output readers. */
import { describe, expect, it } from 'vitest';
import { generatedOf, outputItemCount, stageOutput } from '../../../runner/contract/outputs.js';
import { chunkId, chunksOf, isChunkId, shardOf, validPart } from '../../../runner/contract/shard.js';

const ref = (c: string) => ({ sha256: c.repeat(64), size: 3 });

describe('shards and chunks', () => {
  it('splits a list into contiguous runs whose union is the list, sizes differing by at most one', () => {
    const list = Array.from({ length: 10 }, (_, i) => i);
    for (const of of [1, 2, 3, 4, 7, 10, 13]) {
      const parts = Array.from({ length: of }, (_, shard) => shardOf(list, { shard, of }));
      expect(parts.flat()).toEqual(list);
      const sizes = parts.map((p) => p.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    expect(shardOf(list, undefined)).toEqual(list);
  });

  it('numbers chunks so their ids sort in order, and tells chunk records from items', () => {
    expect(chunksOf(5, 2)).toEqual([
      { index: 0, id: chunkId(0), start: 0, end: 2 },
      { index: 1, id: chunkId(1), start: 2, end: 4 },
      { index: 2, id: chunkId(2), start: 4, end: 5 },
    ]);
    expect(chunksOf(0, 64)).toEqual([]);
    expect(chunkId(3) < chunkId(12)).toBe(true);
    expect(isChunkId(chunkId(0))).toBe(true);
    expect(isChunkId('q12')).toBe(false);
    expect([
      validPart({ shard: 0, of: 1 }),
      validPart({ shard: 1, of: 1 }),
      validPart({ shard: -1, of: 2 }),
    ]).toEqual([true, false, false]);
  });
});

describe('typed outputs', () => {
  it('reads a score and a metrics output, and refuses a shape that is not one', () => {
    const score = { k: 5, query_ids: ref('a'), gallery_ids: ref('b'), indices: ref('c'), scores: ref('d') };
    expect(stageOutput('score', score)).toEqual(score);
    expect(stageOutput('score', { ...score, indices: 'nope' })).toBeNull();
    expect(stageOutput('score', null)).toBeNull();
    const metrics = {
      dataset: 'cirr',
      split: 'val',
      subset: null,
      n: 3,
      metrics: { 'recall@1': 50 },
      hits: {},
    };
    expect(stageOutput('metrics', metrics)).toEqual(metrics);
    expect(stageOutput('metrics', { ...metrics, n: -1 })).toBeNull();
  });

  it('counts the items an output describes for stages that journal none', () => {
    const embed = { matrix: ref('a'), ids: ref('b'), n: 240, dim: 64 };
    expect(outputItemCount('embed.image', embed)).toBe(240);
    expect(
      outputItemCount('dataset', {
        dataset: 'synthetic',
        queries: ref('a'),
        gallery: ref('b'),
        n_queries: 80,
      }),
    ).toBe(80);
    expect(outputItemCount('mllm.compose', null)).toBeNull();
    expect(outputItemCount('embed.text', { n: 3 })).toBeNull();
  });

  it('lists what a generator item holds: one description, several, or an image', () => {
    expect(generatedOf('mllm.compose', { text: 'a red dress', tokens: 4 })).toEqual([
      { text: 'a red dress', tokens: 4 },
    ]);
    expect(
      generatedOf('mllm.caption', {
        text: 'x',
        descriptions: [{ text: 'x', finish_reason: 'stop' }, { text: 'y' }],
      }),
    ).toEqual([{ text: 'x', finish_reason: 'stop' }, { text: 'y' }]);
    expect(generatedOf('diffusion.edit', { image: ref('e'), prompt_tokens: 9 })).toEqual([
      { image: ref('e'), prompt_tokens: 9 },
    ]);
    expect(generatedOf('score', { text: 'not a generator' })).toEqual([]);
  });
});
