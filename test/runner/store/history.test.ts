import { describe, expect, it } from 'vitest';
import { HISTORY_CAP } from '../../../runner/store/types.js';
import { freshStore, record } from './helpers.js';

describe('planner history', () => {
  it('returns the records of one (experiment, role), most recent last, without repeats', async () => {
    const store = freshStore();
    await store.history.append('demo', 'query-text', record('mllm.compose', { temperature: 0.1 }));
    await store.history.append('demo', 'query-text', record('mllm.compose', { temperature: 0.1 }));
    await store.history.append('demo', 'query-text', record('mllm.compose', { temperature: 0.5 }));
    await store.history.append('demo', 'gallery-embed', record('embed.image'));
    await store.history.append('other/exp', 'query-text', record('mllm.compose', { temperature: 0.9 }));
    const got = await store.history.read('demo', 'query-text');
    expect(got.map((r) => r.params.temperature)).toEqual([0.1, 0.5]);
    expect(await store.history.read('demo', 'gallery-embed')).toHaveLength(1);
    expect(await store.history.read('demo', 'nothing')).toEqual([]);
    expect((await store.history.read('other/exp', 'query-text'))[0]!.params.temperature).toBe(0.9);
  });

  it(`keeps at most ${HISTORY_CAP} records per role`, async () => {
    const store = freshStore();
    for (let i = 0; i < 130; i++) {
      await store.history.appendMany('demo', [
        { role: 'a', record: record('score', { i }) },
        { role: 'b', record: record('score', { i: -i }) },
      ]);
    }
    const a = await store.history.read('demo', 'a');
    expect(a).toHaveLength(HISTORY_CAP);
    expect(a.at(-1)!.params.i).toBe(129);
    expect(a[0]!.params.i).toBe(130 - HISTORY_CAP);
  });
});
