/**
 * Repeated keys in a JSON object: `JSON.parse` keeps the last one silently, so a rankings file with two
 * lists for one query would be evaluated on whichever came last. This scans only the top-level object's
 * keys of text that `JSON.parse` has already accepted (so the syntax is known to be valid).
 */

/** The first key that occurs twice at the top level of `text` (a JSON object), or null. */
export function firstDuplicateTopLevelKey(text: string): string | null {
  let i = 0;
  const n = text.length;
  const skipWs = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  /** Index just past the string literal starting at `i` (a `"`). */
  const endOfString = (from: number): number => {
    let j = from + 1;
    while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    return j + 1;
  };
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  skipWs();
  if (text[i] !== '{') return null;
  i++;
  const seen = new Set<string>();
  for (;;) {
    skipWs();
    if (i >= n || text[i] === '}') return null;
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] !== '"') return null; // not reachable for valid JSON
    const end = endOfString(i);
    const key = JSON.parse(text.slice(i, end)) as string;
    if (seen.has(key)) return key;
    seen.add(key);
    i = end;
    skipWs();
    i++; // the colon
    // Skip the value: strings whole, brackets by depth, until the comma or brace that ends it.
    let depth = 0;
    while (i < n) {
      const c = text[i]!;
      if (c === '"') {
        i = endOfString(i);
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        if (depth === 0) break;
        depth--;
      } else if (c === ',' && depth === 0) break;
      i++;
    }
  }
}
