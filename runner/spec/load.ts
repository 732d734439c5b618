/**
 * Loading a spec: read the YAML (keeping node ranges), merge `include:` fragments, apply `--set`
 * overrides, substitute `${env:VAR}`. Produces a located tree plus diagnostics; never throws for bad
 * input.
 */
import { dirname, relative, resolve } from 'node:path';
import { type Diagnostic, diag, type SourceSpan } from '../diagnostics/diagnostic.js';
import { yaml } from '../util/vendor.js';
import { substituteEnv } from './env.js';
import { fromYaml, type LNode, mergeInto, type SourceFile } from './located.js';
import { applyOverride } from './override.js';
import { readSpecText } from './text.js';
import { yamlDiagnostic } from './yaml-errors.js';

const { parseDocument } = yaml();

export interface LoadedSpec {
  /** Absolute path of the top-level spec. */
  path: string;
  tree: LNode;
  /** Files read (top-level and includes), absolute paths. */
  files: string[];
}

export interface LoadOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  overrides: readonly string[];
}

export function loadSpec(
  file: string,
  opts: LoadOptions,
): { spec: LoadedSpec | null; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const abs = resolve(opts.cwd, file);
  const files: string[] = [];
  const tree = loadFile(abs, opts, diagnostics, files, [], null);
  if (!tree) return { spec: null, diagnostics };
  let merged = tree;
  for (const o of opts.overrides) merged = applyOverride(merged, o, diagnostics);
  merged = substituteEnv(merged, opts.env, diagnostics);
  return { spec: { path: abs, tree: merged, files }, diagnostics };
}

function display(abs: string, cwd: string): string {
  const rel = relative(cwd, abs);
  return rel.startsWith('..') ? abs : rel;
}

/** Where a fragment was included from: the `include:` entry and the including file. */
interface IncludedFrom {
  span: SourceSpan;
  by: string;
}

function loadFile(
  abs: string,
  opts: LoadOptions,
  diagnostics: Diagnostic[],
  files: string[],
  stack: string[],
  includedFrom: IncludedFrom | null,
): LNode | null {
  const shown = display(abs, opts.cwd);
  const read = readSpecText(abs);
  if (!read.ok) {
    const notUtf8 = read.what.startsWith('not a UTF-8');
    if (includedFrom)
      diagnostics.push(
        notUtf8
          ? diag(`included fragment ${shown} is ${read.what}`, includedFrom.span, {
              hint: 'save the fragment as UTF-8',
            })
          : diag(`included ${read.what}: ${shown}`, includedFrom.span, {
              hint: 'include paths are relative to the including file',
            }),
      );
    else if (read.at)
      diagnostics.push(
        diag(
          read.what,
          { file: shown, source: read.at.text, start: read.at.offset, end: read.at.offset + 1 },
          {
            hint: 'save the spec as UTF-8',
          },
        ),
      );
    else
      diagnostics.push(
        diag(
          `${shown}: ${read.what}`,
          null,
          read.what.startsWith('not a UTF-8') ? { hint: 'save the spec as UTF-8' } : {},
        ),
      );
    return null;
  }
  const text = read.text;
  files.push(abs);
  const source: SourceFile = { display: shown, text };
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, strict: true });
  for (const e of doc.errors) diagnostics.push(yamlDiagnostic(e, doc, shown, text, 'error'));
  for (const w of doc.warnings) diagnostics.push(yamlDiagnostic(w, doc, shown, text, 'warning'));
  if (doc.errors.length > 0) return null;
  let tree = fromYaml(doc, source, diagnostics);
  if (!tree) return null;
  if (tree.kind === 'scalar' && tree.value === null) {
    diagnostics.push(
      includedFrom
        ? diag(`included fragment ${shown} is empty`, includedFrom.span, {
            hint: `put the shared keys in ${shown}, or remove it from the \`include:\` list of ${includedFrom.by}`,
          })
        : diag(
            'the spec is empty',
            { file: shown, source: text, start: 0, end: 0 },
            {
              hint: 'start from experiments/demo.yaml',
            },
          ),
    );
    return null;
  }
  if (tree.kind !== 'map') {
    diagnostics.push(
      includedFrom
        ? diag(`included fragment ${shown} must be a YAML mapping (key: value pairs)`, tree.span, {
            related: [{ message: `included by ${includedFrom.by} here`, span: includedFrom.span }],
          })
        : diag('a spec must be a YAML mapping (key: value pairs)', tree.span),
    );
    return null;
  }
  const inc = tree.entries.get('include');
  if (inc) {
    const entries = new Map(tree.entries);
    entries.delete('include');
    const own: LNode = { kind: 'map', span: tree.span, entries };
    let base: LNode | null = null;
    const items = inc.value.kind === 'seq' ? inc.value.items : [inc.value];
    for (const item of items) {
      if (item.kind !== 'scalar' || typeof item.value !== 'string') {
        diagnostics.push(diag('`include` entries must be file paths', item.span));
        continue;
      }
      const target = resolve(dirname(abs), item.value);
      if (stack.includes(target) || target === abs) {
        diagnostics.push(
          diag(
            `include cycle: ${[...stack, abs, target].map((f) => display(f, opts.cwd)).join(' → ')}`,
            item.span,
          ),
        );
        continue;
      }
      const sub = loadFile(target, opts, diagnostics, files, [...stack, abs], { span: item.span, by: shown });
      if (sub) base = base ? mergeInto(base, sub) : sub;
    }
    tree = base ? mergeInto(base, own) : own;
  }
  return tree;
}
