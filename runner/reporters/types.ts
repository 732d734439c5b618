/** Reporters turn run events into output; the `--reporter` values are this map's keys. */
import type { RunEvent } from '../events/event.js';

export interface ReporterIo {
  write(text: string): void;
  /** Milliseconds, monotonic (injected so tests are deterministic). */
  now(): number;
  /** The terminal's width in columns, read at each redraw (the tty reporter clips to it). */
  columns?: () => number | undefined;
}

export interface Reporter {
  onEvent(e: RunEvent): void;
  /** Final flush (the tty table's last frame); idempotent. */
  close(): void;
}

export type ReporterName = 'tty' | 'plain' | 'json';
export const REPORTER_NAMES: readonly ReporterName[] = ['tty', 'plain', 'json'];

/** `tty` on an interactive terminal, `plain` in CI and when output is piped. */
export function defaultReporter(isTTY: boolean, env: NodeJS.ProcessEnv): ReporterName {
  return isTTY && !env.CI && env.TERM !== 'dumb' ? 'tty' : 'plain';
}
