/**
 * `pefuse __shard --stage KEY --shard I --of N [--threads T] [--gpus IDS]` (with the global
 * `--cache DIR`): computes shard I of N of one stage whose description the orchestrator wrote into
 * the cache (`stages/KEY/description.json`), journaling into `stages/KEY/shards/`. The unit a shard
 * executor starts (a local subprocess, a Slurm array task). Hidden from `--help`: people run
 * `pefuse run`; this is the machinery under it. Its flags and exit codes are a stable interface:
 *
 *   0   every item of the shard is journaled
 *   1   a run failure: items failed, or the shard as a whole (the result file holds the failures)
 *   2   usage: bad flags, or no usable description (missing, corrupt, another pefuse version)
 *   70  an internal error (a bug; `main` reports it)
 *
 * The first SIGTERM/SIGINT drains (items in flight finish and are journaled), the second kills.
 */
import type { Command } from 'commander';
import type { StageKey } from '../../contract/stage.js';
import type { CliIo } from '../io.js';
import { CliExit, EXIT_FAILURES, EXIT_OK, EXIT_USAGE } from '../io.js';
import { cacheRootOf } from '../planning.js';

interface ShardOpts {
  stage: string;
  shard: string;
  of: string;
  threads?: string;
  gpus?: string;
}

export function registerShard(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('__shard', { hidden: true })
    .description('compute one shard of one described stage against a cache (used by executors)')
    .requiredOption('--stage <key>', 'the stage key (64 hex characters)')
    .requiredOption('--shard <i>', 'this shard, 0-based')
    .requiredOption('--of <n>', 'the number of shards')
    .option('--threads <n>', 'CPU threads for this shard (default 1)')
    .option('--gpus <ids>', 'GPU ids for this shard, e.g. 0 or 0,1 (default: none)')
    .action(async (opts: ShardOpts, cmd: Command) => {
      const usage = (text: string) => new CliExit(EXIT_USAGE, `pefuse __shard: ${text}`);
      const key = opts.stage.trim().toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(key))
        throw usage(`--stage ${opts.stage}: not a stage key (64 hex characters)`);
      const int = (flag: string, v: string | undefined, min: number, dflt: number) => {
        if (v === undefined) return dflt;
        const n = Number(v);
        if (!Number.isInteger(n) || n < min) throw usage(`--${flag} ${v}: expected an integer >= ${min}`);
        return n;
      };
      const part = { shard: int('shard', opts.shard, 0, 0), of: int('of', opts.of, 1, 1) };
      const threads = int('threads', opts.threads, 1, 1);
      const gpus =
        opts.gpus === undefined || opts.gpus === '' ? [] : opts.gpus.split(',').map((g) => g.trim());
      const cacheRoot = cacheRootOf(cmd, io);
      const [{ openStore }, { definitions }, { runShard }, { killAllWorkers }] = await Promise.all([
        import('../../store/index.js'),
        import('../../../stages/catalog.js'),
        import('../../exec/shard-run.js'),
        import('../../exec/worker.js'),
      ]);
      const drain = new AbortController();
      const kill = new AbortController();
      let signals = 0;
      const onSignal = () => {
        if (++signals === 1) drain.abort();
        else {
          kill.abort();
          killAllWorkers();
        }
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      try {
        const r = await runShard({
          store: openStore(cacheRoot),
          key: key as StageKey,
          part,
          threads,
          gpus,
          definitions: definitions(),
          drain: drain.signal,
          kill: kill.signal,
          log: (line) => io.stderr(`${line}\n`),
        });
        if (r.status === 'usage') throw usage(r.message);
        const res = r.result;
        if (res.status === 'ok') {
          io.stderr(`shard ${part.shard + 1} of ${part.of}: ${res.journaled} record(s) journaled\n`);
          setExit(EXIT_OK);
          return;
        }
        const first = res.failure ?? res.failed_items[0]?.failure;
        io.stderr(
          `pefuse __shard: shard ${part.shard + 1} of ${part.of} failed` +
            (first ? ` (${first.reason}): ${first.message}` : '') +
            (res.failed_items.length > 0 ? ` [${res.failed_items.length} item(s) failed]` : '') +
            '\n',
        );
        setExit(EXIT_FAILURES);
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
    });
}
