/**
 * The `diffusion.edit` runner for `backend: diffusers`: the generic worker-backed runner
 * (runner/exec/worker-stage.ts) driving `stages/diffusion/worker.py` under `PEFUSE_PYTHON` (default
 * `python3`), one worker per granted GPU (items spread over them), one on the CPU when no GPU is
 * there. Items are the dummy's `editItems` (reference path, text from the caption or `mllm.compose`,
 * per-item seed from the spec seed, repeat and item id); the PNGs land in the object store.
 *
 * The stage output counts the items whose prompt was cut at the 77-token CLIP limit.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { failure } from '../../runner/contract/failure.js';
import { PYTHON_ENV, packageRoot, pythonCommand } from '../../runner/exec/python.js';
import { workerStageRunner } from '../../runner/exec/worker-stage.js';
import { isJsonObject, type JsonValue } from '../../runner/util/json.js';
import { err, ok } from '../../runner/util/result.js';
import { editItems } from '../dummy/items.js';

// The interpreter (PEFUSE_PYTHON, default python3) and the package root: one definition for every
// Python worker, in runner/exec/python.ts.
export { PYTHON_ENV, packageRoot };

export function pythonOf(env: NodeJS.ProcessEnv): string {
  return pythonCommand(env);
}

/** Absolute path of the diffusers worker program. */
export function diffusionWorkerScript(): string {
  return join(packageRoot(), 'stages', 'diffusion', 'worker.py');
}

/** Whether `cmd` names an existing file, directly (a path) or through PATH (a bare name). */
function onPath(cmd: string, env: NodeJS.ProcessEnv): boolean {
  if (cmd.includes('/')) return existsSync(cmd);
  return (env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, cmd)));
}

/** The fake pipeline recorded in a stage's model record (test option), or null. */
function fakeOf(model: JsonValue): string | null {
  return isJsonObject(model) && typeof model.fake === 'string' ? model.fake : null;
}

export const diffusersRunner = workerStageRunner({
  command: (ctx) => {
    const script = diffusionWorkerScript();
    if (!existsSync(script))
      return err(failure('model-load', `the diffusion worker is missing: ${script}`, { retryable: false }));
    const python = pythonOf(process.env);
    if (!onPath(python, process.env))
      return err(
        failure(
          'model-load',
          `the Python interpreter \`${python}\` was not found (${PYTHON_ENV}${process.env[PYTHON_ENV] ? '' : ' is unset: the default is python3'}); set ${PYTHON_ENV} to one with what requirements-gpu.txt lists`,
          { retryable: false },
        ),
      );
    const fake = fakeOf(ctx.record.model);
    return ok({
      file: python,
      args: [script, ...(fake !== null ? ['--fake-pipeline', fake] : [])],
      env: { PEFUSE_WORKER_TMP: join(ctx.objects.root, 'tmp'), PYTHONUNBUFFERED: '1' },
    });
  },
  itemsOf: editItems,
  async output(ctx, items) {
    let truncated = 0;
    for (const i of items) {
      const o = i.output;
      if (isJsonObject(o) && typeof o.truncated_tokens === 'number' && o.truncated_tokens > 0) truncated++;
    }
    if (truncated > 0) ctx.log(`${truncated} of ${items.length} prompts were cut at the 77-token CLIP limit`);
    return ok({ n: items.length, truncated });
  },
  // First use downloads the weights (SDXL: about 7 GB); a CPU image takes minutes.
  timeouts: { readyMs: 30 * 60_000, itemMs: 20 * 60_000 },
  // Without a GPU, one worker: every CPU worker would hold its own copy of the weights.
  cpuWorkers: 1,
});
