/**
 * `pefuse report --best METRIC`: the best configuration of a sweep (per dataset), its mean ± std over
 * repeats, the paired bootstrap interval against the runner-up, and how many configurations are
 * statistically tied with it (their interval of best − other contains 0).
 */
import type { ResultsDb } from '../runner/results/types.js';
import { metricLabel } from '../stages/metrics/names.js';
import { type ExperimentData, readPerQuery } from './data.js';
import { groupPerQuery, groupPoints, metricStats, showValue } from './groups.js';
import { formatInterval, type Interval, type MeanStd, pairedBootstrap } from './stats.js';

export interface BestResult {
  dataset: string;
  config: Record<string, unknown>;
  stats: MeanStd;
  configurations: number;
  runnerUp: { config: Record<string, unknown>; stats: MeanStd; interval: Interval | null } | null;
  /** Other configurations whose difference from the best is not significant. */
  tied: { config: Record<string, unknown>; interval: Interval }[];
  /** Whether per-query results were available for the intervals. */
  intervals: boolean;
}

export async function findBest(
  db: ResultsDb,
  data: ExperimentData,
  metric: string,
  seed: number,
): Promise<BestResult[]> {
  const pq = await readPerQuery(db, data.points, metric);
  const out: BestResult[] = [];
  for (const label of [...new Set(data.points.map((p) => p.datasetLabel))]) {
    const own = data.points.filter((p) => p.datasetLabel === label);
    const groups = groupPoints(own)
      .map((g) => ({ g, s: metricStats(g.points, metric) }))
      .filter((x): x is { g: (typeof x)['g']; s: MeanStd } => x.s !== null)
      .sort((a, b) => b.s.mean - a.s.mean);
    if (groups.length === 0) continue;
    const best = groups[0]!;
    const bestQ = groupPerQuery(best.g, pq);
    const intervals = bestQ.size > 0;
    const iv = (g: (typeof groups)[number]) =>
      intervals ? pairedBootstrap(bestQ, groupPerQuery(g.g, pq), seed) : null;
    const tied: BestResult['tied'] = [];
    const strip = (c: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(c).filter(([k]) => k !== 'dataset'));
    for (const g of groups.slice(1)) {
      const i = iv(g);
      if (i && !i.significant) tied.push({ config: strip(g.g.config), interval: i });
    }
    const second = groups[1];
    out.push({
      dataset: label,
      config: strip(best.g.config),
      stats: best.s,
      configurations: groups.length,
      runnerUp: second ? { config: strip(second.g.config), stats: second.s, interval: iv(second) } : null,
      tied,
      intervals,
    });
  }
  return out;
}

const showConfig = (c: Record<string, unknown>) =>
  Object.entries(c)
    .map(([k, v]) => `${k}=${showValue(v as never)}`)
    .join(' ') || '(the only configuration)';
const showStats = (s: MeanStd) =>
  `${s.mean.toFixed(2)}${s.std === null ? '' : ` ± ${s.std.toFixed(2)}`} (${s.n} repeat${s.n === 1 ? '' : 's'})`;

export function renderBest(results: readonly BestResult[], metric: string, seed: number): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.dataset}: best of ${r.configurations} configurations by ${metricLabel(metric)}`);
    lines.push(`  ${showConfig(r.config)}  ${showStats(r.stats)}`);
    if (r.runnerUp) {
      lines.push(
        `  runner-up ${showConfig(r.runnerUp.config)}  ${showStats(r.runnerUp.stats)}${
          r.runnerUp.interval ? `; best − runner-up ${formatInterval(r.runnerUp.interval)}` : ''
        }`,
      );
    }
    if (r.intervals) {
      lines.push(
        `  ${r.tied.length} of ${r.configurations - 1} other configurations are statistically tied with it (95% interval of the difference contains 0)`,
      );
      for (const t of r.tied.slice(0, 10))
        lines.push(`    ${showConfig(t.config)}: ${formatInterval(t.interval)}`);
      if (r.tied.length > 10) lines.push(`    … ${r.tied.length - 10} more`);
    } else lines.push('  no per-query results recorded (re-run the sweep to record them): ties not tested');
  }
  lines.push(
    `paired bootstrap over queries: 10,000 resamples, percentile 95% interval, repeats averaged per query, seed ${seed}`,
  );
  return lines.join('\n') + '\n';
}
