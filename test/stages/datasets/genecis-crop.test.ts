import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  genecisCropGeometry,
  renderGenecisCrop,
  roundHalfEven,
} from '../../../stages/datasets/genecis-crop.js';

describe('GeneCIS crop geometry (vaw_dataset.py load_cropped_image + expand2square)', () => {
  it('dilates by 0.7 and pads the shorter side, centred (extra // 2 before)', () => {
    expect(genecisCropGeometry([100, 50, 40, 20], 640, 480)).toEqual({
      ok: true,
      value: {
        crop: { left: 72, top: 36, width: 68, height: 34 },
        pad: { top: 17, bottom: 17, left: 0, right: 0 },
        size: 68,
      },
    });
  });

  it('clamps at the image edges and measures right/bottom from the CLAMPED left/top', () => {
    // left = max(0, 10 - 70) = 0, so right = 0 + 1.7 * 100 = 170 (not 10 + 170).
    expect(genecisCropGeometry([10, 10, 100, 100], 1000, 1000)).toMatchObject({
      ok: true,
      value: { crop: { left: 0, top: 0, width: 170, height: 170 } },
    });
    expect(genecisCropGeometry([5, 5, 100, 50], 120, 80)).toEqual({
      ok: true,
      value: {
        crop: { left: 0, top: 0, width: 120, height: 80 },
        pad: { top: 20, bottom: 20, left: 0, right: 0 },
        size: 120,
      },
    });
  });

  it("rounds the float box like PIL (Python's round: halves to even)", () => {
    expect([0.5, 1.5, 2.5, 3.5, 2.3, 2.7].map(roundHalfEven)).toEqual([0, 2, 2, 4, 2, 3]);
    // Values checked against Python: box (2.5, 3.0, 11.0, 11.5) → (2, 3, 11, 12).
    expect(genecisCropGeometry([6, 6.5, 5, 5], 100, 100)).toMatchObject({
      ok: true,
      value: { crop: { left: 2, top: 3, width: 9, height: 9 } },
    });
    // (3.5, 2.3, 12.0, 4.0) → (4, 2, 12, 4): 8 × 2, padded 3 above and 3 below.
    expect(genecisCropGeometry([7, 3, 5, 1], 30, 30)).toEqual({
      ok: true,
      value: {
        crop: { left: 4, top: 2, width: 8, height: 2 },
        pad: { top: 3, bottom: 3, left: 0, right: 0 },
        size: 8,
      },
    });
    // Odd padding: the extra pixel goes after (PIL pastes at (size - h) // 2).
    expect(genecisCropGeometry([7, 3, 5, 2], 30, 30)).toMatchObject({
      ok: true,
      value: { crop: { left: 4, top: 2, width: 8, height: 3 }, pad: { top: 2, bottom: 3 } },
    });
  });

  it('reports a box that yields an empty crop', () => {
    expect(genecisCropGeometry([700, 10, 5, 5], 640, 480)).toEqual({
      ok: false,
      error: 'box [700, 10, 5, 5] gives an empty crop in a 640x480 image (crop 696,6,640,15)',
    });
  });

  it('cuts and pads the pixels with sharp', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pefuse-crop-')), 'img.png');
    await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 255, g: 255, b: 255 } } })
      .png()
      .toFile(file);
    const r = await renderGenecisCrop(file, [10, 10, 10, 4]);
    if (!r.ok) throw new Error(r.error);
    const { data, info } = await sharp(r.value).raw().toBuffer({ resolveWithObject: true });
    // left 3, top 7.2→7, right 20, bottom 13.8→14: 17 × 7, padded to 17 × 17 (5 rows above, 5 below).
    expect([info.width, info.height]).toEqual([17, 17]);
    const px = (x: number, y: number) =>
      Array.from(data.subarray((y * 17 + x) * info.channels, (y * 17 + x) * info.channels + 3));
    expect(px(0, 0)).toEqual([0, 0, 0]);
    expect(px(8, 4)).toEqual([0, 0, 0]);
    expect(px(8, 5)).toEqual([255, 255, 255]);
    expect(px(8, 11)).toEqual([255, 255, 255]);
    expect(px(8, 12)).toEqual([0, 0, 0]);
  });
});
