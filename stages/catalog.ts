/**
 * The stage catalog: one definition per stage kind, and the pipeline object the CLI hands to the
 * planner. This is the only place that knows which runner serves which kind and backend:
 *
 *   kind            backend dummy (offline demo)             real backends
 *   dataset         synthetic generator (name: synthetic)    benchmark loaders + image check
 *   mllm.compose    dummy MLLM worker (JSON lines)           vllm/sglang/ollama/openai: HTTP client (in
 *                                                            process, no GPU); raw: the modification text;
 *                                                            transformers worker (stages/mllm/worker.py)
 *   mllm.caption    dummy MLLM worker                        vllm/sglang/ollama/openai; transformers
 *   diffusion.edit  dummy diffusion worker                   diffusers worker (stages/diffusion/worker.py)
 *   embed.text      dummy embedder (in process)              onnxruntime-node towers
 *   embed.image     dummy embedder (in process)              onnxruntime-node towers
 *   score           ─                                        onnxruntime-node Gemm+TopK
 *   metrics         ─                                        official metric code
 *
 * Loading: the CLI imports this module for every command, so it holds no stage code itself. Each
 * runner is `lazy(() => import('./x/runner.js'), (m) => m.theRunner)`: the module (and the heavy
 * native modules it imports: sharp, onnxruntime-node, execa) loads only when a stage of that kind
 * runs. A new stage or backend adds one `lazy(...)` entry here, never a static import. The CLI's own
 * commands that use stage code (evaluate, export, tokenize) reach it through `TOOLS` below, the same
 * way. test/cli/lazy-load.test.ts asserts what each command loads.
 */

import { failure } from '../runner/contract/failure.js';
import type { StageRunner } from '../runner/contract/run.js';
import type {
  Pipeline,
  ShardUnit,
  StageDefinition,
  StageKind,
  StageNodeSpec,
  StageResource,
} from '../runner/contract/stage.js';
import type { DoctorCheck as RunnerDoctorCheck } from '../runner/doctor/checks.js';
import { dispatchesToWorkers } from '../runner/exec/worker-mark.js';
import type { PlannedStage } from '../runner/plan/types.js';
import { isJsonObject } from '../runner/util/json.js';
import { err } from '../runner/util/result.js';
import { type RunnableBackends, resolveFacts } from './fingerprints.js';
import { HTTP_BACKENDS, isHttpBackend } from './mllm/backends.js';
import { chainFor, datasetLabel, type PointFacts } from './pipeline.js';

// For the CLI (`plan`'s CPU note; `doctor`'s checks are `doctorChecks` below): it reaches stage code only through here.
export { cpuDiffusionNote } from './diffusion/plan-checks.js';

/**
 * A runner whose module is imported on first use. `load` is `() => import('./x/runner.js')`; `pick`
 * takes the runner out of the module. The import happens once per process (the promise is kept).
 */
export function lazy<M>(load: () => Promise<M>, pick: (m: M) => StageRunner): StageRunner {
  let runner: Promise<StageRunner> | undefined;
  return async (ctx) => {
    runner ??= load().then(pick);
    return (await runner)(ctx);
  };
}

/** The backend a node runs on: `model.backend` for model stages, `params.backend` for embeddings. */
function backendOf(ctx: Parameters<StageRunner>[0]): string {
  const m = ctx.record.model;
  if (isJsonObject(m) && typeof m.backend === 'string') return m.backend;
  return typeof ctx.node.params.backend === 'string' ? ctx.node.params.backend : 'unknown';
}

/** The runner for a backend that this version of pefuse cannot run: a `not-implemented` failure. */
function notAvailable(kind: StageKind, available: readonly string[]): StageRunner {
  return async (ctx) =>
    err(
      failure(
        'not-implemented',
        `${kind} with backend "${backendOf(ctx)}" is not available in this version of pefuse (available: ${available.join(', ')}); use backend: dummy to try the pipeline`,
      ),
    );
}

