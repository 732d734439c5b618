/**
 * Composition root of the `pefuse` CLI: global options → command table → handlers. Each command lives
 * in `commands/<name>.ts` and imports its heavy dependencies (DuckDB, onnxruntime, sharp) lazily inside
 * its action, so `pefuse validate` and a fully cached `pefuse run` start fast.
 */
import { Command, CommanderError } from 'commander';
import { packageVersion } from '../util/package.js';
import { COMMANDS, commandsFor } from './commands/index.js';
import { CliExit, type CliIo, EXIT_FAILURES, EXIT_USAGE, processIo } from './io.js';

export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let exitCode = 0;
  const program = new Command('pefuse')
    .description('Run, cache, sweep and report training-free composed image retrieval experiments')
    .option('--cache <dir>', 'store root (default: $PEFUSE_CACHE or ./cache)')
    .option('--db <file>', 'DuckDB results file (default: <cache>/results.duckdb)')
    .version(packageVersion(), '-V, --version', 'print the pefuse version')
    .showHelpAfterError('(run `pefuse --help` for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  const setExit = (code: number) => {
    exitCode = code;
  };
  // Only the invoked command's module (and what it imports) loads; see commandsFor.
  const registers = await Promise.all(commandsFor(argv).map((name) => COMMANDS[name]!()));
  for (const register of registers) register(program, io, setExit);
  // `pefuse help NAME` for a NAME that is no command: say so, instead of the general help alone.
  if (argv[0] === 'help' && argv[1] !== undefined && !program.commands.some((c) => c.name() === argv[1])) {
    const names = program.commands
      .map((c) => c.name())
      .filter((n) => !n.startsWith('__'))
      .join(', ');
    io.stderr(`pefuse help: unknown command '${argv[1]}' (commands: ${names})\n`);
    return EXIT_USAGE;
  }
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
    const env = environmentProblem(e);
    if (env) {
      io.stderr(`pefuse: ${env.message}\n`);
      return env.exitCode;
    }
    const msg = e instanceof Error ? e.message : String(e);
    io.stderr(`pefuse: internal error (this is a bug, please report it): ${msg}\n`);
    if (io.env.PEFUSE_DEBUG && e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
    else io.stderr('(set PEFUSE_DEBUG=1 to see the stack trace)\n');
    return 70;
  }
  return exitCode;
}

/**
 * File-system errors that are the machine's state, not a bug: a full disk, a read-only mount, missing
 * permissions. They get a plain sentence and a fix instead of "internal error". (Finished work is safe:
 * items are journaled and manifests are written atomically.)
 */
function environmentProblem(e: unknown): { message: string; exitCode: number } | null {
  if (!(e instanceof Error)) return null;
  const { code, path } = e as NodeJS.ErrnoException;
  const where = path ? ` ${path}` : '';
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return {
        message: `no space left on the disk of${where || ' the cache'}; free some space (\`pefuse gc\` removes unreachable cache entries), then re-run the same command: finished work is kept`,
        exitCode: EXIT_FAILURES,
      };
    case 'EROFS':
      return {
        message: `cannot write${where}: read-only file system; pass --cache DIR (and --db FILE) on a writable disk`,
        exitCode: EXIT_USAGE,
      };
    case 'EACCES':
    case 'EPERM':
      return {
        message: `permission denied:${where || ' (no path given)'}; check the folder's owner and mode, or pass --cache DIR elsewhere`,
        exitCode: EXIT_USAGE,
      };
    case 'EMFILE':
    case 'ENFILE':
      return {
        message:
          'too many open files; raise the limit (`ulimit -n 4096`) and re-run the same command: finished work is kept',
        exitCode: EXIT_FAILURES,
      };
    default:
      return null;
  }
}
