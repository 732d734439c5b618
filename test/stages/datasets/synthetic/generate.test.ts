import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { canonicalJson, type JsonValue, sha256Hex } from '../../../../runner/util/json.js';
import { type Attributes, comboKey, IMAGE_SIZE } from '../../../../stages/datasets/synthetic/attributes.js';
import {
  buildAnnotations,
  generateSynthetic,
  SYNTHETIC_DEFAULTS,
} from '../../../../stages/datasets/synthetic/generate.js';
import { applyModification, parseText } from '../../../../stages/datasets/synthetic/language.js';
import { tempDir } from '../../../helpers/cli.js';

const hashOf = (seed: number) =>
  sha256Hex(canonicalJson(buildAnnotations({ ...SYNTHETIC_DEFAULTS, seed }) as unknown as JsonValue));

describe('synthetic generator', () => {
  it('is deterministic: the same seed gives the same annotations, another seed others', () => {
    expect(hashOf(3)).toBe(hashOf(3));
    expect(hashOf(3)).not.toBe(hashOf(4));
  });

  it('gives every query exactly one target: the reference with the text applied', () => {
    const ann = buildAnnotations(SYNTHETIC_DEFAULTS);
    expect(ann.gallery).toHaveLength(240);
    expect(ann.queries).toHaveLength(80);
    const combos = ann.gallery.map((g) => comboKey(g.attributes));
    expect(new Set(combos).size).toBe(combos.length);
    const byId = new Map(ann.gallery.map((g) => [g.id, g]));
    for (const q of ann.queries) {
      const ref = byId.get(q.reference)!;
      const expected = applyModification(ref.attributes, parseText(q.text));
      const matches = ann.gallery.filter((g) => comboKey(g.attributes) === comboKey(expected));
      expect(
        matches.map((g) => g.id),
        `${q.id}: "${q.text}"`,
      ).toEqual([q.target]);
      expect(q.target).not.toBe(q.reference);
    }
  });

  it('leaves distractors: gallery images sharing three of four attributes with the target', () => {
    const ann = buildAnnotations(SYNTHETIC_DEFAULTS);
    const byId = new Map(ann.gallery.map((g) => [g.id, g]));
    const shared = (a: Attributes, b: Attributes) =>
      (['shape', 'colour', 'size', 'background'] as const).filter((k) => a[k] === b[k]).length;
    let withDistractors = 0;
    for (const q of ann.queries) {
      const t = byId.get(q.target)!.attributes;
      if (ann.gallery.some((g) => g.id !== q.target && shared(g.attributes, t) === 3)) withDistractors++;
    }
    expect(withDistractors).toBe(ann.queries.length);
  });

  it('writes PNGs that decode, and byte-identical annotations for the same parameters', async () => {
    const a = tempDir();
    const b = tempDir();
    const p = { ...SYNTHETIC_DEFAULTS, n_gallery: 40, n_queries: 10 };
    const ann = await generateSynthetic(a, p);
    await generateSynthetic(b, p);
    expect(readFileSync(join(a, 'annotations.json'))).toEqual(readFileSync(join(b, 'annotations.json')));
    expect(ann?.gallery).toHaveLength(40);
    for (const g of ann!.gallery) {
      const meta = await sharp(join(a, g.file)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', IMAGE_SIZE, IMAGE_SIZE]);
    }
    expect(ann!.gallery[0]!.oracle_caption).toMatch(
      /^a (small|medium|large) \w+ \w+ on a (light|dark|grey) background$/,
    );
  });
});

describe('synthetic modification language', () => {
  it.each([
    ['make it blue', { colour: 'blue' }],
    ['change the circle to a star', { shape: 'star' }],
    ['a star instead of the circle', { shape: 'star' }],
    ['same shape but red and larger', { colour: 'red', sizeDelta: 1 }],
    ['change the hexagon to a blue triangle', { shape: 'triangle', colour: 'blue' }],
    ['put it on a dark background', { background: 'dark' }],
    [
      'a small red circle on a light background',
      { size: 'small', colour: 'red', shape: 'circle', background: 'light' },
    ],
  ])('"%s"', (text, expected) => {
    expect(parseText(text)).toEqual(expected);
  });
});
