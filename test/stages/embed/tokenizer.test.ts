import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { mergeHeap, mergeScan } from '../../../stages/embed/tokenizer/bpe-merge.js';
import { clipClean } from '../../../stages/embed/tokenizer/clean.js';
import { ClipBpeTokenizer, clipRow, loadClipVocab } from '../../../stages/embed/tokenizer/clip-bpe.js';
import { fixText } from '../../../stages/embed/tokenizer/ftfy.js';
import { canonicalizeText, HfTokenizer } from '../../../stages/embed/tokenizer/hf.js';
import { pyHtmlUnescape } from '../../../stages/embed/tokenizer/pyhtml.js';
import { needShared, SHARED } from '../../helpers/cli.js';
import { CLIP_VOCAB, CLIP_VOCAB_FILE, tinyGemmaTokenizer } from './models.js';

interface RefCase {
  id: string;
  text: string;
  ids: number[];
  context77: number[];
  cleaned?: string;
  openclip_ids?: number[];
}

describe('Python html.unescape', () => {
  it('follows the HTML5 rules, including legacy prefixes and invalid references', () => {
    expect(pyHtmlUnescape('&ampersand &copy 2020 AT&T')).toBe('&ersand © 2020 AT&T');
    expect(pyHtmlUnescape("I'm &notit; sure")).toBe("I'm ¬it; sure");
    expect(pyHtmlUnescape('&#0; &#128; &#x110000; &#55357;')).toBe('\ufffd € \ufffd \ufffd');
    expect(pyHtmlUnescape('&#x27;&#39;&unknown;')).toBe("''&unknown;");
  });
});

describe('ftfy-style repairs', () => {
  it('repairs mojibake, C1 controls, ligatures, widths, quotes and control characters', () => {
    expect(fixText('cafÃ©')).toBe('café');
    expect(fixText('The Mona Lisa doesnâ€™t have eyebrows.')).toBe("The Mona Lisa doesn't have eyebrows.");
    expect(fixText('Ã  la carte')).toBe('à la carte');
    expect(fixText('\u0093smart quotes\u0094 and\u0085')).toBe('"smart quotes" and…');
    expect(fixText('\ufb01ne \ufb02owers')).toBe('fine flowers');
    expect(fixText('ＡＢＣ\u3000１２３！')).toBe('ABC 123!');
    expect(fixText('\u001b[31mred\u001b[0m text')).toBe('red text');
    expect(fixText('nul\u0000 del\u007f bom\ufeff')).toBe('nul del bom');
    expect(fixText('fish &amp;amp;amp; chips')).toBe('fish & chips');
    // Entities are left alone from the first line containing "<" on.
    expect(fixText('a <b> tag\nfish &amp;amp; chips')).toBe('a <b> tag\nfish &amp;amp; chips');
  });

  it('leaves correct text alone', () => {
    for (const t of [
      'naïve café',
      'Crème brûlée à la française',
      'привет мир',
      'Größe',
      'not such a fan of Charlotte Brontë…”',
    ]) {
      expect(fixText(t)).toBe(t.replace('”', '"'));
    }
  });

  it('cleans like whitespace_clean(basic_clean(text)).lower()', () => {
    expect(clipClean('  A\u00a0PHOTO\tof\n\na   DOG ')).toBe('a photo of a dog');
    expect(clipClean('&lt;|endoftext|&gt;')).toBe('<|endoftext|>');
    expect(clipClean('\u0130stanbul')).toBe('i\u0307stanbul');
  });
});

describe('fixed-length CLIP rows', () => {
  it('adds SOT/EOT, truncates keeping EOT last, pads with 0', () => {
    expect(clipRow([1, 2, 3], 8)).toEqual({ context: [49406, 1, 2, 3, 49407, 0, 0, 0], truncated: false });
    expect(clipRow([1, 2, 3, 4, 5, 6], 8)).toEqual({
      context: [49406, 1, 2, 3, 4, 5, 6, 49407],
      truncated: false,
    });
    expect(clipRow([1, 2, 3, 4, 5, 6, 7], 8)).toEqual({
      context: [49406, 1, 2, 3, 4, 5, 6, 49407],
      truncated: true,
    });
  });
});

const BPE_REF = needShared('refvectors/clip_bpe_tokenizer.json', CLIP_VOCAB_FILE);
const VOCAB = needShared(CLIP_VOCAB_FILE);

