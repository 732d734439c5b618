/**
 * The OpenAI CLIP byte-level BPE tokenizer (also OpenCLIP's), matching `SimpleTokenizer.encode`
 * and `clip.tokenize(..., truncate=True)` exactly. The vocabulary is the merge file
 * `bpe_simple_vocab_16e6.txt.gz`, which pefuse does not ship: it comes from the model folder or
 * `--clip-vocab FILE`. See the README section "Tokenizers" for the algorithm and its quirks.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { err, ok, type Result } from '../../../runner/util/result.js';
import { mergeSymbols } from './bpe-merge.js';
import { clipClean } from './clean.js';

/** Which literal special-token names the text may contain (OpenAI vs OpenCLIP spelling). */
export type ClipSpecials = 'openai' | 'openclip';

const SPECIAL_NAMES: Record<ClipSpecials, [sot: string, eot: string]> = {
  openai: ['<|startoftext|>', '<|endoftext|>'],
  openclip: ['<start_of_text>', '<end_of_text>'],
};

export const CLIP_SOT = 49406;
export const CLIP_EOT = 49407;
/** Merges used: vocabulary 49,152 − 256 bytes − 2 specials. */
const MERGES_USED = 49152 - 256 - 2;

/** The 256-character byte alphabet in table order (printable bytes first, then the remapped ones). */
function byteAlphabet(): { order: number[]; charOf: string[] } {
  const order: number[] = [];
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  for (let b = 0; b < 256; b++) if (printable(b)) order.push(b);
  const charOf: string[] = new Array(256);
  for (const b of order) charOf[b] = String.fromCharCode(b);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (!printable(b)) {
      order.push(b);
      charOf[b] = String.fromCharCode(256 + next++);
    }
  }
  return { order, charOf };
}

/** Parsed vocabulary: merge ranks and token ids. Shared by every tokenizer built from the same file. */
export interface ClipVocab {
  ranks: Map<string, number>;
  encoder: Map<string, number>;
  byteChar: string[];
}

/** Parses the (decompressed) merge file text. */
export function parseClipVocab(text: string): Result<ClipVocab, string> {
  const lines = text.split('\n');
  if (lines.length < MERGES_USED + 1) {
    return err(`expected at least ${MERGES_USED + 1} lines, found ${lines.length}`);
  }
  const { order, charOf } = byteAlphabet();
  const base = order.map((b) => charOf[b]!);
  const vocab = [...base, ...base.map((c) => `${c}</w>`)];
  const ranks = new Map<string, number>();
  for (let i = 1; i <= MERGES_USED; i++) {
    const parts = lines[i]!.split(/\s+/).filter((p) => p.length > 0);
    if (parts.length !== 2) return err(`line ${i + 1}: expected two symbols, found "${lines[i]}"`);
    ranks.set(`${parts[0]} ${parts[1]}`, i - 1);
    vocab.push(parts[0]! + parts[1]!);
  }
  const encoder = new Map<string, number>();
  for (const [id, v] of vocab.entries()) encoder.set(v, id);
  return ok({ ranks, encoder, byteChar: charOf });
}

const vocabCache = new Map<string, Promise<Result<ClipVocab, string>>>();

/** Loads `bpe_simple_vocab_16e6.txt.gz` (gzip or plain text), cached per path. */
export function loadClipVocab(path: string): Promise<Result<ClipVocab, string>> {
  let p = vocabCache.get(path);
  if (!p) {
    p = (async () => {
      let raw: Buffer;
      try {
        raw = await readFile(path);
      } catch (e) {
        return err(`cannot read CLIP vocabulary ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
      let text: string;
      try {
        text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
      } catch (e) {
        return err(`cannot decompress CLIP vocabulary ${path}: ${(e as Error).message}`);
      }
      const v = parseClipVocab(text);
      return v.ok ? v : err(`bad CLIP vocabulary ${path}: ${v.error}`);
    })();
    vocabCache.set(path, p);
  }
  return p;
}

/** One tokenized text: `ids` without start/end tokens, `context` the model-ready fixed-length row. */
export interface TokenizedText {
  ids: number[];
  context: number[];
  truncated: boolean;
}

export class ClipBpeTokenizer {
  private readonly cache = new Map<string, number[]>();
  private readonly pattern: RegExp;
  private readonly utf8 = new TextEncoder();
  private readonly rankOf = (a: string, b: string) => this.vocab.ranks.get(`${a} ${b}`);

  constructor(
    private readonly vocab: ClipVocab,
    readonly specials: ClipSpecials = 'openai',
    /** Pre-tokens whose BPE result is memoised (0 disables the cache; benchmarks use that). */
    private readonly cacheLimit = 200_000,
  ) {
    const [sot, eot] = SPECIAL_NAMES[specials];
    this.cache.set(sot, [CLIP_SOT]);
    this.cache.set(eot, [CLIP_EOT]);
    const lit = (s: string) => s.replace(/[|]/g, '\\|').replace(/s/g, '[sſ]');
    // The reference pattern is compiled case-insensitively; on lower-cased text that only matters for
    // "ſ" (folds to "s") and U+0345 (its fold is a letter, so it matches no alternative: dropped).
    this.pattern = new RegExp(
      `${lit(sot)}|${lit(eot)}|'[sſ]|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^ \\p{L}\\p{N}\\u0345]+`,
      'gu',
    );
  }

  /** `SimpleTokenizer.encode`: cleaning, pre-tokenisation and BPE; no start/end tokens, no limit. */
  encode(text: string): number[] {
    const cleaned = clipClean(text);
    const out: number[] = [];
    for (const m of cleaned.matchAll(this.pattern)) {
      const piece = m[0];
      let ids = this.cache.get(piece);
      if (!ids) {
        ids = this.bpe(piece);
        if (this.cache.size < this.cacheLimit) this.cache.set(piece, ids);
      }
      for (const id of ids) out.push(id);
    }
    return out;
  }

  /** `clip.tokenize([text], context_length, truncate=True)` plus the untruncated ids. */
  tokenize(text: string, contextLength = 77): TokenizedText {
    const ids = this.encode(text);
    return { ids, ...clipRow(ids, contextLength) };
  }

  private bpe(piece: string): number[] {
    const bytes = this.utf8.encode(piece);
    const word: string[] = [];
    for (const b of bytes) word.push(this.vocab.byteChar[b]!);
    word[word.length - 1] += '</w>';
    const symbols = mergeSymbols(word, this.rankOf);
    return symbols.map((s) => {
      const id = this.vocab.encoder.get(s);
      if (id === undefined) throw new Error(`CLIP BPE produced a symbol outside the vocabulary: ${s}`);
      return id;
    });
  }
}

/** `[SOT] + ids + [EOT]`, cut to the context with EOT forced last, right-padded with 0. */
export function clipRow(
  ids: readonly number[],
  contextLength: number,
): { context: number[]; truncated: boolean } {
  const row = [CLIP_SOT, ...ids, CLIP_EOT];
  const truncated = row.length > contextLength;
  if (truncated) {
    row.length = contextLength;
    row[contextLength - 1] = CLIP_EOT;
  }
  while (row.length < contextLength) row.push(0);
  return { context: row, truncated };
}
