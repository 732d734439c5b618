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

import { decodeAndResize, type Pixels, type PreprocessConfig } from './decode.js';
import { preprocessOnPool } from './preprocess-pool.js';

export { geometry, ImageDecodeError, type Pixels, type PreprocessConfig } from './decode.js';

/**
 * Decode + resize + crop to HWC uint8 (the part compared with PIL in the parity tests). `threads` > 1
 * preprocesses on a worker-thread pool of that size (same result; see preprocess-pool.ts).
 */
export function preprocessPixels(
  input: Buffer | string,
  cfg: PreprocessConfig,
  threads = 1,
): Promise<Pixels> {
  return threads > 1 ? preprocessOnPool(input, cfg, threads) : decodeAndResize(input, cfg);
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
