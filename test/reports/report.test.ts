/**
 * `pefuse report` on a results database from a small synthetic run (real CLI, real DuckDB file, dummy
 * backends): every output kind, checked the way a reader would check it.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileVegaLite } from '../../reports/render.js';
import { openResults } from '../../runner/results/index.js';
import { pefuse } from '../helpers/cli.js';
import { CHROMIUM, checkPage } from './browser.js';
import { type Fixture, makeFixture } from './fixture.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await makeFixture();
}, 240_000);

const read = (name: string) => readFileSync(join(fx.out, name), 'utf8');

/** Value cells of a table as text, per row; `number` reads the displayed mean. */
const mean = (cell: string): number | null => {
  const m = /-?\d+\.\d+/.exec(cell);
  return m ? Number(m[0]) : null;
};

/**
 * Per value column: the cells marked best must be exactly those with the largest displayed mean, the
 * cells marked second those with the next distinct value.
 */
function expectMarks(
  rows: string[][],
  cols: number[],
  isBest: (c: string) => boolean,
  isSecond: (c: string) => boolean,
): number {
  let checked = 0;
  for (const c of cols) {
    const values = rows.map((r) => mean(r[c]!));
    const distinct = [...new Set(values.filter((v): v is number => v !== null))].sort((a, b) => b - a);
    rows.forEach((r, i) => {
      const v = values[i];
      const best = distinct.length > 1 && v === distinct[0];
      const second = distinct.length > 1 && v === distinct[1];
      expect(isBest(r[c]!), `column ${c} row ${i}: ${r[c]}`).toBe(best);
      expect(isSecond(r[c]!), `column ${c} row ${i}: ${r[c]}`).toBe(second);
      if (best || second) checked++;
    });
  }
  return checked;
}

