/** "Did you mean …?" suggestions by edit distance. */

export function closest(
  word: string,
  candidates: readonly string[],
  maxDistance?: number,
): string | undefined {
  const limit = maxDistance ?? Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (bestD <= limit) return best;
  // A truncated or extended name (`image_guidance` for `image_guidance_scale`).
  const lw = word.toLowerCase();
  const partial = candidates
    .filter((c) => lw.length >= 3 && (c.toLowerCase().startsWith(lw) || lw.startsWith(c.toLowerCase())))
    .sort((a, b) => a.length - b.length);
  return partial[0];
}

export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const c = closest(word, candidates);
  return c === undefined ? undefined : `did you mean \`${c}\`?`;
}

/** Damerau–Levenshtein (optimal string alignment) distance. */
function distance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) =>
    Array.from({ length: n + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[m]![n]!;
}
