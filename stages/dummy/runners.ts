/**
 * The worker-backed runners of the dummy model stages (MLLM compose/caption, diffusion edit): the
 * generic JSON-lines worker runner with the dummy worker programs. Loaded by the catalog only when
 * such a stage runs (the worker runner pulls in execa).
 */
import { join } from 'node:path';
import type { StageRunner } from '../../runner/contract/run.js';
import { workerStageRunner } from '../../runner/exec/worker-stage.js';
import { ok } from '../../runner/util/result.js';
import { captionItems, composeItems, editItems } from './items.js';
import { dummyWorkerSpawn } from './workers.js';

export const dummyMllmCompose: StageRunner = workerStageRunner({
  command: () => ok(dummyWorkerSpawn('mllm-worker')),
  itemsOf: composeItems,
});

export const dummyMllmCaption: StageRunner = workerStageRunner({
  command: () => ok(dummyWorkerSpawn('mllm-worker')),
  itemsOf: captionItems,
});

export const dummyDiffusion: StageRunner = workerStageRunner({
  command: (ctx) =>
    ok({
      ...dummyWorkerSpawn('diffusion-worker'),
      env: { PEFUSE_WORKER_TMP: join(ctx.objects.root, 'tmp') },
    }),
  itemsOf: editItems,
});
