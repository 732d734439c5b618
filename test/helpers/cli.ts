/**
 * Drives the real CLI (`bin/pefuse.js`, compiled by the global setup) in a child process and returns
 * what a user would see: exit code, stdout and stderr with ANSI codes stripped.
 */

import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { it } from 'vitest';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(REPO_ROOT, 'bin', 'pefuse.js');

/** `../shared` beside the repository, when present (it is absent in a user's clone). */
export const SHARED = join(REPO_ROOT, '..', 'shared');
export const HAS_SHARED = existsSync(join(SHARED, 'datasets'));
export const NO_SHARED_REASON = '../shared is absent (a user clone); reference-data tests are skipped';

/**
 * Guards a test on the exact `../shared` files it reads (paths relative to `../shared`): `skip` is true
 * when one is absent, and `title(t)` says which, so a partial copy skips with a reason instead of failing.
 */
export function needShared(...files: string[]): { skip: boolean; reason: string; title(t: string): string } {
  const missing = files.filter((f) => !existsSync(join(SHARED, f)));
  const reason =
    missing.length === 0
      ? ''
      : !existsSync(SHARED)
        ? NO_SHARED_REASON
        : `skipped: ../shared/${missing[0]} is absent${missing.length > 1 ? ` (and ${missing.length - 1} more of its files)` : ''}`;
  return {
    skip: missing.length > 0,
    reason,
    title: (t) => (missing.length === 0 ? t : `${t} — ${reason}`),
  };
}

/** `it`, skipped with a reason naming the absent file unless every listed `../shared` file is present. */
export function itWithShared(
  ...files: string[]
): (name: string, fn: () => Promise<void> | void, timeout?: number) => void {
  const g = needShared(...files);
  return (name, fn, timeout) => it.skipIf(g.skip)(g.title(name), fn, timeout);
}

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escapes is the point
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

export async function pefuse(
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string>; input?: string; timeout?: number } = {},
): Promise<CliRun> {
  const r = await execa(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { NO_COLOR: '1', ...opts.env },
    reject: false,
    stripFinalNewline: false,
    timeout: opts.timeout ?? 120_000,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
  });
  return {
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout).replace(ANSI, ''),
    stderr: String(r.stderr).replace(ANSI, ''),
  };
}

export function tempDir(prefix = 'pefuse-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
