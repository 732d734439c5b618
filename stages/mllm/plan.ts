/**
 * Plan-time work for the MLLM stages: which template each point uses (the spec's file, its entry for
 * the point's dataset, or the shipped file), read once per file, with its hash and text; and the
 * located checks of the `mllm` block (placeholders, `extra_body` fields that would override a sampling
 * field, sampling fields a backend cannot take, `raw` without captions).
 */
import { readFileSync } from 'node:fs';
import type { PlanContext } from '../../runner/contract/stage.js';
import { type Diagnostic, diag } from '../../runner/diagnostics/diagnostic.js';
import { requiredBlocks } from '../../runner/spec/semantic.js';
import type { PointConfig } from '../../runner/spec/types.js';
import { sha256Hex } from '../../runner/util/json.js';
import { shippedPromptFile, unknownPlaceholders } from './prompts.js';
import { isHttpBackend, UNSUPPORTED_FIELDS } from './request.js';
import { checkServer } from './server-config.js';

/** One template as the stages see it: its hash (in the key), its text and where it came from. */
export interface PromptFact {
  hash: string;
  text: string;
  file: string;
}

/** Fields `extra_body` must not carry: the request's own, which every request states explicitly. */
const RESERVED_BODY_FIELDS = [
  'model',
  'messages',
  'temperature',
  'top_p',
  'top_k',
  'repetition_penalty',
  'max_tokens',
  'seed',
  'n',
  'stream',
  'options',
];

export class PromptFacts {
  readonly #cache = new Map<string, PromptFact>();
  readonly #warned = new Set<string>();
  constructor(
    readonly ctx: PlanContext,
    readonly diagnostics: Diagnostic[],
  ) {}

  /** The compose and caption templates of one point. */
  of(c: PointConfig): { compose: PromptFact; caption: PromptFact } {
    const p = c.mllm?.prompt;
    const dataset = c.dataset.name;
    let compose: PromptFact;
    if (typeof p === 'string') compose = this.#read(['mllm', 'prompt'], p, true);
    else if (p !== undefined && p[dataset] !== undefined)
      compose = this.#read(['mllm', 'prompt', dataset], p[dataset] as string, true);
    else compose = this.#read(null, shippedPromptFile('compose', dataset), false);
    const cp = c.mllm?.caption_prompt;
    const caption =
      cp !== undefined
        ? this.#read(['mllm', 'caption_prompt'], cp, true)
        : this.#read(null, shippedPromptFile('caption', dataset), false);
    return { compose, caption };
  }

  #read(path: string[] | null, file: string, relative: boolean): PromptFact {
    const id = `${path?.join('.') ?? ''}\0${file}`;
    const hit = this.#cache.get(id);
    if (hit) return hit;
    const abs = relative && path ? this.ctx.resolveFrom(path, file) : file;
    let text = '';
    try {
      text = readFileSync(abs, 'utf8');
    } catch {
      this.diagnostics.push(
        diag(`prompt template not found: ${abs}`, path ? this.ctx.spanOf(path, file) : null, {
          hint: path
            ? 'prompt paths are relative to the file that names them'
            : 'the shipped prompts live in experiments/prompts/ of the pefuse package; name one with mllm.prompt',
        }),
      );
    }
    const bad = unknownPlaceholders(text);
    if (bad.length > 0)
      this.diagnostics.push(
        diag(
          `prompt template ${abs} uses unknown placeholder(s) ${bad.map((b) => `{${b}}`).join(', ')}`,
          path ? this.ctx.spanOf(path, file) : null,
          {
            hint: 'known placeholders: {text}, {reference_caption}, {shared_concept} (experiments/prompts/README.md)',
          },
        ),
      );
    const fact = { hash: `sha256:${sha256Hex(text)}`, text, file: abs };
    this.#cache.set(id, fact);
    return fact;
  }

  /** Located checks of one point's `mllm` block (each problem reported once per plan). */
  check(c: PointConfig): void {
    const m = c.mllm;
    // A block the point's mode does not use (a fragment's mllm block in an i2i spec) runs nothing.
    if (!m || !requiredBlocks(c.mode, c.diffusion?.text).includes('mllm')) return;
    const once = (id: string, d: () => Diagnostic) => {
      if (this.#warned.has(id)) return;
      this.#warned.add(id);
      this.diagnostics.push(d());
    };
    if (m.backend !== 'raw' && (m.model === undefined || m.model === ''))
      once(`model:${m.backend}`, () =>
        diag(
          `mllm.model is required for backend "${m.backend}"`,
          this.ctx.spanOf(['mllm', 'backend'], m.backend),
          {
            hint: 'name the model the server serves, e.g. model: Qwen/Qwen2.5-VL-7B-Instruct',
          },
        ),
      );
    if (m.backend === 'raw' && (c.mode === 't2t' || c.mode === 'i2t'))
      once(`raw:${c.mode}`, () =>
        diag(
          `mllm.backend "raw" has no gallery captions, but mode ${c.mode} needs them`,
          this.ctx.spanOf(['mllm', 'backend'], m.backend),
          {
            hint: 'raw (the modification text as the description) serves t2i, and i2i/i2t with diffusion.text: mllm',
          },
        ),
      );
    checkServer(c, this.ctx, once);
    for (const k of Object.keys(m.extra_body ?? {}))
      if (RESERVED_BODY_FIELDS.includes(k))
        once(`extra_body:${k}`, () =>
          diag(
            `mllm.extra_body.${k} would override a field pefuse sets on every request`,
            this.ctx.spanOf(['mllm', 'extra_body', k]),
            {
              hint: `set mllm.${k === 'options' ? 'temperature etc.' : k} instead (sampling fields are part of the stage key)`,
            },
          ),
        );
    if (isHttpBackend(m.backend))
      for (const f of UNSUPPORTED_FIELDS[m.backend])
        once(`unsupported:${m.backend}:${f}`, () =>
          diag(
            `mllm.${f} is not sent to backend "${m.backend}" (its API rejects the field): the server's own ${f} applies`,
            this.ctx.spanOf(['mllm', f]) ?? this.ctx.spanOf(['mllm', 'backend'], m.backend),
            {
              severity: 'warning',
              hint: 'use vllm or sglang (or ollama, whose native API takes top_k and repeat_penalty) to control every sampling field',
            },
          ),
        );
  }
}