describe('pefuse report on a synthetic sweep', () => {
  it('writes every output kind the report block asks for', () => {
    const files = readdirSync(fx.out).sort();
    for (const stem of ['sensitivity', 'scaling', 'heatmap-mllm.temperature-mode'])
      for (const ext of ['.vl.json', '.svg', '.png']) expect(files).toContain(stem + ext);
    for (const stem of ['results', 'compute'])
      for (const ext of ['.md', '.tex', '.html']) expect(files).toContain(stem + ext);
    expect(files).toContain('grid-best.png');
    expect(files).toContain('index.html');
  });

  it('Vega-Lite specs compile without warnings', async () => {
    for (const f of readdirSync(fx.out).filter((x) => x.endsWith('.vl.json'))) {
      const { warnings } = await compileVegaLite(JSON.parse(read(f)));
      expect(warnings, f).toEqual([]);
    }
  });

  it('SVGs hold the axis, facet and legend labels', () => {
    const sens = read('sensitivity.svg');
    for (const label of [
      'mllm.temperature',
      'diffusion.guidance_scale',
      'mean R@K (%)',
      'mode',
      't2i',
      't2t',
      'i2i',
    ])
      expect(sens).toContain(`>${label}<`);
    const scaling = read('scaling.svg');
    // Backbones ordered by parameter count: B/32 (151M) before L/14 (428M).
    const b = scaling.indexOf('openclip-vit-b-32 (151M)');
    const l = scaling.indexOf('openclip-vit-l-14 (428M)');
    expect(b).toBeGreaterThan(0);
    expect(l).toBeGreaterThan(b);
    const heat = read('heatmap-mllm.temperature-mode.svg');
    for (const label of ['mllm.temperature', 'mode', 'R@10 (%)']) expect(heat).toContain(`>${label}<`);
  });

  it('PNGs decode and have the declared size (the SVG size at 2×)', async () => {
    for (const stem of ['sensitivity', 'scaling', 'heatmap-mllm.temperature-mode']) {
      const svg = read(`${stem}.svg`);
      const w = Number(/<svg[^>]* width="([\d.]+)"/.exec(svg)![1]);
      const h = Number(/<svg[^>]* height="([\d.]+)"/.exec(svg)![1]);
      const meta = await sharp(join(fx.out, `${stem}.png`)).metadata();
      expect(meta.format).toBe('png');
      expect(meta.width).toBe(Math.round(w * 2));
      expect(meta.height).toBe(Math.round(h * 2));
      // Not blank: the text was drawn (resvg drops text silently without a font).
      const stats = await sharp(join(fx.out, `${stem}.png`)).stats();
      expect(stats.channels[0]!.min).toBeLessThan(60);
    }
    const grid = await sharp(join(fx.out, 'grid-best.png')).metadata();
    expect(grid.format).toBe('png');
    expect(grid.width).toBeGreaterThan(800);
  });

  it('Markdown table: best bold and second underlined per column, reported rows marked', () => {
    const lines = read('results.md')
      .split('\n')
      .filter((l) => l.startsWith('|'));
    const head = lines[0]!
      .split('|')
      .slice(1, -1)
      .map((s) => s.trim());
    const rows = lines.slice(2).map((l) => l.split(' | ').map((s) => s.replace(/^\| ?| ?\|$/g, '').trim()));
    const first = head.indexOf('source') + 1;
    const last = head.findIndex((h) => h.startsWith('best − row'));
    expect(head.slice(first, last)).toEqual(['R@1', 'R@5', 'R@10', 'R@50']);
    const cols = head.slice(first, last).map((_, i) => first + i);
    const n = expectMarks(
      rows,
      cols,
      (c) => c.startsWith('**'),
      (c) => c.startsWith('<u>'),
    );
    expect(n).toBeGreaterThan(4);
    const old = rows.find((r) => r[0] === 'Old†')!;
    expect(old[head.indexOf('source')]).toBe('reported');
    expect(old[head.indexOf('R@1')]).toBe('12.50');
    expect(old[head.indexOf('R@50')]).toBe('—');
    expect(rows.filter((r) => r[head.indexOf('source')] === 'reproduced')).toHaveLength(10);
    expect(read('results.md')).toContain('lost cell: table9 / Old: R@50 = null (lost in extraction)');
    // mean ± std with repeats
    expect(rows[0]![first]).toMatch(/\d+\.\d\d ± \d+\.\d\d/);
  });

  it('LaTeX fragment: balanced environments, the right column count, marks as in Markdown', () => {
    const tex = read('results.tex');
    const begins = [...tex.matchAll(/\\begin\{(\w+)\}/g)].map((m) => m[1]);
    const ends = [...tex.matchAll(/\\end\{(\w+)\}/g)].map((m) => m[1]);
    expect(begins).toEqual(['tabular']);
    expect(ends).toEqual(begins);
    for (const rule of ['\\toprule', '\\midrule', '\\bottomrule']) expect(tex).toContain(rule);
    const spec = /\\begin\{tabular\}\{([lrc]+)\}/.exec(tex)![1]!;
    // Method, 3 swept fields, source, 4 metrics, the interval column.
    expect(spec).toHaveLength(10);
    const body = tex
      .split('\n')
      .filter((l) => l.endsWith('\\\\'))
      .map((l) =>
        l
          .slice(0, -2)
          .split(' & ')
          .map((c) => c.trim()),
      );
    for (const r of body) expect(r).toHaveLength(spec.length);
    const head = body[0]!;
    const rows = body.slice(1);
    const first = head.indexOf('source') + 1;
    const cols = [0, 1, 2, 3].map((i) => first + i);
    expectMarks(
      rows,
      cols,
      (c) => c.startsWith('\\textbf{'),
      (c) => c.startsWith('\\underline{'),
    );
    // Braces balance on every line; specials escaped.
    for (const l of tex.split('\n').filter((x) => !x.startsWith('%')))
      expect((l.match(/(?<!\\)\{/g) ?? []).length, l).toBe((l.match(/(?<!\\)\}/g) ?? []).length);
    expect(tex).toContain('diffusion.guidance\\_scale');
    expect(tex).not.toContain('±');
  });

  it('HTML table: <b> best and <u> second per column, reported rows classed', () => {
    const html = read('results.html');
    const head = [...html.matchAll(/<th>(.*?)<\/th>/g)].map((m) => m[1]!);
    const rows = [...html.matchAll(/<tr class="(\w+)">(.*?)<\/tr>/g)].map((m) => ({
      origin: m[1],
      cells: [...m[2]!.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]!),
    }));
    expect(rows.filter((r) => r.origin === 'reported')).toHaveLength(1);
    const first = head.indexOf('source') + 1;
    expectMarks(
      rows.map((r) => r.cells),
      [0, 1, 2, 3].map((i) => first + i),
      (c) => c.startsWith('<b>'),
      (c) => c.startsWith('<u>'),
    );
  });

  it('compute table: seconds per sample as mean ± std over repeats, from recorded timings', () => {
    const md = read('compute.md');
    expect(md).toContain('| Inference (s/sample) | Pipeline (s/sample) | R@10 |');
    const t2t = md.split('\n').find((l) => l.startsWith('| PEFUSE (T→T) [dummy] | dummy | dummy | 0.4 |'))!;
    expect(t2t).toMatch(/\d\.\d{3} ± \d\.\d{3}.*\d\.\d{3} ± \d\.\d{3}/);
  });

  it("a bootstrap interval matches a reference computed here from the database's per-query rows", async () => {
    const db = openResults(fx.db, { readOnly: true });
    // Per query, recall@1 averaged over the two repeats, for the best row (T→I, temperature 0) and T→T 0.8.
    const perQuery = async (mode: string, t: number) => {
      const r = await db.query(`
        SELECT q.query_id, avg(q.value) AS v FROM points p
        JOIN (SELECT DISTINCT point_id, stage_key FROM latest_metrics) lm ON lm.point_id = p.point_id
        JOIN query_results q ON q.stage_key = lm.stage_key AND q.metric = 'recall@1'
        WHERE p.params->>'$.mode' = '${mode}' AND (p.params->>'$."mllm.temperature"')::DOUBLE = ${t}
        GROUP BY q.query_id ORDER BY q.query_id`);
      if (!r.ok) throw new Error(r.error.message);
      return new Map(r.value.map((x) => [String(x.query_id), Number(x.v)]));
    };
    const a = await perQuery('t2i', 0);
    const b = await perQuery('t2t', 0.8);
    await db.close();
    expect(a.size).toBe(30);
    // Reference: mulberry32 written out again, 10,000 resamples, NumPy-style linear percentiles.
    let s = 0 >>> 0;
    const rand = () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const ids = [...a.keys()];
    const d = ids.map((q) => a.get(q)! - b.get(q)!);
    const means: number[] = [];
    for (let r = 0; r < 10_000; r++) {
      let sum = 0;
      for (let i = 0; i < d.length; i++) sum += d[Math.floor(rand() * d.length)]!;
      means.push(sum / d.length);
    }
    means.sort((x, y) => x - y);
    const pct = (p: number) => {
      const pos = p * (means.length - 1);
      const lo = Math.floor(pos);
      return means[lo]! + (pos - lo) * ((means[lo + 1] ?? means[lo]!) - means[lo]!);
    };
    const diff = d.reduce((x, y) => x + y, 0) / d.length;
    const expected = `+${diff.toFixed(2)} [${pct(0.025).toFixed(2)}, ${pct(0.975).toFixed(2)}]`;
    const row = read('results.md')
      .split('\n')
      .find((l) => l.startsWith('| PEFUSE (T→T) [dummy] | 0.8 |'))!;
    expect(row).toContain(expected);
    expect(read('results.md')).toContain(
      '10,000 resamples, percentile 95%, repeats averaged per query, seed 0',
    );
  });

  it('--best prints the best configuration, its interval and how many are tied', async () => {
    const r = await pefuse(['--cache', fx.cache, 'report', fx.spec, '--best', 'recall@1', '--seed', '7']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/synthetic\/val: best of 10 configurations by R@1/);
    expect(r.stdout).toMatch(/runner-up .*best − runner-up [+-]\d+\.\d\d \[/);
    expect(r.stdout).toMatch(/\d+ of 9 other configurations are statistically tied with it/);
    expect(r.stdout).toContain('seed 7');
    const bad = await pefuse(['--cache', fx.cache, 'report', fx.spec, '--best', 'map@5']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('synthetic has no metric `map@5`');
  });

  it('the page is self-contained: libraries inline, no network address loaded', () => {
    const html = read('index.html');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).toContain('vegaEmbed(');
    expect(html).toContain('PEFUSE (T→I) [dummy]');
    expect(html).toContain('spec text');
    expect(html).toContain('data:image/png;base64,');
  });

  it.skipIf(!CHROMIUM)(
    'headless Chromium renders every chart with no console error (skipped when /usr/bin/chromium is absent)',
    async () => {
      const shot = join(fx.dir, 'page.png');
      const r = await checkPage(join(fx.out, 'index.html'), shot);
      expect(r.errors).toEqual([]);
      expect(r.charts).toHaveLength(3);
      for (const c of r.charts) {
        expect(c.svgs, c.id).toBeGreaterThan(0);
        expect(c.height, c.id).toBeGreaterThan(50);
      }
      expect((await sharp(shot).metadata()).width).toBe(1280);
    },
    120_000,
  );

  it('a sweep with points still missing gives a partial report that says what is missing', async () => {
    const db = join(fx.dir, 'partial.duckdb');
    copyFileSync(fx.db, db);
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const inst = await DuckDBInstance.create(db);
    const conn = await inst.connect();
    await conn.run(
      `DELETE FROM metrics WHERE point_id IN (
         SELECT point_id FROM points WHERE params->>'$."diffusion.guidance_scale"' = '1.5')`,
    );
    conn.closeSync();
    inst.closeSync();
    const out = join(fx.dir, 'partial-out');
    const r = await pefuse([
      '--db',
      db,
      '--cache',
      fx.cache,
      'report',
      fx.spec,
      '--out',
      out,
      '--format',
      'md,page',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /note: 2 of 20 points of the latest run have no metrics yet \(.*diffusion\.guidance_scale=1\.5/,
    );
    expect(readFileSync(join(out, 'report-test', 'index.html'), 'utf8')).toContain('have no metrics yet');
    expect(existsSync(join(out, 'report-test', 'results.md'))).toBe(true);
    expect(existsSync(join(out, 'report-test', 'sensitivity.svg'))).toBe(false);
  });
});
