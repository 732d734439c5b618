/**
 * The byte-level codecs ftfy's mojibake repair needs: the single-byte charmaps (with ftfy's "sloppy"
 * Windows code pages), a strict UTF-8 decoder that fails like Python's, and ftfy's `utf-8-variants`
 * (also accepting CESU-8 surrogate pairs and Java's `C0 80` null).
 */
import { CHARMAPS, WINDOWS_1252_STRICT } from './tables.generated.js';

export interface Charmap {
  name: string;
  /** byte → character */
  decode: string[];
  /** character → byte */
  encode: Map<string, number>;
  /** Whether every character of a string is representable (ftfy's `possible_encoding`). */
  possible(text: string): boolean;
  sloppy: boolean;
}

function buildCharmap(name: string, table: string): Charmap {
  const decode = Array.from(table);
  if (decode.length !== 256) throw new Error(`charmap ${name}: expected 256 characters`);
  const encode = new Map<string, number>();
  // Like Python's charmap encoders: the first byte that decodes to a character encodes it.
  decode.forEach((c, b) => {
    if (!encode.has(c)) encode.set(c, b);
  });
  // ftfy's detector: ASCII except 0x1A, plus what bytes 0x80–0xFF and 0x1A decode to.
  const allowed = new Set<string>();
  for (let b = 0; b < 0x80; b++) if (b !== 0x1a) allowed.add(String.fromCharCode(b));
  for (let b = 0x80; b < 0x100; b++) allowed.add(decode[b]!);
  allowed.add(decode[0x1a]!);
  const possible = (text: string) => {
    for (const c of text) if (!allowed.has(c)) return false;
    return true;
  };
  return { name, decode, encode, possible, sloppy: name.startsWith('sloppy') };
}

/** The charmaps in the order ftfy tries them. */
export const CHARMAP_LIST: readonly Charmap[] = CHARMAPS.map(([name, table]) => buildCharmap(name, table));
const BY_NAME = new Map(CHARMAP_LIST.map((c) => [c.name, c]));

export function charmap(name: string): Charmap {
  const c = BY_NAME.get(name);
  if (!c) throw new Error(`unknown charmap ${name}`);
  return c;
}

/** Encodes text that `possible()` accepted. */
export function encodeCharmap(cm: Charmap, text: string): Uint8Array {
  const out: number[] = [];
  for (const c of text) {
    const b = cm.encode.get(c);
    if (b === undefined)
      throw new Error(`charmap ${cm.name} cannot encode U+${c.codePointAt(0)!.toString(16)}`);
    out.push(b);
  }
  return Uint8Array.from(out);
}

/** Python `bytes.decode('windows-1252')` (strict): null when an undefined byte occurs. */
export function decodeWindows1252Strict(bytes: Uint8Array): string | null {
  let s = '';
  for (const b of bytes) {
    const c = WINDOWS_1252_STRICT[b];
    if (c === null || c === undefined) return null;
    s += c;
  }
  return s;
}

/**
 * Strict UTF-8 decoding with Python's rules (no overlongs, no surrogates, ≤ U+10FFFF); null on any
 * error. With `variants`, also CESU-8 surrogate pairs and `C0 80` (ftfy's `utf-8-variants`).
 */
export function decodeUtf8(bytes: Uint8Array, variants = false): string | null {
  const cps: number[] = [];
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b0 = bytes[i]!;
    if (b0 < 0x80) {
      cps.push(b0);
      i++;
      continue;
    }
    if (variants && b0 === 0xc0 && bytes[i + 1] === 0x80) {
      cps.push(0);
      i += 2;
      continue;
    }
    if (
      variants &&
      b0 === 0xed &&
      i + 5 < n &&
      inRange(bytes[i + 1], 0xa0, 0xaf) &&
      inRange(bytes[i + 2], 0x80, 0xbf) &&
      bytes[i + 3] === 0xed &&
      inRange(bytes[i + 4], 0xb0, 0xbf) &&
      inRange(bytes[i + 5], 0x80, 0xbf)
    ) {
      const hi = 0xd000 | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f);
      const lo = 0xd000 | ((bytes[i + 4]! & 0x3f) << 6) | (bytes[i + 5]! & 0x3f);
      cps.push(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00));
      i += 6;
      continue;
    }
    let need: number;
    let cp: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      need = 1;
      cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      cp = b0 & 0x0f;
      if (b0 === 0xe0) lo = 0xa0;
      if (b0 === 0xed) hi = 0x9f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      cp = b0 & 0x07;
      if (b0 === 0xf0) lo = 0x90;
      if (b0 === 0xf4) hi = 0x8f;
    } else return null;
    for (let k = 1; k <= need; k++) {
      const b = bytes[i + k];
      if (b === undefined) return null;
      if (k === 1 ? b < lo || b > hi : b < 0x80 || b > 0xbf) return null;
      cp = (cp << 6) | (b & 0x3f);
    }
    cps.push(cp);
    i += need + 1;
  }
  let s = '';
  for (let k = 0; k < cps.length; k += 4096) s += String.fromCodePoint(...cps.slice(k, k + 4096));
  return s;
}

function inRange(b: number | undefined, lo: number, hi: number): boolean {
  return b !== undefined && b >= lo && b <= hi;
}
