/**
 * A JSON-like tree whose every node remembers where it came from (file + span). Specs are parsed into
 * this form so that merging `include:` fragments and applying `--set` overrides keep exact locations,
 * and any later phase (schema, semantics, planning) can point at the source.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';
import type { SourceSpan } from '../diagnostics/diagnostic.js';
import type { JsonValue } from '../util/json.js';

export type Scalar = string | number | boolean | null;

export type LNode =
  | { kind: 'map'; span: SourceSpan; entries: Map<string, LEntry> }
  | { kind: 'seq'; span: SourceSpan; items: LNode[] }
  | { kind: 'scalar'; span: SourceSpan; value: Scalar };

export interface LEntry {
  keySpan: SourceSpan;
  value: LNode;
}

export interface SourceFile {
  /** Path as shown to the user. */
  display: string;
  text: string;
}

/** Converts a parsed YAML document into a located tree. Non-scalar keys are reported by the caller. */
export function fromYaml(doc: Document, file: SourceFile, _lc?: LineCounter): LNode {
  const span = (n: Node | null | undefined): SourceSpan => {
    const r = n?.range;
    return { file: file.display, source: file.text, start: r?.[0] ?? 0, end: r?.[1] ?? r?.[0] ?? 0 };
  };
  const visit = (n: unknown): LNode => {
    if (isAlias(n)) return visit(n.resolve(doc));
    if (isMap(n)) {
      const entries = new Map<string, LEntry>();
      for (const pair of n.items) {
        const k = pair.key;
        const keyText = isScalar(k) ? String(k.value) : String(k);
        const valueNode = pair.value as Node | null;
        const value: LNode =
          valueNode === null || valueNode === undefined
            ? {
                kind: 'scalar',
                span: { ...span(k as Node), start: (k as Node).range?.[1] ?? 0 },
                value: null,
              }
            : visit(valueNode);
        entries.set(keyText, { keySpan: span(k as Node), value });
      }
      return { kind: 'map', span: span(n), entries };
    }
    if (isSeq(n)) return { kind: 'seq', span: span(n), items: n.items.map((i) => visit(i)) };
    if (isScalar(n)) {
      const v = n.value;
      const value: Scalar =
        v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
          ? v
          : typeof v === 'bigint'
            ? Number(v)
            : String(v);
      return { kind: 'scalar', span: span(n), value };
    }
    // Empty document.
    return { kind: 'scalar', span: span(null), value: null };
  };
  return visit(doc.contents);
}

/** Plain JSON of a located tree (what ajv validates and the planner reads). */
export function toJson(n: LNode): JsonValue {
  switch (n.kind) {
    case 'scalar':
      return n.value;
    case 'seq':
      return n.items.map(toJson);
    case 'map': {
      const o: Record<string, JsonValue> = {};
      for (const [k, e] of n.entries) o[k] = toJson(e.value);
      return o;
    }
  }
}

/** Follows a JSON-pointer-like path; returns the deepest node found and whether the full path exists. */
export function nodeAt(
  root: LNode,
  path: readonly (string | number)[],
): { node: LNode; keySpan?: SourceSpan; found: boolean } {
  let node = root;
  let keySpan: SourceSpan | undefined;
  for (const seg of path) {
    if (node.kind === 'map' && node.entries.has(String(seg))) {
      const e = node.entries.get(String(seg))!;
      keySpan = e.keySpan;
      node = e.value;
    } else if (node.kind === 'seq' && typeof seg === 'number' && node.items[seg]) {
      node = node.items[seg]!;
      keySpan = undefined;
    } else {
      return keySpan ? { node, keySpan, found: false } : { node, found: false };
    }
  }
  return keySpan ? { node, keySpan, found: true } : { node, found: true };
}

/**
 * Deep merge for `include:`: maps merge key by key (the later one wins per key), anything else is
 * replaced whole. Locations stay with whichever node was taken.
 */
export function mergeInto(base: LNode, over: LNode): LNode {
  if (base.kind !== 'map' || over.kind !== 'map') return over;
  const entries = new Map(base.entries);
  for (const [k, e] of over.entries) {
    const prev = entries.get(k);
    entries.set(k, prev ? { keySpan: e.keySpan, value: mergeInto(prev.value, e.value) } : e);
  }
  return { kind: 'map', span: over.span, entries };
}