// Worker-backed runners stay marked as such through the lazy wrapper (`dispatchesToWorkers`), so a
// granted GPU keeps the workers parked there for them.
const dummyRunners = () => import('./dummy/runners.js');
const dummyMllmCompose = dispatchesToWorkers(lazy(dummyRunners, (m) => m.dummyMllmCompose));
const dummyMllmCaption = dispatchesToWorkers(lazy(dummyRunners, (m) => m.dummyMllmCaption));
const dummyDiffusion = dispatchesToWorkers(lazy(dummyRunners, (m) => m.dummyDiffusion));
const diffusersRunner = dispatchesToWorkers(
  lazy(
    () => import('./diffusion/runner.js'),
    (m) => m.diffusersRunner,
  ),
);
const dummyEmbed = () => import('./dummy/embed.js');
const onnxEmbed = () => import('./embed/runner.js');
const synthetic = lazy(
  () => import('./datasets/synthetic/runner.js'),
  (m) => m.syntheticDatasetRunner,
);
const transformersMllmRunner = dispatchesToWorkers(
  lazy(
    () => import('./mllm/transformers.js'),
    (m) => m.transformersMllmRunner,
  ),
);
const benchmark = lazy(
  () => import('./datasets/runner.js'),
  (m) => m.benchmarkDatasetRunner,
);

const httpMllm = lazy(
  () => import('./mllm/runner.js'),
  (m) => m.httpMllmRunner,
);
const rawCompose = lazy(
  () => import('./mllm/raw.js'),
  (m) => m.rawComposeRunner,
);

/** Model stages hold a GPU, except the dummy backends, which are plain CPU programs. */
const gpuUnlessDummy = (node: StageNodeSpec): StageResource => (node.backend === 'dummy' ? 'cpu' : 'gpu');

/** MLLM stages: HTTP backends hold a share of their endpoint's request window (the server has the GPU). */
const mllmResource = (node: StageNodeSpec): StageResource => {
  const b = typeof node.settings.backend === 'string' ? node.settings.backend : node.backend;
  if (isHttpBackend(b)) return 'http';
  return b === 'dummy' || b === 'raw' ? 'cpu' : 'gpu';
};

/** MLLM stages on a worker (dummy, transformers) split per item into shards; HTTP and raw ones do not. */
const mllmShards = (node: StageNodeSpec): ShardUnit => {
  const b = typeof node.settings.backend === 'string' ? node.settings.backend : node.backend;
  return b === 'dummy' || b === 'transformers' ? 'item' : 'none';
};

/** Embeddings: the dummy embedder journals chunks of rows in a shard, the ONNX runner every item. */
const embedShards = (node: StageNodeSpec): ShardUnit =>
  node.params.backend === 'dummy' ? 'chunk' : node.params.backend === 'onnx' ? 'item' : 'none';

const HTTP_MLLM: Record<string, StageRunner> = Object.fromEntries(HTTP_BACKENDS.map((b) => [b, httpMllm]));

const byBackend =
  (kind: StageKind, runners: Record<string, StageRunner>): StageRunner =>
  (ctx) =>
    (runners[backendOf(ctx)] ?? notAvailable(kind, Object.keys(runners)))(ctx);

/** Model-stage runners by backend; every other backend fails with `not-implemented` (and plan warns). */
const MLLM_COMPOSE: Record<string, StageRunner> = {
  dummy: dummyMllmCompose,
  raw: rawCompose,
  transformers: transformersMllmRunner,
  ...HTTP_MLLM,
};
const MLLM_CAPTION: Record<string, StageRunner> = {
  dummy: dummyMllmCaption,
  transformers: transformersMllmRunner,
  ...HTTP_MLLM,
};
const DIFFUSION_EDIT: Record<string, StageRunner> = { dummy: dummyDiffusion, diffusers: diffusersRunner };

/** What `resolveFacts` warns about at plan time: the backends these runner maps serve. */
export const RUNNABLE_BACKENDS: RunnableBackends = {
  // raw serves compose only; planning rejects it where captions are needed (stages/mllm/plan.ts).
  mllm: Object.keys(MLLM_COMPOSE),
  diffusion: Object.keys(DIFFUSION_EDIT),
};

