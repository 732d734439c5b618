/**
 * Sweep normalisation: `grid`, `zip`, `points`, `union`, `product` and `exclude` are expanded into an
 * explicit, deduplicated list of assignments (dotted path → typed value), each value remembering the
 * YAML node it came from so later checks can point at it.
 *
 *   sweep node ─▶ expand(grid | zip | points | union | product) ─▶ exclude ─▶ dedup ─▶ Assignment[]
 */
import { type Diagnostic, diag, type SourceSpan } from '../diagnostics/diagnostic.js';
import { closest } from '../diagnostics/suggest.js';
import type { LNode, Scalar } from '../spec/located.js';
import { canonicalJson } from '../util/json.js';
import { checkValue, isSweepable, SWEEPABLE_PATHS } from './params.js';

export interface AssignedValue {
  value: Scalar;
  /** The value's YAML node. */
  span: SourceSpan;
  /** The axis's key (`mllm.temperature:`) in the sweep: where warnings about the axis point. */
  axis: SourceSpan;
}

/** One sweep point before datasets and repeats: path → value (insertion order = axis order). */
export type Assignment = Map<string, AssignedValue>;

const GENERATORS = ['grid', 'zip', 'points', 'union', 'product'] as const;

export function expandSweep(sweep: LNode | undefined, diagnostics: Diagnostic[]): Assignment[] {
  if (!sweep) return [new Map()];
  const out = expand(sweep, diagnostics);
  if (out === null) return [];
  return dedup(out);
}

function expand(node: LNode, diagnostics: Diagnostic[]): Assignment[] | null {
  if (node.kind !== 'map') return null; // schema already reported it
  const present = GENERATORS.filter((g) => node.entries.has(g));
  if (present.length === 0) {
    diagnostics.push(
      diag('a sweep needs one of `grid`, `zip`, `points`, `union` or `product`', node.span, {
        hint: 'e.g. `sweep: {grid: {mllm.temperature: [0.2, 0.7]}}`',
      }),
    );
    return null;
  }
  if (present.length > 1) {
    const second = node.entries.get(present[1]!)!;
    diagnostics.push(
      diag(
        `a sweep level may use only one of ${present.map((p) => `\`${p}\``).join(' and ')}`,
        second.keySpan,
        {
          hint: 'combine them with `product: [...]` (all combinations) or `union: [...]` (one after the other)',
        },
      ),
    );
    return null;
  }
  const gen = present[0]!;
  const entry = node.entries.get(gen)!;
  let points: Assignment[] | null;
  switch (gen) {
    case 'grid':
      points = grid(entry.value, diagnostics);
      break;
    case 'zip':
      points = zip(entry.value, entry.keySpan, diagnostics);
      break;
    case 'points':
      points = explicit(entry.value, entry.keySpan, diagnostics);
      break;
    case 'union':
      points = union(entry.value, entry.keySpan, diagnostics);
      break;
    case 'product':
      points = product(entry.value, entry.keySpan, diagnostics);
      break;
  }
  if (points === null) return null;
  const ex = node.entries.get('exclude');
  if (ex && ex.value.kind === 'seq') {
    const filters = ex.value.items
      .map((f) => readAxes(f, diagnostics))
      .filter((f): f is Assignment => f !== null);
    const before = points.length;
    points = points.filter((p) => !filters.some((f) => matches(p, f)));
    if (before > 0 && points.length === 0) {
      diagnostics.push(diag('the sweep is empty after `exclude`: every point was excluded', ex.keySpan));
      return null;
    }
  }
  return points;
}

/** Reads `{path: value}` pairs, checking each path is sweepable and each value fits its schema. */
function readAxes(node: LNode, diagnostics: Diagnostic[]): Assignment | null {
  if (node.kind !== 'map') return null;
  const a: Assignment = new Map();
  let ok = true;
  for (const [path, e] of node.entries) {
    if (!checkPath(path, e.keySpan, diagnostics)) {
      ok = false;
      continue;
    }
    if (e.value.kind !== 'scalar') {
      diagnostics.push(diag(`\`${path}\` needs a single value here`, e.value.span));
      ok = false;
      continue;
    }
    if (!checkAxisValue(path, e.value, diagnostics)) ok = false;
    a.set(path, { value: e.value.value, span: e.value.span, axis: e.keySpan });
  }
  return ok ? a : null;
}

function checkPath(path: string, span: SourceSpan, diagnostics: Diagnostic[]): boolean {
  if (isSweepable(path)) return true;
  const leaf = path.split('.').pop() ?? path;
  const sameLeaf = SWEEPABLE_PATHS.find((p) => p.endsWith(`.${leaf}`));
  const near = closest(path, SWEEPABLE_PATHS);
  let hint: string;
  if (path === 'dataset' || path.startsWith('dataset.') || path.startsWith('datasets'))
    hint = 'datasets are swept by listing them under `datasets:`';
  else if (near) hint = `did you mean \`${near}\`?`;
  else if (sameLeaf) hint = `did you mean \`${sameLeaf}\`?`;
  else
    hint = `sweepable paths look like \`mllm.temperature\`, \`diffusion.guidance_scale\`, \`retrieval.model\`, \`mode\``;
  diagnostics.push(diag(`unknown parameter path \`${path}\``, span, { hint }));
  return false;
}

function checkAxisValue(path: string, node: LNode, diagnostics: Diagnostic[]): boolean {
  if (node.kind !== 'scalar') {
    diagnostics.push(diag(`values of \`${path}\` must be scalars`, node.span));
    return false;
  }
  const problem = checkValue(path, node.value);
  if (problem === null) return true;
  const shown = typeof node.value === 'string' ? `"${node.value}"` : String(node.value);
  diagnostics.push(diag(`\`${path}\` ${problem} (got ${shown})`, node.span));
  return false;
}

