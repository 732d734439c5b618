/**
 * `pefuse tokenize (--model DIR | --clip-vocab FILE) [--context N] [--jsonl] [TEXT…]`: shows how a
 * retrieval model's tokenizer sees texts — the ids (without start/end tokens), their count, the
 * model-ready fixed-length row and whether the text was truncated (MLLM descriptions often exceed
 * CLIP's 77 tokens). With `--jsonl`, reads one JSON string per stdin line and writes one JSON object
 * per line: `{"ids": [...], "context": [...], "truncated": true|false}` (a blank line is the empty text, so
 * output line N always belongs to input line N).
 */
import type { Command } from 'commander';
import type { TextTokenizer } from '../../../stages/embed/tokenizer/tools.js';
import type { CliIo } from '../io.js';
import { EXIT_USAGE } from '../io.js';

interface TokenizeOpts {
  model?: string;
  profile?: string;
  clipVocab?: string;
  specialTokens?: string;
  context?: string;
  jsonl?: boolean;
}

async function loadTokenizer(
  opts: TokenizeOpts,
  io: CliIo,
): Promise<{ ok: true; tok: TextTokenizer } | { ok: false; message: string }> {
  const { resolve } = await import('node:path');
  const {
    MAX_CONTEXT_LENGTH,
    MIN_CONTEXT_LENGTH,
    ClipBpeTokenizer,
    loadClipVocab,
    clipTextTokenizer,
    resolveModelConfig,
    resolveModelRef,
    loadTextTokenizer,
  } = await (await import('../../../stages/catalog.js')).TOOLS.tokenizer();
  let context: number | undefined;
  if (opts.context !== undefined) {
    // A plain decimal: Number() would also take "0x10", "1e3" or " 8 ".
    context = /^\d{1,9}$/.test(opts.context) ? Number(opts.context) : Number.NaN;
    if (!(context >= MIN_CONTEXT_LENGTH && context <= MAX_CONTEXT_LENGTH)) {
      return {
        ok: false,
        message: `--context expects a whole number from ${MIN_CONTEXT_LENGTH} to ${MAX_CONTEXT_LENGTH} (CLIP uses 77, SigLIP2 64), got "${opts.context}"`,
      };
    }
  }
  if (opts.profile !== undefined && opts.clipVocab !== undefined) {
    return {
      ok: false,
      message:
        '--profile applies to a --model folder and conflicts with --clip-vocab: give --model DIR --profile NAME, or --clip-vocab FILE alone',
    };
  }
  if ((opts.model === undefined) === (opts.clipVocab === undefined)) {
    return {
      ok: false,
      message:
        'give exactly one of --model DIR (a model folder) or --clip-vocab FILE (bpe_simple_vocab_16e6.txt.gz)',
    };
  }
  if (opts.clipVocab !== undefined) {
    const special = opts.specialTokens ?? 'openai';
    if (special !== 'openai' && special !== 'openclip') {
      return { ok: false, message: `--special-tokens expects "openai" or "openclip", got "${special}"` };
    }
    const v = await loadClipVocab(resolve(io.cwd, opts.clipVocab));
    if (!v.ok) return { ok: false, message: v.error };
    return { ok: true, tok: clipTextTokenizer(new ClipBpeTokenizer(v.value, special), context ?? 77) };
  }
  const ref = resolveModelRef(
    opts.profile !== undefined ? { model: opts.profile, model_dir: opts.model } : { model: opts.model },
    io.cwd,
  );
  if (!ref.ok) return { ok: false, message: ref.error };
  const cfg = await resolveModelConfig(ref.value);
  if (!cfg.ok) return { ok: false, message: cfg.error };
  const t = await loadTextTokenizer(ref.value.dir, {
    ...cfg.value,
    context_length: context ?? cfg.value.context_length,
  });
  return t.ok ? { ok: true, tok: t.value } : { ok: false, message: t.error };
}

export function registerTokenize(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('tokenize')
    .description("show a retrieval model's token ids, count and truncation for texts")
    .argument('[texts...]', 'texts to tokenize (or --jsonl to read JSON strings from stdin)')
    .option('--model <dir>', 'model folder (its pefuse-model.json / profile picks the tokenizer)')
    .option(
      '--profile <name>',
      'built-in profile to apply to --model (when the folder has no pefuse-model.json)',
    )
    .option(
      '--clip-vocab <file>',
      'CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz) instead of a model folder',
    )
    .option(
      '--special-tokens <kind>',
      'with --clip-vocab: literal special-token names, openai or openclip',
      'openai',
    )
    .option('--context <n>', 'context length, 2..4096 (default: the model’s, 77 for --clip-vocab)')
    .option(
      '--jsonl',
      'read one JSON string per stdin line, write one JSON object per line (a blank line is the empty text)',
    )
    .action(async (texts: string[], opts: TokenizeOpts) => {
      const fail = (msg: string) => {
        io.stderr(`pefuse tokenize: ${msg}\n`);
        setExit(EXIT_USAGE);
      };
      if (opts.jsonl && texts.length > 0)
        return fail('give texts either as arguments or with --jsonl on stdin, not both');
      if (!opts.jsonl && texts.length === 0)
        return fail('no texts: give TEXT arguments, or --jsonl with JSON strings on stdin');
      const loaded = await loadTokenizer(opts, io);
      if (!loaded.ok) return fail(loaded.message);
      const { tok } = loaded;
      let n = 0;
      let truncated = 0;
      if (opts.jsonl) {
        const { createInterface } = await import('node:readline');
        const rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
        let lineNo = 0;
        let bad: string | null = null;
        const out: string[] = [];
        for await (const line of rl) {
          lineNo++;
          // A blank line is the empty text: every input line gets exactly one output line.
          let text: unknown = '';
          if (line.trim() !== '') {
            try {
              text = JSON.parse(line);
            } catch {
              text = undefined;
            }
          }
          if (typeof text !== 'string') {
            bad = `stdin line ${lineNo}: expected a JSON string such as "a photo of a cat", got ${line.slice(0, 60)}`;
            break;
          }
          const t = tok.tokenize(text);
          n++;
          if (t.truncated) truncated++;
          out.push(`${JSON.stringify({ ids: t.ids, context: t.context, truncated: t.truncated })}\n`);
          if (out.length >= 256) io.stdout(out.splice(0).join(''));
        }
        io.stdout(out.join(''));
        if (bad !== null) return fail(bad);
        io.stderr(
          `tokenized ${n} text${n === 1 ? '' : 's'}; ${truncated} longer than ${tok.contextLength} tokens (truncated)\n`,
        );
        return;
      }
      for (const text of texts) {
        const t = tok.tokenize(text);
        n++;
        if (t.truncated) truncated++;
        io.stdout(
          `${JSON.stringify(text)}\n` +
            `  ids (${t.ids.length}): ${t.ids.join(' ')}\n` +
            `  context (${t.context.length}): ${t.context.join(' ')}\n` +
            `  truncated: ${t.truncated ? `yes (${t.ids.length} tokens do not fit in ${tok.contextLength})` : 'no'}\n`,
        );
      }
      io.stdout(`${n} text${n === 1 ? '' : 's'}, ${truncated} truncated to ${tok.contextLength} tokens\n`);
    });
}
