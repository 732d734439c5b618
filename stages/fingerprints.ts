/**
 * Plan-time facts about external inputs, resolved once per distinct input and shared by all points:
 * the annotation-file hash and sizes of each dataset, prompt template hashes, retrieval model identity.
 * A dataset root or model folder that does not exist yet is a warning (the plan still works, so specs
 * can be checked on a laptop without the data); a malformed annotation file is an error.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PlanContext, Unresolved } from '../runner/contract/stage.js';
import { type Diagnostic, diag, type SourceSpan } from '../runner/diagnostics/diagnostic.js';
import { requiredBlocks } from '../runner/spec/semantic.js';
import type { DatasetSpec, PointConfig } from '../runner/spec/types.js';
import { canonicalJson, type JsonValue } from '../runner/util/json.js';
import type { DatasetName } from './contracts.js';
import {
  SYNTHETIC_DEFAULTS,
  SYNTHETIC_GENERATOR_VERSION,
  SYNTHETIC_LIMITS,
} from './datasets/synthetic/generate.js';
import type { BenchmarkName, FashionIqCategory, GenecisTask } from './datasets/types.js';
import { SCORE_DEFAULTS } from './defaults.js';
import { diffusionFakeOf } from './diffusion/params.js';
import { checkDiffusion } from './diffusion/plan-checks.js';
import { deepestMetricNames, metricDepth } from './metrics/ks.js';
import { PromptFacts } from './mllm/plan.js';
import { checkMllmBatch, mllmFakeOf } from './mllm/transformers-plan.js';
import type { PointFacts } from './pipeline.js';

export async function resolveFacts(
  configs: readonly PointConfig[],
  ctx: PlanContext,
  runnable: RunnableBackends,
): Promise<{ facts: PointFacts[]; diagnostics: Diagnostic[] }> {
  const diagnostics: Diagnostic[] = [];
  const datasets = new Map<string, Promise<PointFacts['dataset']>>();
  const prompts = new PromptFacts(ctx, diagnostics);
  const models = new Map<string, Promise<{ id: JsonValue; unresolved: Unresolved | null }>>();
  const out: Promise<PointFacts>[] = [];
  const datasetIndex = new Map<string, number>();
  const warned = new Set<string>();
  const diffusionFake = diffusionFakeOf(process.env, ctx.cwd);
  // Points share their dataset and retrieval blocks by reference unless a sweep changes them: their
  // canonical text is computed once per object, and points with the same inputs share one facts object.
  const canon = new WeakMap<object, string>();
  const canonOf = (o: object): string => {
    let t = canon.get(o);
    if (t === undefined) {
      t = canonicalJson(o as unknown as JsonValue);
      canon.set(o, t);
    }
    return t;
  };
  const shared = new Map<string, Promise<PointFacts>>();
  const mllmFake = mllmFakeOf(process.env, ctx.cwd);
  configs.forEach((c) => {
    checkBackends(c, ctx, runnable, warned, diagnostics);
    checkDiffusion(c, ctx, warned, diagnostics);
    checkMllmBatch(c, ctx, warned, diagnostics);
    checkScoreDepth(c, ctx, warned, diagnostics);
    const dk = canonOf(c.dataset);
    if (!datasets.has(dk)) {
      datasetIndex.set(dk, datasetIndex.size);
      datasets.set(dk, datasetFacts(c.dataset, datasetIndex.size - 1, ctx, diagnostics));
    }
    prompts.check(c);
    const { compose, caption } = prompts.of(c);
    const mk = canonOf(c.retrieval);
    if (!models.has(mk)) models.set(mk, retrievalIdentity(c.retrieval, ctx, diagnostics));
    const retrievalDir =
      c.retrieval.backend === 'dummy' || c.retrieval.model_dir === undefined
        ? null
        : userPath(c.retrieval.model_dir, ctx);
    const id = `${dk}\u0000${mk}\u0000${compose}\u0000${caption}\u0000${retrievalDir}`;
    let facts = shared.get(id);
    if (!facts) {
      const d = datasets.get(dk)!;
      const m = models.get(mk)!;
      facts = Promise.all([d, m]).then(([dataset, retrieval]) => ({
        dataset,
        retrievalDir,
        prompts: { compose, caption },
        retrieval: retrieval.id,
        unresolved: [dataset.unresolved, retrieval.unresolved].filter((u): u is Unresolved => u !== null),
        diffusionFake,
        mllmFake,
      }));
      shared.set(id, facts);
    }
    out.push(facts);
  });
  return { facts: await Promise.all(out), diagnostics };
}

/**
 * Model backends that have a stage runner in this version, as the catalog's runner maps say
 * (stages/catalog.ts `RUNNABLE_BACKENDS`): any other backend fails with `not-implemented` when its
 * stage runs, so planning warns about it.
 */
