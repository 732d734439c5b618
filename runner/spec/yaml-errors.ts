/**
 * The yaml library's errors, phrased for spec writers: its messages are mostly good, but a few speak
 * to programmers ("please use YAML.parseAllDocuments()", "Maximum call stack size exceeded") or point
 * past the problem (an unclosed `[` is reported on the next line). This maps each to a located
 * diagnostic with a hint.
 */
import type { Document, YAMLError } from 'yaml';
import { type Diagnostic, diag, type SourceSpan } from '../diagnostics/diagnostic.js';
import { yaml } from '../util/vendor.js';
import { tooDeep } from './located.js';

const { isMap, isSeq, visit } = yaml();

export function yamlDiagnostic(
  e: YAMLError,
  doc: Document,
  file: string,
  text: string,
  severity: 'error' | 'warning',
): Diagnostic {
  const at = (start: number, end: number): SourceSpan => ({ file, source: text, start, end });
  const span = at(e.pos[0], e.pos[1]);
  switch (e.code) {
    case 'MULTIPLE_DOCS':
      return diag('a spec file holds one YAML document, but this `---` starts a second one', span, {
        severity,
        hint: 'remove the `---` separator; if the second document is another spec, move it into its own file (or into an include fragment)',
      });
    case 'RESOURCE_EXHAUSTION':
      // The parser ran out of stack: nesting thousands of levels deep.
      return tooDeep(
        topLevelKeyAt(doc, e.pos[0], file, text) ?? at(lineStart(text, e.pos[0]), lineStart(text, e.pos[0])),
      );
    default:
      break;
  }
  const flow = /^Flow (sequence|map) in block collection/.exec(e.message);
  if (flow) {
    const open = unclosedFlow(doc, text, e.pos[0], flow[1] === 'map' ? 'map' : 'seq');
    if (open !== null) {
      const [o, c] = flow[1] === 'map' ? ['{', '}'] : ['[', ']'];
      return diag(`YAML: this \`${o}\` is never closed`, at(open, open + 1), {
        severity,
        hint: `add the closing \`${c}\` (a ${flow[1] === 'map' ? 'flow mapping' : 'flow list'} that continues on the next lines must be indented more than its key)`,
      });
    }
  }
  return diag(yamlMessage(e.code, e.message), span, { severity, ...yamlHint(e.code, e.message) });
}

function yamlMessage(code: string, message: string): string {
  // Drop the library's trailing location text, if any.
  const m = message.replace(/ at line \d+, column \d+.*$/s, '').trim();
  return `YAML ${code.toLowerCase().replace(/_/g, ' ')}: ${m}`;
}

function yamlHint(code: string, message: string): { hint?: string } {
  switch (code) {
    case 'DUPLICATE_KEY':
      return { hint: 'each key may appear once per mapping; merge the two entries' };
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
      return { hint: 'check the indentation (spaces only, same depth for siblings)' };
    case 'TAB_AS_INDENT':
      return { hint: 'YAML indentation must use spaces, not tabs' };
    case 'UNEXPECTED_TOKEN':
      if (/flow-map-start/.test(message))
        return { hint: 'inside `{ }` or `[ ]`, quote values that contain braces, e.g. "${env:VAR}"' };
      return {};
    default:
      return {};
  }
}

/** The key of the top-level entry that contains `offset` (a place the user can see). */
function topLevelKeyAt(doc: Document, offset: number, file: string, source: string): SourceSpan | null {
  const root = doc.contents;
  if (!isMap(root)) return null;
  let best: [number, number, number] | null = null;
  for (const pair of root.items) {
    const r = (pair.key as { range?: [number, number, number] | null } | null)?.range;
    if (r && r[0] <= offset) best = r;
  }
  return best ? { file, source, start: best[0], end: best[1] } : null;
}

/** Offset of the innermost flow collection of `kind` that starts before `offset` and is not closed. */
function unclosedFlow(doc: Document, text: string, offset: number, kind: 'seq' | 'map'): number | null {
  const close = kind === 'map' ? '}' : ']';
  let best: number | null = null;
  visit(doc, {
    Collection(_key, node) {
      if (!node.flow || !node.range) return;
      if ((kind === 'seq') !== isSeq(node)) return;
      const [start, end] = node.range;
      if (start < offset && text[start] === (kind === 'map' ? '{' : '[') && text[end - 1] !== close)
        if (best === null || start > best) best = start;
    },
  });
  return best;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', Math.max(0, offset - 1)) + 1;
}
