/**
 * The command table. Each entry loads the module that registers one subcommand on the program;
 * `setExit` records the exit code the command wants (0 ok, 1 run failures, 2 usage/spec errors).
 * `pefuse NAME …` loads only NAME's module (main.ts); help and unknown names load them all.
 */
import type { Command } from 'commander';
import type { CliIo } from '../io.js';

export type RegisterCommand = (program: Command, io: CliIo, setExit: (code: number) => void) => void;

/** In the order `pefuse --help` lists them. */
export const COMMANDS: Readonly<Record<string, () => Promise<RegisterCommand>>> = {
  validate: async () => (await import('./validate.js')).registerValidate,
  plan: async () => (await import('./plan.js')).registerPlan,
  run: async () => (await import('./run.js')).registerRun,
  explain: async () => (await import('./explain.js')).registerExplain,
  evaluate: async () => (await import('./evaluate.js')).registerEvaluate,
  export: async () => (await import('./export.js')).registerExport,
  status: async () => (await import('./status.js')).registerStatus,
  report: async () => (await import('./report.js')).registerReport,
  gc: async () => (await import('./gc.js')).registerGc,
  tokenize: async () => (await import('./tokenize.js')).registerTokenize,
  doctor: async () => (await import('./doctor.js')).registerDoctor,
  // Hidden (`pefuse __shard`): the unit shard executors start; not listed in --help.
  __shard: async () => (await import('./shard.js')).registerShard,
};

/** Options of the program itself that take a value (`pefuse --cache DIR plan …`). */
const GLOBAL_WITH_VALUE = new Set(['--cache', '--db']);

/**
 * The command modules a command line needs: the named command's alone, or all of them for help,
 * `--version`, a missing or unknown name (commander's messages list every command).
 */
export function commandsFor(argv: readonly string[]): string[] {
  const all = Object.keys(COMMANDS);
  if (argv.some((a) => a === '--help' || a === '-h')) return all;
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-')) {
    const a = argv[i]!;
    if (GLOBAL_WITH_VALUE.has(a)) i += 2;
    else if (a.includes('=') && GLOBAL_WITH_VALUE.has(a.slice(0, a.indexOf('=')))) i += 1;
    else return all; // --version, or an option commander will report
  }
  const name = argv[i];
  return name !== undefined && Object.hasOwn(COMMANDS, name) ? [name] : all;
}
