/**
 * A TypeScript re-implementation of ftfy 6.3 `fix_text` with its default configuration, the first
 * step of the OpenAI CLIP tokenizer's text cleaning (`basic_clean`). It reproduces what matters for
 * tokenization: HTML entity decoding (only in segments without `<`), mojibake repair through the
 * single-byte codecs (with restored 0xA0 bytes and lossy sequences), C1 controls read as
 * Windows-1252, Latin ligatures, character width, curly quotes, line breaks, terminal escapes,
 * control characters and NFC. Written from ftfy's documented behaviour and the reference vectors in
 * shared/refvectors; no ftfy code is copied.
 */
import { CHARMAP_LIST, charmap, decodeUtf8, decodeWindows1252Strict, encodeCharmap } from './codecs.js';
import { BADNESS_RE, UTF8_DETECTOR_RE } from './ftfy-data.js';
import { pyHtmlUnescape } from './pyhtml.js';
import { HTML5_ENTITIES } from './tables.generated.js';

// ---- fixers that work on text ------------------------------------------------------------------

/** ftfy's entity table: `&name;` forms, plus upper-cased forms of lower-case names (`&EACUTE;`). */
const FTFY_ENTITIES: Map<string, string> = (() => {
  const m = new Map<string, string>();
  for (const [name, char] of Object.entries(HTML5_ENTITIES)) {
    if (!name.endsWith(';')) continue;
    m.set(`&${name}`, char);
    if (name === name.toLowerCase()) {
      const upper = `&${name.toUpperCase()}`;
      if (pyHtmlUnescape(upper) === upper) m.set(upper, char.toUpperCase());
    }
  }
  return m;
})();

const HTML_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;

function unescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(HTML_ENTITY_RE, (m) => {
    const hit = FTFY_ENTITIES.get(m);
    if (hit !== undefined) return hit;
    if (m.startsWith('&#')) {
      const u = pyHtmlUnescape(m);
      return u.includes(';') ? m : u;
    }
    return m;
  });
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes are the target
const ANSI_RE = /\x1b\[((?:\d|;)*)([a-zA-Z])/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the target
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
const C1_RE = /[\x80-\x9f]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const LIGATURES: Record<string, string> = {
  Ĳ: 'IJ',
  ĳ: 'ij',
  ŉ: 'ʼn',
  Ǳ: 'DZ',
  ǲ: 'Dz',
  ǳ: 'dz',
  Ǆ: 'DŽ',
  ǅ: 'Dž',
  ǆ: 'dž',
  Ǉ: 'LJ',
  ǈ: 'Lj',
  ǉ: 'lj',
  Ǌ: 'NJ',
  ǋ: 'Nj',
  ǌ: 'nj',
  ﬀ: 'ff',
  ﬁ: 'fi',
  ﬂ: 'fl',
  ﬃ: 'ffi',
  ﬄ: 'ffl',
  ﬅ: 'ſt',
  ﬆ: 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'gu');

/** Halfwidth and fullwidth forms → their NFKC standard-width form; U+3000 → space. */
const WIDTH_MAP: Map<string, string> = (() => {
  const m = new Map<string, string>([['\u3000', ' ']]);
  for (let cp = 0xff01; cp < 0xfff0; cp++) {
    const c = String.fromCharCode(cp);
    const alt = c.normalize('NFKC');
    if (alt !== c) m.set(c, alt);
  }
  return m;
})();
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;

function fixC1Controls(text: string): string {
  const cp1252 = charmap('sloppy-windows-1252');
  return text.replace(C1_RE, (c) => cp1252.decode[c.charCodeAt(0)]!);
}

function fixTextFixers(text: string): string {
  let t = fixC1Controls(text);
  t = t.replace(LIGATURE_RE, (c) => LIGATURES[c] ?? c);
  t = t.replace(WIDTH_RE, (c) => WIDTH_MAP.get(c) ?? c);
  t = t.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'");
  t = t
    .replaceAll('\r\n', '\n')
    .replaceAll('\r', '\n')
    .replaceAll('\u2028', '\n')
    .replaceAll('\u2029', '\n')
    .replaceAll('\u0085', '\n');
  t = t.replace(LONE_SURROGATE, '\ufffd');
  t = t.replace(ANSI_RE, '');
  t = t.replace(CONTROL_RE, '');
  return t;
}

// ---- mojibake repair ---------------------------------------------------------------------------

function isBad(text: string): boolean {
  return BADNESS_RE.test(text);
}

// Sequences that would be UTF-8 if a 0xA0 byte had not been turned into a space.
const ALTERED_UTF8_RE =
  /[\xc2\xc3\xc5\xce\xd0\xd9] |[\xe2\xe3] [\x80-\x84\x86-\x9f\xa1-\xbf]|[\xe0-\xe3][\x80-\x84\x86-\x9f\xa1-\xbf] |\xf0 [\x80-\xbf][\x80-\xbf]|\xf0[\x80-\xbf] [\x80-\xbf]|\xf0[\x80-\xbf][\x80-\xbf] /g;
const ALTERED_UTF8_TEST = new RegExp(ALTERED_UTF8_RE.source);
const UTF8_DETECTOR_TEST = new RegExp(UTF8_DETECTOR_RE.source, 'u');
const A_GRAVE_WORD_RE = /\xc3 (?! |quele|quela|quilo|s )/g;
// UTF-8 sequences whose continuation bytes were lost (0x1A stands for a U+FFFD of a sloppy codec).
const LOSSY_UTF8_RE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: byte 0x1A marks a lost byte
  /[\xc2-\xdf][\x1a]|[\xc2-\xc3][?]|\xed[\xa0-\xaf][\x1a?]\xed[\xb0-\xbf][\x1a?\x80-\xbf]|\xed[\xa0-\xaf][\x1a?\x80-\xbf]\xed[\xb0-\xbf][\x1a?]|[\xe0-\xef][\x1a?][\x1a\x80-\xbf]|[\xe0-\xef][\x1a\x80-\xbf][\x1a?]|[\xf0-\xf4][\x1a?][\x1a\x80-\xbf][\x1a\x80-\xbf]|[\xf0-\xf4][\x1a\x80-\xbf][\x1a?][\x1a\x80-\xbf]|[\xf0-\xf4][\x1a\x80-\xbf][\x1a\x80-\xbf][\x1a?]|\x1a/g;

// Byte strings are handled as "binary strings" (one char per byte) so regexes can run on them.
function toBinary(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return s;
}
const fromBinary = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function restoreByteA0(bin: string): string {
  return bin.replace(A_GRAVE_WORD_RE, '\xc3\xa0 ').replace(ALTERED_UTF8_RE, (m) => m.replaceAll(' ', '\xa0'));
}

function replaceLossySequences(bin: string): string {
  return bin.replace(LOSSY_UTF8_RE, '\xef\xbf\xbd');
}

function decodeInconsistentUtf8(text: string): string {
  return text.replace(UTF8_DETECTOR_RE, (sub) =>
    sub.length < text.length && isBad(sub) ? fixEncoding(sub) : sub,
  );
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII check
const ASCII_RE = /^[\x00-\x7f]*$/;

function fixEncodingOneStep(text: string): string {
  if (text.length === 0 || ASCII_RE.test(text) || !isBad(text)) return text;
  const possible: string[] = [];
  for (const cm of CHARMAP_LIST) {
    if (!cm.possible(text)) continue;
    possible.push(cm.name);
    let bin = toBinary(encodeCharmap(cm, text));
    if (cm.name !== 'macroman' && ALTERED_UTF8_TEST.test(bin)) bin = restoreByteA0(bin);
    if (cm.sloppy) bin = replaceLossySequences(bin);
    const variants = bin.includes('\xed') || bin.includes('\xc0');
    const fixed = decodeUtf8(fromBinary(bin), variants);
    if (fixed !== null) return fixed;
  }
  if (UTF8_DETECTOR_TEST.test(text)) {
    const fixed = decodeInconsistentUtf8(text);
    if (fixed !== text) return fixed;
  }
  // Latin-1 characters that are not Windows-1252: C1 controls meant as Windows-1252.
  if (possible.includes('latin-1')) {
    const fixed = decodeWindows1252Strict(encodeCharmap(charmap('latin-1'), text));
    if (fixed !== null && fixed !== text) return fixed;
  }
  if (/[\x80-\x9f]/.test(text)) return fixC1Controls(text);
  return text;
}

/** ftfy `fix_encoding`: repeat one repair step until nothing changes. */
export function fixEncoding(text: string): string {
  let t = text;
  for (;;) {
    const prev = t;
    t = fixEncodingOneStep(t);
    if (t === prev) return t;
  }
}

// ---- fix_text ------------------------------------------------------------------------------------

function fixSegment(segment: string, decodeEntities: boolean): string {
  let text = segment;
  for (;;) {
    const orig = text;
    if (decodeEntities) text = unescapeHtml(text);
    text = fixEncoding(text);
    text = fixTextFixers(text);
    text = text.normalize('NFC');
    if (text === orig) return text;
  }
}

/**
 * ftfy `fix_text(text)` with default settings. Works line by line; once a line containing `<` has
 * been seen, HTML entities are left alone for it and every later line (it may be HTML).
 */
export function fixText(text: string): string {
  let out = '';
  let pos = 0;
  let decodeEntities = true;
  while (pos < text.length) {
    let brk = text.indexOf('\n', pos) + 1;
    if (brk === 0) brk = text.length;
    const segment = text.slice(pos, brk);
    if (decodeEntities && segment.includes('<')) decodeEntities = false;
    out += fixSegment(segment, decodeEntities);
    pos = brk;
  }
  return out;
}
