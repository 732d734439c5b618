/**
 * The closed union of run-time failures (the second error channel; spec problems are Diagnostics and
 * bugs are exceptions). Every failure carries a kebab-case `reason`; reporters, DuckDB and retry logic
 * switch on it exhaustively.
 */
export type FailureReason =
  /** A worker process exited (crash, segfault, `sys.exit`) while items were in flight. */
  | 'worker-exit'
  /** A worker did not answer an item (or a heartbeat) within its timeout. */
  | 'worker-timeout'
  /** The worker reported CUDA / host out-of-memory. */
  | 'oom'
  /** A worker or server answered something that is not a valid result. */
  | 'bad-output'
  /** An input file (image, annotation, upstream object) is missing. */
  | 'input-missing'
  /** An input exists but cannot be decoded (corrupt JPEG, malformed JSON record). */
  | 'bad-input'
  /** An HTTP server answered with a non-2xx status. */
  | 'http-status'
  /** An HTTP server could not be reached. */
  | 'http-unreachable'
  /** A model folder or backend could not be loaded. */
  | 'model-load'
  /** A cached object failed verification (size or hash); it is recomputed. */
  | 'cache-corrupt'
  /** An upstream stage failed, so this one could not run. */
  | 'upstream-failed'
  /** The user pressed Ctrl-C or `--fail-fast` stopped the run. */
  | 'cancelled'
  /** No implementation exists for this backend / stage kind yet. */
  | 'not-implemented'
  /** An unexpected exception (a bug) converted at the boundary. */
  | 'internal-error';

export const FAILURE_REASONS: readonly FailureReason[] = [
  'worker-exit',
  'worker-timeout',
  'oom',
  'bad-output',
  'input-missing',
  'bad-input',
  'http-status',
  'http-unreachable',
  'model-load',
  'cache-corrupt',
  'upstream-failed',
  'cancelled',
  'not-implemented',
  'internal-error',
];

export interface Failure {
  reason: FailureReason;
  /** One line a user can act on, e.g. "image not found: /data/cirr/dev/dev-1.png". */
  message: string;
  /** Item that failed, when the failure is item-level. */
  item?: string;
  /** Extra detail: exit code, signal, HTTP status, last stderr lines. */
  detail?: string;
  /** Whether retrying the same work could succeed (crash, timeout, 5xx) or not (missing input). */
  retryable: boolean;
}

export function failure(
  reason: FailureReason,
  message: string,
  extra: { item?: string; detail?: string; retryable?: boolean } = {},
): Failure {
  const f: Failure = { reason, message, retryable: extra.retryable ?? defaultRetryable(reason) };
  if (extra.item !== undefined) f.item = extra.item;
  if (extra.detail !== undefined) f.detail = extra.detail;
  return f;
}

/**
 * Whether running the same command again may get past this failure (a crash, a timeout, a server that
 * was down, an interruption) rather than failing the same way until something is fixed.
 */
export function rerunMayFix(reason: FailureReason): boolean {
  return reason === 'cancelled' || defaultRetryable(reason);
}

function defaultRetryable(reason: FailureReason): boolean {
  switch (reason) {
    case 'worker-exit':
    case 'worker-timeout':
    case 'oom':
    case 'http-status':
    case 'http-unreachable':
    case 'cache-corrupt':
      return true;
    case 'bad-output':
    case 'input-missing':
    case 'bad-input':
    case 'model-load':
    case 'upstream-failed':
    case 'cancelled':
    case 'not-implemented':
    case 'internal-error':
      return false;
  }
}

/** Converts an unexpected exception (a bug) into a failure, once, at the boundary. */
export function convertExceptionToFailure(e: unknown): Failure {
  const message = e instanceof Error ? e.message : String(e);
  const detail = e instanceof Error && e.stack ? e.stack : undefined;
  return failure('internal-error', `internal error (a bug in pefuse): ${message}`, detail ? { detail } : {});
}
