/**
 * A report table as plain data, and its Markdown, LaTeX (booktabs) and HTML forms: best value in bold
 * and second underlined per column, mean ± std with repeats, rows taken from papers marked as reported.
 */
import type { MeanStd } from './stats.js';

export interface TableRow {
  /** Label cells (method, swept fields). */
  labels: string[];
  values: (MeanStd | null)[];
  origin: 'reproduced' | 'reported';
  /** Free text of an extra last column (e.g. the bootstrap interval), when the table has one. */
  extra?: string;
}

export interface TableModel {
  title: string;
  labelHeaders: string[];
  valueHeaders: string[];
  /** Per value column: which direction is better (for bold / underline). */
  better: ('higher' | 'lower')[];
  extraHeader?: string;
  rows: TableRow[];
  notes: string[];
  digits?: number;
}

/** 1 = best, 2 = second, per row and value column (ties share a rank; values compared as printed). */
export function ranks(t: TableModel): (0 | 1 | 2)[][] {
  const out = t.rows.map((r) => r.values.map(() => 0 as 0 | 1 | 2));
  const d = t.digits ?? 2;
  t.valueHeaders.forEach((_, c) => {
    const shown = t.rows.map((r) => (r.values[c] ? Number(r.values[c]!.mean.toFixed(d)) : null));
    const distinct = [...new Set(shown.filter((v): v is number => v !== null))].sort((a, b) =>
      t.better[c] === 'lower' ? a - b : b - a,
    );
    if (distinct.length < 2) return; // nothing to compare
    shown.forEach((v, r) => {
      if (v === distinct[0]) out[r]![c] = 1;
      else if (v === distinct[1]) out[r]![c] = 2;
    });
  });
  return out;
}

export function formatStat(v: MeanStd | null, digits = 2, pm = ' ± '): string {
  if (!v) return '—';
  return v.std === null ? v.mean.toFixed(digits) : `${v.mean.toFixed(digits)}${pm}${v.std.toFixed(digits)}`;
}

const ORIGIN = (r: TableRow) => (r.origin === 'reported' ? 'reported' : 'reproduced');

export function toMarkdown(t: TableModel): string {
  const rk = ranks(t);
  const head = [...t.labelHeaders, 'source', ...t.valueHeaders, ...(t.extraHeader ? [t.extraHeader] : [])];
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `**${esc(t.title)}**`,
    '',
    `| ${head.map(esc).join(' | ')} |`,
    `| ${head.map((_, i) => (i < t.labelHeaders.length + 1 ? '---' : '---:')).join(' | ')} |`,
  ];
  t.rows.forEach((r, i) => {
    const vals = r.values.map((v, c) => {
      const s = formatStat(v, t.digits);
      return rk[i]![c] === 1 ? `**${s}**` : rk[i]![c] === 2 ? `<u>${s}</u>` : s;
    });
    const cells = [...r.labels.map(esc), ORIGIN(r), ...vals, ...(t.extraHeader ? [esc(r.extra ?? '')] : [])];
    lines.push(`| ${cells.join(' | ')} |`);
  });
  if (t.notes.length > 0) lines.push('', ...t.notes.map((n) => `- ${n}`));
  return lines.join('\n') + '\n';
}

/** LaTeX special characters escaped; arrows and ± as math. */
export function latexEscape(s: string): string {
  return s
    .replace(/\\/g, '\\textbackslash{}')
    .replace(/([&%$#_{}])/g, '\\$1')
    .replace(/~/g, '\\textasciitilde{}')
    .replace(/\^/g, '\\textasciicircum{}')
    .replace(/→/g, '$\\rightarrow$')
    .replace(/±/g, '$\\pm$')
    .replace(/†/g, '$^\\dagger$')
    .replace(/‡/g, '$^\\ddagger$')
    .replace(/—/g, '--')
    .replace(/−/g, '$-$')
    .replace(/×/g, '$\\times$');
}

/** A booktabs `tabular` fragment (needs `\usepackage{booktabs}`), reported rows above reproduced ones. */
export function toLatex(t: TableModel): string {
  const rk = ranks(t);
  const nLabel = t.labelHeaders.length;
  const nCols = nLabel + 1 + t.valueHeaders.length + (t.extraHeader ? 1 : 0);
  const spec = 'l'.repeat(nLabel + 1) + 'r'.repeat(t.valueHeaders.length) + (t.extraHeader ? 'l' : '');
  const head = [...t.labelHeaders, 'source', ...t.valueHeaders, ...(t.extraHeader ? [t.extraHeader] : [])];
  const lines = [
    `% ${latexEscape(t.title.replace(/\n/g, ' '))}`,
    `% ${nCols} columns; reported rows (from papers) first, then reproduced rows; best \\textbf, second \\underline`,
    `\\begin{tabular}{${spec}}`,
    '\\toprule',
    `${head.map(latexEscape).join(' & ')} \\\\`,
    '\\midrule',
  ];
  const order = [...t.rows.keys()].sort(
    (a, b) => (t.rows[a]!.origin === 'reported' ? 0 : 1) - (t.rows[b]!.origin === 'reported' ? 0 : 1),
  );
  let prev: string | null = null;
  for (const i of order) {
    const r = t.rows[i]!;
    if (prev !== null && prev !== r.origin) lines.push('\\midrule');
    prev = r.origin;
    const vals = r.values.map((v, c) => {
      const s = latexEscape(formatStat(v, t.digits));
      return rk[i]![c] === 1 ? `\\textbf{${s}}` : rk[i]![c] === 2 ? `\\underline{${s}}` : s;
    });
    const cells = [
      ...r.labels.map(latexEscape),
      ORIGIN(r),
      ...vals,
      ...(t.extraHeader ? [latexEscape(r.extra ?? '')] : []),
    ];
    lines.push(`${cells.join(' & ')} \\\\`);
  }
  lines.push('\\bottomrule', '\\end{tabular}');
  return lines.join('\n') + '\n';
}

export const htmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** An HTML `<table>` (class `report-table`), reported rows marked with class `reported`. */
export function toHtml(t: TableModel): string {
  const rk = ranks(t);
  const head = [...t.labelHeaders, 'source', ...t.valueHeaders, ...(t.extraHeader ? [t.extraHeader] : [])];
  const out = [
    '<table class="report-table">',
    `<caption>${htmlEscape(t.title)}</caption>`,
    `<thead><tr>${head.map((h) => `<th>${htmlEscape(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
  ];
  t.rows.forEach((r, i) => {
    const vals = r.values.map((v, c) => {
      const s = htmlEscape(formatStat(v, t.digits));
      return `<td class="num">${rk[i]![c] === 1 ? `<b>${s}</b>` : rk[i]![c] === 2 ? `<u>${s}</u>` : s}</td>`;
    });
    out.push(
      `<tr class="${r.origin}">${r.labels.map((l) => `<td>${htmlEscape(l)}</td>`).join('')}<td>${ORIGIN(r)}</td>${vals.join('')}${
        t.extraHeader ? `<td>${htmlEscape(r.extra ?? '')}</td>` : ''
      }</tr>`,
    );
  });
  out.push('</tbody>', '</table>');
  if (t.notes.length > 0)
    out.push(`<ul class="notes">${t.notes.map((n) => `<li>${htmlEscape(n)}</li>`).join('')}</ul>`);
  return out.join('\n') + '\n';
}
