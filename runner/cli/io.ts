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
    stdout: pipeWriter(process.stdout),
    stderr: pipeWriter(process.stderr),
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

let pipeClosed = false;
let deferred = false;

/**
 * For `run`: a closed pipe must drain the run, even when it closes before the Ctrl-C handler is
 * installed (while the plan summary is written). After this call a closed pipe never exits the process;
 * the caller checks `outputPipeClosed()` once its handler is in place.
 */
export function deferPipeClose(): void {
  deferred = true;
}

/** Whether a reader closed stdout or stderr early. */
export function outputPipeClosed(): boolean {
  return pipeClosed;
}

/**
 * Writes to a standard stream that a reader may close early (`pefuse run … | head`). Node reports that
 * as an EPIPE error event, which would otherwise crash the process with a stack trace and leave stage
 * locks behind. Instead the stream goes quiet, and the process stops as if interrupted: a run drains
 * (its SIGINT handler journals what is in flight and exits 1, resumable); any other command exits.
 */
function pipeWriter(stream: NodeJS.WriteStream): (text: string) => void {
  let open = true;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    open = false;
    if (pipeClosed) return;
    pipeClosed = true;
    if (process.listenerCount('SIGINT') > 0) process.emit('SIGINT', 'SIGINT');
    else if (!deferred) process.exit(EXIT_OK);
  });
  return (text) => {
    if (open) stream.write(text);
  };
}
