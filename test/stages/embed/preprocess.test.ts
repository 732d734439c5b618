import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { PROFILES } from '../../../stages/embed/model/profiles.js';
import {
  geometry,
  ImageDecodeError,
  type PreprocessConfig,
  preprocessImage,
  preprocessPixels,
} from '../../../stages/embed/preprocess.js';
import { REPO_ROOT } from '../../helpers/cli.js';

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'embed');
const cases = (
  JSON.parse(readFileSync(join(FIX, 'cases.json'), 'utf8')) as {
    cases: { image: string; path: string; ref: string }[];
  }
).cases;

const CONFIGS: Record<string, PreprocessConfig> = {
  'clip-hf': PROFILES['clip-vit-b-32']!,
  'clip-tv': PROFILES['openclip-vit-b-32']!,
  siglip2: PROFILES['siglip2-base-patch16-224']!,
};

describe('preprocessing matches PIL (references from test/fixtures/embed/make_pil_refs.py)', () => {
  it('covers CLIP and SigLIP2 paths on JPEG, PNG and WebP', () => {
    const kinds = new Set(cases.map((c) => `${c.path}:${c.image.split('.').pop()}`));
    for (const k of [
      'clip-hf:jpg',
      'clip-hf:png',
      'clip-hf:webp',
      'siglip2:jpg',
      'siglip2:png',
      'siglip2:webp',
      'clip-tv:png',
    ]) {
      expect(kinds.has(k), k).toBe(true);
    }
  });

  for (const c of cases) {
    it(`${c.image} via ${c.path}: max |diff| ≤ 2/255 before normalisation`, async () => {
      const px = await preprocessPixels(join(FIX, c.image), CONFIGS[c.path]!);
      const ref = await sharp(join(FIX, c.ref)).raw().toBuffer({ resolveWithObject: true });
      expect([ref.info.width, ref.info.height, ref.info.channels]).toEqual([224, 224, 3]);
      expect(px.data.length).toBe(ref.data.length);
      let max = 0;
      let sum = 0;
      for (let i = 0; i < ref.data.length; i++) {
        const d = Math.abs(px.data[i]! - ref.data[i]!);
        sum += d;
        if (d > max) max = d;
      }
      expect(max).toBeLessThanOrEqual(2);
      expect(sum / ref.data.length).toBeLessThan(0.5);
    });
  }
});

describe('geometry', () => {
  it('truncates the long side and rounds crop offsets like each reference library', () => {
    expect(geometry(CONFIGS['clip-hf']!, 640, 480)).toEqual({ rw: 298, rh: 224, left: 37, top: 0 });
    expect(geometry(CONFIGS['clip-hf']!, 64, 97)).toEqual({ rw: 224, rh: 339, left: 0, top: 57 });
    // torchvision: int(round(115 / 2)) = round(57.5) = 58 (half to even)
    expect(geometry(CONFIGS['clip-tv']!, 64, 97)).toEqual({ rw: 224, rh: 339, left: 0, top: 58 });
    expect(geometry(CONFIGS['clip-tv']!, 100, 103)).toEqual({ rw: 224, rh: 230, left: 0, top: 3 });
    expect(geometry(CONFIGS.siglip2!, 640, 480)).toEqual({ rw: 224, rh: 224, left: 0, top: 0 });
  });
});

describe('normalised tensors', () => {
  it('are CHW float32 with the profile mean/std', async () => {
    const cfg = PROFILES['openclip-vit-l-14']!; // mean = std = 0.5
    const white = await sharp({ create: { width: 50, height: 40, channels: 3, background: '#ffffff' } })
      .png()
      .toBuffer();
    const t = await preprocessImage(white, cfg);
    expect(t.length).toBe(3 * 224 * 224);
    expect(t[0]).toBeCloseTo(1, 6);
    expect(t[3 * 224 * 224 - 1]).toBeCloseTo(1, 6);
    const red = await sharp({ create: { width: 50, height: 40, channels: 3, background: '#ff0000' } })
      .png()
      .toBuffer();
    const r = await preprocessImage(red, PROFILES['clip-vit-b-32']!);
    expect(r[0]).toBeCloseTo((1 - 0.48145466) / 0.26862954, 5); // R plane
    expect(r[224 * 224]).toBeCloseTo((0 - 0.4578275) / 0.26130258, 5); // G plane
  });

  it('a corrupt file is an ImageDecodeError, not a crash', async () => {
    await expect(
      preprocessPixels(Buffer.from('definitely not an image'), CONFIGS['clip-hf']!),
    ).rejects.toBeInstanceOf(ImageDecodeError);
    const jpg = readFileSync(join(FIX, 'images', 'landscape-300x200.jpg'));
    await expect(preprocessPixels(jpg.subarray(0, 600), CONFIGS['clip-hf']!)).rejects.toBeInstanceOf(
      ImageDecodeError,
    );
  });

  it('applies the EXIF orientation only when the config asks for it', async () => {
    const file = join(FIX, 'images', 'exif-rotated-160x120.jpg');
    const plain = await preprocessPixels(file, CONFIGS['clip-hf']!);
    const rotated = await preprocessPixels(file, { ...CONFIGS['clip-hf']!, exif_transpose: true });
    expect(plain.data.equals(rotated.data)).toBe(false);
  });
});

describe('the worker pool (compiled code, as `pefuse run` uses it)', () => {
  it('gives the same bytes as inline preprocessing, and decode errors as ImageDecodeError', async () => {
    // The pool starts workers only from compiled JavaScript: use dist/ (built by the test setup).
    const dist = (p: string) => new URL(`../../../dist/stages/embed/${p}`, import.meta.url).href;
    const pre = (await import(dist('preprocess.js'))) as typeof import('../../../stages/embed/preprocess.js');
    const pool = (await import(
      dist('preprocess-pool.js')
    )) as typeof import('../../../stages/embed/preprocess-pool.js');
    try {
      for (const c of cases) {
        const file = join(FIX, c.image);
        const cfg = CONFIGS[c.path]!;
        const [inline, fromPath, fromBytes] = await Promise.all([
          pre.preprocessPixels(file, cfg, 1),
          pre.preprocessPixels(file, cfg, 2),
          pre.preprocessPixels(readFileSync(file), cfg, 2),
        ]);
        expect(Buffer.compare(fromPath.data, inline.data), c.image).toBe(0);
        expect(Buffer.compare(fromBytes.data, inline.data), c.image).toBe(0);
      }
      const bad = pre.preprocessPixels(Buffer.from('not an image'), CONFIGS['clip-hf']!, 2);
      await expect(bad).rejects.toThrow();
      await expect(bad).rejects.toBeInstanceOf(pre.ImageDecodeError);
    } finally {
      await pool.closePreprocessPools();
    }
  });
});
