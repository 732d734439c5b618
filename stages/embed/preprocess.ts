/**
 * Image preprocessing in TypeScript with sharp, matching the Python processors (PIL) to ≤ 2/255:
 *
 * 1. Decode to 8-bit RGB the way PIL's `Image.open(...).convert('RGB')` does: no ICC conversion, no
 *    EXIF rotation (unless the model config asks), alpha dropped (not composited), grey replicated.
 * 2. Resize with Pillow's own algorithm (`pil-resize.ts`: BICUBIC / BILINEAR, bit-exact; sharp's
 *    kernels differ from PIL by up to 7/255 downscaling and 100+/255 upscaling). CLIP/OpenCLIP:
 *    short side → S with the long side truncated like `int(S * long / short)`, then a center crop
 *    (only the kept window is computed); SigLIP2: squash to S×S.
 * 3. HWC uint8 → CHW float32, `(x/255 − mean) / std`.
 */

import sharp, { type OutputInfo } from 'sharp';
import { roundHalfEven } from '../datasets/genecis-crop.js';
import type { EmbedModelConfig } from './model/config.js';
import { resizeRgb } from './resize-pool.js';

export type PreprocessConfig = Pick<
  EmbedModelConfig,
  'image_size' | 'resize' | 'crop' | 'interpolation' | 'mean' | 'std' | 'exif_transpose'
>;

/** A decoded, resized image before normalisation: HWC uint8 RGB, `size`×`size`. */
export interface Pixels {
  data: Buffer;
  size: number;
}

/** A decode failure (corrupt or unsupported file); the caller turns it into an item failure. */
export class ImageDecodeError extends Error {}

/** Resize target and crop box for a `width`×`height` source (exported for tests). */
export function geometry(
  cfg: PreprocessConfig,
  width: number,
  height: number,
): { rw: number; rh: number; left: number; top: number } {
  const s = cfg.image_size;
  if (cfg.resize === 'squash') return { rw: s, rh: s, left: 0, top: 0 };
  const [rw, rh] =
    width <= height ? [s, Math.trunc((s * height) / width)] : [Math.trunc((s * width) / height), s];
  const off = (d: number) => (cfg.crop === 'hf' ? Math.floor(d / 2) : roundHalfEven(d / 2));
  return { rw, rh, left: off(rw - s), top: off(rh - s) };
}

/** Decode + resize + crop to HWC uint8 (the part compared with PIL in the parity tests). */
/** `threads` > 1 runs the resize on a worker-thread pool of that size (same result). */
export async function preprocessPixels(
  input: Buffer | string,
  cfg: PreprocessConfig,
  threads = 1,
): Promise<Pixels> {
  let raw: { data: Buffer; info: OutputInfo };
  try {
    let img = sharp(input, { ignoreIcc: true, failOn: 'error', limitInputPixels: 1 << 28 });
    if (cfg.exif_transpose) img = img.rotate();
    raw = await img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new ImageDecodeError((e as Error).message);
  }
  const { width, height, channels } = raw.info;
  if (channels !== 3) throw new Error(`preprocess: expected 3 channels after decoding, got ${channels}`);
  const g = geometry(cfg, width, height);
  const s = cfg.image_size;
  const crop = { x: g.left, y: g.top, w: s, h: s };
  const out = await resizeRgb(raw.data, width, height, g.rw, g.rh, cfg.interpolation, crop, threads);
  const data = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  return { data, size: s };
}

/** HWC uint8 → normalised CHW float32, written into `out` at `offset` (a batch buffer). */
export function normalizeInto(px: Pixels, cfg: PreprocessConfig, out: Float32Array, offset: number): void {
  const n = px.size * px.size;
  const { data } = px;
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * cfg.std[c]!);
    const shift = cfg.mean[c]! / cfg.std[c]!;
    const base = offset + c * n;
    for (let i = 0; i < n; i++) out[base + i] = data[i * 3 + c]! * scale - shift;
  }
}

/** Full preprocessing of one image to a CHW float32 tensor. */
export async function preprocessImage(input: Buffer | string, cfg: PreprocessConfig): Promise<Float32Array> {
  const px = await preprocessPixels(input, cfg);
  const out = new Float32Array(3 * px.size * px.size);
  normalizeInto(px, cfg, out, 0);
  return out;
}
