/**
 * SigLIP2's Gemma tokenizer, driven from the model's own `tokenizer.json` with
 * @huggingface/tokenizers. SigLIP2 was trained on lower-cased text padded to exactly 64 tokens with
 * `<pad>` (id 0) after an `<eos>`, and its text tower pools the last position, so the padding is part
 * of the model input: we lower-case (HF) or canonicalize (open_clip) in TS, encode without special
 * tokens, keep the first `context − 1` ids, append EOS and pad.
 */
import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { err, ok, type Result } from '../../../runner/util/result.js';
import type { TokenizedText } from './clip-bpe.js';

export type TextClean = 'lower' | 'canonicalize';

// Python's `string.punctuation`.
const PUNCT = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/** open_clip `canonicalize_text`: `_`→space, drop ASCII punctuation, lower, collapse whitespace. */
export function canonicalizeText(text: string): string {
  return text.replace(/_/g, ' ').replace(PUNCT, '').toLowerCase().split(/\s+/).filter(Boolean).join(' ');
}

export class HfTokenizer {
  constructor(
    private readonly tok: Tokenizer,
    readonly eosId: number,
    readonly padId: number,
    readonly clean: TextClean,
  ) {}

  encode(text: string): number[] {
    const t = this.clean === 'canonicalize' ? canonicalizeText(text) : text.toLowerCase();
    return this.tok.encode(t, { add_special_tokens: false }).ids;
  }

  tokenize(text: string, contextLength: number): TokenizedText {
    const ids = this.encode(text);
    const truncated = ids.length + 1 > contextLength;
    const context = [...ids.slice(0, contextLength - 1), this.eosId];
    while (context.length < contextLength) context.push(this.padId);
    return { ids, context, truncated };
  }
}

/** Loads `tokenizer.json` (+ optional `tokenizer_config.json`) from a model folder. */
export async function loadHfTokenizer(
  jsonPath: string,
  configPath: string | null,
  opts: { eosToken: string; padId: number; clean: TextClean },
): Promise<Result<HfTokenizer, string>> {
  let json: object;
  let config: object = {};
  try {
    json = JSON.parse(await readFile(jsonPath, 'utf8')) as object;
    if (configPath) {
      try {
        config = JSON.parse(await readFile(configPath, 'utf8')) as object;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  } catch (e) {
    return err(`cannot read tokenizer ${jsonPath}: ${(e as Error).message}`);
  }
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, config);
  } catch (e) {
    return err(`cannot load tokenizer ${jsonPath}: ${(e as Error).message}`);
  }
  const eos = tok.token_to_id(opts.eosToken);
  if (eos === undefined) return err(`tokenizer ${jsonPath} has no end-of-sequence token "${opts.eosToken}"`);
  return ok(new HfTokenizer(tok, eos, opts.padId, opts.clean));
}
