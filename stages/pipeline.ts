/**
 * The pipeline: for one sweep point, the conversion mode selects a chain of stages (architecture §3).
 * Each node carries ONLY the parameters its stage declares, so work shared across points (a gallery
 * embedding under a temperature sweep, MLLM outputs under a backbone sweep) gets the same key and is
 * planned once.
 *
 *   t2i: dataset ─▶ mllm.compose ─▶ embed.text  ─┐
 *        dataset ─▶ embed.image (gallery) ───────┴▶ score ─▶ metrics
 *   i2i: dataset ─▶ [mllm.compose ─▶] diffusion.edit ─▶ embed.image ─┐
 *        dataset ─▶ embed.image (gallery) ──────────────────────────┴▶ score ─▶ metrics
 *   t2t: dataset ─▶ mllm.compose ─▶ embed.text ─┐
 *        dataset ─▶ mllm.caption ─▶ embed.text ─┴▶ score ─▶ metrics
 *   i2t: dataset ─▶ [mllm.compose ─▶] diffusion.edit ─▶ embed.image ─┐
 *        dataset ─▶ mllm.caption ─▶ embed.text ─────────────────────┴▶ score ─▶ metrics
 */
import type { StageNodeSpec, Unresolved } from '../runner/contract/stage.js';
import type { PointConfig } from '../runner/spec/types.js';
import type { JsonObject, JsonValue } from '../runner/util/json.js';
import { DEFAULT_SPLIT, MLLM_DEFAULTS, MLLM_ENDPOINT_DEFAULTS, SCORE_DEFAULTS } from './defaults.js';
import { checkpointOf, diffusionNodeParams } from './diffusion/params.js';
import type { PromptFact } from './mllm/plan.js';
import { serverSettings } from './mllm/server-config.js';

/** Plan-time facts about external inputs, resolved once per distinct input (see fingerprints.ts). */
export interface PointFacts {
  /** Dataset content identity (annotation-file hash) and sizes. */
  dataset: {
    data: JsonValue;
    queries: number | null;
    gallery: number | null;
    root: string | null;
    images: string | null;
    /** Why the dataset did not resolve (its root is not there, its gallery cannot be built). */
    unresolved: Unresolved | null;
  };
  /** Prompt templates (hash for the key, text for the runner): compose, caption. */
  prompts: { compose: PromptFact; caption: PromptFact };
  /** Retrieval model identity (ONNX file hashes, or the dummy's name). */
  retrieval: JsonValue;
  /** Absolute model folder (null for the dummy). */
  retrievalDir: string | null;
  /** The fake diffusion pipeline injected for tests (`PEFUSE_DIFFUSION_FAKE`), or null. */
  diffusionFake: string | null;
  /** What did not resolve for this point (the dataset, the retrieval model): empty when all did. */
  unresolved: Unresolved[];
  /** The fake MLLM class injected for tests (`PEFUSE_MLLM_FAKE`, backend transformers), or null. */
  mllmFake?: string | null;
}

export function datasetParams(d: PointConfig['dataset']): JsonObject {
  const p: JsonObject = { name: d.name, split: d.split ?? DEFAULT_SPLIT };
  if (d.category !== undefined) p.category = d.category;
  if (d.task !== undefined) p.task = d.task;
  if (d.limit !== undefined) p.limit = d.limit;
  if (d.name === 'synthetic') {
    p.seed = d.seed ?? 0;
    p.n_gallery = d.n_gallery ?? 240;
    p.n_queries = d.n_queries ?? 80;
  }
  return p;
}

/** A readable dataset label for plans and reports: `circo/val`, `fashioniq/val/dress`. */
export function datasetLabel(d: PointConfig['dataset']): string {
  return [d.name, d.split ?? DEFAULT_SPLIT, d.category ?? d.task].filter((x) => x !== undefined).join('/');
}

/**
 * Per-object memos for planning large sweeps: points share their `dataset` and `retrieval` blocks by
 * reference unless a sweep changes them, so the nodes and params built from those blocks are built once
 * and shared (the key builder then caches their canonical text by identity). Nodes are never mutated.
 */
const datasetNodes = new WeakMap<object, { facts: PointFacts['dataset']; node: StageNodeSpec }>();
const embedParams = new WeakMap<object, JsonObject>();

