/**
 * One image, decode to resized pixels: sharp decodes to 8-bit RGB the way PIL's
 * `Image.open(...).convert('RGB')` does, then the Pillow-exact resize (pil-resize.ts) computes only the
 * center crop's window. Runs inline or on a preprocessing worker (preprocess-pool.ts): same bytes.
 */
import sharp, { type OutputInfo } from 'sharp';
import { roundHalfEven } from '../datasets/genecis-crop.js';
import type { EmbedModelConfig } from './model/config.js';
import { pilResizeRgb } from './pil-resize.js';

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

/** Decode + resize + crop to HWC uint8, on the calling thread. */
export async function decodeAndResize(input: Uint8Array | string, cfg: PreprocessConfig): Promise<Pixels> {
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
  const out = pilResizeRgb(raw.data, width, height, g.rw, g.rh, cfg.interpolation, {
    x: g.left,
    y: g.top,
    w: s,
    h: s,
  });
  return { data: Buffer.from(out.buffer, out.byteOffset, out.byteLength), size: s };
}
