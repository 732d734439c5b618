/**
 * A JSON-like tree whose every node remembers where it came from (file + span). Specs are parsed into
 * this form so that merging `include:` fragments and applying `--set` overrides keep exact locations,
 * and any later phase (schema, semantics, planning) can point at the source.
 */
import type { Document, Node } from 'yaml';
import { type Diagnostic, diag, type SourceSpan } from '../diagnostics/diagnostic.js';
import type { JsonValue } from '../util/json.js';
import { yaml } from '../util/vendor.js';

const { isAlias, isMap, isScalar, isSeq, Scalar: YamlScalar } = yaml();

export type Scalar = string | number | boolean | null;

export type LNode =
  | { kind: 'map'; span: SourceSpan; entries: Map<string, LEntry> }
  | { kind: 'seq'; span: SourceSpan; items: LNode[] }
  | {
      kind: 'scalar';
      span: SourceSpan;
      value: Scalar;
      /** True for an unquoted YAML scalar (its substituted `${env:…}` text is typed like YAML). */
      plain?: boolean;
    };

export interface LEntry {
  keySpan: SourceSpan;
  value: LNode;
}

export interface SourceFile {
  /** Path as shown to the user. */
  display: string;
  text: string;
}

/**
 * Deepest nesting of maps and lists a spec may have. Specs need a handful of levels (a `union` of
 * `product`s of `grid`s is five); the limit keeps every recursive phase (this walker, merging, ajv)
 * far from the call-stack limit.
 */
export const MAX_NESTING = 100;

/**
 * Most nodes that aliases (`*name`) may copy into one document. Anchors for a shared model block are
 * a few dozen nodes; an "alias bomb" (aliases of lists of aliases) copies billions.
 */
export const MAX_ALIAS_NODES = 10_000;

/** Thrown inside the walker to abandon a document that exceeded a limit (caught in fromYaml). */
class Abandon {
  constructor(readonly diagnostic: Diagnostic) {}
}

/**
 * Converts a parsed YAML document into a located tree. Aliases are resolved here (the walker copies
 * their targets), so this is where alias expansion is counted: an undefined alias, more than
 * MAX_ALIAS_NODES copied nodes, nesting deeper than MAX_NESTING and YAML merge keys (`<<`) are
 * errors pushed to `diagnostics`, and the tree is then null.
 */
export function fromYaml(doc: Document, file: SourceFile, diagnostics: Diagnostic[]): LNode | null {
  const span = (n: Node | null | undefined): SourceSpan => {
    const r = n?.range;
    return { file: file.display, source: file.text, start: r?.[0] ?? 0, end: r?.[1] ?? r?.[0] ?? 0 };
  };
  let aliasNodes = 0;
  /** The outermost alias being expanded (where a budget overrun is reported). */
  let outerAlias: Node | null = null;
  /** The top-level key being walked (a visible place to report runaway nesting). */
  let topKey: SourceSpan | null = null;
  const errors: Diagnostic[] = [];
  // Alias.resolve scans the whole document each time; resolve each alias node once.
  const resolved = new Map<unknown, unknown>();
  const resolve = (a: { resolve(d: Document): unknown }): unknown => {
    if (!resolved.has(a)) resolved.set(a, a.resolve(doc));
    return resolved.get(a);
  };

  const visit = (n: unknown, depth: number): LNode => {
    if (depth > MAX_NESTING) throw new Abandon(tooDeep(topKey ?? span(n as Node)));
    if (outerAlias !== null && ++aliasNodes > MAX_ALIAS_NODES)
      throw new Abandon(
        diag(
          `too many alias expansions: the aliases here copy more than ${MAX_ALIAS_NODES} values`,
          span(outerAlias),
          {
            hint: 'each alias (*name) copies its anchored value; nested aliases multiply. Write the values out instead',
          },
        ),
      );
    if (isAlias(n)) {
      const target = resolve(n);
      if (target === undefined) {
        errors.push(
          diag(`undefined alias \`*${n.source}\`: no anchor \`&${n.source}\` before it`, span(n), {
            hint: 'an alias can only refer to an anchor (&name) defined earlier in the same file',
          }),
        );
        return { kind: 'scalar', span: span(n), value: null };
      }
      if (outerAlias !== null) return visit(target, depth);
      outerAlias = n;
      try {
        return visit(target, depth);
      } finally {
        outerAlias = null;
      }
    }
    if (isMap(n)) {
      const entries = new Map<string, LEntry>();
      for (const pair of n.items) {
        const k = pair.key;
        const keyText = isScalar(k) ? String(k.value) : String(k);
        const keySpan = span(k as Node);
        if (depth === 0) topKey = keySpan;
        if (keyText === '<<' && isScalar(k) && k.type === YamlScalar.PLAIN) {
          errors.push(
            diag('merge keys (<<) are not supported; write the keys out', keySpan, {
              hint: 'to share settings between specs, put them in a fragment and list it under `include:`',
            }),
          );
          continue;
        }
        const valueNode = pair.value as Node | null;
        const value: LNode =
          valueNode === null || valueNode === undefined
            ? { kind: 'scalar', span: { ...keySpan, start: (k as Node).range?.[1] ?? 0 }, value: null }
            : visit(valueNode, depth + 1);
        entries.set(keyText, { keySpan, value });
      }
      return { kind: 'map', span: span(n), entries };
    }
    if (isSeq(n)) return { kind: 'seq', span: span(n), items: n.items.map((i) => visit(i, depth + 1)) };
    if (isScalar(n)) {
      const v = n.value;
      const value: Scalar =
        v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
          ? v
          : typeof v === 'bigint'
            ? Number(v)
            : String(v);
      const node: LNode = { kind: 'scalar', span: span(n), value };
      if (n.type === YamlScalar.PLAIN) node.plain = true;
      return node;
    }
    // Empty document.
    return { kind: 'scalar', span: span(null), value: null };
  };
  try {
    const tree = visit(doc.contents, 0);
    diagnostics.push(...errors);
    return errors.length > 0 ? null : tree;
  } catch (e) {
    if (!(e instanceof Abandon)) throw e;
    diagnostics.push(...errors, e.diagnostic);
    return null;
  }
}

/** The error for nesting deeper than MAX_NESTING, located at the top-level key that holds it. */
export function tooDeep(at: SourceSpan): Diagnostic {
  return diag(`nesting is too deep (more than ${MAX_NESTING} levels)`, at, {
    hint: 'a spec needs only a few levels of maps and lists; look for unclosed brackets or runaway indentation',
  });
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
      // defineProperty, not assignment: a key named `__proto__` must stay an (unknown, reported) key
      // instead of replacing the object's prototype.
      for (const [k, e] of n.entries)
        Object.defineProperty(o, k, {
          value: toJson(e.value),
          enumerable: true,
          writable: true,
          configurable: true,
        });
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
