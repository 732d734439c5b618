/**
 * The last line of `pefuse run` about the results database. It must be true: when writes failed (the
 * file stayed locked by another process, a damaged file, a full disk) the run still exits 0 — the
 * cache is complete — but the line says the results were not recorded and how to record them.
 */
import type { ResultsDb } from './types.js';

export function resultsLine(db: ResultsDb): string {
  const e = db.writeError;
  if (e === null) return `results: ${db.file} (\`pefuse status\` shows the metrics of every point)\n`;
  const what = db.wroteAny ? 'some results were not recorded' : 'results were not recorded';
  if (e.kind === 'locked') {
    const pid = /\(pid (\d+)\)/.exec(e.message)?.[1];
    return (
      `${what} in ${db.file}: it stayed locked by another process${pid ? ` (pid ${pid})` : ''}. ` +
      'The cache is complete: run the same command again once that process is done ' +
      '(everything is cached; it only records the results).\n'
    );
  }
  if (e.kind === 'damaged') {
    return (
      `${what} in ${db.file}: the file is damaged. Delete it and run the same command again ` +
      '(everything is cached; it only records the results).\n'
    );
  }
  return (
    `${what}: ${e.message}. The cache is complete: once that is fixed, run the same command again ` +
    '(everything is cached; it only records the results).\n'
  );
}
