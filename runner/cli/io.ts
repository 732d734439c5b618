/**
 * The CLI's view of the outside world, passed explicitly (no global singletons) so tests and the
 * programmatic API can capture output.
 */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stdout is an interactive terminal (selects the default reporter, colours). */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Exit codes: 0 ok, 1 run failures, 2 usage or spec errors. */
export const EXIT_OK = 0;
export const EXIT_FAILURES = 1;
export const EXIT_USAGE = 2;

export function processIo(): CliIo {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    isTTY: Boolean(process.stdout.isTTY),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Raised by command handlers to end with a message and an exit code (usage errors, bad input). */
export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}
