/** Benchmark output: one markdown table per benchmark, with ratios against a reference row. */
export interface BenchRow {
  name: string;
  [column: string]: string | number;
}

export function printTable(title: string, rows: BenchRow[], columns: string[]): void {
  const header = ['name', ...columns];
  const cells = rows.map((r) => header.map((c) => fmt(r[c])));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n### ${title}\n`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of cells) console.log(line(row));
}

export function fmt(v: string | number | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 1 ? v.toFixed(3) : v.toPrecision(3);
}

export function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

let repeatOverride: number | null = null;

/** `--repeat N` of `npm run bench`: overrides every bench's default repeat count. */
export function setRepeat(n: number): void {
  repeatOverride = n;
}

/** How many times a bench repeats a measurement: `--repeat N`, else the bench's default. */
export function repeats(fallback: number): number {
  return repeatOverride ?? fallback;
}

/** Min, median and max of repeated measurements. */
export interface Spread {
  min: number;
  median: number;
  max: number;
  n: number;
}

export function spread(values: readonly number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]!, n: s.length };
}

/** A spread as one cell: `median (min–max)`, or the value alone for one run. */
export function showSpread(s: Spread, digits = (v: number) => fmt(v)): string {
  return s.n === 1 ? digits(s.median) : `${digits(s.median)} (${digits(s.min)}–${digits(s.max)})`;
}

/** Runs `fn` `n` times and returns the spread of what it returns (e.g. seconds). */
export async function repeated(n: number, fn: () => Promise<number>): Promise<Spread> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await fn());
  return spread(out);
}
