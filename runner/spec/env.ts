/**
 * `${env:VAR}` and `${env:VAR:-default}` in spec strings (defaults may nest: `${env:A:-${env:B}}`).
 * Parsed, not regex-replaced, so that malformed references (`${env:}`, `${env:A B}`, a missing `}`)
 * are errors instead of literal text, and a default is only evaluated when it is used.
 * An unquoted scalar that is exactly one reference is typed like YAML after substitution, so
 * `temperature: ${env:T}` with T=0.5 is the number 0.5 (quote it to keep a string).
 */

import { type Diagnostic, diag } from '../diagnostics/diagnostic.js';
import { yaml } from '../util/vendor.js';
import type { LNode, Scalar } from './located.js';

const { parse: parseYaml } = yaml();

type Part = string | { name: string; fallback: Part[] | null };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PREFIX = '${env:';

class EnvSyntax {
  constructor(
    readonly message: string,
    readonly hint: string,
  ) {}
}

/** Parses text up to `stop` (a `}` closing an enclosing reference) or the end; returns the parts and where it stopped. */
function parseParts(text: string, from: number, nested: boolean): { parts: Part[]; end: number } {
  const parts: Part[] = [];
  let lit = '';
  let i = from;
  while (i < text.length) {
    if (nested && text[i] === '}') break;
    if (text.startsWith(PREFIX, i)) {
      if (lit) parts.push(lit);
      lit = '';
      const r = parseRef(text, i);
      parts.push(r.ref);
      i = r.end;
      continue;
    }
    lit += text[i];
    i++;
  }
  if (lit) parts.push(lit);
  return { parts, end: i };
}

function parseRef(text: string, start: number): { ref: Part; end: number } {
  let i = start + PREFIX.length;
  const nameEnd = (() => {
    let j = i;
    while (j < text.length && text[j] !== '}' && !text.startsWith(':-', j) && !text.startsWith(PREFIX, j))
      j++;
    return j;
  })();
  const name = text.slice(i, nameEnd);
  const shown = text.slice(start, Math.min(text.length, nameEnd + 1));
  if (nameEnd >= text.length || text.startsWith(PREFIX, nameEnd))
    throw new EnvSyntax(
      `unterminated \`${text.slice(start, nameEnd)}\`: missing the closing \`}\``,
      `write \${env:${name || 'VAR'}}`,
    );
  if (name === '')
    throw new EnvSyntax(
      `\`${shown}\` names no environment variable`,
      'write ${env:VAR} or ${env:VAR:-default}',
    );
  if (!NAME.test(name))
    throw new EnvSyntax(
      `\`${shown}\`: \`${name}\` is not an environment variable name`,
      'names use letters, digits and _ and do not start with a digit',
    );
  i = nameEnd;
  if (text[i] === '}') return { ref: { name, fallback: null }, end: i + 1 };
  // `:-default}`
  const inner = parseParts(text, i + 2, true);
  if (inner.end >= text.length)
    throw new EnvSyntax(
      `unterminated \`${text.slice(start)}\`: missing the closing \`}\``,
      `write \${env:${name}:-default}`,
    );
  return { ref: { name, fallback: inner.parts }, end: inner.end + 1 };
}

/** Evaluates parts; returns null (after reporting) when a needed variable is unset. */
function evaluate(parts: Part[], env: NodeJS.ProcessEnv, missing: string[]): string | null {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') {
      out += p;
      continue;
    }
    const v = env[p.name];
    if (v !== undefined && v !== '') out += v;
    else if (p.fallback !== null) {
      const d = evaluate(p.fallback, env, missing);
      if (d === null) return null;
      out += d;
    } else {
      missing.push(p.name);
      return null;
    }
  }
  return out;
}

/** YAML typing of a substituted plain scalar: `0.5` → 0.5, `true` → true, anything else stays text. */
function typed(text: string): Scalar {
  try {
    const v: unknown = parseYaml(text);
    if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  } catch {
    // not a scalar: keep the text
  }
  return text;
}

export function substituteEnv(node: LNode, env: NodeJS.ProcessEnv, diagnostics: Diagnostic[]): LNode {
  switch (node.kind) {
    case 'scalar': {
      if (typeof node.value !== 'string' || !node.value.includes(PREFIX)) return node;
      let parts: Part[];
      try {
        parts = parseParts(node.value, 0, false).parts;
      } catch (e) {
        if (!(e instanceof EnvSyntax)) throw e;
        diagnostics.push(diag(e.message, node.span, { hint: e.hint }));
        return node;
      }
      const missing: string[] = [];
      const value = evaluate(parts, env, missing);
      if (value === null) {
        const name = missing[0]!;
        diagnostics.push(
          diag(`environment variable ${name} is not set`, node.span, {
            hint: `export ${name}=… before running, or give a default: \${env:${name}:-/path}`,
          }),
        );
        return node;
      }
      const whole = parts.length === 1 && typeof parts[0] !== 'string';
      return { ...node, value: node.plain && whole ? typed(value) : value };
    }
    case 'seq':
      return { ...node, items: node.items.map((i) => substituteEnv(i, env, diagnostics)) };
    case 'map': {
      const entries = new Map<string, { keySpan: LNode['span']; value: LNode }>();
      for (const [k, e] of node.entries)
        entries.set(k, { keySpan: e.keySpan, value: substituteEnv(e.value, env, diagnostics) });
      return { ...node, entries };
    }
  }
}