describe.skipIf(BPE_REF.skip)(
  BPE_REF.title('CLIP BPE against ../shared/refvectors/clip_bpe_tokenizer.json'),
  () => {
    const ref = !BPE_REF.skip
      ? (JSON.parse(readFileSync(join(SHARED, 'refvectors', 'clip_bpe_tokenizer.json'), 'utf8')) as {
          cases: RefCase[];
        })
      : { cases: [] };

    it('reproduces ids, context77 and the cleaned text of every case (OpenAI special tokens)', async () => {
      const v = await loadClipVocab(CLIP_VOCAB);
      if (!v.ok) throw new Error(v.error);
      const tok = new ClipBpeTokenizer(v.value, 'openai');
      expect(ref.cases.length).toBe(7915);
      const mismatches: string[] = [];
      for (const c of ref.cases) {
        const t = tok.tokenize(c.text, 77);
        if (JSON.stringify(t.ids) !== JSON.stringify(c.ids)) mismatches.push(`${c.id}: ids`);
        if (JSON.stringify(t.context) !== JSON.stringify(c.context77)) mismatches.push(`${c.id}: context77`);
        if (c.cleaned !== undefined && clipClean(c.text) !== c.cleaned) mismatches.push(`${c.id}: cleaned`);
        expect(t.truncated).toBe(c.ids.length + 2 > 77);
      }
      expect(mismatches).toEqual([]);
    });

    it('reproduces openclip_ids with OpenCLIP special-token names', async () => {
      const v = await loadClipVocab(CLIP_VOCAB);
      if (!v.ok) throw new Error(v.error);
      const tok = new ClipBpeTokenizer(v.value, 'openclip');
      const withOpenclip = ref.cases.filter((c) => c.openclip_ids !== undefined);
      expect(withOpenclip.length).toBe(9);
      for (const c of ref.cases) expect(tok.encode(c.text), c.id).toEqual(c.openclip_ids ?? c.ids);
    });
  },
);

describe.skipIf(VOCAB.skip)(
  VOCAB.title('CLIP BPE on very long words: the heap merge equals the reference scan'),
  () => {
    it('gives the symbols of the scan on repetitive and random words of 1..400 symbols, and a 200k-character word is fast', async () => {
      const v = await loadClipVocab(CLIP_VOCAB);
      if (!v.ok) throw new Error(v.error);
      const rankOf = (a: string, b: string) => v.value.ranks.get(`${a} ${b}`);
      const symbolsOf = (w: string) => {
        const s = [...new TextEncoder().encode(w)].map((b) => v.value.byteChar[b]!);
        s[s.length - 1] += '</w>';
        return s;
      };
      let seed = 12345;
      const rnd = () => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      const words: string[] = ['a'.repeat(300), 'ab'.repeat(150), 'aab'.repeat(100), 'the'.repeat(120)];
      for (let i = 0; i < 300; i++) {
        const alphabet = i % 2 ? 'etaoinshrdlu' : 'abcxyz0123é';
        const n = 1 + Math.floor(rnd() * 400);
        words.push(Array.from({ length: n }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join(''));
      }
      for (const w of words)
        expect(mergeHeap(symbolsOf(w), rankOf), w.slice(0, 40)).toEqual(mergeScan(symbolsOf(w), rankOf));
      // Through the tokenizer (which picks the heap for long pieces): a degenerate MLLM output.
      const tok = new ClipBpeTokenizer(v.value, 'openai', 0);
      const long = tok.encode('x'.repeat(200_000));
      expect(long.length).toBeGreaterThan(0);
    });
  },
);

describe('SigLIP2 Gemma tokenizer (tokenizer.json via @huggingface/tokenizers)', () => {
  const tok = new HfTokenizer(new Tokenizer(tinyGemmaTokenizer(), {}), 1, 0, 'lower');

  it('lower-cases, appends EOS and pads to the context with pad id 0', () => {
    const t = tok.tokenize('A RED Dog', 64);
    expect(t.ids).toEqual([261, 296, 293]);
    expect(t.context).toEqual([261, 296, 293, 1, ...new Array(60).fill(0)]);
    expect(t.truncated).toBe(false);
  });

  it('truncates to context − 1 ids and keeps EOS last', () => {
    const t = tok.tokenize('a cat '.repeat(40).trim(), 64);
    expect(t.ids.length).toBe(80);
    expect(t.context.length).toBe(64);
    expect(t.context[63]).toBe(1);
    expect(t.truncated).toBe(true);
  });

  it('open_clip canonicalization strips punctuation', () => {
    expect(canonicalizeText('A photo_of  a CAT!!')).toBe('a photo of a cat');
  });
});
