/**
 * The small language of the synthetic benchmark: modification texts ("make it blue", "change the
 * circle to a star") and descriptions ("a small red circle on a light background"). The generator
 * writes it; the dummy MLLM, diffusion and embedding backends read it back with the same word lists.
 */
import {
  type Attributes,
  BACKGROUND_NAMES,
  type Background,
  COLOUR_NAMES,
  type Colour,
  SHAPES,
  type Shape,
  SIZE_NAMES,
  type Size,
} from './attributes.js';

/** What a text says about the object; every field is optional. */
export interface ParsedText {
  shape?: Shape;
  colour?: Colour;
  /** An absolute size word ("small", "large"). */
  size?: Size;
  /** A relative size change ("larger": +1, "smaller": −1). */
  sizeDelta?: number;
  background?: Background;
}

const SHAPE_SET = new Set<string>(SHAPES);
const COLOUR_SET = new Set<string>(COLOUR_NAMES);
const SIZE_SET = new Set<string>(SIZE_NAMES);
const BACKGROUND_SET = new Set<string>(BACKGROUND_NAMES);
const SIZE_SYNONYMS: Record<string, Size> = { tiny: 'small', big: 'large', huge: 'large' };
const GROW = new Set(['larger', 'bigger', 'enlarge', 'grow']);
const SHRINK = new Set(['smaller', 'shrink', 'tinier']);

/** Lower-case word tokens. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z]+/g) ?? [];
}

/**
 * Reads the attributes a text names. Where a text names two shapes ("change the circle to a star"), the
 * last one wins; "instead of the X" / "rather than the X" / "change the X" mention the *old* value
 * and are skipped.
 */
export function parseText(text: string): ParsedText {
  const toks = words(text);
  const skip = new Set<number>();
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    const next = toks[i + 1];
    if ((t === 'instead' && next === 'of') || (t === 'rather' && next === 'than')) {
      let j = i + 2;
      while (j < toks.length && ['the', 'a', 'an'].includes(toks[j]!)) j++;
      // Skip the old value phrase: adjectives + noun up to the next non-attribute word.
      while (j < toks.length && isAttributeWord(toks[j]!)) skip.add(j++);
    }
    if ((t === 'change' || t === 'replace') && (next === 'the' || next === 'its')) {
      let j = i + 2;
      while (j < toks.length && isAttributeWord(toks[j]!) && toks[j] !== 'background') skip.add(j++);
    }
  }
  const out: ParsedText = {};
  toks.forEach((t, i) => {
    if (skip.has(i)) return;
    if (SHAPE_SET.has(t)) out.shape = t as Shape;
    else if (COLOUR_SET.has(t)) out.colour = t as Colour;
    else if (SIZE_SET.has(t)) out.size = t as Size;
    else if (SIZE_SYNONYMS[t] !== undefined) out.size = SIZE_SYNONYMS[t];
    else if (GROW.has(t)) out.sizeDelta = 1;
    else if (SHRINK.has(t)) out.sizeDelta = -1;
    else if (BACKGROUND_SET.has(t)) out.background = t as Background;
  });
  return out;
}

function isAttributeWord(t: string): boolean {
  return SHAPE_SET.has(t) || COLOUR_SET.has(t) || SIZE_SET.has(t) || BACKGROUND_SET.has(t);
}

/** Moves a size one level up or down, clamped to the scale. */
export function shiftSize(size: Size, delta: number): Size {
  const i = Math.max(0, Math.min(SIZE_NAMES.length - 1, SIZE_NAMES.indexOf(size) + delta));
  return SIZE_NAMES[i]!;
}

/** The reference's attributes with a modification text's attributes applied. */
export function applyModification<T extends Partial<Attributes>>(ref: T, mod: ParsedText): T {
  const out: T = { ...ref };
  if (mod.shape !== undefined) out.shape = mod.shape;
  if (mod.colour !== undefined) out.colour = mod.colour;
  if (mod.background !== undefined) out.background = mod.background;
  if (mod.size !== undefined) out.size = mod.size;
  else if (mod.sizeDelta !== undefined && out.size !== undefined)
    out.size = shiftSize(out.size, mod.sizeDelta);
  return out;
}

/** The kinds of modification the generator produces (one or two attributes change). */
export type ModificationKind =
  | 'colour'
  | 'shape'
  | 'size'
  | 'background'
  | 'colour+size'
  | 'shape+colour'
  | 'colour+background';

export const MODIFICATION_KINDS: readonly ModificationKind[] = [
  'colour',
  'shape',
  'size',
  'background',
  'colour+size',
  'shape+colour',
  'colour+background',
];

/** Text templates per kind; `{c}` colour, `{s}` new shape, `{s0}` old shape, `{z}` larger/smaller, `{b}` background. */
export const TEMPLATES: Record<ModificationKind, readonly string[]> = {
  colour: ['make it {c}', 'change the colour to {c}', 'same thing but {c}', 'I want it in {c}'],
  shape: [
    'change the {s0} to a {s}',
    'make it a {s} instead',
    'turn it into a {s}',
    'a {s} instead of the {s0}',
  ],
  size: ['make it {z}', 'the same but {z}', 'show it {z}'],
  background: [
    'put it on a {b} background',
    'change the background to {b}',
    'same object on a {b} background',
  ],
  'colour+size': ['same shape but {c} and {z}', 'make it {c} and {z}', '{z} and in {c}'],
  'shape+colour': ['change the {s0} to a {c} {s}', 'a {c} {s} instead', 'replace it with a {c} {s}'],
  'colour+background': ['make it {c} on a {b} background', '{c} object, {b} background'],
};

/** Fills a template. */
export function fillTemplate(
  template: string,
  v: { c?: string; s?: string; s0?: string; z?: string; b?: string },
): string {
  return template.replace(/\{(c|s0|s|z|b)\}/g, (_m, k: 'c' | 's0' | 's' | 'z' | 'b') => v[k] ?? '');
}
