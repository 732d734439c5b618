/** Builds model folders in temp dirs for tests: tiny towers, pefuse-model.json, tokenizer files. */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED, tempDir } from '../../helpers/cli.js';
import { type TextTowerOpts, textTower, type VisionTowerOpts, visionTower } from './onnx-builder.js';

/** The CLIP vocabulary, relative to ../shared (guard tests with `needShared(CLIP_VOCAB_FILE)`). */
export const CLIP_VOCAB_FILE = 'tokenizers/clip/bpe_simple_vocab_16e6.txt.gz';
export const CLIP_VOCAB = join(SHARED, CLIP_VOCAB_FILE);

/** A Gemma-style tokenizer.json (▁ metaspace, byte-fallback BPE, `<eos>` appended), small enough to write inline. */
export function tinyGemmaTokenizer(): object {
  const specials = ['<pad>', '<eos>', '<bos>', '<unk>'];
  const vocab: Record<string, number> = {};
  specials.forEach((t, i) => {
    vocab[t] = i;
  });
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 4 + b;
  const letters = '▁abcdefghijklmnopqrstuvwxyz';
  for (const c of letters) vocab[c] = Object.keys(vocab).length;
  const merges = [
    ['▁', 'a'],
    ['c', 'a'],
    ['ca', 't'],
    ['▁', 'cat'],
    ['d', 'o'],
    ['do', 'g'],
    ['▁', 'dog'],
    ['r', 'e'],
    ['re', 'd'],
    ['▁', 'red'],
  ];
  for (const [a, b] of merges) vocab[a! + b!] = Object.keys(vocab).length;
  const added = specials.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<eos>', type_id: 0 } }],
      pair: [
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
        { SpecialToken: { id: '<eos>', type_id: 0 } },
      ],
      special_tokens: { '<eos>': { id: '<eos>', ids: [1], tokens: ['<eos>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

export interface ModelDirOpts {
  /** Contents of pefuse-model.json (omitted: no file). */
  json?: object;
  text?: TextTowerOpts | null;
  vision?: VisionTowerOpts | null;
  tokenizer?: 'clip' | 'gemma' | null;
  dir?: string;
}

export function makeModelDir(o: ModelDirOpts): string {
  const dir = o.dir ?? tempDir('pefuse-model-');
  mkdirSync(dir, { recursive: true });
  if (o.json) writeFileSync(join(dir, 'pefuse-model.json'), JSON.stringify(o.json, null, 2));
  if (o.text) writeFileSync(join(dir, 'text_model.onnx'), textTower(o.text));
  if (o.vision) writeFileSync(join(dir, 'vision_model.onnx'), visionTower(o.vision));
  if (o.tokenizer === 'clip') copyFileSync(CLIP_VOCAB, join(dir, 'bpe_simple_vocab_16e6.txt.gz'));
  if (o.tokenizer === 'gemma')
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tinyGemmaTokenizer()));
  return dir;
}

/** A SigLIP2-profile folder with tiny towers (needs nothing from ../shared). */
export function siglipDir(dim = 8): string {
  return makeModelDir({
    json: { profile: 'siglip2-base-patch16-224', embed_dim: dim },
    text: { context: 64, dim },
    vision: { size: 224, dim },
    tokenizer: 'gemma',
  });
}
