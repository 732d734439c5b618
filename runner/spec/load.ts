/**
 * Loading a spec: read the YAML (keeping node ranges), merge `include:` fragments, apply `--set`
 * overrides, substitute `${env:VAR}`. Produces a located tree plus diagnostics; never throws for bad
 * input.
 */
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { type Diagnostic, diag, type SourceSpan } from '../diagnostics/diagnostic.js';
import { fromYaml, type LNode, mergeInto, type SourceFile } from './located.js';

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

function loadFile(
  abs: string,
  opts: LoadOptions,
  diagnostics: Diagnostic[],
  files: string[],
  stack: string[],
  includedFrom: SourceSpan | null,
): LNode | null {
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const what =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : `cannot read (${code})`;
    diagnostics.push(
      diag(
        includedFrom ? `included ${what}: ${display(abs, opts.cwd)}` : `${display(abs, opts.cwd)}: ${what}`,
        includedFrom,
        includedFrom ? { hint: 'include paths are relative to the including file' } : {},
      ),
    );
    return null;
  }
  files.push(abs);
  const source: SourceFile = { display: display(abs, opts.cwd), text };
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  let ok = true;
  for (const e of doc.errors) {
    ok = false;
    diagnostics.push(
      diag(
        yamlMessage(e.code, e.message),
        { file: source.display, source: text, start: e.pos[0], end: e.pos[1] },
        yamlHint(e.code),
      ),
    );
  }
  for (const w of doc.warnings) {
    diagnostics.push(
      diag(
        yamlMessage(w.code, w.message),
        { file: source.display, source: text, start: w.pos[0], end: w.pos[1] },
        {
          severity: 'warning',
        },
      ),
    );
  }
  if (!ok) return null;
  let tree = fromYaml(doc, source, lineCounter);
  if (tree.kind === 'scalar' && tree.value === null) {
    diagnostics.push(
      diag(
        'the spec is empty',
        { file: source.display, source: text, start: 0, end: 0 },
        {
          hint: 'start from experiments/demo.yaml',
        },
      ),
    );
    return null;
  }
  if (tree.kind !== 'map') {
    diagnostics.push(diag('a spec must be a YAML mapping (key: value pairs)', tree.span));
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
      const sub = loadFile(target, opts, diagnostics, files, [...stack, abs], item.span);
      if (sub) base = base ? mergeInto(base, sub) : sub;
    }
    tree = base ? mergeInto(base, own) : own;
  }
  return tree;
}

function yamlMessage(code: string, message: string): string {
  // The yaml library's messages are good; drop its trailing location text if any.
  const m = message.replace(/ at line \d+, column \d+.*$/s, '').trim();
  return `YAML ${code.toLowerCase().replace(/_/g, ' ')}: ${m}`;
}

function yamlHint(code: string): { hint?: string } {
  switch (code) {
    case 'DUPLICATE_KEY':
      return { hint: 'each key may appear once per mapping; merge the two entries' };
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
      return { hint: 'check the indentation (spaces only, same depth for siblings)' };
    case 'TAB_AS_INDENT':
      return { hint: 'YAML indentation must use spaces, not tabs' };
    default:
      return {};
  }
}

/** `--set mllm.temperature=0.3`: the value is typed like a YAML scalar (or flow collection). */
function applyOverride(tree: LNode, text: string, diagnostics: Diagnostic[]): LNode {
  const src = `--set ${text}`;
  const spanOf = (start: number, end: number): SourceSpan => ({
    file: '<command line>',
    source: src,
    start,
    end,
  });
  const eq = text.indexOf('=');
  if (eq <= 0) {
    diagnostics.push(
      diag('an override must look like PATH=VALUE', spanOf(6, src.length), {
        hint: 'e.g. --set mllm.temperature=0.3',
      }),
    );
    return tree;
  }
  const path = text.slice(0, eq).split('.');
  const valueStart = 6 + eq + 1;
  const padded = ' '.repeat(valueStart) + text.slice(eq + 1);
  const doc = parseDocument(padded, { prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    diagnostics.push(
      diag(`cannot parse the override value: ${e.message.split('\n')[0]}`, spanOf(valueStart, src.length)),
    );
    return tree;
  }
  const value = fromYaml(doc, { display: '<command line>', text: src });
  if (path.some((p) => p === '')) {
    diagnostics.push(diag(`malformed override path \`${text.slice(0, eq)}\``, spanOf(6, 6 + eq)));
    return tree;
  }
  return setPath(tree, path, value, spanOf(6, 6 + eq), diagnostics);
}

function setPath(
  node: LNode,
  path: string[],
  value: LNode,
  keySpan: SourceSpan,
  diagnostics: Diagnostic[],
): LNode {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string, ...string[]];
  if (node.kind === 'seq' && /^\d+$/.test(head)) {
    const i = Number(head);
    if (i >= node.items.length) {
      diagnostics.push(
        diag(`override index ${i} is out of range (the list has ${node.items.length} entries)`, keySpan),
      );
      return node;
    }
    const items = node.items.slice();
    items[i] = setPath(items[i]!, rest, value, keySpan, diagnostics);
    return { ...node, items };
  }
  if (node.kind !== 'map') {
    diagnostics.push(diag(`cannot set \`${head}\`: the value at this path is not a mapping`, keySpan));
    return node;
  }
  const entries = new Map(node.entries);
  const prev = entries.get(head);
  const child: LNode = prev?.value ?? { kind: 'map', span: keySpan, entries: new Map() };
  entries.set(head, { keySpan, value: setPath(child, rest, value, keySpan, diagnostics) });
  return { ...node, entries };
}

const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function substituteEnv(node: LNode, env: NodeJS.ProcessEnv, diagnostics: Diagnostic[]): LNode {
  switch (node.kind) {
    case 'scalar': {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return node;
      const value = node.value.replace(ENV_REF, (whole, name: string, def: string | undefined) => {
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        if (def !== undefined) return def;
        diagnostics.push(
          diag(`environment variable ${name} is not set`, node.span, {
            hint: `export ${name}=… before running, or give a default: \${env:${name}:-/path}`,
          }),
        );
        return whole;
      });
      return { ...node, value };
    }
    case 'seq':
      return { ...node, items: node.items.map((i) => substituteEnv(i, env, diagnostics)) };
    case 'map': {
      const entries = new Map<string, { keySpan: SourceSpan; value: LNode }>();
      for (const [k, e] of node.entries)
        entries.set(k, { keySpan: e.keySpan, value: substituteEnv(e.value, env, diagnostics) });
      return { ...node, entries };
    }
  }
}
