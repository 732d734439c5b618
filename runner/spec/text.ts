/**
 * Reading a spec file as text. Specs are UTF-8; a UTF-16 file, a Latin-1 file or a binary file would
 * otherwise reach the YAML parser as mojibake and fail with a confusing schema error.
 */
import { readFileSync } from 'node:fs';

export type SpecText =
  | { ok: true; text: string }
  | {
      ok: false;
      /** What went wrong, phrased after the file name: "file not found", "not a UTF-8 text file (…)". */
      what: string;
      /** Offset in `text` of the first bad byte, when the file is otherwise readable text. */
      at?: { text: string; offset: number };
    };

const decoder = new TextDecoder('utf-8', { fatal: true });

export function readSpecText(abs: string): SpecText {
  let bytes: Buffer;
  try {
    bytes = readFileSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      ok: false,
      what:
        code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : `cannot read (${code})`,
    };
  }
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))
    return { ok: false, what: 'not a UTF-8 text file (it is UTF-16)' };
  const nul = bytes.indexOf(0);
  if (nul >= 0)
    return {
      ok: false,
      what: `not a UTF-8 text file (byte ${nul} is a NUL: a UTF-16 or binary file?)`,
    };
  try {
    return { ok: true, text: decoder.decode(bytes) };
  } catch {
    const bad = firstInvalidUtf8(bytes);
    if (bad >= bytes.length) return { ok: false, what: 'not a UTF-8 text file' };
    const before = bytes.subarray(0, bad).toString('utf8');
    const lossy = before + bytes.subarray(bad).toString('latin1');
    return {
      ok: false,
      what: `not a UTF-8 text file (byte 0x${bytes[bad]!.toString(16).toUpperCase().padStart(2, '0')} is not valid UTF-8; Latin-1?)`,
      at: { text: lossy, offset: before.length },
    };
  }
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const n =
      c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2 : c >= 0xf0 && c < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (((b[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return b.length;
}
