import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { needShared, pefuse, SHARED } from '../helpers/cli.js';
import { CLIP_VOCAB, CLIP_VOCAB_FILE, makeModelDir, siglipDir } from '../stages/embed/models.js';

interface RefCase {
  id: string;
  text: string;
  ids: number[];
  context77: number[];
}

describe('pefuse tokenize: usage errors', () => {
  it('needs exactly one tokenizer source and some texts', async () => {
    const none = await pefuse(['tokenize', 'a cat']);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toBe(
      'pefuse tokenize: give exactly one of --model DIR (a model folder) or --clip-vocab FILE (bpe_simple_vocab_16e6.txt.gz)\n',
    );
    const noText = await pefuse(['tokenize', '--clip-vocab', 'x.gz']);
    expect(noText.exitCode).toBe(2);
    expect(noText.stderr).toBe(
      'pefuse tokenize: no texts: give TEXT arguments, or --jsonl with JSON strings on stdin\n',
    );
    const missing = await pefuse(['tokenize', '--clip-vocab', '/nonexistent/vocab.gz', 'a cat']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toBe(
      'pefuse tokenize: cannot read CLIP vocabulary /nonexistent/vocab.gz: ENOENT\n',
    );
  });
});

describe('pefuse tokenize: --context, --profile and context_length checks', () => {
  it('wants a plain whole number from 2 to 4096 and refuses --profile with --clip-vocab', async () => {
    for (const bad of ['0x10', '1e3', ' 8', '1', '5000', '-3', '7.5']) {
      const r = await pefuse(['tokenize', '--clip-vocab', 'x.gz', '--context', bad, 'a cat']);
      expect([r.exitCode, r.stderr]).toEqual([
        2,
        `pefuse tokenize: --context expects a whole number from 2 to 4096 (CLIP uses 77, SigLIP2 64), got "${bad}"\n`,
      ]);
    }
    const both = await pefuse(['tokenize', '--clip-vocab', 'x.gz', '--profile', 'clip-vit-b-32', 'a']);
    expect([both.exitCode, both.stderr]).toEqual([
      2,
      'pefuse tokenize: --profile applies to a --model folder and conflicts with --clip-vocab: give --model DIR --profile NAME, or --clip-vocab FILE alone\n',
    ]);
  });

  it("names the model folder's file and field for an out-of-range context_length", async () => {
    const dir = makeModelDir({ json: { profile: 'siglip2-base-patch16-224', context_length: 100000 } });
    const r = await pefuse(['tokenize', '--model', dir, 'x']);
    expect([r.exitCode, r.stderr]).toEqual([
      2,
      `pefuse tokenize: ${join(dir, 'pefuse-model.json')}: field "context_length" must be a whole number from 2 to 4096, got 100000\n`,
    ]);
  });
});

describe('pefuse tokenize with a SigLIP2 model folder', () => {
  it('prints ids, count, the 64-long row and truncation', async () => {
    const dir = siglipDir(8);
    const r = await pefuse(['tokenize', '--model', dir, 'A RED DOG']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(
      `"A RED DOG"\n  ids (3): 261 296 293\n  context (64): 261 296 293 1${' 0'.repeat(60)}\n  truncated: no\n1 text, 0 truncated to 64 tokens\n`,
    );
  });

  it('reports a bad model folder', async () => {
    const dir = makeModelDir({ json: { profile: 'siglip2-base-patch16-224', text_clean: 'upper' } });
    const r = await pefuse(['tokenize', '--model', dir, 'x']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(
      `pefuse tokenize: ${join(dir, 'pefuse-model.json')}: field "text_clean" must be one of "lower", "canonicalize"\n`,
    );
  });
});

const BPE_REF = needShared('refvectors/clip_bpe_tokenizer.json', CLIP_VOCAB_FILE);
describe.skipIf(BPE_REF.skip)(
  BPE_REF.title('pefuse tokenize --jsonl against the CLIP reference vectors'),
  () => {
    const cases = !BPE_REF.skip
      ? (
          JSON.parse(readFileSync(join(SHARED, 'refvectors', 'clip_bpe_tokenizer.json'), 'utf8')) as {
            cases: RefCase[];
          }
        ).cases
      : [];

    it('reproduces every hard case and a sample of captions through the real CLI', async () => {
      const sample = [
        ...cases.filter((c) => c.id.startsWith('hard/')),
        ...cases.filter((c) => c.id.startsWith('cap/')).slice(0, 400),
      ];
      const input = `${sample.map((c) => JSON.stringify(c.text)).join('\n')}\n`;
      const r = await pefuse(['tokenize', '--clip-vocab', CLIP_VOCAB, '--jsonl'], { input });
      expect(r.exitCode).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines.length).toBe(sample.length);
      lines.forEach((line, i) => {
        const c = sample[i]!;
        expect(JSON.parse(line), c.id).toEqual({
          ids: c.ids,
          context: c.context77,
          truncated: c.ids.length + 2 > 77,
        });
      });
      const truncated = sample.filter((c) => c.ids.length + 2 > 77).length;
      expect(r.stderr).toBe(
        `tokenized ${sample.length} texts; ${truncated} longer than 77 tokens (truncated)\n`,
      );
    });

    it('names the stdin line that is not a JSON string', async () => {
      const r = await pefuse(['tokenize', '--clip-vocab', CLIP_VOCAB, '--jsonl'], {
        input: '"a cat"\nplain text\n',
      });
      expect(r.exitCode).toBe(2);
      expect(r.stdout).toBe(
        '{"ids":[320,2368],"context":[49406,320,2368,49407' + ',0'.repeat(73) + '],"truncated":false}\n',
      );
      expect(r.stderr).toBe(
        'pefuse tokenize: stdin line 2: expected a JSON string such as "a photo of a cat", got plain text\n',
      );
    });

    it('--jsonl keeps one output line per input line: a blank line is the empty text', async () => {
      const r = await pefuse(['tokenize', '--clip-vocab', CLIP_VOCAB, '--jsonl'], {
        input: '"a cat"\n\n   \n"a cat"\n',
      });
      expect(r.exitCode).toBe(0);
      const cat = `{"ids":[320,2368],"context":[49406,320,2368,49407${',0'.repeat(73)}],"truncated":false}\n`;
      const empty = `{"ids":[],"context":[49406,49407${',0'.repeat(75)}],"truncated":false}\n`;
      expect(r.stdout).toBe(cat + empty + empty + cat);
      expect(r.stderr).toBe('tokenized 4 texts; 0 longer than 77 tokens (truncated)\n');
    });

    it('shows truncation for long texts with --context', async () => {
      const r = await pefuse([
        'tokenize',
        '--clip-vocab',
        CLIP_VOCAB,
        '--context',
        '6',
        'a photo of a cat on a mat',
      ]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain(
        '  context (6): 49406 320 1125 539 320 49407\n  truncated: yes (8 tokens do not fit in 6)\n',
      );
      expect(r.stdout).toContain('1 text, 1 truncated to 6 tokens\n');
    });
  },
);
