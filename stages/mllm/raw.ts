/**
 * `mllm.backend: raw`, the paper's "without MLLM" baseline: no model, the modification text itself is
 * each query's description (Fashion-IQ: its two captions joined). Only `mllm.compose` has such a text;
 * planning rejects raw for modes that caption the gallery.
 */
import { failure } from '../../runner/contract/failure.js';
import type { StageRunner } from '../../runner/contract/run.js';
import { err, ok } from '../../runner/util/result.js';
import { datasetOutputOf, readQueries } from '../dummy/inputs.js';

export const rawComposeRunner: StageRunner = async (ctx) => {
  if (ctx.record.kind !== 'mllm.compose')
    return err(failure('not-implemented', 'mllm.backend "raw" has no gallery captions (use t2i or i2i)'));
  const ds = datasetOutputOf(ctx);
  if (!ds.ok) return ds;
  const queries = await readQueries(ctx, ds.value);
  if (!queries.ok) return queries;
  ctx.notify?.({ type: 'items', items: queries.value.length });
  for (const q of queries.value) {
    if (ctx.done.has(q.id)) continue;
    await ctx.itemDone({ id: q.id, output: { text: q.text }, seconds: 0 });
  }
  return ok({ output: { backend: 'raw' }, device: 'cpu' });
};
