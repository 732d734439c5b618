/**
 * The text tokenizer of a model folder, whatever its kind: CLIP BPE (CLIP and OpenCLIP) or a
 * Hugging Face `tokenizer.json` (SigLIP2). Both produce `ids` (no start/end tokens, untruncated),
 * the model-ready `context` row and whether the text was truncated.
 */
import { join } from 'node:path';
import { err, ok, type Result } from '../../../runner/util/result.js';
import type { EmbedModelConfig } from '../model/config.js';
import { ClipBpeTokenizer, loadClipVocab, type TokenizedText } from './clip-bpe.js';
import { loadHfTokenizer } from './hf.js';

export type { TokenizedText } from './clip-bpe.js';

/**
 * The context lengths pefuse accepts (`--context`, `context_length` in pefuse-model.json). CLIP uses 77 and
 * SigLIP2 64; a row must hold the start and end tokens, and no text tower here has more than 4096 positions
 * (a larger value is a typo that would only allocate huge rows).
 */
export const MIN_CONTEXT_LENGTH = 2;
export const MAX_CONTEXT_LENGTH = 4096;

export interface TextTokenizer {
  readonly contextLength: number;
  /** How many leading positions of a row carry text (for an optional attention mask). */
  used(t: TokenizedText): number;
  tokenize(text: string): TokenizedText;
}

export async function loadTextTokenizer(
  dir: string,
  cfg: EmbedModelConfig,
): Promise<Result<TextTokenizer, string>> {
  const ctx = cfg.context_length;
  if (!(ctx >= MIN_CONTEXT_LENGTH && ctx <= MAX_CONTEXT_LENGTH))
    // Built-in profiles are in range, so an out-of-range value comes from the folder's file.
    return err(
      `${join(dir, 'pefuse-model.json')}: field "context_length" must be a whole number from ${MIN_CONTEXT_LENGTH} to ${MAX_CONTEXT_LENGTH}, got ${ctx}`,
    );
  if (cfg.tokenizer === 'clip-bpe') {
    const path = join(dir, cfg.clip_vocab);
    const v = await loadClipVocab(path);
    if (!v.ok) {
      return err(
        `${v.error}. The CLIP vocabulary is not shipped with pefuse: copy bpe_simple_vocab_16e6.txt.gz from openai/CLIP or open_clip into the model folder (stages/embed/export_onnx.py does this)`,
      );
    }
    return ok(clipTextTokenizer(new ClipBpeTokenizer(v.value, cfg.special_tokens), ctx));
  }
  const hf = await loadHfTokenizer(join(dir, cfg.hf_tokenizer), join(dir, 'tokenizer_config.json'), {
    eosToken: cfg.eos_token,
    padId: cfg.pad_id,
    clean: cfg.text_clean,
  });
  if (!hf.ok) return hf;
  const tok = hf.value;
  return ok({
    contextLength: ctx,
    used: (t) => Math.min(ctx, t.ids.length + 1),
    tokenize: (text) => tok.tokenize(text, ctx),
  });
}

export function clipTextTokenizer(tok: ClipBpeTokenizer, ctx: number): TextTokenizer {
  return {
    contextLength: ctx,
    used: (t) => Math.min(ctx, t.ids.length + 2),
    tokenize: (text) => tok.tokenize(text, ctx),
  };
}