export type RunnableBackends = Record<'mllm' | 'diffusion', readonly string[]>;

/** A plan-time warning for each model backend that planning accepts but running cannot serve yet. */
function checkBackends(
  c: PointConfig,
  ctx: PlanContext,
  runnable: RunnableBackends,
  warned: Set<string>,
  diagnostics: Diagnostic[],
): void {
  // Only the blocks this point's mode uses: a fragment's diffusion block in a t2i spec runs nothing.
  const used = requiredBlocks(c.mode, c.diffusion?.text);
  for (const block of used) {
    const backend = c[block]?.backend;
    if (backend === undefined || runnable[block].includes(backend)) continue;
    const id = `${block}:${backend}`;
    if (warned.has(id)) continue;
    warned.add(id);
    diagnostics.push(
      diag(
        `backend "${backend}" is not available in this version of pefuse: its ${block === 'mllm' ? 'MLLM' : 'diffusion'} stages will fail when run`,
        ctx.spanOf([block, 'backend'], backend),
        {
          severity: 'warning',
          code: 'backend-unavailable',
          hint: 'use `backend: dummy` to try the pipeline end to end',
        },
      ),
    );
  }
}

/**
 * `score.k` below the deepest metric K would compute recall@50 from a top-20 list: silently wrong
 * numbers. A located error instead.
 */
function checkScoreDepth(
  c: PointConfig,
  ctx: PlanContext,
  warned: Set<string>,
  diagnostics: Diagnostic[],
): void {
  const k = c.score?.k ?? SCORE_DEFAULTS.k;
  const dataset = c.dataset.name as DatasetName;
  const need = metricDepth(dataset);
  if (k >= need) return;
  const id = `score.k:${c.dataset.name}:${k}`;
  if (warned.has(id)) return;
  warned.add(id);
  diagnostics.push(
    diag(
      `\`score.k\` is ${k}, but the ${c.dataset.name} metrics read the top ${need} (${deepestMetricNames(dataset)})`,
      ctx.spanOf(['score', 'k'], k),
      {
        hint: `set score.k to ${need} or more (the default is ${SCORE_DEFAULTS.k}); a shorter list would turn recall@${need} into recall@${k}`,
      },
    ),
  );
}

/**
 * The synthetic generator's ranges (SYNTHETIC_LIMITS), checked at plan time so that `validate` and
 * `plan` reject what `run` would. `index` counts distinct datasets; the list position is found by
 * matching the value (identical entries collapse into one distinct dataset).
 */
function checkSyntheticRanges(
  d: DatasetSpec,
  index: number,
  ctx: PlanContext,
  diagnostics: Diagnostic[],
): void {
  for (const k of ['n_gallery', 'n_queries'] as const) {
    const v = d[k];
    if (v === undefined) continue;
    const { min, max } = SYNTHETIC_LIMITS[k];
    if (Number.isInteger(v) && v >= min && v <= max) continue;
    let span = null;
    let i = index;
    for (; ctx.spanOf(['datasets', i]) !== null; i++) {
      span = ctx.spanOf(['datasets', i, k], v);
      if (span) break;
    }
    diagnostics.push(
      diag(
        `\`datasets[${span ? i : index}].${k}\` must be an integer from ${min} to ${max} (got ${v})`,
        span,
        {
          hint:
            k === 'n_gallery'
              ? `the synthetic generator draws one image per attribute combination; it has ${max}`
              : `the synthetic generator makes at most ${max} queries per split`,
        },
      ),
    );
  }
}