interface Axis {
  path: string;
  keySpan: SourceSpan;
  values: AssignedValue[];
}

function readAxisLists(node: LNode, diagnostics: Diagnostic[]): Axis[] | null {
  if (node.kind !== 'map') return null;
  const axes: Axis[] = [];
  let ok = true;
  for (const [path, e] of node.entries) {
    if (!checkPath(path, e.keySpan, diagnostics)) {
      ok = false;
      continue;
    }
    const items = e.value.kind === 'seq' ? e.value.items : [e.value];
    if (items.length === 0) {
      diagnostics.push(
        diag(`empty sweep: axis \`${path}\` has no values`, e.value.span, {
          hint: 'list at least one value, or remove the axis',
        }),
      );
      ok = false;
      continue;
    }
    const values: AssignedValue[] = [];
    for (const it of items) {
      if (!checkAxisValue(path, it, diagnostics)) ok = false;
      else if (it.kind === 'scalar') values.push({ value: it.value, span: it.span, axis: e.keySpan });
    }
    axes.push({ path, keySpan: e.keySpan, values });
  }
  return ok ? axes : null;
}

function grid(node: LNode, diagnostics: Diagnostic[]): Assignment[] | null {
  const axes = readAxisLists(node, diagnostics);
  if (!axes) return null;
  let points: Assignment[] = [new Map()];
  for (const axis of axes) {
    const next: Assignment[] = [];
    for (const p of points)
      for (const v of axis.values) {
        const q = new Map(p);
        q.set(axis.path, v);
        next.push(q);
      }
    points = next;
  }
  return points;
}

function zip(node: LNode, keySpan: SourceSpan, diagnostics: Diagnostic[]): Assignment[] | null {
  const axes = readAxisLists(node, diagnostics);
  if (!axes || axes.length === 0) return null;
  const n = axes[0]!.values.length;
  const bad = axes.find((a) => a.values.length !== n);
  if (bad) {
    diagnostics.push(
      diag(
        `zip axes must have the same length: \`${axes[0]!.path}\` has ${n} value${n === 1 ? '' : 's'}, \`${bad.path}\` has ${bad.values.length}`,
        bad.keySpan,
        {
          related: [{ message: `\`${axes[0]!.path}\` is here`, span: axes[0]!.keySpan }],
          hint: 'use `grid` for all combinations',
        },
      ),
    );
    return null;
  }
  void keySpan;
  return Array.from({ length: n }, (_, i) => new Map(axes.map((a) => [a.path, a.values[i]!] as const)));
}

function explicit(node: LNode, keySpan: SourceSpan, diagnostics: Diagnostic[]): Assignment[] | null {
  if (node.kind !== 'seq') return null;
  if (node.items.length === 0) {
    diagnostics.push(diag('empty sweep: `points` lists no points', keySpan));
    return null;
  }
  const out: Assignment[] = [];
  let ok = true;
  for (const item of node.items) {
    const a = readAxes(item, diagnostics);
    if (a) out.push(a);
    else ok = false;
  }
  return ok ? out : null;
}

function subSweeps(
  node: LNode,
  keySpan: SourceSpan,
  what: string,
  diagnostics: Diagnostic[],
): Assignment[][] | null {
  if (node.kind !== 'seq') return null;
  if (node.items.length === 0) {
    diagnostics.push(diag(`empty sweep: \`${what}\` lists no sub-sweeps`, keySpan));
    return null;
  }
  const parts = node.items.map((n) => expand(n, diagnostics));
  return parts.every((p) => p !== null) ? (parts as Assignment[][]) : null;
}

function union(node: LNode, keySpan: SourceSpan, diagnostics: Diagnostic[]): Assignment[] | null {
  const parts = subSweeps(node, keySpan, 'union', diagnostics);
  return parts ? parts.flat() : null;
}

function product(node: LNode, keySpan: SourceSpan, diagnostics: Diagnostic[]): Assignment[] | null {
  const parts = subSweeps(node, keySpan, 'product', diagnostics);
  if (!parts) return null;
  // Axes must be disjoint across the members of a product.
  const owner = new Map<string, SourceSpan>();
  let ok = true;
  for (const part of parts) {
    const paths = new Map<string, SourceSpan>();
    for (const p of part) for (const [path, v] of p) if (!paths.has(path)) paths.set(path, v.span);
    for (const [path, span] of paths) {
      const first = owner.get(path);
      if (first) {
        diagnostics.push(
          diag(`duplicate axis \`${path}\`: it is swept by two members of this product`, span, {
            related: [{ message: 'first swept here', span: first }],
            hint: 'sweep each parameter in one member only',
          }),
        );
        ok = false;
      } else owner.set(path, span);
    }
  }
  if (!ok) return null;
  let points: Assignment[] = [new Map()];
  for (const part of parts) {
    const next: Assignment[] = [];
    for (const p of points) for (const q of part) next.push(new Map([...p, ...q]));
    points = next;
  }
  return points;
}

function matches(point: Assignment, filter: Assignment): boolean {
  for (const [path, f] of filter) {
    const v = point.get(path);
    if (!v || canonicalJson(v.value) !== canonicalJson(f.value)) return false;
  }
  return true;
}

/** Drops repeated points (same paths and values; 1 and 1.0 are equal, 1 and "1" are not). */
function dedup(points: Assignment[]): Assignment[] {
  const seen = new Set<string>();
  const out: Assignment[] = [];
  for (const p of points) {
    const id = [...p.entries()]
      .map(([k, v]) => `${k}=${canonicalJson(v.value)}`)
      .sort()
      .join('\u0000');
    if (!seen.has(id)) {
      seen.add(id);
      out.push(p);
    }
  }
  return out;
}
