/**
 * Diagnostics: the first error channel. Every problem in a user's spec (YAML syntax, schema, semantics,
 * a `--set` override) becomes a located Diagnostic; all are collected before the command exits with 2.
 */

/** Where a problem is: a span in a spec file, or in a `--set` override given on the command line. */
export interface SourceSpan {
  /** File path as the user wrote it (relative to cwd when possible), or `--set` for overrides. */
  file: string;
  /** Full text of the source (to print the offending line). */
  source: string;
  /** 0-based character offsets [start, end). */
  start: number;
  end: number;
}

export interface Diagnostic {
  severity: 'error' | 'warning';
  message: string;
  span: SourceSpan | null;
  /** A suggestion, e.g. "did you mean `image_guidance_scale`?". */
  hint?: string;
  /** Other places that help explain the problem (e.g. the first definition of a duplicate axis). */
  related?: { message: string; span: SourceSpan }[];
  /**
   * The kind of a warning (`dataset-root-missing`): many warnings of one kind may be folded into a count
   * when printed; warnings of different kinds, or without a kind, never are.
   */
  code?: string;
  /**
   * This warning leaves points unresolved (they will not run), and is printed before the others: first
   * `empty` (nothing to compute: a gallery that cannot be built, no queries), then `missing` (an input
   * that is not there: a dataset root, a model folder).
   */
  unresolved?: 'empty' | 'missing';
}

export function diag(
  message: string,
  span: SourceSpan | null,
  extra: {
    hint?: string | undefined;
    severity?: 'error' | 'warning';
    related?: Diagnostic['related'];
    code?: string;
    unresolved?: 'empty' | 'missing';
  } = {},
): Diagnostic {
  const d: Diagnostic = { severity: extra.severity ?? 'error', message, span };
  if (extra.hint !== undefined) d.hint = extra.hint;
  if (extra.code !== undefined) d.code = extra.code;
  if (extra.unresolved !== undefined) d.unresolved = extra.unresolved;
  if (extra.related !== undefined && extra.related.length > 0) d.related = extra.related;
  return d;
}

/** 1-based line and column of an offset. */
export function lineCol(source: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, source.length);
  for (let i = 0; i < end; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: end - lineStart + 1 };
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}
