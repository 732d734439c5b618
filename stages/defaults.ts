/**
 * Defaults filled into every point before keys are computed, so that leaving a parameter out and
 * writing its default give the same key. Values follow the paper's base settings (Sec. 4.1, 4.5).
 */
export const MLLM_DEFAULTS = {
  temperature: 0.1,
  top_p: 0.9,
  top_k: 50,
  repetition_penalty: 1.0,
  max_tokens: 128,
} as const;

export const DIFFUSION_DEFAULTS = {
  text: 'caption',
  guidance_scale: 7.5,
  image_guidance_scale: 3.0,
  steps: 30,
  size: 768,
  dtype: 'bf16',
} as const;

/** SDXL-Turbo image-to-image: strength × steps = effective steps (Sec. 5); trained at 512×512. */
export const TURBO_DEFAULTS = { strength: 0.5, guidance_scale: 0.0, steps: 60, size: 512 } as const;

/** `pipeline: generic` (any image-to-image checkpoint through AutoPipelineForImage2Image). */
export const GENERIC_DIFFUSION_DEFAULTS = { strength: 0.8, size: 512 } as const;

/** Checkpoints used when `diffusion.model` is left out (generic has none: it needs a model). */
export const DIFFUSION_MODEL_DEFAULTS = {
  'sdxl-instructpix2pix': 'diffusers/sdxl-instructpix2pix-768',
  'sdxl-turbo': 'stabilityai/sdxl-turbo',
} as const;

export const SCORE_DEFAULTS = { k: 50 } as const;

export const DEFAULT_SPLIT = 'val';

/** Where each HTTP MLLM backend listens when `mllm.endpoint` is not given (each server's own default). */
export const MLLM_ENDPOINT_DEFAULTS = {
  vllm: 'http://localhost:8000/v1',
  sglang: 'http://localhost:30000/v1',
  ollama: 'http://localhost:11434/v1',
  openai: 'https://api.openai.com/v1',
} as const;

/** Seconds to wait for one MLLM answer before retrying (`mllm.timeout_s`). */
export const MLLM_TIMEOUT_S = 300;

/**
 * `mllm.server`: servers pefuse starts. The default commands pin what the paper's settings need: the
 * model's generation_config.json never replaces a request's
 * sampling fields (`--generation-config vllm`, SGLang `--sampling-defaults openai`), bf16 weights, a
 * fixed engine seed, one image and no video per prompt, a context that fits prompt + image + answer;
 * loopback only. None of it is in the stage key (see README "MLLM servers pefuse starts").
 */
export const MLLM_SERVER_DEFAULTS = {
  host: '127.0.0.1',
  gpus_per_server: 1,
  startup_timeout_s: 1800,
  max_restarts: 3,
  /** Seconds between SIGTERM and SIGKILL when a server is stopped. */
  stop_grace_s: 30,
} as const;

export const MLLM_SERVER_COMMANDS: Readonly<Record<'vllm' | 'sglang', readonly string[]>> = {
  vllm: [
    'vllm',
    'serve',
    '{model}',
    '--host',
    '{host}',
    '--port',
    '{port}',
    '--tensor-parallel-size',
    '{gpus_per_server}',
    '--dtype',
    'bfloat16',
    '--seed',
    '0',
    '--generation-config',
    'vllm',
    '--limit-mm-per-prompt',
    '{"image":1,"video":0}',
    '--max-model-len',
    '8192',
  ],
  sglang: [
    'python3',
    '-m',
    'sglang.launch_server',
    '--model-path',
    '{model}',
    '--host',
    '{host}',
    '--port',
    '{port}',
    '--tp',
    '{gpus_per_server}',
    '--random-seed',
    '0',
    '--sampling-defaults',
    'openai',
  ],
};
