import { describe, expect, it } from 'vitest';
import type { EmbedOutput } from '../../../stages/contracts.js';
import { dummyEmbedImageRunner, dummyEmbedTextRunner } from '../../../stages/dummy/embed.js';
import { DUMMY_EMBED_DIM, embedText } from '../../../stages/dummy/features.js';
import { tempDir } from '../../helpers/cli.js';
import { fakeCtx, fsStore, manifest, readEmbedding } from './harness.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('dummy text embedding', () => {
  it('is L2-normalised, deterministic, and closer for the same attributes', () => {
    const a = embedText('a small red circle on a light background');
    expect(a).toHaveLength(DUMMY_EMBED_DIM);
    expect(dot(a, a)).toBeCloseTo(1, 5);
    expect(embedText('a small red circle on a light background')).toEqual(a);
    const near = embedText('small red circle, light background');
    const far = embedText('a large blue star on a dark background');
    expect(dot(a, near)).toBeGreaterThan(dot(a, far));
    expect(dot(embedText(''), embedText(''))).toBeCloseTo(1, 5);
  });
});

describe('dummy embed runners', () => {
  it('publish an EmbedOutput matrix in the order of the input items', async () => {
    const store = fsStore(tempDir());
    const texts = manifest(
      'mllm.compose',
      [
        { id: 'q2', output: { text: 'a blue star' }, seconds: 0 },
        { id: 'q1', output: { text: 'a red circle' }, seconds: 0 },
      ],
      null,
    );
    const r = await dummyEmbedTextRunner(fakeCtx(store, 'embed.text', {}, { texts }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const out = r.value.output as unknown as EmbedOutput;
    expect({ n: out.n, dim: out.dim, truncated: out.truncated }).toEqual({
      n: 2,
      dim: DUMMY_EMBED_DIM,
      truncated: 0,
    });
    const m = await readEmbedding(store, r.value.output);
    expect(m.ids).toEqual(['q2', 'q1']);
    expect(m.rows[1]).toEqual(embedText('a red circle'));
  });

  it('say which input is missing', async () => {
    const store = fsStore(tempDir());
    const t = await dummyEmbedTextRunner(fakeCtx(store, 'embed.text', {}));
    expect(t.ok ? null : [t.error.reason, t.error.message]).toEqual([
      'input-missing',
      'embed.text needs an input named "texts"',
    ]);
    const i = await dummyEmbedImageRunner(fakeCtx(store, 'embed.image', {}));
    expect(i.ok ? null : [i.error.reason, i.error.message]).toEqual([
      'input-missing',
      'embed.image needs an input named "images" or "gallery"',
    ]);
  });
});
