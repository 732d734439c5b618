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

/** Longest excerpt line shown; longer lines are cut to a window around the span. */
const MAX_LINE = 160;

function excerpt(span: SourceSpan): string[] {
  const { line, col } = lineCol(span.source, span.start);
  const lines = span.source.split('\n');
  let text = (lines[line - 1] ?? '').replace(/\r$/, '');
  const gutter = String(line).length;
  // Underline the span on its first line (at least one caret). A one-character span (as parsers give
  // for some errors) is widened to the word it starts; command-line spans are exact already.
  let end = span.end;
  if (end - span.start <= 1 && span.file !== '<command line>') {
    const word = /^[^\s:,[\]{}]+/.exec(text.slice(col - 1));
    if (word) end = span.start + word[0].length;
  }
  const spanEnd = Math.min(end, span.start + Math.max(1, text.length - (col - 1)));
  let width = Math.max(1, Math.min(spanEnd - span.start, text.length - (col - 1)));
  let caretCol = col;
  if (text.length > MAX_LINE) {
    // A very long line (minified YAML, thousands of brackets): show a window that starts a little
    // before the span, so the caret stays on screen.
    const from = Math.max(0, col - 1 - 20);
    const to = Math.min(text.length, from + MAX_LINE);
    text = `${from > 0 ? '…' : ''}${text.slice(from, to)}${to < text.length ? '…' : ''}`;
    caretCol = col - from + (from > 0 ? 1 : 0);
    width = Math.max(1, Math.min(width, MAX_LINE - (caretCol - 1)));
  }
  return [
    `  ${String(line).padStart(gutter)} | ${text}`,
    `  ${' '.repeat(gutter)} | ${' '.repeat(caretCol - 1)}${'^'.repeat(width)}`,
  ];
}
