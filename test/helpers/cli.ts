/**
 * Drives the real CLI (`bin/pefuse.js`, compiled by the global setup) in a child process and returns
 * what a user would see: exit code, stdout and stderr with ANSI codes stripped.
 */

import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(REPO_ROOT, 'bin', 'pefuse.js');

/** `../shared` beside the repository, when present (it is absent in a user's clone). */
export const SHARED = join(REPO_ROOT, '..', 'shared');
export const HAS_SHARED = existsSync(join(SHARED, 'datasets'));
export const NO_SHARED_REASON = '../shared is absent (a user clone); reference-data tests are skipped';

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
