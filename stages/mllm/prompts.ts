/**
 * Prompt templates: the shipped files in `experiments/prompts/` (one compose prompt per benchmark,
 * `caption.txt` for gallery captioning), the placeholders they may use, and rendering. The template's
 * sha256 is part of the stage key (node `data`), its text travels in the node's settings to the runner.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QueryRecord } from '../contracts.js';

/** Placeholders a template may use; anything else in braces is a plan error. */
export const PLACEHOLDERS = ['text', 'reference_caption', 'shared_concept'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** Values of every placeholder for one item (empty strings where the dataset has no such field). */
export type PromptFields = Record<Placeholder, string>;

/** `{name}` occurrences (identifier-like only, so JSON braces in prose are left alone). */
const PLACEHOLDER_RE = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Placeholder names used by `template` that are not known. */
export function unknownPlaceholders(template: string): string[] {
  const bad = new Set<string>();
  for (const m of template.matchAll(PLACEHOLDER_RE)) {
    const name = m[1] as string;
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) bad.add(name);
  }
  return [...bad];
}

/** Fills the placeholders (unknown ones are left as written; planning rejects them). */
export function renderPrompt(template: string, fields: PromptFields): string {
  return template
    .replace(PLACEHOLDER_RE, (whole, name: string) =>
      (PLACEHOLDERS as readonly string[]).includes(name) ? fields[name as Placeholder] : whole,
    )
    .trim();
}

/** The placeholder values of a query (compose). */
export function queryFields(q: QueryRecord): PromptFields {
  return {
    text: q.text,
    reference_caption: q.extra?.reference_caption ?? '',
    shared_concept: q.extra?.shared_concept ?? '',
  };
}

/** A gallery item has no text of its own: caption prompts see empty fields. */
export const NO_FIELDS: PromptFields = { text: '', reference_caption: '', shared_concept: '' };

/** The folder of the shipped templates: `experiments/prompts` in the package root. */
export function shippedPromptDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'experiments', 'prompts');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  // Not found (a broken install): the caller reports the missing file with this path.
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'experiments', 'prompts');
}

/** The shipped template file for a stage kind and dataset. */
export function shippedPromptFile(kind: 'compose' | 'caption', dataset: string): string {
  return join(shippedPromptDir(), kind === 'caption' ? 'caption.txt' : `${dataset}.txt`);
}
