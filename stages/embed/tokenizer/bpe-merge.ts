/**
 * The BPE merge loop of CLIP's `SimpleTokenizer.bpe`, two ways with identical results:
 *
 * - `mergeScan`: the reference's shape. Each pass finds the lowest-ranked adjacent pair, then merges
 *   its occurrences left to right in one scan. O(n) per pass, O(n²) per word: fine for words.
 * - `mergeHeap`: the same passes over a linked list, with the adjacent pairs in a heap. A pass takes
 *   every occurrence of the lowest rank out of the heap, merges them in list order (skipping any that an
 *   earlier merge of the pass consumed, as the scan does), and only then adds the pairs the merges made;
 *   a merge never forms another occurrence of its own pair, so the pass equals the scan's. O(n log n):
 *   a 200,000-character "word" (a degenerate MLLM output) takes milliseconds instead of a minute.
 */

export type RankOf = (left: string, right: string) => number | undefined;

/** Pieces up to this many symbols use the scan (faster for short words, which are nearly all). */
export const HEAP_FROM = 64;

export function mergeSymbols(symbols: string[], rankOf: RankOf): string[] {
  return symbols.length < HEAP_FROM ? mergeScan(symbols, rankOf) : mergeHeap(symbols, rankOf);
}

export function mergeScan(word: string[], rankOf: RankOf): string[] {
  let symbols = word;
  while (symbols.length > 1) {
    let best = -1;
    let bestRank = Number.POSITIVE_INFINITY;
    for (let i = 0; i < symbols.length - 1; i++) {
      const r = rankOf(symbols[i]!, symbols[i + 1]!);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) break;
    const first = symbols[best]!;
    const second = symbols[best + 1]!;
    const merged: string[] = [];
    for (let i = 0; i < symbols.length; ) {
      if (i < symbols.length - 1 && symbols[i] === first && symbols[i + 1] === second) {
        merged.push(first + second);
        i += 2;
      } else merged.push(symbols[i++]!);
    }
    symbols = merged;
  }
  return symbols;
}

export function mergeHeap(word: string[], rankOf: RankOf): string[] {
  const n = word.length;
  const sym = word.slice();
  const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
  const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
  const alive = new Uint8Array(n).fill(1);
  // Heap entries: (rank, left node index); a node index is also its position order in the list.
  const heap = new PairHeap();
  const push = (i: number) => {
    const j = next[i]!;
    if (j < 0) return;
    const r = rankOf(sym[i]!, sym[j]!);
    if (r !== undefined) heap.push(r, i);
  };
  for (let i = 0; i + 1 < n; i++) push(i);
  const batch: number[] = [];
  while (heap.size > 0) {
    const rank = heap.topRank();
    batch.length = 0;
    while (heap.size > 0 && heap.topRank() === rank) batch.push(heap.pop());
    batch.sort((a, b) => a - b);
    // Every occurrence of this rank's pair that still stands (rank identifies the pair).
    let first: string | undefined;
    let second: string | undefined;
    const made: number[] = [];
    for (const i of batch) {
      const j = next[i]!;
      if (!alive[i] || j < 0) continue;
      if (first === undefined) {
        if (rankOf(sym[i]!, sym[j]!) !== rank) continue;
        first = sym[i]!;
        second = sym[j]!;
      } else if (sym[i] !== first || sym[j] !== second) continue;
      sym[i] = first + second!;
      alive[j] = 0;
      next[i] = next[j]!;
      if (next[j]! >= 0) prev[next[j]!] = i;
      made.push(i);
    }
    for (const i of made) {
      if (!alive[i]) continue;
      if (prev[i]! >= 0) push(prev[i]!);
      push(i);
    }
  }
  const out: string[] = [];
  for (let i = 0; i >= 0; i = next[i]!) out.push(sym[i]!);
  return out;
}

/** A binary min-heap of (rank, position), ordered by rank then position. */
class PairHeap {
  private ranks: number[] = [];
  private pos: number[] = [];

  get size(): number {
    return this.ranks.length;
  }

  topRank(): number {
    return this.ranks[0]!;
  }

  push(rank: number, p: number): void {
    const r = this.ranks;
    const q = this.pos;
    let i = r.length;
    r.push(rank);
    q.push(p);
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (r[up]! < rank || (r[up] === rank && q[up]! <= p)) break;
      r[i] = r[up]!;
      q[i] = q[up]!;
      i = up;
    }
    r[i] = rank;
    q[i] = p;
  }

  pop(): number {
    const r = this.ranks;
    const q = this.pos;
    const top = q[0]!;
    const lastR = r.pop()!;
    const lastP = q.pop()!;
    const n = r.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && (r[c + 1]! < r[c]! || (r[c + 1] === r[c] && q[c + 1]! < q[c]!))) c++;
        if (r[c]! > lastR || (r[c] === lastR && q[c]! >= lastP)) break;
        r[i] = r[c]!;
        q[i] = q[c]!;
        i = c;
      }
      r[i] = lastR;
      q[i] = lastP;
    }
    return top;
  }
}
