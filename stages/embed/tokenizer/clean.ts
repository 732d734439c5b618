/**
 * The CLIP tokenizer's text cleaning, `whitespace_clean(basic_clean(text)).lower()`:
 * ftfy `fix_text`, Python `html.unescape` twice, strip, collapse Unicode whitespace runs into one
 * space, strip, Python `str.lower()`. Plain printable ASCII without `&` skips the ftfy/HTML steps
 * (they cannot change it), which keeps typical captions fast.
 */
import { fixText } from './ftfy.js';
import { pyHtmlUnescape } from './pyhtml.js';

// Python `str.isspace` (for strip) and the `regex` module's `\s` = Unicode White_Space (for the collapse).
const PY_STRIP_CHARS =
  '\\t\\n\\u000b\\u000c\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const STRIP_RE = new RegExp(`^[${PY_STRIP_CHARS}]+|[${PY_STRIP_CHARS}]+$`, 'g');
const WHITE_SPACE_RUN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: whitespace controls are the target
  /[\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;
const SIMPLE_ASCII = /^[\x20-\x25\x27-\x7e]*$/;

/** Python `str.strip()` (no arguments). */
export function pyStrip(s: string): string {
  return s.replace(STRIP_RE, '');
}

/** open_clip / OpenAI `basic_clean`: ftfy, double HTML unescape, strip. */
export function basicClean(text: string): string {
  if (SIMPLE_ASCII.test(text)) return pyStrip(text);
  return pyStrip(pyHtmlUnescape(pyHtmlUnescape(fixText(text))));
}

/** `whitespace_clean`: every whitespace run becomes one space, then strip. */
export function whitespaceClean(text: string): string {
  return pyStrip(text.replace(WHITE_SPACE_RUN, ' '));
}

/** The full cleaning the CLIP BPE sees (`clean='lower'`). */
export function clipClean(text: string): string {
  return whitespaceClean(basicClean(text)).toLowerCase();
}
