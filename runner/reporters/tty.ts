/**
 * `--reporter tty` (default on a terminal): one live table, rewritten in place, with a row per stage
 * kind — stages cached / running / done / failed, items done of total, items per second and ETA.
 * Rendering is coalesced on a timer (item events only bump counters), so the per-item cost is a few
 * additions. Failures, warnings and the interrupt message are printed above the table and stay; worker
 * output appears only with a failure.
 */

import { STAGE_KINDS, type StageKind } from '../contract/stage.js';
import { type RunEvent, shortKey } from '../events/event.js';
import { failureLines, finishedLine, fmtRate, fmtSeconds, slurmJobText } from './format.js';
import type { Reporter, ReporterIo } from './types.js';

interface KindRow {
  stages: number;
  cached: number;
  running: number;
  done: number;
  failed: number;
  itemsDone: number;
  itemsTotal: number;
  /** Items computed in this run (not resumed) and when the first stage of this kind started. */
  computed: number;
  since: number | null;
}

const CLEAR_TO_END = '\x1b[J';

export function ttyReporter(io: ReporterIo, opts: { intervalMs?: number } = {}): Reporter {
  const rows = new Map<StageKind, KindRow>();
  const itemsOf = new Map<string, number>();
  /** Items reported by `stage-progress` so far, per stage (in-process stages that journal nothing). */
  const progressOf = new Map<string, number>();
  const running = new Set<string>();
  const t0 = io.now();
  let title = '';
  let shown = 0;
  let dirty = false;
  let closed = false;
  const row = (k: StageKind): KindRow => {
    let r = rows.get(k);
    if (!r) {
      r = {
        stages: 0,
        cached: 0,
        running: 0,
        done: 0,
        failed: 0,
        itemsDone: 0,
        itemsTotal: 0,
        computed: 0,
        since: null,
      };
      rows.set(k, r);
    }
    return r;
  };
  const setItems = (key: string, kind: StageKind, n: number) => {
    const r = row(kind);
    r.itemsTotal += n - (itemsOf.get(key) ?? 0);
    itemsOf.set(key, n);
  };
  const frame = (): string => {
    const now = io.now();
    const lines = [`${title} — ${fmtSeconds((now - t0) / 1000)}`];
    const table: string[][] = [
      ['kind', 'stages', 'cached', 'running', 'done', 'failed', 'items', 'rate', 'eta'],
    ];
    for (const k of STAGE_KINDS) {
      const r = rows.get(k);
      if (!r) continue;
      const rate = r.since === null ? 0 : r.computed / Math.max(1e-3, (now - r.since) / 1000);
      const left = r.itemsTotal - r.itemsDone;
      const eta = r.running > 0 && rate > 0 && left > 0 ? fmtSeconds(left / rate) : '-';
      table.push([
        k,
        String(r.stages),
        String(r.cached),
        String(r.running),
        String(r.done),
        String(r.failed),
        r.itemsTotal > 0 ? `${r.itemsDone}/${r.itemsTotal}` : '-',
        r.running > 0 ? fmtRate(rate) : '-',
        eta,
      ]);
    }
    const w = table[0]!.map((_, i) => Math.max(...table.map((t) => t[i]!.length)));
    for (const t of table)
      lines.push(`  ${t.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')}`);
    // A line wider than the terminal wraps, and the cursor-up of the next redraw would then leave
    // copies of the table behind: clip every line to the width.
    const cols = io.columns?.();
    const fit =
      cols !== undefined && cols > 1
        ? (l: string) => (l.length < cols ? l : `${l.slice(0, cols - 2)}…`)
        : (l: string) => l;
    return `${lines.map(fit).join('\n')}\n`;
  };
  const erase = () => (shown > 0 ? `\x1b[${shown}A\r${CLEAR_TO_END}` : '');
  const redraw = (above = '') => {
    const f = frame();
    io.write(erase() + above + f);
    shown = f.split('\n').length - 1;
    dirty = false;
  };
  const timer = setInterval(() => {
    if (dirty) redraw();
  }, opts.intervalMs ?? 200);
  timer.unref();

  return {
    onEvent(e: RunEvent) {
      if (closed) return;
      switch (e.type) {
        case 'run-started':
          title = `pefuse run ${e.experiment}: ${e.points} points, ${e.stages} stages`;
          break;
        case 'stage-planned': {
          const r = row(e.kind);
          r.stages++;
          if (e.status === 'run' && e.items !== null) setItems(e.key, e.kind, e.items);
          break;
        }
        case 'stage-cached': {
          const r = row(e.kind);
          r.cached++;
          if (itemsOf.has(e.key)) setItems(e.key, e.kind, 0);
          break;
        }
        case 'stage-started': {
          const r = row(e.kind);
          if (!running.has(e.key)) {
            running.add(e.key);
            r.running++;
            r.itemsDone += e.resumed;
          }
          r.since ??= io.now();
          if (e.items !== null) setItems(e.key, e.kind, e.items);
          break;
        }
        case 'stage-items':
          setItems(e.key, e.kind, e.items);
          break;
        case 'item-done': {
          const r = row(e.kind);
          r.itemsDone++;
          r.computed++;
          break;
        }
        case 'stage-progress': {
          const r = row(e.kind);
          const delta = e.done - (progressOf.get(e.key) ?? 0);
          progressOf.set(e.key, e.done);
          r.itemsDone += delta;
          r.computed += delta;
          if (!itemsOf.has(e.key)) setItems(e.key, e.kind, e.items);
          break;
        }
        case 'stage-published': {
          const r = row(e.kind);
          if (running.delete(e.key)) r.running--;
          // A stage that reported progress: whatever it had not reported yet is done now.
          const shownDone = progressOf.get(e.key);
          if (shownDone !== undefined) r.itemsDone += Math.max(0, (itemsOf.get(e.key) ?? 0) - shownDone);
          r.done++;
          break;
        }
        case 'stage-failed': {
          const r = row(e.kind);
          if (running.delete(e.key)) r.running--;
          r.failed++;
          const [first, ...rest] = failureLines(e.failure, e.log);
          const what = e.failure.reason === 'cancelled' ? 'cancelled' : 'failed';
          redraw(
            `${what} ${e.kind} ${shortKey(e.key)} ${e.role} (${e.backend}): ${first}\n${rest.map((l) => `${l}\n`).join('')}`,
          );
          return;
        }
        case 'stage-waiting-lock':
          redraw(`waiting for ${e.kind} ${shortKey(e.key)}: another runner holds the lock (${e.holder})\n`);
          return;
        case 'slurm-job': {
          const text = slurmJobText(e);
          if (text !== null) redraw(`slurm ${e.kind} ${shortKey(e.key)} ${e.role}: ${text}\n`);
          return;
        }
        case 'warning':
          redraw(`warning: ${e.message}\n`);
          return;
        case 'interrupt':
          redraw(`${e.message}\n`);
          return;
        case 'run-finished':
          redraw();
          io.write(`${finishedLine(e)}\n`);
          closed = true;
          clearInterval(timer);
          return;
        case 'item-failed':
        case 'stage-retry':
        case 'worker-ready':
        case 'worker-restarted':
          break;
      }
      dirty = true;
    },
    close() {
      clearInterval(timer);
      if (!closed && dirty) redraw();
      closed = true;
    },
  };
}
