/**
 * Counting a sweep before expanding it. Expansion materialises every point (and planning several
 * stages per point), so a spec that asks for 10^8 points must be refused from its shape alone:
 * grid = product of axis lengths, zip = axis length, points = list length, union = sum, product =
 * product; `exclude` is ignored (the count is an upper bound). Counts are floats so that absurd specs
 * overflow to Infinity instead of wrapping.
 */
import { type Diagnostic, diag, type SourceSpan } from '../diagnostics/diagnostic.js';
import type { LNode } from '../spec/located.js';
import { groupDigits } from '../util/digits.js';

/**
 * Most points (datasets × sweep combinations × repeats) a spec may expand to. `npm run bench -- plan`
 * plans 100k points of the longest chain in about 9 s and 1.5 GB; ten times that exhausts the default
 * Node heap, so the limit sits at what plans comfortably.
 */
export const MAX_POINTS = 100_000;

const GENERATORS = ['grid', 'zip', 'points', 'union', 'product'] as const;

/** Upper bound of the number of assignments a sweep node expands to (0 when malformed). */
export function countSweep(node: LNode | undefined): number {
  if (!node) return 1;
  if (node.kind !== 'map') return 0;
  const present = GENERATORS.filter((g) => node.entries.has(g));
  if (present.length !== 1) return 0;
  const gen = present[0]!;
  const value = node.entries.get(gen)!.value;
  const len = (n: LNode) => (n.kind === 'seq' ? n.items.length : 1);
  switch (gen) {
    case 'grid': {
      if (value.kind !== 'map') return 0;
      let n = 1;
      for (const e of value.entries.values()) n *= len(e.value);
      return n;
    }
    case 'zip': {
      if (value.kind !== 'map') return 0;
      let n = 0;
      for (const e of value.entries.values()) n = Math.max(n, len(e.value));
      return n;
    }
    case 'points':
      return value.kind === 'seq' ? value.items.length : 0;
    case 'union':
      return value.kind === 'seq' ? value.items.reduce((s, i) => s + countSweep(i), 0) : 0;
    case 'product':
      return value.kind === 'seq' ? value.items.reduce((s, i) => s * countSweep(i), 1) : 0;
  }
}

function fmt(n: number): string {
  return Number.isFinite(n) && n < 1e21 ? groupDigits(n) : 'more than 10^21';
}

function plural(n: number, one: string, many: string): string {
  return `${fmt(n)} ${n === 1 ? one : many}`;
}

/**
 * Checks datasets × sweep × repeats against MAX_POINTS; pushes a located error and returns false when
 * the spec is too large to expand.
 */
export function checkSweepSize(tree: LNode, diagnostics: Diagnostic[], limit = MAX_POINTS): boolean {
  if (tree.kind !== 'map') return true;
  const entry = (k: string) => tree.entries.get(k);
  const datasets = entry('datasets')?.value;
  const nDatasets = datasets?.kind === 'seq' ? Math.max(1, datasets.items.length) : 1;
  const sweep = entry('sweep');
  const nSweep = countSweep(sweep?.value);
  const repeats = entry('repeats');
  let nRepeats = 1;
  const rv = repeats?.value;
  if (rv?.kind === 'scalar' && typeof rv.value === 'number' && Number.isInteger(rv.value) && rv.value > 1)
    nRepeats = rv.value;
  else if (rv?.kind === 'map') {
    const seeds = rv.entries.get('seeds')?.value;
    if (seeds?.kind === 'seq') nRepeats = Math.max(1, seeds.items.length);
  }
  const total = nDatasets * nSweep * nRepeats;
  if (total <= limit) return true;
  const repeatsAlone = nRepeats > limit || !sweep || nSweep <= 1;
  const at: SourceSpan = repeatsAlone && repeats ? repeats.value.span : (sweep?.keySpan ?? tree.span);
  diagnostics.push(
    diag(
      `the sweep expands to up to ${fmt(total)} points (limit ${fmt(limit)}; counted before exclude and duplicates are removed): ${plural(nDatasets, 'dataset', 'datasets')} × ${plural(nSweep, 'sweep combination', 'sweep combinations')} × ${plural(nRepeats, 'repeat', 'repeats')}`,
      at,
      {
        hint:
          repeatsAlone && repeats
            ? 'repeats give mean ± std over a few seeds (3 to 10 is typical); for more, split the seeds over several specs'
            : 'split it into several specs (e.g. one per value of an axis), or use `zip` or `points` to list only the combinations you need',
      },
    ),
  );
  return false;
}
