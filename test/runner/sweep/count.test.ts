/** Sweep size: counted from the spec's shape and refused before anything is expanded. */
import { describe, expect, it } from 'vitest';
import type { LNode } from '../../../runner/spec/located.js';
import { countSweep, MAX_POINTS } from '../../../runner/sweep/count.js';
import { BASE, check } from '../spec/helpers.js';

const values = (n: number) => `[${Array.from({ length: n }, (_, i) => i / 100).join(', ')}]`;

describe('countSweep', () => {
  const span = { file: 's', source: '', start: 0, end: 0 };
  const seq = (n: number): LNode => ({
    kind: 'seq',
    span,
    items: Array.from({ length: n }, (_, i) => ({ kind: 'scalar', span, value: i })),
  });
  const map = (o: Record<string, LNode>): LNode => ({
    kind: 'map',
    span,
    entries: new Map(Object.entries(o).map(([k, v]) => [k, { keySpan: span, value: v }])),
  });
  const list = (items: LNode[]): LNode => ({ kind: 'seq', span, items });

  it('grid multiplies, zip pairs, points lists, union adds, product multiplies', () => {
    const grid = map({ grid: map({ a: seq(3), b: seq(4) }) });
    const zip = map({ zip: map({ a: seq(5), b: seq(5) }) });
    const points = map({ points: seq(7) });
    expect(countSweep(undefined)).toBe(1);
    expect(countSweep(grid)).toBe(12);
    expect(countSweep(zip)).toBe(5);
    expect(countSweep(points)).toBe(7);
    expect(countSweep(map({ union: list([grid, zip, points]) }))).toBe(24);
    expect(countSweep(map({ product: list([grid, zip, points]) }))).toBe(420);
  });
});

describe('sweep size limit', () => {
  it(`a 4 × 100-value grid (10^8 points) is refused at once (limit ${MAX_POINTS})`, async () => {
    const axes = ['mllm.temperature', 'mllm.top_k', 'mllm.max_tokens', 'mllm.timeout_s'];
    const grid = axes.map(
      (a, i) =>
        `    ${a}: ${i === 0 ? values(100) : `[${Array.from({ length: 100 }, (_, j) => j + 1).join(', ')}]`}`,
    );
    const r = await check({ 'spec.yaml': `${BASE}sweep:\n  grid:\n${grid.join('\n')}\n` });
    expect(
      r.text,
    ).toBe(`spec.yaml:7:1: error: the sweep expands to up to 100,000,000 points (limit 100,000; counted before exclude and duplicates are removed): 1 dataset × 100,000,000 sweep combinations × 1 repeat
  7 | sweep:
    | ^^^^^
  hint: split it into several specs (e.g. one per value of an axis), or use \`zip\` or \`points\` to list only the combinations you need

1 error
`);
  });

  it('repeats above the limit are refused at `repeats`', async () => {
    const r = await check({ 'spec.yaml': `${BASE}repeats: 1000000\n` });
    expect(
      r.text,
    ).toBe(`spec.yaml:7:10: error: the sweep expands to up to 1,000,000 points (limit 100,000; counted before exclude and duplicates are removed): 1 dataset × 1 sweep combination × 1,000,000 repeats
  7 | repeats: 1000000
    |          ^^^^^^^
  hint: repeats give mean ± std over a few seeds (3 to 10 is typical); for more, split the seeds over several specs

1 error
`);
  });

  it('datasets, sweep and repeats multiply', async () => {
    const spec = `${BASE.replace('{ name: synthetic }', '{ name: synthetic }\n  - { name: synthetic, seed: 2 }')}repeats: 501\nsweep: { product: [ { grid: { mllm.temperature: ${values(10)} } }, { zip: { mllm.top_k: ${values(10).replace(/0\.(\d+)/g, '$1')} } } ] }\n`;
    const r = await check({ 'spec.yaml': spec });
    expect(r.text.split('\n')[0]).toBe(
      'spec.yaml:9:1: error: the sweep expands to up to 100,200 points (limit 100,000; counted before exclude and duplicates are removed): 2 datasets × 100 sweep combinations × 501 repeats',
    );
  });
});
