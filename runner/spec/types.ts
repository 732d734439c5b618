/**
 * The spec's TypeScript shape, mirroring spec.schema.json (the schema is what validates; these types
 * describe what the planner may then assume).
 */
export type Mode = 't2i' | 'i2i' | 't2t' | 'i2t';
export const MODES: readonly Mode[] = ['t2i', 'i2i', 't2t', 'i2t'];

export interface DatasetSpec {
  name: string;
  split?: string;
  category?: string;
  task?: string;
  root?: string;
  images?: string;
  seed?: number;
  n_gallery?: number;
  n_queries?: number;
  limit?: number;
}

export interface MllmSpec {
  backend: 'vllm' | 'sglang' | 'ollama' | 'openai' | 'transformers' | 'dummy' | 'raw';
  /** Required by the schema for every backend but `raw`. */
  model?: string;
  revision?: string;
  endpoint?: string;
  api_key_env?: string;
  /** One file, or one per dataset name. */
  prompt?: string | Record<string, string>;
  caption_prompt?: string;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  repetition_penalty?: number;
  max_tokens?: number;
  descriptions?: number;
  max_image_side?: number;
  extra_body?: Record<string, import('../util/json.js').JsonValue>;
  /** backend transformers: items per generate call (default 1: seeded per item). */
  batch_size?: number;
  timeout_s?: number;
  concurrency?: number;
  /** A server pefuse starts itself (execution only: not in the stage key). */
  server?: MllmServerSpec;
}

/** `mllm.server`: how pefuse starts, places and supervises the server (defaults in stages/defaults.ts). */
export interface MllmServerSpec {
  command?: string | string[];
  args?: string[];
  env?: Record<string, string>;
  gpus_per_server?: number;
  max_servers?: number;
  port?: number;
  startup_timeout_s?: number;
  max_restarts?: number;
}

export interface DiffusionSpec {
  backend: 'diffusers' | 'dummy';
  pipeline: 'sdxl-instructpix2pix' | 'sdxl-turbo' | 'generic' | 'dummy';
  model?: string;
  revision?: string;
  text?: 'caption' | 'mllm';
  guidance_scale?: number;
  image_guidance_scale?: number;
  steps?: number;
  strength?: number;
  size?: number;
  dtype?: 'fp16' | 'bf16' | 'fp32';
}

export interface RetrievalSpec {
  backend: 'onnx' | 'dummy';
  model: string;
  model_dir?: string;
  batch_size?: number;
  device?: 'auto' | 'cpu' | 'cuda';
}

/**
 * The `slurm:` block: how `pefuse run --executor slurm` submits stages. Execution, not configuration:
 * it is never part of a point's configuration, a stage key or a point id (runner/plan/points.ts).
 */
export interface SlurmSpec {
  partition?: string;
  account?: string;
  qos?: string;
  /** sbatch --time: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS. */
  time?: string;
  /** GPUs per GPU-stage shard (--gres=gpu:N). */
  gpus?: number;
  gpu_type?: string;
  cpus_per_task?: number;
  /** sbatch --mem, e.g. 16G. */
  mem?: string;
  /** `%N` of --array: shards of one stage running at once. */
  array_parallelism?: number;
  shard_size?: number;
  local_max_items?: number;
  max_attempts?: number;
  poll_s?: number;
  sbatch_flags?: string[];
  /** Shell lines run before each shard. */
  setup?: string;
}

/** The resolved configuration of one sweep point: what stages read their declared params from. */
export interface PointConfig {
  mode: Mode;
  dataset: DatasetSpec;
  mllm?: MllmSpec;
  diffusion?: DiffusionSpec;
  retrieval: RetrievalSpec;
  score?: { k?: number };
  seed: number;
  repeat: number;
}

/** Blocks whose properties can be swept by dotted path (`mllm.temperature`), plus top-level `mode`, `seed`. */
export const SWEEPABLE_BLOCKS = ['mllm', 'diffusion', 'retrieval', 'score'] as const;

export const DATASET_NAMES = ['fashioniq', 'cirr', 'circo', 'genecis', 'synthetic'] as const;
