/**
 * `--reporter plain` (CI logs, piped output): one line per stage transition, never rewritten. Item
 * progress is not printed per item; retries and item failures are (the first few per stage), and
 * in-process stages that run longer than PROGRESS_EVERY_S seconds print a progress line (items, rate,
 * ETA) every PROGRESS_EVERY_S seconds (a short stage prints only its `done` line).
 */
import { type RunEvent, type StageRef, shortKey } from '../events/event.js';
import { failureLines, finishedLine, fmtRate, fmtSeconds, slurmJobText } from './format.js';
import type { Reporter, ReporterIo } from './types.js';

const ITEM_FAILURES_SHOWN = 5;
const PROGRESS_EVERY_S = 10;

const items = (n: number) => `${n} item${n === 1 ? '' : 's'}`;

export function plainReporter(io: ReporterIo): Reporter {
  const itemFailures = new Map<string, number>();
  /** When each stage started, then when it last printed a progress line (io.now() ms). */
  const progressShown = new Map<string, number>();
  const out = (line: string) => io.write(`${line}\n`);
  const stage = (verb: string, s: StageRef, rest: string) =>
    out(
      `${verb.padEnd(10)} ${s.kind.padEnd(14)} ${shortKey(s.key)}  ${s.role} (${s.backend})${rest ? `: ${rest}` : ''}`,
    );
  return {
    onEvent(e: RunEvent) {
      switch (e.type) {
        case 'run-started':
          out(
            `run ${e.experiment} (${e.specFile}): ${e.points} point${e.points === 1 ? '' : 's'}, ${e.stages} stages; ` +
              `gpus: ${e.gpus.length > 0 ? e.gpus.join(',') : 'none'}, cpu slots: ${e.cpuSlots}`,
          );
          return;
        case 'stage-planned':
        case 'item-done':
        case 'stage-items':
          return;
        case 'stage-cached':
          stage(
            'cached',
            e,
            `${items(e.items)}${e.by === 'other-runner' ? ', computed by another runner' : ''}`,
          );
          return;
        case 'stage-progress': {
          const now = io.now();
          const last = progressShown.get(e.key) ?? now - e.seconds * 1000;
          if (e.done >= e.items || now - last < PROGRESS_EVERY_S * 1000) return;
          progressShown.set(e.key, now);
          stage('progress', e, progressText(e));
          return;
        }
        case 'stage-waiting-lock':
          stage('waiting', e, `another runner holds the lock (${e.holder})`);
          return;
        case 'stage-started': {
          const parts = e.items === null ? [] : [items(e.items)];
          if (e.resumed > 0) parts.push(`${e.resumed} resumed from the journal`);
          if (e.attempt > 1) parts.push(`attempt ${e.attempt}`);
          if (e.resources.gpus.length > 0) parts.push(`gpu ${e.resources.gpus.join(',')}`);
          stage('started', e, parts.join(', '));
          return;
        }
        case 'worker-ready':
          stage(
            'worker',
            e,
            `worker ${e.worker + 1} ready: ${e.identity.model} (${e.identity.backend}) on ${e.identity.device}`,
          );
          return;
        case 'worker-restarted':
          stage('restart', e, `worker ${e.worker + 1} restarts (${e.failure.reason}: ${e.failure.message})`);
          return;
        case 'item-failed': {
          if (e.willRetry) {
            stage(
              'retry',
              e,
              `item ${e.item} attempt ${e.attempt + 1} in ${fmtSeconds(e.delayMs / 1000)} after ${e.failure.reason}: ${e.failure.message}`,
            );
            return;
          }
          const n = (itemFailures.get(e.key) ?? 0) + 1;
          itemFailures.set(e.key, n);
          if (n <= ITEM_FAILURES_SHOWN)
            stage('item-fail', e, `item ${e.item}: ${e.failure.reason}: ${e.failure.message}`);
          else if (n === ITEM_FAILURES_SHOWN + 1) stage('item-fail', e, 'more items failed (not shown)');
          return;
        }
        case 'stage-retry':
          stage(
            'retry',
            e,
            `attempt ${e.attempt} in ${fmtSeconds(e.delayMs / 1000)} after ${e.failure.reason}: ${e.failure.message}`,
          );
          return;
        case 'stage-published':
          stage('done', e, `${e.items > 0 ? `${items(e.items)} in ` : 'in '}${fmtSeconds(e.seconds)}`);
          return;
        case 'stage-failed': {
          const [first, ...rest] = failureLines(e.failure, e.log);
          stage(e.failure.reason === 'cancelled' ? 'cancelled' : 'failed', e, first ?? '');
          for (const line of rest) out(line);
          return;
        }
        case 'slurm-job': {
          const text = slurmJobText(e);
          if (text !== null) stage('slurm', e, text);
          return;
        }
        case 'warning':
          out(`warning    ${e.message}`);
          return;
        case 'interrupt':
          out(e.message);
          return;
        case 'run-finished':
          out(finishedLine(e));
          return;
      }
    },
    close() {},
  };
}

/** `1200/2400 items, 340/s, eta 3.5s` (the ETA once there is a rate). */
export function progressText(e: Extract<RunEvent, { type: 'stage-progress' }>): string {
  const eta = e.eta === null ? '' : `, eta ${fmtSeconds(e.eta)}`;
  return `${e.done}/${e.items} items, ${fmtRate(e.rate)}${eta}`;
}
