/**
 * The character classes of ftfy 6.3's mojibake heuristic (`badness.is_bad`) and of its detector for
 * UTF-8 embedded in other text (`UTF8_DETECTOR_RE`), as JavaScript regular expressions. The
 * categories are written as code points; the UTF-8 "clue" classes are derived from the same codec
 * tables the repair uses (what bytes 0xC2–0xDF / 0xE0–0xEF / 0xF0,0xF3 / 0x80–0xBF decode to in
 * Latin-1 and the sloppy Windows code pages ftfy knows).
 */
import { charmap } from './codecs.js';

const CAT = {
  common: String.raw`\u00a0\u00ad\u00b7\u00b4\u2013\u2014\u2015\u2026\u2019`,
  c1: String.raw`\u0080-\u009f`,
  bad: String.raw`\u00a6\u00a4\u00a8\u00ac\u00af\u00b8\u0192\u02c6\u02c7\u02d8\u02db\u02dc\u2020\u2021\u2030\u2310\u25ca\ufffd\u00aa\u00ba`,
  law: String.raw`\u00b6\u00a7`,
  currency: String.raw`\u00a2\u00a3\u00a5\u20a7\u20ac`,
  start_punctuation: String.raw`\u00a1\u00ab\u00bf\u00a9\u0384\u0385\u2018\u201a\u201c\u201e\u2022\u2039\uf8ff`,
  end_punctuation: String.raw`\u00ae\u00bb\u02dd\u201d\u203a\u2122`,
  numeric: String.raw`\u00b2\u00b3\u00b9\u00b1\u00bc\u00bd\u00be\u00d7\u00b5\u00f7\u2044\u2202\u2206\u220f\u2211\u221a\u221e\u2229\u222b\u2248\u2260\u2261\u2264\u2265\u2116`,
  kaomoji: String.raw`\u00d2-\u00d6\u00d9-\u00dc\u00f2-\u00f6\u00f8-\u00fc\u0150\u014c\u016a\u0172\u00b0`,
  upper_accented: String.raw`\u00c0-\u00d1\u00d8\u00dc\u00dd\u0102\u0100\u0104\u0106\u010c\u010e\u0110\u0118\u011a\u0112\u0116\u011e\u0122\u0130\u012a\u0136\u0139\u013d\u0141\u013b\u0143\u0147\u0145\u0152\u0158\u015a\u015e\u0160\u0162\u0164\u016e\u0170\u0178\u0179\u017b\u017d\u0490`,
  lower_accented: String.raw`\u00df\u00e0-\u00f1\u0103\u0105\u0101\u0107\u010d\u010f\u0111\u0119\u011b\u0113\u0117\u011f\u0123\u012f\u012b\u0137\u013a\u013e\u0142\u013c\u0153\u0155\u015b\u015f\u0161\u0165\u00fc\u017a\u017c\u017e\u0491\ufb01\ufb02`,
  upper_common: String.raw`\u00de\u0391-\u03a9\u0386\u0388\u0389\u038a\u038c\u038e\u038f\u03aa\u03ab\u0401-\u042f`,
  lower_common: String.raw`\u03b1-\u03c9\u03ac\u03ad\u03ae\u03af\u03b0\u0430-\u045f`,
  box: String.raw`\u2502\u250c\u2510\u2518\u251c\u2524\u252c\u253c\u2550-\u256c\u2580\u2584\u2588\u258c\u2590\u2591\u2592\u2593`,
};

/** Python's `\s` for str patterns (`str.isspace`), which differs from JavaScript's. */
export const PY_SPACE = String.raw`\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000`;
/** Python's `\w` for str patterns. */
const PY_WORD = String.raw`[\p{L}\p{N}_]`;

const {
  common,
  c1,
  bad,
  law,
  currency,
  start_punctuation: sp,
  end_punctuation: ep,
  numeric,
  kaomoji,
  upper_accented: ua,
  lower_accented: la,
  upper_common: uc,
  lower_common: lc,
  box,
} = CAT;
const arabic = `[${common}${currency}${bad}${numeric}${sp}\u0178\u0160\u00ae\u00b0\u00b5\u00bb]`;

