/**
 * `--reporter json`: one event per line, as the executor emitted it plus `t` (seconds since the run
 * started). Lines are buffered and written once per event-loop turn, so 100 000 `item-done` events do
 * not mean 100 000 writes.
 */
import type { RunEvent } from '../events/event.js';
import type { Reporter, ReporterIo } from './types.js';

export function jsonReporter(io: ReporterIo): Reporter {
  const t0 = io.now();
  let buf: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (buf.length === 0) return;
    const text = buf.join('');
    buf = [];
    io.write(text);
  };
  return {
    onEvent(e: RunEvent) {
      buf.push(`${JSON.stringify({ t: Math.round(io.now() - t0) / 1000, ...e })}\n`);
      if (e.type === 'run-finished' || e.type === 'interrupt') flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    close: flush,
  };
}
