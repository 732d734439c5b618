/**
 * One self-contained HTML page per experiment: vega, vega-lite and vega-embed inlined (no network at
 * view time), the interactive charts, the tables, the qualitative grids (PNG as data URIs) and the run's
 * provenance (spec text, pefuse version, git commit, stage key records, model identities, timings).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { JsonValue } from '../runner/util/json.js';
import type { StageProvenance } from './data.js';
import { htmlEscape } from './table-format.js';

export interface PageChart {
  id: string;
  title: string;
  spec: object;
  notes: string[];
}

export interface PageInput {
  experiment: string;
  generatedAt: string;
  status: string[];
  charts: PageChart[];
  tables: { title: string; html: string }[];
  grids: { title: string; png: Buffer; caption: string }[];
  provenance: {
    specFile: string | null;
    specText: string | null;
    version: string;
    gitCommit: string | null;
    run: JsonValue;
    stages: StageProvenance[];
  };
}

/** The UMD build of a package (`build/<file>`): its `exports` map blocks resolving the file directly. */
function umd(pkg: string, file: string): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(pkg));
  for (let i = 0; i < 5; i++) {
    try {
      return readFileSync(join(dir, 'build', file), 'utf8');
    } catch {
      dir = dirname(dir);
    }
  }
  throw new Error(`page: ${pkg}/build/${file} not found`);
}

/** Inline script text: `</script` inside it would end the element. */
const script = (js: string) => `<script>${js.replace(/<\/script/gi, '<\\/script')}</script>`;

const STYLE = `
body { font-family: 'DejaVu Sans', system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1200px; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
.status { background: #fff6e0; border: 1px solid #e8c66a; padding: .5rem 1rem; }
.chart { margin: 1rem 0; min-height: 40px; }
table.report-table { border-collapse: collapse; font-size: .85rem; margin: 1rem 0; }
table.report-table th, table.report-table td { border-bottom: 1px solid #ddd; padding: .25rem .5rem; }
table.report-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.report-table tr.reported { color: #555; font-style: italic; }
caption { text-align: left; font-weight: bold; padding: .25rem 0; }
ul.notes { font-size: .8rem; color: #555; }
pre { background: #f6f6f6; padding: .5rem; overflow-x: auto; font-size: .8rem; }
details { margin: .5rem 0; }
img.grid { max-width: 100%; border: 1px solid #ddd; }
`;

export function renderPage(p: PageInput): string {
  const charts = p.charts
    .map(
      (c) =>
        `<section><h3>${htmlEscape(c.title)}</h3><div class="chart" id="${c.id}"></div>${
          c.notes.length > 0
            ? `<ul class="notes">${c.notes.map((n) => `<li>${htmlEscape(n)}</li>`).join('')}</ul>`
            : ''
        }</section>`,
    )
    .join('\n');
  const specs = JSON.stringify(Object.fromEntries(p.charts.map((c) => [c.id, c.spec])));
  const stages = p.provenance.stages
    .map(
      (s) =>
        `<tr><td>${htmlEscape(s.kind)}</td><td>${htmlEscape(s.backend ?? '')}</td><td><code>${htmlEscape(
          s.key.slice(0, 16),
        )}</code></td><td>${htmlEscape(s.status ?? '')}</td><td class="num">${s.seconds?.toFixed(2) ?? ''}</td><td class="num">${
          s.items ?? ''
        }</td><td><details><summary>record</summary><pre>${htmlEscape(JSON.stringify(s.record, null, 2))}</pre></details></td></tr>`,
    )
    .join('\n');
  const embed = `
window.__charts = 0; window.__chartsDone = false; window.__chartErrors = [];
const specs = JSON.parse(document.getElementById('chart-specs').textContent);
Promise.all(Object.entries(specs).map(([id, spec]) =>
  vegaEmbed('#' + id, spec, { actions: { export: true, source: true, compiled: false, editor: false }, renderer: 'svg' })
    .then((r) => r.view.runAsync()).then(() => { window.__charts++; })
    .catch((e) => { window.__chartErrors.push(String(e)); console.error(e); })
)).then(() => { window.__chartsDone = true; });`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>${htmlEscape(p.experiment)} — pefuse report</title>
<style>${STYLE}</style>
${script(umd('vega', 'vega.min.js'))}
${script(umd('vega-lite', 'vega-lite.min.js'))}
${script(umd('vega-embed', 'vega-embed.min.js'))}
</head><body>
<h1>${htmlEscape(p.experiment)}</h1>
<p>pefuse ${htmlEscape(p.provenance.version)} · commit ${htmlEscape(p.provenance.gitCommit ?? 'unknown')} · generated ${htmlEscape(p.generatedAt)}</p>
${p.status.length > 0 ? `<div class="status">${p.status.map((s) => `<p>${htmlEscape(s)}</p>`).join('')}</div>` : ''}
${p.charts.length > 0 ? `<h2>Figures</h2>\n${charts}` : ''}
${p.tables.length > 0 ? `<h2>Tables</h2>\n${p.tables.map((t) => t.html).join('\n')}` : ''}
${
  p.grids.length > 0
    ? `<h2>Qualitative examples</h2>\n${p.grids
        .map(
          (g) =>
            `<section><h3>${htmlEscape(g.title)}</h3><img class="grid" alt="${htmlEscape(g.title)}" src="data:image/png;base64,${g.png.toString(
              'base64',
            )}"><p class="notes">${htmlEscape(g.caption)}</p></section>`,
        )
        .join('\n')}`
    : ''
}
<h2>Provenance</h2>
<p>Spec: <code>${htmlEscape(p.provenance.specFile ?? '')}</code></p>
<details><summary>spec text</summary><pre>${htmlEscape(p.provenance.specText ?? '(not readable)')}</pre></details>
<details><summary>latest run</summary><pre>${htmlEscape(JSON.stringify(p.provenance.run, null, 2))}</pre></details>
<details><summary>${p.provenance.stages.length} stages: key records (model identities, params), timings</summary>
<table class="report-table"><thead><tr><th>stage</th><th>backend</th><th>key</th><th>status</th><th>seconds</th><th>items</th><th>key record (model identity, params)</th></tr></thead>
<tbody>${stages}</tbody></table></details>
<script type="application/json" id="chart-specs">${specs.replace(/</g, '\\u003c')}</script>
${script(embed)}
</body></html>
`;
}
