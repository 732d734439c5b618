/**
 * `mllm.backend: transformers`: the MLLM stages run by `stages/mllm/worker.py` (Hugging Face
 * transformers: Qwen2.5-VL 3B/7B, LLaVA-1.5) through the generic worker-backed runner
 * (runner/exec/worker-stage.ts): one worker per granted GPU, the model loaded once per GPU, items spread
 * over the workers; one worker on the CPU when no GPU is granted.
 *
 *   items  mllm.compose: one per query (reference image + rendered compose prompt)
 *          mllm.caption: one per gallery image (caption prompt)
 *   input  {image_path, prompt, system, seeds: [mllmSeed(point seed, item id, d) for each description]}
 *   output per item as the HTTP stage's (text, tokens, finish_reason, prompt/completion tokens, seed,
 *          texts when several descriptions); per-item seconds and peak GPU memory on the result line
 *
 * `mllm.batch_size` N > 1 lets the worker generate N queued items together (left padding, one RNG
 * per batch: not reproducible per item); the default 1 seeds every description on its own.
 *
 * Test option: `PEFUSE_MLLM_FAKE=module:Class` (or `/path/file.py:Class`, transformers-plan.ts) makes the worker use that
 * class instead of transformers (worker.py `--fake-model`). It is resolved at plan time into the
 * stage's model record, so fake outputs never share a cache key with a real model's.
 */
import { existsSync } from 'node:fs';
import { type Failure, failure } from '../../runner/contract/failure.js';
import type { StageRunContext } from '../../runner/contract/run.js';
import { pythonCommand, pythonProblem } from '../../runner/exec/python.js';
import { type WorkItem, workerStageRunner } from '../../runner/exec/worker-stage.js';
import { isJsonObject, type JsonValue } from '../../runner/util/json.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import { datasetOutputOf, readGallery, readQueries } from '../dummy/inputs.js';
import { NO_FIELDS, type PromptFields, queryFields, renderPrompt } from './prompts.js';
import { SYSTEM_MESSAGE } from './request.js';
import { mllmSeeds } from './seed.js';
import { mllmWorkerScript } from './transformers-plan.js';

function fakeOf(model: JsonValue): string | null {
  return isJsonObject(model) && typeof model.fake === 'string' ? model.fake : null;
}

/** The prompt template text, which the pipeline puts in the node's settings (stages/mllm/plan.ts). */
function templateOf(ctx: StageRunContext): string {
  const s = ctx.node.settings.prompt;
  if (typeof s !== 'string') throw new Error(`bug: ${ctx.record.kind} node without a prompt template`);
  return s;
}

/** One item per query (compose) or gallery image (caption), in dataset order. */
export async function transformersItems(ctx: StageRunContext): Promise<Result<WorkItem[], Failure>> {
  const ds = datasetOutputOf(ctx);
  if (!ds.ok) return ds;
  const p = ctx.record.params;
  const seed = typeof p.seed === 'number' ? p.seed : 0;
  const descriptions = typeof p.descriptions === 'number' ? p.descriptions : 1;
  const template = templateOf(ctx);
  const item = (id: string, image: string, fields: PromptFields): WorkItem => ({
    id,
    input: {
      image_path: image,
      prompt: renderPrompt(template, fields),
      system: SYSTEM_MESSAGE,
      seeds: mllmSeeds(seed, id, descriptions),
    },
  });
  if (ctx.record.kind === 'mllm.caption') {
    const g = await readGallery(ctx, ds.value);
    if (!g.ok) return g;
    return ok(g.value.map((x) => item(x.id, x.path, NO_FIELDS)));
  }
  const q = await readQueries(ctx, ds.value);
  if (!q.ok) return q;
  return ok(q.value.map((x) => item(x.id, x.reference.path, queryFields(x))));
}

export const transformersMllmRunner = workerStageRunner({
  command: (ctx) => {
    const script = mllmWorkerScript();
    if (!existsSync(script))
      return err(failure('model-load', `the MLLM worker is missing: ${script}`, { retryable: false }));
    const python = pythonCommand();
    const problem = pythonProblem(python);
    if (problem !== null) return err(failure('model-load', problem, { retryable: false }));
    const fake = fakeOf(ctx.record.model);
    return ok({
      file: python,
      args: [script, ...(fake !== null ? ['--fake-model', fake] : [])],
      env: { PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
    });
  },
  itemsOf: transformersItems,
  async output(ctx, items) {
    let truncated = 0;
    for (const i of items) if (isJsonObject(i.output) && i.output.finish_reason === 'length') truncated++;
    if (truncated > 0)
      ctx.log(
        `[pefuse] ${truncated} of ${items.length} descriptions stopped at max_tokens (finish_reason "length")`,
      );
    return ok({ backend: 'transformers', n: items.length, truncated });
  },
  // The first load may download the weights (7B: about 16 GB); a CPU item takes minutes.
  timeouts: { readyMs: 30 * 60_000, itemMs: 20 * 60_000 },
  // Without a GPU, one worker: every CPU worker would hold its own copy of the weights.
  cpuWorkers: 1,
});
