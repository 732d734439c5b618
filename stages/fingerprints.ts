/**
 * Plan-time facts about external inputs, resolved once per distinct input and shared by all points:
 * the annotation-file hash and sizes of each dataset, prompt template hashes, retrieval model identity.
 * A dataset root or model folder that does not exist yet is a warning (the plan still works, so specs
 * can be checked on a laptop without the data); a malformed annotation file is an error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Diagnostic, diag } from '../runner/diagnostics/diagnostic.js';
import type { PlanContext } from '../runner/plan/stage.js';
import type { DatasetSpec, PointConfig } from '../runner/spec/types.js';
import { canonicalJson, type JsonValue, sha256Hex } from '../runner/util/json.js';
import type { DatasetName } from './contracts.js';
import { loadDataset } from './datasets/index.js';
import {
  SYNTHETIC_DEFAULTS,
  SYNTHETIC_GENERATOR_VERSION,
  SYNTHETIC_LIMITS,
} from './datasets/synthetic/generate.js';
import type { BenchmarkName, FashionIqCategory, GenecisTask } from './datasets/types.js';
import { SCORE_DEFAULTS } from './defaults.js';
import { diffusionFakeOf } from './diffusion/params.js';
import { checkDiffusion } from './diffusion/plan-checks.js';
import { modelIdentity } from './embed/model/identity.js';
import { deepestMetricNames, metricDepth } from './metrics/ks.js';
import { DEFAULT_CAPTION_PROMPT, DEFAULT_COMPOSE_PROMPT } from './mllm/prompts.js';
import { checkMllmBatch, mllmFakeOf } from './mllm/transformers-plan.js';
import type { PointFacts } from './pipeline.js';

export async function resolveFacts(
  configs: readonly PointConfig[],
  ctx: PlanContext,
  runnable: RunnableBackends,
): Promise<{ facts: PointFacts[]; diagnostics: Diagnostic[] }> {
  const diagnostics: Diagnostic[] = [];
  const datasets = new Map<string, Promise<PointFacts['dataset']>>();
  const prompts = new Map<string, string>();
  const models = new Map<string, Promise<JsonValue>>();
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
    const compose = promptHash(
      c.mllm?.prompt,
      DEFAULT_COMPOSE_PROMPT,
      ['mllm', 'prompt'],
      ctx,
      prompts,
      diagnostics,
    );
    const caption = promptHash(
      c.mllm?.caption_prompt,
      DEFAULT_CAPTION_PROMPT,
      ['mllm', 'caption_prompt'],
      ctx,
      prompts,
      diagnostics,
    );
    const mk = canonOf(c.retrieval);
    if (!models.has(mk)) models.set(mk, retrievalIdentity(c.retrieval, ctx, diagnostics));
    const retrievalDir =
      c.retrieval.backend === 'dummy' || c.retrieval.model_dir === undefined
        ? null
        : resolve(ctx.cwd, c.retrieval.model_dir);
    const id = `${dk}\u0000${mk}\u0000${compose}\u0000${caption}\u0000${retrievalDir}`;
    let facts = shared.get(id);
    if (!facts) {
      const d = datasets.get(dk)!;
      const m = models.get(mk)!;
      facts = Promise.all([d, m]).then(([dataset, retrieval]) => ({
        dataset,
        retrievalDir,
        prompts: { compose, caption },
        retrieval,
        diffusionFake,
        mllmFake,
      }));
      shared.set(id, facts);
    }
    out.push(facts);
  });
  return { facts: await Promise.all(out), diagnostics };
}

function promptHash(
  file: string | undefined,
  fallback: string,
  path: (string | number)[],
  ctx: PlanContext,
  cache: Map<string, string>,
  diagnostics: Diagnostic[],
): string {
  const id = file ?? '<default>';
  const hit = cache.get(id);
  if (hit) return hit;
  let text = fallback;
  if (file !== undefined) {
    const abs = ctx.resolveFrom(path, file);
    try {
      text = readFileSync(abs, 'utf8');
    } catch {
      diagnostics.push(
        diag(`prompt template not found: ${abs}`, ctx.spanOf(path, file), {
          hint: 'prompt paths are relative to the file that names them',
        }),
      );
    }
  }
  const h = `sha256:${sha256Hex(text)}`;
  cache.set(id, h);
  return h;
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
  for (const block of ['mllm', 'diffusion'] as const) {
    const backend = c[block]?.backend;
    if (backend === undefined || runnable[block].includes(backend)) continue;
    const id = `${block}:${backend}`;
    if (warned.has(id)) continue;
    warned.add(id);
    diagnostics.push(
      diag(
        `backend "${backend}" is not available in this version: its stages will fail with not-implemented; use backend: dummy to try the pipeline`,
        ctx.spanOf([block, 'backend'], backend),
        { severity: 'warning' },
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
    };
  }
  const root = resolve(ctx.cwd, d.root ?? '.');
  const images = d.images !== undefined ? resolve(ctx.cwd, d.images) : null;
  const span = ctx.spanOf(['datasets', index, 'root']);

  if (!existsSync(root)) {
    diagnostics.push(
      diag(`dataset root not found: ${root}`, span, {
        severity: 'warning',
        hint: 'the plan uses the path as the dataset identity; `pefuse run` needs the annotation files there',
      }),
    );
    return { data: { unresolved: root }, queries: null, gallery: null, root, images };
  }
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
    return { data: null, queries: null, gallery: null, root, images };
  }
  for (const w of loaded.value.warnings) diagnostics.push(diag(w, span, { severity: 'warning' }));
  const n = loaded.value.queries.length;
  return {
    data: { annotations: `sha256:${loaded.value.contentHash}` },
    queries: d.limit !== undefined ? Math.min(d.limit, n) : n,
    gallery: loaded.value.gallery.length,
    root,
    images,
  };
}

async function retrievalIdentity(
  r: PointConfig['retrieval'],
  ctx: PlanContext,
  diagnostics: Diagnostic[],
): Promise<JsonValue> {
  if (r.backend === 'dummy') return { backend: 'dummy', model: 'dummy-embed', version: 1 };
  const dir = r.model_dir !== undefined ? resolve(ctx.cwd, r.model_dir) : null;
  if (dir === null || !existsSync(dir)) {
    diagnostics.push(
      diag(
        `retrieval model folder not found: ${dir ?? '(no retrieval.model_dir)'}`,
        ctx.spanOf(
          r.model_dir !== undefined ? ['retrieval', 'model_dir'] : ['retrieval', 'model'],
          r.model_dir ?? r.model,
        ),
        {
          severity: 'warning',
          hint: 'export the towers with stages/embed/export_onnx.py; until then the key uses the profile name',
        },
      ),
    );
    return { backend: 'onnx', profile: r.model, unresolved: dir };
  }
  const id = await modelIdentity(dir, { profile: r.model });
  if (!id.ok) {
    diagnostics.push(
      diag(`retrieval model folder ${dir}: ${id.error}`, ctx.spanOf(['retrieval', 'model_dir'], r.model_dir)),
    );
    return null;
  }
  return id.value;
}
