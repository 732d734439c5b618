/**
 * GeneCIS attribute-task crops, as `facebookresearch/genecis:datasets/vaw_dataset.py` cuts them: the
 * instance box dilated by 0.7 (left/top moved out by 0.7·w / 0.7·h and clamped at 0, the right/bottom edge
 * at left + 1.7·w / top + 1.7·h clamped to the image), cropped with PIL's rounding, then padded to a square
 * with black, centred (`expand2square`). The geometry is a pure function so it can be tested exactly;
 * `renderGenecisCrop` does the pixel work with sharp.
 */
import { err, ok, type Result } from '../../runner/util/result.js';

export const GENECIS_DILATION = 0.7;

export interface CropGeometry {
  /** Integer crop box inside the image (PIL `crop` rounds the float box with Python's `round`). */
  crop: { left: number; top: number; width: number; height: number };
  /** Black padding added around the crop to make it square (`expand2square`: extra // 2 before). */
  pad: { top: number; bottom: number; left: number; right: number };
  /** Side of the final square. */
  size: number;
}

/** Python 3 `round(x)`: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Crop and pad geometry for a `[x, y, w, h]` instance box in an image of `imageWidth` × `imageHeight`.
 * Fails (with a message) when the dilated box is empty, e.g. a box lying outside the image.
 */
export function genecisCropGeometry(
  bbox: readonly [number, number, number, number],
  imageWidth: number,
  imageHeight: number,
): Result<CropGeometry, string> {
  const [x, y, w, h] = bbox;
  const dilate = GENECIS_DILATION;
  // Same float operations, in the same order, as the official code.
  const left = Math.max(0, x - dilate * w);
  const top = Math.max(0, y - dilate * h);
  const right = Math.min(imageWidth, left + (1 + dilate) * w);
  const bottom = Math.min(imageHeight, top + (1 + dilate) * h);
  const x0 = roundHalfEven(left);
  const y0 = roundHalfEven(top);
  const x1 = roundHalfEven(right);
  const y1 = roundHalfEven(bottom);
  const width = x1 - x0;
  const height = y1 - y0;
  if (width <= 0 || height <= 0)
    return err(
      `box [${bbox.join(', ')}] gives an empty crop in a ${imageWidth}x${imageHeight} image (crop ${x0},${y0},${x1},${y1})`,
    );
  const size = Math.max(width, height);
  const padX = size - width;
  const padY = size - height;
  return ok({
    crop: { left: x0, top: y0, width, height },
    pad: {
      left: Math.floor(padX / 2),
      right: padX - Math.floor(padX / 2),
      top: Math.floor(padY / 2),
      bottom: padY - Math.floor(padY / 2),
    },
    size,
  });
}

/** Cuts the crop out of `file` and pads it square; returns PNG bytes (sharp loaded lazily). */
export async function renderGenecisCrop(
  file: string,
  bbox: readonly [number, number, number, number],
): Promise<Result<Uint8Array, string>> {
  const { default: sharp } = await import('sharp');
  let meta: { width?: number | undefined; height?: number | undefined };
  try {
    meta = await sharp(file).metadata();
  } catch (e) {
    return err(`${file}: cannot be decoded (${e instanceof Error ? e.message : String(e)})`);
  }
  if (meta.width === undefined || meta.height === undefined) return err(`${file}: image size unknown`);
  const g = genecisCropGeometry(bbox, meta.width, meta.height);
  if (!g.ok) return err(`${file}: ${g.error}`);
  const { crop, pad } = g.value;
  const png = await sharp(file)
    .extract(crop)
    .extend({ ...pad, background: { r: 0, g: 0, b: 0, alpha: 1 } })
    .png()
    .toBuffer();
  return ok(new Uint8Array(png.buffer, png.byteOffset, png.byteLength));
}
