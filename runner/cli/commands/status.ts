/**
 * `pefuse status [--db FILE] [--json]`: what the results database holds (experiments, stages by kind
 * and status, failures with reasons, metrics of the latest run per point). Opens the file read-only;
 * a running `pefuse run` only holds it while writing a batch, so status waits briefly for it.
 */
import type { Command } from 'commander';
import { checkCacheDir } from '../cache-dir.js';
import type { CliIo } from '../io.js';
import { CliExit, EXIT_FAILURES, EXIT_USAGE } from '../io.js';
import { cacheRootOf, dbFileOf } from '../planning.js';

export function registerStatus(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('status')
    .description('summarise the results database: experiments, stages, failures, latest metrics')
    .option('--db <file>', 'DuckDB results file (default: <cache>/results.duckdb)')
    .option('--json', 'print the summary as one JSON document')
    .option('--wait <seconds>', 'how long to wait while a running `pefuse run` is writing', '10')
    .action(async (opts: { json?: boolean; wait: string }, cmd: Command) => {
      const waitS = Number(opts.wait);
      if (!Number.isFinite(waitS) || waitS < 0) {
        io.stderr(`pefuse status: --wait expects a number of seconds, got "${opts.wait}"\n`);
        setExit(EXIT_USAGE);
        return;
      }
      // The database lives in the cache unless --db says otherwise: a cache path that is a file is named as such.
      if ((cmd.optsWithGlobals() as { db?: string }).db === undefined)
        await checkCacheDir('status', cacheRootOf(cmd, io), false);
      const file = dbFileOf(cmd, io);
      const { dbFileProblem } = await import('../../results/check.js');
      const problem = await dbFileProblem(file, false);
      if (problem !== null) throw new CliExit(EXIT_USAGE, `pefuse status: ${problem}`);
      const { openResults } = await import('../../results/db.js');
      const { readStatus, renderStatus } = await import('../../results/summary.js');
      const db = openResults(file, { readOnly: true, lockTimeoutMs: waitS * 1000 });
      const r = await readStatus(db);
      await db.close();
      if (!r.ok) {
        io.stderr(`pefuse status: ${r.error.message}\n`);
        setExit(r.error.kind === 'missing' ? EXIT_USAGE : EXIT_FAILURES);
        return;
      }
      io.stdout(opts.json ? `${JSON.stringify(r.value, null, 2)}\n` : renderStatus(r.value));
    });
}