const BADNESS_ALTERNATIVES = [
  `[${c1}]`,
  `[${bad}${la}${ua}${box}${sp}${ep}${currency}${numeric}${law}][${bad}]`,
  `[a-zA-Z][${lc}${uc}][${bad}]`,
  `[${bad}][${la}${ua}${box}${sp}${ep}${currency}${numeric}${law}]`,
  `[${la}${lc}${box}${ep}${currency}${numeric}][${ua}]`,
  `[${box}${ep}${currency}${numeric}][${la}]`,
  `[${la}${box}${ep}][${currency}]`,
  `[${PY_SPACE}][${ua}][${currency}]`,
  `[${ua}${box}][${numeric}${law}]`,
  `[${la}${ua}${box}${currency}${ep}][${sp}][${numeric}]`,
  `[${la}${ua}${currency}${numeric}${box}${law}][${ep}][${sp}]`,
  `[${currency}${numeric}${box}][${sp}]`,
  `[a-z][${ua}][${sp}${currency}]`,
  `[${box}][${kaomoji}]`,
  `[${la}${ua}${currency}${numeric}${sp}${ep}${law}][${box}]`,
  `[${box}][${ep}]`,
  `[${la}${ua}][${sp}${ep}]${PY_WORD}`,
  // The ligature œ when not followed by an unaccented Latin letter
  String.raw`[\u0152\u0153][^A-Za-z]`,
  // Degree signs after capital letters
  `[${ua}]\u00b0`,
  // Common Windows-1252 2-character mojibake
  String.raw`[\u00c2\u00c3\u00ce\u00d0][\u20ac\u0153\u0160\u0161\u00a2\u00a3\u0178\u017e\u00a0\u00ad\u00ae\u00a9\u00b0\u00b7\u00bb` +
    `${sp}${ep}\u2013\u2014\u00b4]`,
  String.raw`\u00d7[\u00b2\u00b3]`,
  // Windows-1252 mojibake of Arabic words: four characters
  `[\u00d8\u00d9]${arabic}[\u00d8\u00d9]${arabic}`,
  // 3-character sequences for some South Asian alphabets
  String.raw`\u00e0[\u00b2\u00b5\u00b9\u00bc\u00bd\u00be]`,
  // MacRoman mojibake
  String.raw`\u221a[\u00b1\u2202\u2020\u2260\u00ae\u2122\u00b4\u2264\u2265\u00a5\u00b5\u00f8]`,
  String.raw`\u2248[\u00b0\u00a2]`,
  String.raw`\u201a\u00c4[\u00ec\u00ee\u00ef\u00f2\u00f4\u00fa\u00f9\u00fb\u2020\u00b0\u00a2\u03c0]`,
  String.raw`\u201a[\u00e2\u00f3][\u00e0\u00e4\u00b0\u00ea]`,
  // Windows-1251 mojibake of characters in the U+2000 range
  String.raw`\u0432\u0402`,
  // Windows-1251 mojibake of Latin-1 characters and/or the Cyrillic alphabet
  `[\u0412\u0413\u0420\u0421][${c1}${bad}${sp}${ep}${currency}\u00b0\u00b5][\u0412\u0413\u0420\u0421]`,
  String.raw`\u0413\u045e\u0412\u0402\u0412[^\n][A-Za-z ]`,
  // Windows-1252 encodings of 'à' and 'á', as well as \xa0 itself
  String.raw`\u00c3[\u00a0\u00a1]`,
  `[a-z][${PY_SPACE}]?[\u00c3\u00c2][ ]`,
  String.raw`^[\u00c3\u00c2][ ]`,
  // Â preceding a character as an encoding of exactly the same character
  `[a-z.,?!${ep}]\u00c2[ ${sp}${ep}]`,
  // Windows-1253 mojibake of characters in the U+2000 range
  String.raw`\u03b2\u20ac[\u2122\u00a0\u0386\u00ad\u00ae\u00b0]`,
  // Windows-1253 mojibake of Latin-1 characters and/or the Greek alphabet
  `[\u0392\u0393\u039e\u039f][${c1}${bad}${sp}${ep}${currency}\u00b0][\u0392\u0393\u039e\u039f]`,
  // Windows-1257 mojibake of characters in the U+2000 range
  String.raw`\u0101\u20ac`,
];

/** ftfy's `BADNESS_RE`: unlikely juxtapositions that indicate mojibake. */
export const BADNESS_RE = new RegExp(BADNESS_ALTERNATIVES.join('|'), 'u');

// ---- UTF-8 clues ------------------------------------------------------------------------------

const CLUE_ENCODINGS = [
  'latin-1',
  'sloppy-windows-1252',
  'sloppy-windows-1251',
  'sloppy-windows-1250',
  'sloppy-windows-1253',
  'sloppy-windows-1254',
  'sloppy-windows-1257',
];

function classOf(bytes: number[], extra = '', exclude = ''): string {
  const chars = new Set<string>();
  for (const enc of CLUE_ENCODINGS) {
    const cm = charmap(enc);
    for (const b of bytes) chars.add(cm.decode[b]!);
  }
  for (const c of extra) chars.add(c);
  for (const c of exclude) chars.delete(c);
  return [...chars].map((c) => `\\u{${c.codePointAt(0)!.toString(16)}}`).join('');
}

const range = (lo: number, hi: number) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

const first2 = classOf(range(0xc2, 0xdf));
const first3 = classOf(range(0xe0, 0xef));
const first4 = classOf([0xf0, 0xf3]);
// A space may stand for a NO-BREAK SPACE (0xA0) that some program turned into 0x20.
const continuation = classOf(range(0x80, 0xbf), ' ');
// Continuations that rarely stand for themselves next to mojibake: no spaces, dashes, bullets,
// quotation marks or ellipses.
const continuationStrict = classOf(
  range(0x80, 0xbf),
  '',
  '\u2013\u2014\u2015\u2018\u2019\u201a\u201c\u201d\u201e\u2022\u2026',
);

/** ftfy's `UTF8_DETECTOR_RE`: runs of likely UTF-8 mojibake inside otherwise different text. */
export const UTF8_DETECTOR_RE = new RegExp(
  `(?<![${continuationStrict}])(?:[${first2}][${continuation}]|[${first3}][${continuation}]{2}|[${first4}][${continuation}]{3})+`,
  'gu',
);
