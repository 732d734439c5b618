/**
 * `--set PATH=VALUE` overrides. The value is typed like a YAML scalar (or flow collection); the path
 * walks maps by key and lists by index. Problems are diagnostics located at `<command line>`.
 */

import { type Diagnostic, diag, type SourceSpan } from '../diagnostics/diagnostic.js';
import { yaml } from '../util/vendor.js';
import { fromYaml, type LNode } from './located.js';

const { parseDocument } = yaml();

/** Path segments that name JavaScript object internals, never spec keys. */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

export function applyOverride(tree: LNode, text: string, diagnostics: Diagnostic[]): LNode {
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
  if (path.some((p) => p === '')) {
    diagnostics.push(diag(`malformed override path \`${text.slice(0, eq)}\``, spanOf(6, 6 + eq)));
    return tree;
  }
  // Where each segment starts on the command line, to underline the offending one.
  const segStart: number[] = [];
  let at = 6;
  for (const p of path) {
    segStart.push(at);
    at += p.length + 1;
  }
  const segSpan = (i: number) => spanOf(segStart[i]!, segStart[i]! + path[i]!.length);
  const bad = path.findIndex((p) => FORBIDDEN.has(p));
  if (bad >= 0) {
    diagnostics.push(
      diag(`\`${path[bad]}\` cannot be used in an override path`, segSpan(bad), {
        hint: 'override paths name spec keys, e.g. --set mllm.temperature=0.3',
      }),
    );
    return tree;
  }
  if (path[0] === 'include') {
    diagnostics.push(
      diag('include cannot be set from the command line; add it to the spec', segSpan(0), {
        hint: 'fragments are merged before overrides apply, so the spec must list them under `include:`',
      }),
    );
    return tree;
  }
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
  const value = fromYaml(doc, { display: '<command line>', text: src }, diagnostics);
  if (value === null) return tree;
  return setPath(tree, path, 0, value, segSpan, spanOf(6, 6 + eq), diagnostics);
}

function setPath(
  node: LNode,
  path: string[],
  i: number,
  value: LNode,
  segSpan: (i: number) => SourceSpan,
  keySpan: SourceSpan,
  diagnostics: Diagnostic[],
): LNode {
  if (i === path.length) return value;
  const head = path[i]!;
  const where = i === 0 ? 'the spec' : `\`${path.slice(0, i).join('.')}\``;
  if (node.kind === 'seq') {
    const n = node.items.length;
    const range = n === 0 ? 'it has no entries' : `the index must be 0..${n - 1}`;
    if (!/^\d+$/.test(head) || Number(head) >= n) {
      diagnostics.push(
        diag(
          `cannot set \`${head}\`: ${where} is a list of ${n} entr${n === 1 ? 'y' : 'ies'}, so ${range}`,
          segSpan(i),
        ),
      );
      return node;
    }
    const items = node.items.slice();
    const k = Number(head);
    items[k] = setPath(items[k]!, path, i + 1, value, segSpan, keySpan, diagnostics);
    return { ...node, items };
  }
  if (node.kind !== 'map') {
    diagnostics.push(diag(`cannot set \`${head}\`: ${where} is not a mapping`, segSpan(i)));
    return node;
  }
  const entries = new Map(node.entries);
  const prev = entries.get(head);
  const child: LNode = prev?.value ?? { kind: 'map', span: keySpan, entries: new Map() };
  entries.set(head, { keySpan, value: setPath(child, path, i + 1, value, segSpan, keySpan, diagnostics) });
  return { ...node, entries };
}
