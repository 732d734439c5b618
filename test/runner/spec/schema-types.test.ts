/**
 * spec.schema.json (what validates) and runner/spec/types.ts (what the planner assumes) checked against
 * each other, both ways. The records below are typed from types.ts with `satisfies`, so `tsc` (the
 * typecheck step of `npm test`) fails when a record lacks a key of a type or names one it does not
 * have; the tests then compare the same records with the schema. A field added to one side only fails
 * one of the two. (`npm run schema:check` runs exactly this.)
 */
import { describe, expect, it } from 'vitest';
import schema from '../../../runner/spec/spec.schema.json' with { type: 'json' };
import {
  type DatasetSpec,
  type DiffusionSpec,
  type MllmServerSpec,
  type MllmSpec,
  MODES,
  type Mode,
  type PointConfig,
  type RetrievalSpec,
  type SlurmSpec,
} from '../../../runner/spec/types.js';

/** How a field's TypeScript type reads: free string, closed set of strings, or number. */
type Kind<T> = [T] extends [string]
  ? string extends T
    ? 'string'
    : 'enum'
  : [T] extends [number]
    ? 'number'
    : [T] extends [boolean]
      ? 'boolean'
      : 'other';
type Shape<T> = { [K in keyof T]-?: Kind<NonNullable<T[K]>> };
// biome-ignore lint/complexity/noBannedTypes: `{}` is the empty object type this test needs
type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];
type Values<T extends string | undefined> = Record<NonNullable<T>, true>;

type ScoreSpec = NonNullable<PointConfig['score']>;

const SHAPES = {
  dataset: {
    name: 'string',
    split: 'string',
    category: 'string',
    task: 'string',
    root: 'string',
    images: 'string',
    seed: 'number',
    n_gallery: 'number',
    n_queries: 'number',
    limit: 'number',
  } satisfies Shape<DatasetSpec>,
  mllm: {
    backend: 'enum',
    model: 'string',
    revision: 'string',
    endpoint: 'string',
    api_key_env: 'string',
    prompt: 'other',
    caption_prompt: 'string',
    temperature: 'number',
    top_p: 'number',
    top_k: 'number',
    repetition_penalty: 'number',
    max_tokens: 'number',
    descriptions: 'number',
    max_image_side: 'number',
    extra_body: 'other',
    batch_size: 'number',
    timeout_s: 'number',
    concurrency: 'number',
    server: 'other',
  } satisfies Shape<MllmSpec>,
  diffusion: {
    backend: 'enum',
    pipeline: 'enum',
    model: 'string',
    revision: 'string',
    text: 'enum',
    guidance_scale: 'number',
    image_guidance_scale: 'number',
    steps: 'number',
    strength: 'number',
    size: 'number',
    dtype: 'enum',
  } satisfies Shape<DiffusionSpec>,
  retrieval: {
    backend: 'enum',
    model: 'string',
    model_dir: 'string',
    batch_size: 'number',
    device: 'enum',
  } satisfies Shape<RetrievalSpec>,
  score: { k: 'number' } satisfies Shape<ScoreSpec>,
  slurm: {
    partition: 'string',
    account: 'string',
    qos: 'string',
    time: 'string',
    gpus: 'number',
    gpu_type: 'string',
    cpus_per_task: 'number',
    mem: 'string',
    array_parallelism: 'number',
    shard_size: 'number',
    local_max_items: 'number',
    max_attempts: 'number',
    poll_s: 'number',
    sbatch_flags: 'other',
    setup: 'string',
  } satisfies Shape<SlurmSpec>,
};

/** `mllm.server`, an object inside the mllm block (inline in the schema so `--set` can validate it). */
const SERVER_SHAPE = {
  command: 'other',
  args: 'other',
  env: 'other',
  gpus_per_server: 'number',
  max_servers: 'number',
  port: 'number',
  startup_timeout_s: 'number',
  max_restarts: 'number',
} satisfies Shape<MllmServerSpec>;

const REQUIRED = {
  dataset: { name: true } satisfies Record<RequiredKeys<DatasetSpec>, true>,
  mllm: { backend: true } satisfies Record<RequiredKeys<MllmSpec>, true>,
  diffusion: { backend: true, pipeline: true } satisfies Record<RequiredKeys<DiffusionSpec>, true>,
  retrieval: { backend: true, model: true } satisfies Record<RequiredKeys<RetrievalSpec>, true>,
  score: {} satisfies Record<RequiredKeys<ScoreSpec>, true>,
  slurm: {} satisfies Record<RequiredKeys<SlurmSpec>, true>,
};