async function datasetFacts(
  d: DatasetSpec,
  index: number,
  ctx: PlanContext,
  diagnostics: Diagnostic[],
): Promise<PointFacts['dataset']> {
  if (d.name === 'synthetic') {
    checkSyntheticRanges(d, index, ctx, diagnostics);
    const n = d.n_queries ?? SYNTHETIC_DEFAULTS.n_queries;
    return {
      data: { generator: `synthetic/${SYNTHETIC_GENERATOR_VERSION}` },
      // `limit` keeps the first N queries (as the dataset stage does), so plan counts what will run.
      queries: d.limit !== undefined ? Math.min(d.limit, n) : n,
      gallery: d.n_gallery ?? SYNTHETIC_DEFAULTS.n_gallery,
      root: null,
      images: null,
      unresolved: null,
    };
  }
  const span = ctx.spanOf(['datasets', index, 'root']);
  const root = userPath(d.root ?? '.', ctx, span, diagnostics);
  const images =
    d.images !== undefined
      ? userPath(d.images, ctx, ctx.spanOf(['datasets', index, 'images']), diagnostics)
      : null;
  if (root === null || (d.images !== undefined && images === null))
    return { data: null, queries: null, gallery: null, root, images, unresolved: null };

  if (!existsSync(root)) {
    const variables = unsetVariables(span, ctx);
    diagnostics.push(
      diag(`dataset root not found: ${root}`, span, {
        severity: 'warning',
        code: 'dataset-root-missing',
        unresolved: 'missing',
        hint:
          variables.length > 0
            ? `${variables.map((v) => `$${v}`).join(', ')} ${variables.length === 1 ? 'is' : 'are'} not set, so the default was used; set it, or put the data there. Until then the points on this dataset are unresolved: \`pefuse run\` refuses them`
            : 'put the annotation files there (or fix the path). Until then the points on this dataset are unresolved: `pefuse run` refuses them',
      }),
    );
    return {
      data: { unresolved: root },
      queries: null,
      gallery: null,
      root,
      images,
      unresolved: { reason: `dataset root not found: ${root}`, path: root, variables, span },
    };
  }
  // The loaders (and the model identity below) load only for specs that use them.
  const { loadDataset } = await import('./datasets/index.js');
  const loaded = await loadDataset({
    dataset: d.name as BenchmarkName,
    split: d.split === 'test' || d.split === 'test1' ? 'test' : 'val',
    root,
    ...(d.category ? { category: d.category as FashionIqCategory } : {}),
    ...(d.task ? { task: d.task as GenecisTask } : {}),
    ...(images ? { imageRoot: images } : {}),
  });
  if (!loaded.ok) {
    diagnostics.push(diag(loaded.error.message, span, { hint: 'fix or re-download the annotation file' }));
    return { data: null, queries: null, gallery: null, root, images, unresolved: null };
  }
  // A gallery that cannot be built (or no queries) leaves nothing to compute: the points are unresolved
  // and the loader's warnings say why, before any other warning.
  const n = loaded.value.queries.length;
  const empty = !loaded.value.galleryKnown || loaded.value.gallery.length === 0 || n === 0;
  for (const w of loaded.value.warnings)
    diagnostics.push(
      diag(w, span, {
        severity: 'warning',
        code: `dataset:${w}`,
        ...(empty
          ? {
              unresolved: 'empty' as const,
              hint: 'nothing can be computed on this dataset until this is fixed: its points are unresolved and `pefuse run` refuses them',
            }
          : {}),
      }),
    );
  const unresolved: Unresolved | null = empty
    ? {
        reason:
          n === 0
            ? `${d.name} ${d.split ?? 'val'} has no queries under ${root}`
            : `the ${d.name} gallery cannot be built from ${root}`,
        path: root,
        variables: [],
        span,
      }
    : null;
  if (empty && loaded.value.warnings.length === 0)
    diagnostics.push(
      diag(`${unresolved!.reason}: its points are unresolved and will not run`, span, {
        severity: 'warning',
        unresolved: 'empty',
      }),
    );
  return {
    data: { annotations: `sha256:${loaded.value.contentHash}` },
    queries: d.limit !== undefined ? Math.min(d.limit, n) : n,
    gallery: loaded.value.gallery.length,
    root,
    images,
    unresolved,
  };
}

