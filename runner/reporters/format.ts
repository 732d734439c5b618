/** Text shared by the human reporters and the run command's failure summary. */

import { type Failure, rerunMayFix } from '../contract/failure.js';
import { type FailureSummary, type RunEvent, shortKey } from '../events/event.js';

export function fmtSeconds(s: number): string {
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function fmtRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '-';
  return perSecond >= 100
    ? `${Math.round(perSecond)}/s`
    : perSecond >= 1
      ? `${perSecond.toFixed(1)}/s`
      : `${perSecond.toPrecision(2)}/s`;
}

/** `reason: message`, plus detail lines (exit code, stderr tail) indented, at most `maxDetail` of them. */
export function failureLines(f: Failure, log: readonly string[], maxDetail = 10): string[] {
  const out = [`${f.reason}: ${f.message}`];
  const detail =
    f.detail !== undefined ? f.detail.split('\n') : log.length > 0 ? ['last stage log lines:', ...log] : [];
  const shown = detail.length > maxDetail ? [detail[0]!, ...detail.slice(-(maxDetail - 1))] : detail;
  for (const line of shown) out.push(`    ${line}`);
  return out;
}

/** The end-of-run summary printed on stderr when anything failed. */
export function failureSummaryText(
  failures: readonly FailureSummary[],
  interrupted: boolean,
  skipped: number,
): string {
  const lines: string[] = [];
  if (failures.length > 0) {
    lines.push(
      `${failures.length} stage${failures.length === 1 ? '' : 's'} ${interrupted ? 'did not finish' : 'failed'}:`,
    );
    const rows = failures.map((f) => [f.kind, shortKey(f.key), f.role, f.reason, f.message]);
    const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) lines.push(`  ${r.map((c, i) => (i < 4 ? c.padEnd(w[i]!) : c)).join('  ')}`);
  }
  if (skipped > 0)
    lines.push(`${skipped} downstream stage${skipped === 1 ? ' was' : 's were'} skipped (upstream failed)`);
  // Advice that fits: a re-run resumes past a crash or an interruption, but not past a missing file.
  const fixable = failures.filter((f) => f.reason !== 'upstream-failed');
  if (interrupted || fixable.some((f) => rerunMayFix(f.reason)))
    lines.push('re-run the same command to resume: finished items are kept');
  else lines.push('fix what the failures above name, then run the same command again: finished work is kept');
  return `${lines.join('\n')}\n`;
}

/** The last line of a run: what happened overall. */
export function finishedLine(e: Extract<RunEvent, { type: 'run-finished' }>): string {
  const c = e.counts;
  const parts = [`${c.cached} cached`, `${c.published} computed`];
  if (c.failed > 0) parts.push(`${c.failed} failed`);
  if (c.cancelled > 0) parts.push(`${c.cancelled} cancelled`);
  const items =
    c.itemsFailed > 0 ? `${c.itemsDone} items done, ${c.itemsFailed} failed` : `${c.itemsDone} items done`;
  const head = e.interrupted ? 'interrupted' : e.ok ? 'done' : 'finished with failures';
  return `${head}: ${c.stages} stages (${parts.join(', ')}), ${items} in ${fmtSeconds(e.seconds)}`;
}

/**
 * One line for a `slurm-job` event (`--executor slurm`), or null for the per-shard ones that a long
 * array would repeat thousands of times (running, done: the stage's progress shows them).
 */
export function slurmJobText(e: Extract<RunEvent, { type: 'slurm-job' }>): string | null {
  const which =
    e.shards.length === e.of
      ? `${e.of} shard${e.of === 1 ? '' : 's'}`
      : e.shards.length === 1
        ? `shard ${e.shards[0]} of ${e.of}`
        : `${e.shards.length} of ${e.of} shards`;
  switch (e.action) {
    case 'submitted':
      return `job ${e.job} submitted: ${which}${e.attempt !== undefined && e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`;
    case 'attached':
      return `re-attached to job ${e.job}: ${which} still queued or running`;
    case 'resubmitting':
      return `job ${e.job}: ${which} ${e.message ?? 'failed'}; resubmitting`;
    case 'failed':
      return `job ${e.job}: ${which} ${e.message ?? 'failed'}; no attempts left`;
    case 'cancelled':
      return `job ${e.job} cancelled (scancel): ${e.message ?? which}`;
    case 'running':
    case 'done':
      return null;
  }
}