/** The closed sets of the `enum` fields (string fields the schema restricts but the type leaves open are not here). */
const ENUMS = {
  'mllm.backend': {
    vllm: true,
    sglang: true,
    ollama: true,
    openai: true,
    transformers: true,
    dummy: true,
    raw: true,
  } satisfies Values<MllmSpec['backend']>,
  'diffusion.backend': { diffusers: true, dummy: true } satisfies Values<DiffusionSpec['backend']>,
  'diffusion.pipeline': {
    'sdxl-instructpix2pix': true,
    'sdxl-turbo': true,
    generic: true,
    dummy: true,
  } satisfies Values<DiffusionSpec['pipeline']>,
  'diffusion.text': { caption: true, mllm: true } satisfies Values<DiffusionSpec['text']>,
  'diffusion.dtype': { fp16: true, bf16: true, fp32: true } satisfies Values<DiffusionSpec['dtype']>,
  'retrieval.backend': { onnx: true, dummy: true } satisfies Values<RetrievalSpec['backend']>,
  'retrieval.device': { auto: true, cpu: true, cuda: true } satisfies Values<RetrievalSpec['device']>,
  mode: { t2i: true, i2i: true, t2t: true, i2t: true } satisfies Values<Mode>,
};

interface PropSchema {
  type?: string | string[];
  enum?: unknown[];
}
interface Definition {
  properties: Record<string, PropSchema>;
  required?: string[];
}
const defs = schema.definitions as unknown as Record<string, Definition & PropSchema>;

/** A property schema read as a `Kind`: a string with `enum` is `enum` only where the type is closed too. */
function kindOf(p: PropSchema, typed: string): string {
  if (p.type === 'integer' || p.type === 'number') return 'number';
  if (p.type === 'boolean') return 'boolean';
  if (p.type === 'string') return p.enum && typed === 'enum' ? 'enum' : 'string';
  return 'other';
}

describe('spec.schema.json and runner/spec/types.ts agree', () => {
  for (const [block, shape] of Object.entries(SHAPES)) {
    it(`definitions.${block}: the same fields, kinds and required fields as the type`, () => {
      const def = defs[block]!;
      expect(Object.keys(def.properties).sort()).toEqual(Object.keys(shape).sort());
      for (const [key, typed] of Object.entries(shape)) {
        expect({ field: `${block}.${key}`, kind: kindOf(def.properties[key]!, typed) }).toEqual({
          field: `${block}.${key}`,
          kind: typed,
        });
      }
      expect([...(def.required ?? [])].sort()).toEqual(
        Object.keys(REQUIRED[block as keyof typeof REQUIRED]).sort(),
      );
    });
  }

  it('mllm.server: the same fields and kinds as MllmServerSpec, none required', () => {
    const def = defs.mllm!.properties.server as unknown as Definition;
    expect(Object.keys(def.properties).sort()).toEqual(Object.keys(SERVER_SHAPE).sort());
    for (const [key, typed] of Object.entries(SERVER_SHAPE))
      expect({ key, kind: kindOf(def.properties[key]!, typed) }).toEqual({ key, kind: typed });
    expect(def.required ?? []).toEqual([]);
  });

  it('every closed set of values is the same in both', () => {
    for (const [path, values] of Object.entries(ENUMS)) {
      const [block, key] = path.split('.');
      const p = key === undefined ? defs[block!]! : defs[block!]!.properties[key]!;
      expect({ path, values: [...(p.enum ?? [])].sort() }).toEqual({
        path,
        values: Object.keys(values).sort(),
      });
    }
    expect([...MODES].sort()).toEqual(Object.keys(ENUMS.mode).sort());
  });

  it('every string field the schema closes with an enum is closed in the type, or listed as open', () => {
    // Open in the type on purpose: dataset names/splits are checked per benchmark at plan time.
    const open = new Set(['dataset.split', 'dataset.category', 'dataset.task']);
    for (const [block, def] of Object.entries(defs)) {
      if (!(block in SHAPES)) continue;
      for (const [key, p] of Object.entries(def.properties)) {
        if (p.enum === undefined) continue;
        const path = `${block}.${key}`;
        expect({ path, covered: path in ENUMS || open.has(path) }).toEqual({ path, covered: true });
      }
    }
  });
});
