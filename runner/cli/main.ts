/**
 * Composition root of the `pefuse` CLI: global options → command table → handlers. Each command lives
 * in `commands/<name>.ts` and imports its heavy dependencies (DuckDB, onnxruntime, sharp) lazily inside
 * its action, so `pefuse validate` and a fully cached `pefuse run` start fast.
 */
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands/index.js';
import { CliExit, type CliIo, EXIT_USAGE, processIo } from './io.js';

export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let exitCode = 0;
  const program = new Command('pefuse')
    .description('Run, cache, sweep and report training-free composed image retrieval experiments')
    .option('--cache <dir>', 'store root (default: $PEFUSE_CACHE or ./cache)')
    .option('--db <file>', 'DuckDB results file (default: <cache>/results.duckdb)')
    .showHelpAfterError('(run `pefuse --help` for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  const setExit = (code: number) => {
    exitCode = code;
  };
  for (const register of COMMANDS) register(program, io, setExit);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; anything else is a usage error.
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (e instanceof CliExit) {
      if (e.message) io.stderr(e.message.endsWith('\n') ? e.message : `${e.message}\n`);
      return e.exitCode;
    }
    const msg = e instanceof Error ? e.message : String(e);
    io.stderr(`pefuse: internal error (this is a bug, please report it): ${msg}\n`);
    if (io.env.PEFUSE_DEBUG && e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
    else io.stderr('(set PEFUSE_DEBUG=1 to see the stack trace)\n');
    return 70;
  }
  return exitCode;
}
