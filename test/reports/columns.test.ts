/**
 * Results-table columns carry the paper's printed labels, so the shipped baselines files line up with
 * reproduced columns: Fashion-IQ per category and their average (Table 1), CIRR recall and subset recall
 * (Table 2), CIRCO mAP (Table 3), one group per benchmark (Table 4).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { PointData } from '../../reports/data.js';
import { cellStats, tableColumns } from '../../reports/groups.js';
import type { DatasetName } from '../../stages/contracts.js';

function point(
  dataset: DatasetName,
  subset: string | null,
  label: string,
  metrics: Record<string, number>,
  repeat = 0,
): PointData {
  return {
    id: `${label}-${repeat}`,
    index: 0,
    params: { dataset: label, repeat },
    config: {},
    dataset,
    datasetLabel: label,
    subset,
    split: 'val',
    metrics,
    metricsStage: null,
    n: 10,
  };
}

const columnsOf = (table: string): string[] =>
  (JSON.parse(readFileSync(`experiments/baselines/${table}.json`, 'utf8')) as { columns: string[] }).columns;

describe('results table columns', () => {
  it('Fashion-IQ: per category in the paper order, then the average of the categories (Table 1)', () => {
    const pts = ['dress', 'shirt', 'toptee'].map((c, i) =>
      point('fashioniq', c, `fashioniq/${c}`, { 'recall@10': 10 + i, 'recall@50': 30 + i }),
    );
    const cols = tableColumns(pts);
    expect(cols.map((c) => c.label)).toEqual(columnsOf('table1'));
    const avg = cols.find((c) => c.label === 'Average R@10')!;
    expect(cellStats(pts, avg)?.mean).toBeCloseTo(11, 12);
  });

  it('CIRR and CIRCO single-dataset tables match Tables 2 and 3', () => {
    const cirr = tableColumns([point('cirr', null, 'cirr/test1', {})]).map((c) => c.label);
    expect(cirr).toEqual(columnsOf('table2'));
    const circo = tableColumns([point('circo', null, 'circo/test', {})]).map((c) => c.label);
    expect(circo).toEqual(columnsOf('table3'));
  });

  it('several benchmarks: one group each, subsets averaged (Table 4)', () => {
    const pts = [
      point('fashioniq', 'dress', 'fiq/dress', {}),
      point('fashioniq', 'shirt', 'fiq/shirt', {}),
      point('cirr', null, 'cirr', {}),
      point('circo', null, 'circo', {}),
      point('genecis', 'focus_object', 'genecis/fo', {}),
    ];
    const labels = tableColumns(pts).map((c) => c.label);
    for (const c of columnsOf('table4')) expect(labels).toContain(c);
  });

  it('mean ± std over repeats; an average over datasets needs each dataset in a repeat', () => {
    const pts = [0, 1].flatMap((r) =>
      ['dress', 'shirt'].map((c) =>
        point('fashioniq', c, `fiq/${c}`, { 'recall@10': 10 + r * 2 + (c === 'shirt' ? 4 : 0) }, r),
      ),
    );
    const cols = tableColumns(pts, ['recall@10']);
    const dress = cellStats(pts, cols.find((c) => c.label === 'Dress R@10')!)!;
    expect(dress.mean).toBe(11);
    expect(dress.std).toBeCloseTo(Math.SQRT2, 12);
    const avg = cellStats(pts, cols.find((c) => c.label.startsWith('Average'))!)!;
    expect(avg).toMatchObject({ mean: 13, n: 2 });
  });
});
