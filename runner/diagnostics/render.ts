/**
 * Renders diagnostics the way compilers do:
 *
 *   experiments/fig2.yaml:12:5: error: unknown parameter path `mllm.temprature`
 *     12 |     mllm.temprature: [0.1, 0.5]
 *        |     ^^^^^^^^^^^^^^^
 *     hint: did you mean `mllm.temperature`?
 */
import { type Diagnostic, lineCol, type SourceSpan } from './diagnostic.js';

export function renderDiagnostic(d: Diagnostic): string {
  const out: string[] = [];
  out.push(`${location(d.span)}${d.severity}: ${d.message}`);
  if (d.span) out.push(...excerpt(d.span));
  for (const r of d.related ?? []) {
    out.push(`  ${location(r.span)}note: ${r.message}`);
    out.push(...excerpt(r.span).map((l) => `  ${l}`));
  }
  if (d.hint) out.push(`  hint: ${d.hint}`);
  return out.join('\n');
}

export function renderDiagnostics(diags: readonly Diagnostic[]): string {
  if (diags.length === 0) return '';
  const errors = diags.filter((d) => d.severity === 'error').length;
  const warnings = diags.length - errors;
  const parts = diags.map(renderDiagnostic);
  const summary: string[] = [];
  if (errors > 0) summary.push(`${errors} error${errors === 1 ? '' : 's'}`);
  if (warnings > 0) summary.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  return `${parts.join('\n\n')}\n\n${summary.join(', ')}\n`;
}

function location(span: SourceSpan | null): string {
  if (!span) return 'pefuse: ';
  const { line, col } = lineCol(span.source, span.start);
  return `${span.file}:${line}:${col}: `;
}

function excerpt(span: SourceSpan): string[] {
  const { line, col } = lineCol(span.source, span.start);
  const lines = span.source.split('\n');
  const text = (lines[line - 1] ?? '').replace(/\r$/, '');
  const gutter = String(line).length;
  // Underline the span on its first line (at least one caret). A one-character span (as parsers give
  // for some errors) is widened to the word it starts.
  let end = span.end;
  if (end - span.start <= 1) {
    const word = /^[^\s:,[\]{}]+/.exec(text.slice(col - 1));
    if (word) end = span.start + word[0].length;
  }
  const spanEnd = Math.min(end, span.start + Math.max(1, text.length - (col - 1)));
  const width = Math.max(1, Math.min(spanEnd - span.start, text.length - (col - 1)));
  return [
    `  ${String(line).padStart(gutter)} | ${text}`,
    `  ${' '.repeat(gutter)} | ${' '.repeat(col - 1)}${'^'.repeat(width)}`,
  ];
}
