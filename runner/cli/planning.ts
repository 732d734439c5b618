/**
 * Shared by every command that takes a spec: global options → cache root → store → pipeline →
 * `planFile` (spec → sweep → plan), with diagnostics rendered the same way everywhere.
 *
 * Imported by every command at start-up (`pefuse --version` included), so it imports the planner,
 * the catalog and the store only inside `planSpec`.
 */
import type { Command } from 'commander';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { renderDiagnostics } from '../diagnostics/render.js';
import type { Plan } from '../plan/types.js';
import { resolveCacheRoot, resolveDbFile } from '../store/paths.js';
import type { Result } from '../util/result.js';
import { CliExit, type CliIo, EXIT_USAGE } from './io.js';

export interface GlobalOptions {
  cache?: string;
  db?: string;
}

export function globals(cmd: Command): GlobalOptions {
  // Options of the root program (`pefuse --cache DIR plan …`) or of the subcommand (`pefuse plan --cache DIR …`).
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function cacheRootOf(cmd: Command, io: CliIo): string {
  const flag = globals(cmd).cache;
  if (flag !== undefined && flag.trim() === '')
    throw new CliExit(EXIT_USAGE, 'pefuse: --cache expects a folder, got an empty string');
  return resolveCacheRoot({ flag: globals(cmd).cache, env: io.env, cwd: io.cwd });
}

export function dbFileOf(cmd: Command, io: CliIo): string {
  return resolveDbFile({ flag: globals(cmd).db, cacheRoot: cacheRootOf(cmd, io), cwd: io.cwd });
}

export interface PlanRequest {
  overrides: readonly string[];
  cacheRoot: string;
  /** Look at the cache for statuses (plan, run) or not (validate). */
  withStore: boolean;
}

/** Plans a spec. The planner, the catalog and the store load here, not when the CLI starts. */
export async function planSpec(
  file: string,
  io: CliIo,
  req: PlanRequest,
): Promise<Result<Plan, Diagnostic[]>> {
  const [{ planFile }, { createPipeline }, { planStoreAt }] = await Promise.all([
    import('../frontend.js'),
    import('../../stages/catalog.js'),
    import('./plan-store.js'),
  ]);
  return planFile(file, {
    overrides: req.overrides,
    cwd: io.cwd,
    env: io.env,
    cacheRoot: req.cacheRoot,
    pipeline: createPipeline(),
    ...(req.withStore ? { store: planStoreAt(req.cacheRoot) } : {}),
  });
}

/**
 * Prints diagnostics to stderr: every error, then the warnings that leave points unresolved, then the
 * others. Warnings are deduplicated, and only warnings of one kind are folded into a count past
 * `maxPerKind` (a spec with nine datasets whose roots are not there yet should not bury its one error,
 * nor hide a different warning behind them).
 */
export function printDiagnostics(io: CliIo, diags: readonly Diagnostic[], maxPerKind = 3): void {
  const seen = new Set<string>();
  const unique = diags.filter((d) => {
    const id = `${d.severity}|${d.message}|${d.span?.file}:${d.span?.start}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  const warnings = unique.filter((d) => d.severity === 'warning');
  const ordered = [
    ...warnings.filter((d) => d.unresolved === 'empty'),
    ...warnings.filter((d) => d.unresolved === 'missing'),
    ...warnings.filter((d) => d.unresolved === undefined),
  ];
  const byKind = new Map<string, Diagnostic[]>();
  for (const w of ordered) {
    const kind = w.code ?? `message:${w.message}`;
    byKind.set(kind, [...(byKind.get(kind) ?? []), w]);
  }
  const shown = unique.filter((d) => d.severity === 'error');
  const folded: string[] = [];
  for (const list of byKind.values()) {
    shown.push(...list.slice(0, maxPerKind));
    if (list.length > maxPerKind)
      folded.push(
        `(${list.length - maxPerKind} more warning${list.length - maxPerKind === 1 ? '' : 's'} like "${list[0]!.message}" not shown)`,
      );
  }
  const text = renderDiagnostics(shown);
  if (text) io.stderr(text);
  for (const f of folded) io.stderr(`${f}\n`);
}

/** Commander collector for repeatable `--set PATH=VALUE`. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
