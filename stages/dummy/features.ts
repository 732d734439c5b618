/**
 * The shared feature space of the dummy embedder, so that text↔image retrieval works with no model:
 *
 *   [ colour ×8 | shape ×6 | size ×3 | background ×3 | bag-of-words ×64 | bias ×1 ]
 *
 * Texts fill the attribute blocks from the words they contain (one-hot) plus hashed bag-of-words;
 * images fill the attribute blocks from pixel statistics (soft assignments, see vision.ts) and leave
 * the bag-of-words block empty. Each block is normalised, weighted, and the whole row L2-normalised.
 */
import { BACKGROUND_NAMES, COLOUR_NAMES, SHAPES, SIZE_NAMES } from '../datasets/synthetic/attributes.js';
import { parseText, words } from '../datasets/synthetic/language.js';

const BOW_DIMS = 64;

/** Block layout: name, offset, length, weight. */
export const BLOCKS = {
  colour: { offset: 0, length: COLOUR_NAMES.length, weight: 1.0 },
  shape: { offset: COLOUR_NAMES.length, length: SHAPES.length, weight: 1.0 },
  size: { offset: COLOUR_NAMES.length + SHAPES.length, length: SIZE_NAMES.length, weight: 0.8 },
  background: {
    offset: COLOUR_NAMES.length + SHAPES.length + SIZE_NAMES.length,
    length: BACKGROUND_NAMES.length,
    weight: 0.6,
  },
  bow: {
    offset: COLOUR_NAMES.length + SHAPES.length + SIZE_NAMES.length + BACKGROUND_NAMES.length,
    length: BOW_DIMS,
    weight: 0.4,
  },
  bias: {
    offset: COLOUR_NAMES.length + SHAPES.length + SIZE_NAMES.length + BACKGROUND_NAMES.length + BOW_DIMS,
    length: 1,
    weight: 0.05,
  },
} as const;
export type BlockName = keyof typeof BLOCKS;

/** Row width of every dummy embedding. */
export const DUMMY_EMBED_DIM = BLOCKS.bias.offset + 1;

/** Per-block raw values (any scale); missing blocks stay zero. */
export type BlockValues = Partial<Record<BlockName, ArrayLike<number>>>;

/** Assembles a row: each block L2-normalised then weighted; the row L2-normalised. */
export function assemble(values: BlockValues, out = new Float32Array(DUMMY_EMBED_DIM)): Float32Array {
  out.fill(0);
  for (const name of Object.keys(BLOCKS) as BlockName[]) {
    const v = name === 'bias' ? [1] : values[name];
    if (v === undefined) continue;
    const b = BLOCKS[name];
    let n = 0;
    for (let i = 0; i < b.length; i++) n += (v[i] ?? 0) ** 2;
    if (n === 0) continue;
    const s = b.weight / Math.sqrt(n);
    for (let i = 0; i < b.length; i++) out[b.offset + i] = (v[i] ?? 0) * s;
  }
  let n = 0;
  for (const x of out) n += x * x;
  const s = 1 / Math.sqrt(n);
  for (let i = 0; i < out.length; i++) out[i]! *= s;
  return out;
}

const STOPWORDS = new Set(['a', 'an', 'the', 'it', 'on', 'of', 'in', 'to', 'and', 'but', 'with', 'i', 'is']);

/** 32-bit FNV-1a. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function oneHot(names: readonly string[], value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  return names.map((n) => (n === value ? 1 : 0));
}

/** The embedding of a text: attribute words (one-hot) + hashed bag of words. */
export function embedText(text: string): Float32Array {
  const p = parseText(text);
  const bow = new Array<number>(BOW_DIMS).fill(0);
  for (const w of words(text)) {
    if (STOPWORDS.has(w)) continue;
    const h = fnv1a(w);
    bow[h % BOW_DIMS]! += h & 0x80000000 ? -1 : 1;
  }
  const values: BlockValues = { bow };
  const colour = oneHot(COLOUR_NAMES, p.colour);
  const shape = oneHot(SHAPES, p.shape);
  const size = oneHot(SIZE_NAMES, p.size);
  const background = oneHot(BACKGROUND_NAMES, p.background);
  if (colour) values.colour = colour;
  if (shape) values.shape = shape;
  if (size) values.size = size;
  if (background) values.background = background;
  return assemble(values);
}