function datasetNode(c: PointConfig, ds: PointFacts['dataset']): StageNodeSpec {
  const hit = datasetNodes.get(c.dataset);
  if (hit && hit.facts === ds) return hit.node;
  const node: StageNodeSpec = {
    kind: 'dataset',
    role: 'dataset',
    params: datasetParams(c.dataset),
    model: null,
    data: ds.data,
    inputs: {},
    items: null,
    backend: c.dataset.name === 'synthetic' ? 'synthetic' : 'loader',
    settings: compact({ root: ds.root ?? undefined, images: ds.images ?? undefined }),
  };
  datasetNodes.set(c.dataset, { facts: ds, node });
  return node;
}

export function chainFor(c: PointConfig, facts: PointFacts): StageNodeSpec[] {
  const nodes: StageNodeSpec[] = [];
  const ds = facts.dataset;
  nodes.push(datasetNode(c, ds));
  const needsCompose =
    c.mode === 't2i' ||
    c.mode === 't2t' ||
    ((c.mode === 'i2i' || c.mode === 'i2t') && c.diffusion?.text === 'mllm');
  if (needsCompose && c.mllm)
    nodes.push(mllmNode('mllm.compose', 'query-text', c, facts.prompts.compose, ds.queries, facts.mllmFake));
  const imageQuery = c.mode === 'i2i' || c.mode === 'i2t';
  if (imageQuery && c.diffusion) nodes.push(diffusionNode(c, ds.queries, facts.diffusionFake));
  const retrievalModel = facts.retrieval;
  const retrievalDir = facts.retrievalDir;
  const rb = c.retrieval.backend === 'dummy' ? 'dummy' : c.retrieval.model;
  nodes.push(
    imageQuery
      ? embedNode(
          'embed.image',
          'query-embed',
          { images: 'query-image' },
          retrievalModel,
          retrievalDir,
          c,
          rb,
          ds.queries,
        )
      : embedNode(
          'embed.text',
          'query-embed',
          { texts: 'query-text' },
          retrievalModel,
          retrievalDir,
          c,
          rb,
          ds.queries,
        ),
  );
  const textGallery = c.mode === 't2t' || c.mode === 'i2t';
  if (textGallery && c.mllm) {
    nodes.push(
      mllmNode('mllm.caption', 'gallery-caption', c, facts.prompts.caption, ds.gallery, facts.mllmFake),
    );
    nodes.push(
      embedNode(
        'embed.text',
        'gallery-embed',
        { texts: 'gallery-caption' },
        retrievalModel,
        retrievalDir,
        c,
        rb,
        ds.gallery,
      ),
    );
  } else {
    nodes.push(
      embedNode(
        'embed.image',
        'gallery-embed',
        { gallery: 'dataset' },
        retrievalModel,
        retrievalDir,
        c,
        rb,
        ds.gallery,
      ),
    );
  }
  nodes.push({
    kind: 'score',
    role: 'score',
    params: { k: c.score?.k ?? SCORE_DEFAULTS.k, rules: c.dataset.name },
    model: null,
    data: null,
    inputs: { dataset: 'dataset', queries: 'query-embed', gallery: 'gallery-embed' },
    items: ds.queries,
    backend: 'onnxruntime',
    settings: {},
  });
  nodes.push({
    kind: 'metrics',
    role: 'metrics',
    params: { dataset: c.dataset.name, split: c.dataset.split ?? DEFAULT_SPLIT },
    model: null,
    data: null,
    inputs: { dataset: 'dataset', score: 'score' },
    items: null,
    backend: 'official',
    settings: {},
  });
  return nodes;
}

