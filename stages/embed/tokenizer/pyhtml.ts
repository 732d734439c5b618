/**
 * Python's `html.unescape` (HTML5 rules), re-implemented because the CLIP tokenizer applies it twice
 * to every text and JS has no equivalent. The rules differ from ftfy's stricter entity decoding:
 * legacy entities without `;` match as the longest known prefix (`&notit;` → `¬it;`), numeric
 * references to 0, surrogates or > U+10FFFF become U+FFFD, and 0x80–0x9F are read as Windows-1252.
 */
import { HTML5_ENTITIES, INVALID_CHARREFS, INVALID_CODEPOINTS } from './tables.generated.js';

const INVALID = new Set(INVALID_CODEPOINTS);
// Same alternatives as CPython's `html._charref`.
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

/** Decodes one numeric reference body (`#123;`, `#x1F;`) the way CPython does. */
function numericRef(body: string): string {
  const hex = body[1] === 'x' || body[1] === 'X';
  const digits = body.slice(hex ? 2 : 1).replace(/;$/, '');
  // Very long digit strings overflow to a huge number; every such value is > 0x10FFFF anyway.
  const num = digits.length > 12 ? Number.POSITIVE_INFINITY : Number.parseInt(digits, hex ? 16 : 10);
  const mapped = INVALID_CHARREFS[num];
  if (mapped !== undefined) return mapped;
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  if (INVALID.has(num)) return '';
  return String.fromCodePoint(num);
}

function replaceCharref(_m: string, body: string): string {
  if (body[0] === '#') return numericRef(body);
  const direct = HTML5_ENTITIES[body];
  if (direct !== undefined) return direct;
  // Longest known prefix (legacy entities may omit the semicolon).
  for (let x = body.length - 1; x > 1; x--) {
    const hit = HTML5_ENTITIES[body.slice(0, x)];
    if (hit !== undefined) return hit + body.slice(x);
  }
  return `&${body}`;
}

/** `html.unescape(s)` with CPython 3.11 semantics. */
export function pyHtmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(CHARREF, replaceCharref);
}