async function retrievalIdentity(
  r: PointConfig['retrieval'],
  ctx: PlanContext,
  diagnostics: Diagnostic[],
): Promise<{ id: JsonValue; unresolved: Unresolved | null }> {
  if (r.backend === 'dummy')
    return { id: { backend: 'dummy', model: 'dummy-embed', version: 1 }, unresolved: null };
  const span = ctx.spanOf(
    r.model_dir !== undefined ? ['retrieval', 'model_dir'] : ['retrieval', 'model'],
    r.model_dir ?? r.model,
  );
  if (r.model_dir?.startsWith('~') && !r.model_dir.startsWith('~/') && r.model_dir !== '~') {
    userPath(r.model_dir, ctx, span, diagnostics); // the located error
    return { id: null, unresolved: null };
  }
  const dir = r.model_dir !== undefined ? userPath(r.model_dir, ctx) : null;
  if (dir === null || !existsSync(dir)) {
    const variables = unsetVariables(span, ctx);
    diagnostics.push(
      diag(`retrieval model folder not found: ${dir ?? '(no retrieval.model_dir)'}`, span, {
        severity: 'warning',
        code: 'model-folder-missing',
        unresolved: 'missing',
        hint:
          (variables.length > 0
            ? `${variables.map((v) => `$${v}`).join(', ')} ${variables.length === 1 ? 'is' : 'are'} not set, so the default was used; set it, or export the model there`
            : 'export the towers with stages/embed/export_onnx.py') +
          '. Until then the points using this model are unresolved: `pefuse run` refuses them',
      }),
    );
    return {
      id: { backend: 'onnx', profile: r.model, unresolved: dir },
      unresolved: {
        reason: `retrieval model folder not found: ${dir ?? '(no retrieval.model_dir)'}`,
        ...(dir !== null ? { path: dir } : {}),
        variables,
        span,
      },
    };
  }
  const { modelIdentity } = await import('./embed/model/identity.js');
  const id = await modelIdentity(dir, { profile: r.model });
  if (!id.ok) {
    diagnostics.push(diag(`retrieval model folder ${dir}: ${id.error}`, span));
    return { id: null, unresolved: null };
  }
  return { id: id.value, unresolved: null };
}

/**
 * A path written in a spec, made absolute against the working directory, with `~` and `~/…` standing
 * for the home directory as in a shell. `~user/…` is refused (a located error): pefuse does not look up
 * other users' home directories.
 */
function userPath(p: string, ctx: PlanContext): string;
function userPath(
  p: string,
  ctx: PlanContext,
  span: SourceSpan | null,
  diagnostics: Diagnostic[],
): string | null;
function userPath(
  p: string,
  ctx: PlanContext,
  span?: SourceSpan | null,
  diagnostics?: Diagnostic[],
): string | null {
  if (p === '~' || p.startsWith('~/')) return join(ctx.env.HOME || homedir(), p.slice(1));
  if (p.startsWith('~') && diagnostics && span !== undefined) {
    const user = p.slice(1).split('/')[0];
    diagnostics.push(
      diag(`\`${p}\`: \`~${user}\` (another user's home directory) is not expanded`, span, {
        hint: 'write the full path, or `~/…` for your own home directory',
      }),
    );
    return null;
  }
  return resolve(ctx.cwd, p);
}

/** `${env:VAR}` variables written in the value at `span` that are unset (or empty) in the environment. */
function unsetVariables(span: SourceSpan | null, ctx: PlanContext): string[] {
  if (span === null) return [];
  const text = span.source.slice(span.start, span.end);
  const names = [...text.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
  return [...new Set(names)].filter((n) => !ctx.env[n]);
}
