/**
 * The dummy image editor: looks at the reference (vision.ts), applies the attributes the text names,
 * and re-renders the object. Guidance parameters act like a diffusion model's, through seeded
 * randomness, so a guidance sweep draws a curve:
 *
 *   guidance_scale        low → the edit is often not applied; high (> 9) → colour drift and noise
 *   image_guidance_scale  low (< 1) → unchanged attributes drift; high (> 4) → the edit is resisted
 *   steps                 few → blur and pixel noise
 */
import sharp from 'sharp';
import {
  type Attributes,
  BACKGROUND_NAMES,
  COLOUR_NAMES,
  COLOURS,
  IMAGE_SIZE,
  SHAPES,
  SIZE_NAMES,
} from '../datasets/synthetic/attributes.js';
import { applyModification, parseText } from '../datasets/synthetic/language.js';
import { gaussian, pick, type Rng, rngFor } from '../datasets/synthetic/prng.js';
import { clampPlacement, renderRaw } from '../datasets/synthetic/render.js';
import { analyseImage } from './vision.js';

/** Parameters the dummy diffusion backend reads (defaults as stages/defaults.ts); others are ignored. */
export interface DummyDiffusionParams {
  guidance_scale: number;
  image_guidance_scale: number;
  steps: number;
}

export const DUMMY_DIFFUSION_DEFAULTS: DummyDiffusionParams = {
  guidance_scale: 7.5,
  image_guidance_scale: 3,
  steps: 30,
};

export function diffusionParamsOf(params: Record<string, unknown>): DummyDiffusionParams | string {
  const out = { ...DUMMY_DIFFUSION_DEFAULTS };
  for (const k of Object.keys(out) as Array<keyof DummyDiffusionParams>) {
    const v = params[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return `${k} must be a non-negative number`;
    out[k] = v;
  }
  if (out.steps < 1) return 'steps must be at least 1';
  return out;
}

/** How likely each requested change is applied. */
export function adherence(p: DummyDiffusionParams): number {
  const g = 1 / (1 + Math.exp(-(p.guidance_scale - 3) / 1.2));
  const resist = p.image_guidance_scale > 4 ? Math.exp(-(p.image_guidance_scale - 4) * 0.5) : 1;
  return g * resist;
}

const clamp255 = (v: number) => Math.max(0, Math.min(255, v));

/** The edited image as PNG bytes (pure function of the reference pixels, text, params and seed). */
export async function dummyEdit(
  input: { reference: string | Uint8Array; text: string },
  p: DummyDiffusionParams,
  seed: number,
): Promise<Buffer> {
  const rng = rngFor('dummy-diffusion', seed);
  const ref = await analyseImage(input.reference);
  const target = editAttributes(rng, ref.best, parseText(input.text), p);
  const drift = 6 / Math.max(p.image_guidance_scale, 0.25);
  const placement = clampPlacement(
    {
      cx: ref.centroid[0] * IMAGE_SIZE + gaussian(rng) * drift,
      cy: ref.centroid[1] * IMAGE_SIZE + gaussian(rng) * drift,
      rotation: gaussian(rng) * 8,
    },
    target.size,
  );
  const over = Math.max(0, p.guidance_scale - 9);
  const fill = COLOURS[target.colour].map((c) => clamp255(c + gaussian(rng) * over * 16));
  const raw = await renderRaw(target, placement, { fill, scale: 1 + gaussian(rng) * 0.04 });
  const sigma = 2 + over * 8 + 60 / p.steps;
  for (let i = 0; i < raw.length; i++) raw[i] = clamp255(raw[i]! + gaussian(rng) * sigma);
  const blur = Math.max(0.3, 4 / Math.sqrt(p.steps));
  return sharp(raw, { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 3 } })
    .blur(blur)
    .png({ compressionLevel: 6 })
    .toBuffer();
}

/** Applies each requested change with probability `adherence`; unchanged attributes may drift. */
function editAttributes(
  rng: Rng,
  ref: Attributes,
  mod: ReturnType<typeof parseText>,
  p: DummyDiffusionParams,
): Attributes {
  const a = adherence(p);
  const kept: typeof mod = {};
  if (mod.shape !== undefined && rng() < a) kept.shape = mod.shape;
  if (mod.colour !== undefined && rng() < a) kept.colour = mod.colour;
  if (mod.background !== undefined && rng() < a) kept.background = mod.background;
  if (mod.size !== undefined && rng() < a) kept.size = mod.size;
  if (mod.sizeDelta !== undefined && rng() < a) kept.sizeDelta = mod.sizeDelta;
  const out = applyModification(ref, kept);
  const driftP = Math.min(0.4, Math.max(0, 0.3 * (1 - p.image_guidance_scale)));
  if (mod.shape === undefined && rng() < driftP) out.shape = pick(rng, SHAPES);
  if (mod.colour === undefined && rng() < driftP) out.colour = pick(rng, COLOUR_NAMES);
  if (mod.background === undefined && rng() < driftP) out.background = pick(rng, BACKGROUND_NAMES);
  if (mod.size === undefined && mod.sizeDelta === undefined && rng() < driftP)
    out.size = pick(rng, SIZE_NAMES);
  return out;
}
