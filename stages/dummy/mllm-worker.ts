/**
 * Worker program of the dummy MLLM (`node dist/stages/dummy/mllm-worker.js`), speaking the JSON-lines
 * protocol. Kinds and item inputs:
 *
 *   mllm.compose  {reference_caption: string, text: string, seed?: number}  → {text, tokens}
 *   mllm.caption  {oracle_caption: string, seed?: number}                    → {text, tokens}
 *
 * Params (configure): temperature, top_p, max_tokens (see DummyMllmParams); others are ignored.
 */
import { DUMMY_MLLM_IDENTITY } from './identity.js';
import { dummyCaption, dummyCompose, mllmParamsOf } from './mllm.js';
import { badInput, type ItemAnswer, runWorker, seedField, stringField } from './worker-loop.js';

function answer(text: string): ItemAnswer {
  return { ok: true, output: { text, tokens: text === '' ? 0 : text.split(' ').length } };
}

runWorker({
  identity: DUMMY_MLLM_IDENTITY,
  configure(kind, params) {
    const p = mllmParamsOf(params);
    if (typeof p === 'string') return `dummy-mllm: ${p}`;
    switch (kind) {
      case 'mllm.compose':
        return async (_id, input) => {
          const text = stringField(input, 'text');
          if (text === undefined) return badInput('mllm.compose input needs a string "text"');
          const reference_caption = stringField(input, 'reference_caption') ?? '';
          return answer(dummyCompose({ reference_caption, text }, p, seedField(input)));
        };
      case 'mllm.caption':
        return async (_id, input) => {
          const oracle = stringField(input, 'oracle_caption');
          if (oracle === undefined)
            return badInput(
              'mllm.caption input needs a string "oracle_caption" (the dummy captioner reads it)',
            );
          return answer(dummyCaption({ oracle_caption: oracle }, p, seedField(input)));
        };
      default:
        return `dummy-mllm cannot run stage kind "${kind}" (it runs mllm.compose and mllm.caption)`;
    }
  },
});
