/**
 * The stage catalog: one definition per stage kind, and the pipeline object the CLI hands to the
 * planner. This is the only place that knows which runner serves which kind and backend:
 *
 *   kind            backend dummy (offline demo)             real backends
 *   dataset         synthetic generator (name: synthetic)    benchmark loaders + image check
 *   mllm.compose    dummy MLLM worker (JSON lines)           vllm/sglang/ollama/transformers: MLLM issue
 *   mllm.caption    dummy MLLM worker                        as above
 *   diffusion.edit  dummy diffusion worker                   diffusers worker (stages/diffusion/worker.py)
 *   embed.text      dummy embedder (in process)              onnxruntime-node towers
 *   embed.image     dummy embedder (in process)              onnxruntime-node towers
 *   score           ─                                        onnxruntime-node Gemm+TopK
 *   metrics         ─                                        official metric code
 */
import { join } from 'node:path';
import { failure } from '../runner/exec/failure.js';
import type { StageRunner } from '../runner/exec/stage-run.js';
import { dispatchesToWorkers, workerStageRunner } from '../runner/exec/worker-stage.js';
import type {
  Pipeline,
  StageDefinition,
  StageKind,
  StageNodeSpec,
  StageResource,
} from '../runner/plan/stage.js';
import { isJsonObject } from '../runner/util/json.js';
import { err, ok } from '../runner/util/result.js';
import { benchmarkDatasetRunner } from './datasets/runner.js';
import { syntheticDatasetRunner } from './datasets/synthetic/runner.js';
import { diffusersRunner } from './diffusion/runner.js';
import { dummyEmbedImageRunner, dummyEmbedTextRunner } from './dummy/embed.js';
import { captionItems, composeItems, editItems } from './dummy/items.js';
import { dummyWorkerSpawn } from './dummy/workers.js';
import { embedImageRunner, embedTextRunner } from './embed/runner.js';
import { type RunnableBackends, resolveFacts } from './fingerprints.js';
import { metricsRunner } from './metrics/runner.js';
import { chainFor, datasetLabel, type PointFacts } from './pipeline.js';
import { runScore } from './score/runner.js';

// For the CLI (`plan`'s CPU note, `doctor`'s diffusers checks): it reaches stage code only through here.
export {
  type DiffusionDoctor,
  type DoctorCheck,
  diffusionDoctor,
} from './diffusion/doctor.js';
export { cpuDiffusionNote } from './diffusion/plan-checks.js';

/** The backend a node runs on: `model.backend` for model stages, `params.backend` for embeddings. */
function backendOf(ctx: Parameters<StageRunner>[0]): string {
  const m = ctx.record.model;
  if (isJsonObject(m) && typeof m.backend === 'string') return m.backend;
  return typeof ctx.node.params.backend === 'string' ? ctx.node.params.backend : 'unknown';
}

function notYet(kind: StageKind, issue: string): StageRunner {
  return async (ctx) =>
    err(
      failure(
        'not-implemented',
        `${kind} with backend "${backendOf(ctx)}" is not available in this version (${issue}); use backend: dummy to try the pipeline`,
      ),
    );
}

const dummyMllmCompose = workerStageRunner({
  command: () => ok(dummyWorkerSpawn('mllm-worker')),
  itemsOf: composeItems,
});
const dummyMllmCaption = workerStageRunner({
  command: () => ok(dummyWorkerSpawn('mllm-worker')),
  itemsOf: captionItems,
});
const dummyDiffusion = workerStageRunner({
  command: (ctx) =>
    ok({
      ...dummyWorkerSpawn('diffusion-worker'),
      env: { PEFUSE_WORKER_TMP: join(ctx.objects.root, 'tmp') },
    }),
  itemsOf: editItems,
});

/** Model stages hold a GPU, except the dummy backends, which are plain CPU programs. */
const gpuUnlessDummy = (node: StageNodeSpec): StageResource => (node.backend === 'dummy' ? 'cpu' : 'gpu');

const byBackend =
  (runners: Record<string, StageRunner>, fallback: StageRunner): StageRunner =>
  (ctx) =>
    (runners[backendOf(ctx)] ?? fallback)(ctx);

/** Model-stage runners by backend; every other backend fails with `not-implemented` (and plan warns). */
const MLLM_COMPOSE: Record<string, StageRunner> = { dummy: dummyMllmCompose };
const MLLM_CAPTION: Record<string, StageRunner> = { dummy: dummyMllmCaption };
const DIFFUSION_EDIT: Record<string, StageRunner> = { dummy: dummyDiffusion, diffusers: diffusersRunner };

/** What `resolveFacts` warns about at plan time: the backends these runner maps serve. */
export const RUNNABLE_BACKENDS: RunnableBackends = {
  mllm: Object.keys(MLLM_COMPOSE).filter((b) => b in MLLM_CAPTION),
  diffusion: Object.keys(DIFFUSION_EDIT),
};

const DEFINITIONS: StageDefinition[] = [
  {
    kind: 'dataset',
    implVersion: 1,
    description: 'load annotations, check images',
    resource: 'cpu',
    run: (ctx) =>
      ctx.node.params.name === 'synthetic' ? syntheticDatasetRunner(ctx) : benchmarkDatasetRunner(ctx),
  },
  {
    kind: 'mllm.compose',
    implVersion: 1,
    description: 'MLLM: reference image + text → target description',
    resource: 'gpu',
    resourceOf: gpuUnlessDummy,
    run: byBackend(MLLM_COMPOSE, notYet('mllm.compose', 'the MLLM stage lands with its own issue')),
  },
  {
    kind: 'mllm.caption',
    implVersion: 1,
    description: 'MLLM: gallery image → caption',
    resource: 'gpu',
    resourceOf: gpuUnlessDummy,
    run: byBackend(MLLM_CAPTION, notYet('mllm.caption', 'the MLLM stage lands with its own issue')),
  },
  {
    kind: 'diffusion.edit',
    implVersion: 1,
    description: 'diffusion: reference image + text → target image',
    resource: 'gpu',
    resourceOf: gpuUnlessDummy,
    // Every diffusion backend is a worker: a guidance sweep reuses the workers parked on the GPU.
    run: dispatchesToWorkers(
      byBackend(DIFFUSION_EDIT, notYet('diffusion.edit', 'unknown diffusion backend')),
    ),
  },
  {
    kind: 'embed.text',
    implVersion: 1,
    description: 'retrieval model: text → L2-normalised vector',
    resource: 'cpu',
    run: byBackend(
      { dummy: dummyEmbedTextRunner, onnx: embedTextRunner },
      notYet('embed.text', 'unknown backend'),
    ),
  },
  {
    kind: 'embed.image',
    implVersion: 1,
    description: 'retrieval model: image → L2-normalised vector',
    resource: 'cpu',
    run: byBackend(
      { dummy: dummyEmbedImageRunner, onnx: embedImageRunner },
      notYet('embed.image', 'unknown backend'),
    ),
  },
  {
    kind: 'score',
    implVersion: 1,
    description: 'cosine top-K with dataset rules',
    resource: 'cpu',
    run: runScore,
  },
  { kind: 'metrics', implVersion: 1, description: 'official metrics', resource: 'none', run: metricsRunner },
];

export function definitions(): ReadonlyMap<StageKind, StageDefinition> {
  return new Map(DEFINITIONS.map((d) => [d.kind, d]));
}

export function createPipeline(): Pipeline<PointFacts> {
  return {
    definitions: definitions(),
    facts: (configs, ctx) => resolveFacts(configs, ctx, RUNNABLE_BACKENDS),
    chain: chainFor,
    datasetLabel,
  };
}