const DEFINITIONS: StageDefinition[] = [
  {
    kind: 'dataset',
    implVersion: 1,
    description: 'load annotations, check images',
    resource: 'cpu',
    run: (ctx) => (ctx.node.params.name === 'synthetic' ? synthetic(ctx) : benchmark(ctx)),
  },
  {
    kind: 'mllm.compose',
    implVersion: 1,
    description: 'MLLM: reference image + text → target description',
    resource: 'gpu',
    resourceOf: mllmResource,
    shardUnit: mllmShards,
    // Worker backends (dummy, transformers) keep their workers parked on the GPU across a sweep.
    run: dispatchesToWorkers(byBackend('mllm.compose', MLLM_COMPOSE)),
  },
  {
    kind: 'mllm.caption',
    implVersion: 1,
    description: 'MLLM: gallery image → caption',
    resource: 'gpu',
    resourceOf: mllmResource,
    shardUnit: mllmShards,
    run: dispatchesToWorkers(byBackend('mllm.caption', MLLM_CAPTION)),
  },
  {
    kind: 'diffusion.edit',
    implVersion: 1,
    description: 'diffusion: reference image + text → target image',
    resource: 'gpu',
    resourceOf: gpuUnlessDummy,
    shardUnit: () => 'item',
    // Every diffusion backend is a worker: a guidance sweep reuses the workers parked on the GPU.
    run: dispatchesToWorkers(byBackend('diffusion.edit', DIFFUSION_EDIT)),
  },
  {
    kind: 'embed.text',
    implVersion: 1,
    description: 'retrieval model: text → L2-normalised vector',
    resource: 'cpu',
    shardUnit: embedShards,
    run: byBackend('embed.text', {
      dummy: lazy(dummyEmbed, (m) => m.dummyEmbedTextRunner),
      onnx: lazy(onnxEmbed, (m) => m.embedTextRunner),
    }),
  },
  {
    kind: 'embed.image',
    implVersion: 1,
    description: 'retrieval model: image → L2-normalised vector',
    resource: 'cpu',
    shardUnit: embedShards,
    run: byBackend('embed.image', {
      dummy: lazy(dummyEmbed, (m) => m.dummyEmbedImageRunner),
      onnx: lazy(onnxEmbed, (m) => m.embedImageRunner),
    }),
  },
  {
    kind: 'score',
    implVersion: 1,
    description: 'cosine top-K with dataset rules',
    resource: 'cpu',
    // Chunks of queries (the GEMM batches); GeneCIS ranks per-sample galleries whole.
    shardUnit: (node) => (node.params.rules === 'genecis' ? 'none' : 'chunk'),
    run: lazy(
      () => import('./score/runner.js'),
      (m) => m.runScore,
    ),
  },
  {
    // 2: per-query values (`per_query`) for the report's bootstrap intervals; CIRCO also records mAP@1.
    kind: 'metrics',
    implVersion: 2,
    description: 'official metrics',
    resource: 'none',
    run: lazy(
      () => import('./metrics/runner.js'),
      (m) => m.metricsRunner,
    ),
  },
];

export function definitions(): ReadonlyMap<StageKind, StageDefinition> {
  return new Map(DEFINITIONS.map((d) => [d.kind, d]));
}

export function createPipeline(): Pipeline<PointFacts> {
  return {
    definitions: definitions(),
    facts: (configs, ctx) => resolveFacts(configs, ctx, RUNNABLE_BACKENDS),
    chain: chainFor,
    unresolved: (facts) => facts.unresolved,
    datasetLabel,
  };
}

/**
 * Stage code the CLI's commands use directly (evaluate and export read rankings and compute metrics,
 * tokenize runs the tokenizers): loaded on first use, like the runners above.
 */
export const TOOLS = {
  metrics: () => import('./metrics/tools.js'),
  tokenizer: () => import('./embed/tokenizer/tools.js'),
};

/**
 * `pefuse doctor SPEC`: the checks the planned stages call for: each MLLM server's /v1/models, and the
 * diffusers worker's Python (torch, diffusers, CUDA) when a stage runs on it.
 */
export async function doctorChecks(
  nodes: readonly StageNodeSpec[],
  env: NodeJS.ProcessEnv,
): Promise<RunnerDoctorCheck[]> {
  const { mllmServerChecks } = await import('./mllm/doctor.js');
  const checks: RunnerDoctorCheck[] = [...mllmServerChecks(nodes, env)];
  if (nodes.some((n) => n.kind === 'diffusion.edit' && n.backend.startsWith('diffusers')))
    checks.push({
      group: 'python worker (diffusers)',
      async run() {
        const { diffusionDoctor } = await import('./diffusion/doctor.js');
        const d = await diffusionDoctor(env);
        return d.checks.map((c) => ({
          name: c.name,
          status: c.status,
          detail: c.hint ? `${c.message}; ${c.hint}` : c.message,
        }));
      },
    });
  if (nodes.some((n) => n.kind.startsWith('mllm.') && n.settings.backend === 'transformers'))
    checks.push({
      group: 'python worker (mllm transformers)',
      async run() {
        const { mllmPythonChecks } = await import('./mllm/probe.js');
        return (await mllmPythonChecks(env)).map((r) => ({
          name: r.name,
          status: r.status,
          detail: r.detail,
        }));
      },
    });
  return checks;
}

/** `pefuse plan --show-prompt`: the MLLM templates of a plan, rendered for a query (loads the loaders). */
export async function showPrompts(stages: readonly PlannedStage[]): Promise<string> {
  const { promptPreviews } = await import('./mllm/preview.js');
  return promptPreviews(stages);
}