function mllmNode(
  kind: 'mllm.compose' | 'mllm.caption',
  role: string,
  c: PointConfig,
  prompt: PromptFact,
  items: number | null,
  fake: string | null = null,
): StageNodeSpec {
  const m = c.mllm!;
  if (m.backend === 'raw') {
    // No model and no sampling: every point of a dataset shares the one raw-text stage.
    return {
      kind,
      role,
      params: {},
      model: interned({ backend: 'raw' }),
      data: null,
      inputs: { dataset: 'dataset' },
      items,
      backend: 'raw',
      settings: { backend: 'raw' },
    };
  }
  const params: JsonObject = {
    temperature: m.temperature ?? MLLM_DEFAULTS.temperature,
    top_p: m.top_p ?? MLLM_DEFAULTS.top_p,
    top_k: m.top_k ?? MLLM_DEFAULTS.top_k,
    repetition_penalty: m.repetition_penalty ?? MLLM_DEFAULTS.repetition_penalty,
    max_tokens: m.max_tokens ?? MLLM_DEFAULTS.max_tokens,
    seed: c.seed,
  };
  // Output-changing options enter the key only when set, so stages keyed before they existed keep their keys.
  if (m.descriptions !== undefined && m.descriptions !== 1) params.descriptions = m.descriptions;
  if (m.max_image_side !== undefined) params.max_image_side = m.max_image_side;
  if (m.extra_body !== undefined && Object.keys(m.extra_body).length > 0) params.extra_body = m.extra_body;
  // Batching changes outputs (one RNG per batch): in the key, but only when on, so older keys stay.
  if (m.backend === 'transformers' && m.batch_size !== undefined && m.batch_size > 1)
    params.batch_size = m.batch_size;
  // A fake model (test option, stages/mllm/transformers.ts) is part of the model: never a real cache hit.
  const faked = m.backend === 'transformers' && fake !== null ? fake : undefined;
  const model = interned({ backend: m.backend, model: m.model, revision: m.revision, fake: faked });
  const http = m.backend in MLLM_ENDPOINT_DEFAULTS;
  // A server pefuse starts (mllm.server): no endpoint; the group id is the request-window key.
  const server = http ? serverSettings(m) : null;
  return {
    kind,
    role,
    params,
    model,
    data: interned({ prompt: prompt.hash }),
    inputs: { dataset: 'dataset' },
    items,
    backend: m.backend === 'dummy' ? 'dummy' : `${m.backend}${faked !== undefined ? '-fake' : ''}:${m.model}`,
    // Not in the key: where the server is, how long to wait, how many requests in flight, the key's variable.
    settings: compact({
      endpoint:
        http && server === null
          ? (m.endpoint ?? MLLM_ENDPOINT_DEFAULTS[m.backend as keyof typeof MLLM_ENDPOINT_DEFAULTS])
          : m.endpoint,
      ...(server ?? {}),
      timeout_s: m.timeout_s,
      concurrency: m.concurrency,
      api_key_env: m.api_key_env,
      model: m.model,
      backend: m.backend,
      prompt: prompt.text,
      prompt_file: prompt.file,
    }),
  };
}

function diffusionNode(c: PointConfig, items: number | null, fake: string | null): StageNodeSpec {
  const d = c.diffusion!;
  const params = diffusionNodeParams(d, c.seed);
  // A fake pipeline (test option, stages/diffusion/runner.ts) is part of the model: never a real cache hit.
  const real = d.backend !== 'dummy';
  const model = interned({
    backend: d.backend,
    pipeline: d.pipeline,
    model: real ? checkpointOf(d) : d.model,
    revision: d.revision,
    fake: real && fake !== null ? fake : undefined,
  });
  const inputs: Record<string, string> = { dataset: 'dataset' };
  if (params.text === 'mllm') inputs.texts = 'query-text';
  return {
    kind: 'diffusion.edit',
    role: 'query-image',
    params,
    model,
    data: null,
    inputs,
    items,
    backend: !real ? 'dummy' : `${d.backend}${fake !== null ? '-fake' : ''}:${d.pipeline}`,
    settings: compact({ model: d.model, revision: d.revision }),
  };
}

function embedNode(
  kind: 'embed.text' | 'embed.image',
  role: string,
  inputs: Record<string, string>,
  model: JsonValue,
  modelDir: string | null,
  c: PointConfig,
  backend: string,
  items: number | null,
): StageNodeSpec {
  let params = embedParams.get(c.retrieval);
  if (!params) {
    params = { backend: c.retrieval.backend, model: c.retrieval.model };
    embedParams.set(c.retrieval, params);
  }
  return {
    kind,
    role,
    params,
    model,
    data: null,
    inputs,
    items,
    backend,
    settings: compact({
      model_dir: modelDir ?? undefined,
      batch_size: c.retrieval.batch_size,
      device: c.retrieval.device,
    }),
  };
}

/** Drops undefined values (settings are plain JSON). */
function compact(o: Record<string, JsonValue | undefined>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * One shared object per distinct small identity record (model ids, prompt hashes): thousands of points
 * then hand the key builder the same object, whose canonical text it caches by identity.
 */
const internTable = new Map<string, JsonObject>();
function interned(o: Record<string, JsonValue | undefined>): JsonObject {
  const c = compact(o);
  const id = JSON.stringify(c);
  let hit = internTable.get(id);
  if (!hit) {
    hit = c;
    internTable.set(id, c);
  }
  return hit;
}
