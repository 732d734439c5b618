/**
 * What each diffusion pipeline reads, and the `diffusion.edit` node parameters of one point: every
 * parameter the chosen pipeline reads, defaults filled in (stages/defaults.ts), and nothing else, so a
 * parameter a pipeline ignores never splits its cache key.
 *
 *   pipeline              reads                                                   image to image
 *   sdxl-instructpix2pix  guidance_scale, image_guidance_scale, steps, size, dtype   no
 *   sdxl-turbo            guidance_scale, strength, steps, size, dtype               yes
 *   generic               guidance_scale, strength, steps, size, dtype               yes
 *   dummy                 guidance_scale, image_guidance_scale, steps (size, dtype kept in its key)
 */
import { isAbsolute, resolve } from 'node:path';
import type { DiffusionSpec } from '../../runner/spec/types.js';
import type { JsonObject } from '../../runner/util/json.js';
import {
  DIFFUSION_DEFAULTS,
  DIFFUSION_MODEL_DEFAULTS,
  GENERIC_DIFFUSION_DEFAULTS,
  TURBO_DEFAULTS,
} from '../defaults.js';

export type DiffusionPipeline = DiffusionSpec['pipeline'];

/** The spec parameters that tune a pipeline (the ones a pipeline may ignore). */
export const TUNING_PARAMS = [
  'guidance_scale',
  'image_guidance_scale',
  'strength',
  'steps',
  'size',
  'dtype',
] as const;
export type TuningParam = (typeof TUNING_PARAMS)[number];

export const PIPELINE_READS: Record<DiffusionPipeline, readonly TuningParam[]> = {
  'sdxl-instructpix2pix': ['guidance_scale', 'image_guidance_scale', 'steps', 'size', 'dtype'],
  'sdxl-turbo': ['guidance_scale', 'strength', 'steps', 'size', 'dtype'],
  generic: ['guidance_scale', 'strength', 'steps', 'size', 'dtype'],
  dummy: ['guidance_scale', 'image_guidance_scale', 'steps', 'size', 'dtype'],
};

/** Image-to-image pipelines run `int(steps × strength)` denoising steps. */
export function isImageToImage(p: DiffusionPipeline): boolean {
  return p === 'sdxl-turbo' || p === 'generic';
}

/** The checkpoint a point uses: `diffusion.model`, else the pipeline's default (generic has none). */
export function checkpointOf(d: DiffusionSpec): string | undefined {
  if (d.model !== undefined) return d.model;
  return d.pipeline === 'sdxl-instructpix2pix' || d.pipeline === 'sdxl-turbo'
    ? DIFFUSION_MODEL_DEFAULTS[d.pipeline]
    : undefined;
}

/** The `diffusion.edit` node params of one point (the key's params: defaults filled in). */
export function diffusionNodeParams(d: DiffusionSpec, seed: number): JsonObject {
  const p = d.pipeline;
  const turbo = p === 'sdxl-turbo';
  const generic = p === 'generic';
  const params: JsonObject = {
    pipeline: p,
    text: d.text ?? DIFFUSION_DEFAULTS.text,
    guidance_scale:
      d.guidance_scale ?? (turbo ? TURBO_DEFAULTS.guidance_scale : DIFFUSION_DEFAULTS.guidance_scale),
    steps: d.steps ?? (turbo ? TURBO_DEFAULTS.steps : DIFFUSION_DEFAULTS.steps),
    size:
      d.size ??
      (turbo ? TURBO_DEFAULTS.size : generic ? GENERIC_DIFFUSION_DEFAULTS.size : DIFFUSION_DEFAULTS.size),
    dtype: d.dtype ?? DIFFUSION_DEFAULTS.dtype,
    seed,
  };
  // InstructPix2Pix (and the dummy) has an image guidance scale; image-to-image has a strength instead.
  if (isImageToImage(p))
    params.strength = d.strength ?? (turbo ? TURBO_DEFAULTS.strength : GENERIC_DIFFUSION_DEFAULTS.strength);
  else params.image_guidance_scale = d.image_guidance_scale ?? DIFFUSION_DEFAULTS.image_guidance_scale;
  return params;
}

/**
 * TEST OPTION: `PEFUSE_DIFFUSION_FAKE=MODULE:CLASS` (or `FILE.py:CLASS`) makes the diffusers worker use
 * that class instead of diffusers (stages/diffusion/worker.py `--fake-pipeline`). It becomes part of the
 * stage's model record, so fake images never meet real ones in the cache.
 */
export const DIFFUSION_FAKE_ENV = 'PEFUSE_DIFFUSION_FAKE';

/** The fake pipeline named by the environment (a `.py` path made absolute against `cwd`), or null. */
export function diffusionFakeOf(env: NodeJS.ProcessEnv, cwd: string): string | null {
  const v = env[DIFFUSION_FAKE_ENV];
  if (v === undefined || v === '') return null;
  const i = v.lastIndexOf(':');
  const mod = i > 0 ? v.slice(0, i) : v;
  return mod.endsWith('.py') && !isAbsolute(mod) ? `${resolve(cwd, mod)}${v.slice(mod.length)}` : v;
}
