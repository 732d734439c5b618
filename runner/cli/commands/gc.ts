/**
 * `pefuse gc [--dry-run] [SPEC…] [--older-than DAYS]`: removes cache entries that no spec reaches.
 *
 * Reachable = every stage key `buildPlan` gives for the specs (all of `experiments/*.yaml` when none
 * is named), cached or not, plus everything their manifests and journals refer to. A spec with errors,
 * or one that does not fully resolve (a dataset root or model folder not there, often because a
 * `${env:VAR}` is unset and its default was used: its keys are then not the ones its results are stored
 * under), stops gc before anything is deleted (exit 2). `--dry-run` reports what it can from the other
 * specs and names the ones it could not plan.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import type { StageKey, Unresolved } from '../../contract/stage.js';
import { lineCol } from '../../diagnostics/diagnostic.js';
import type { GcReport } from '../../store/types.js';
import { checkCacheDir } from '../cache-dir.js';
import type { CliIo } from '../io.js';
import { EXIT_USAGE } from '../io.js';
import { limitOverrides } from '../limit.js';
import { cacheRootOf, collect, planSpec, printDiagnostics } from '../planning.js';

/** Human byte counts: 0 B, 812 B, 4.2 KiB, 1.3 GiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The default spec list: `experiments/*.yaml|yml` under the working directory, sorted. */
export function defaultSpecs(cwd: string): string[] {
  const dir = join(cwd, 'experiments');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /\.ya?ml$/.test(n))
    .sort()
    .map((n) => join('experiments', n));
}

export function gcSummary(r: GcReport, dryRun: boolean): string {
  const parts = [
    plural(r.stages, 'stage'),
    plural(r.objects, 'object'),
    plural(r.items, 'item-cache entry', 'item-cache entries'),
    plural(r.tmp, 'temp file'),
  ];
  const lines = [
    dryRun
      ? `would remove ${parts.join(', ')}: would free ${formatBytes(r.bytes)} (dry run, nothing deleted)`
      : `removed ${parts.join(', ')}: freed ${formatBytes(r.bytes)}`,
  ];
  if (r.lockedSkipped > 0) {
    lines.push(`kept ${plural(r.lockedSkipped, 'unreachable stage')} locked by a running pefuse process`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerGc(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('gc')
    .description('remove cache entries that no spec under experiments/ (or the given specs) reaches')
    .argument('[specs...]', 'specs whose stages to keep (default: experiments/*.yaml)')
    .option('--dry-run', 'report what would be removed, delete nothing')
    .option(
      '--set <path=value>',
      'keep the stages of the specs with this override too (repeatable)',
      collect,
      [],
    )
    .option('--limit <n>', 'keep the stages of the specs run with --limit N too')
    .option('--older-than <days>', 'only remove unreachable entries not modified for this many days')
    .option('--json', 'print the counts as JSON')
    .option('-v, --verbose', 'list the stages removed (or, with --dry-run, that would be)')
    .action(
      async (
        specsArg: string[],
        opts: {
          dryRun?: boolean;
          olderThan?: string;
          json?: boolean;
          set: string[];
          limit?: string;
          verbose?: boolean;
        },
        cmd: Command,
      ) => {
        let olderThanDays: number | undefined;
        if (opts.olderThan !== undefined) {
          olderThanDays = Number(opts.olderThan);
          if (opts.olderThan.trim() === '' || !Number.isFinite(olderThanDays) || olderThanDays < 0) {
            io.stderr(`pefuse gc: --older-than expects a number of days (>= 0), got "${opts.olderThan}"\n`);
            setExit(EXIT_USAGE);
            return;
          }
        }
        const specs = specsArg.length > 0 ? specsArg : defaultSpecs(io.cwd);
        if (specs.length === 0) {
          io.stderr(
            `pefuse gc: no specs found in ${join(io.cwd, 'experiments')}; name the specs whose results to keep ` +
              '(pefuse gc SPEC…). Refusing to run: every cache entry would count as unreachable.\n',
          );
          setExit(EXIT_USAGE);
          return;
        }
        const cacheRoot = cacheRootOf(cmd, io);
        await checkCacheDir('gc', cacheRoot, !(opts.dryRun ?? false));
        const dryRun = opts.dryRun ?? false;
        const reachable = new Set<StageKey>();
        const broken: string[] = [];
        const unresolved: { spec: string; what: Unresolved[] }[] = [];
        for (const spec of specs) {
          const limit = opts.limit === undefined ? [] : await limitOverrides('gc', spec, opts.limit, io);
          const overrides = [...opts.set, ...limit];
          const what = new Map<string, Unresolved>();
          // The spec as written, and (with --set/--limit) as run with those overrides: both are kept.
          for (const o of overrides.length > 0 ? [[], overrides] : [[]]) {
            const plan = await planSpec(spec, io, { overrides: o, cacheRoot, withStore: false });
            if (!plan.ok) {
              printDiagnostics(io, plan.error);
              broken.push(spec);
              break;
            }
            for (const s of plan.value.stages) reachable.add(s.key);
            for (const p of plan.value.points) for (const u of p.unresolved ?? []) what.set(u.reason, u);
          }
          if (what.size > 0) unresolved.push({ spec, what: [...what.values()] });
        }
        if (unresolved.length > 0) io.stderr(unresolvedText(unresolved));
        if (broken.length > 0 || unresolved.length > 0) {
          const problems: string[] = [];
          if (broken.length > 0) problems.push(`${broken.join(', ')} could not be planned (errors above)`);
          if (unresolved.length > 0)
            problems.push(
              `${unresolved.map((u) => u.spec).join(', ')} ${unresolved.length === 1 ? 'does' : 'do'} not fully resolve (above)`,
            );
          if (!dryRun) {
            io.stderr(
              `pefuse gc: nothing was removed: ${problems.join('; ')}, so gc cannot tell which cache entries ${broken.length + unresolved.length === 1 ? 'it reaches' : 'they reach'}. ` +
                'Fix what is named above (the spec, an unset variable, a missing path), or leave the spec out of the list (pefuse gc SPEC…), then run gc again.\n',
            );
            setExit(EXIT_USAGE);
            return;
          }
          io.stderr(
            `pefuse gc --dry-run: ${problems.join('; ')}: the counts below treat what ${broken.length + unresolved.length === 1 ? 'it reaches' : 'they reach'} as unreachable, and a real gc refuses until this is fixed\n`,
          );
          if (broken.length > 0) setExit(EXIT_USAGE);
        }
        if (!existsSync(cacheRoot)) {
          io.stdout(`no cache at ${cacheRoot}: nothing to remove\n`);
          return;
        }
        const { collectGarbage, openStore } = await import('../../store/index.js');
        const report = await collectGarbage(openStore(cacheRoot), {
          reachable,
          dryRun,
          ...(olderThanDays !== undefined ? { olderThanDays } : {}),
        });
        if (opts.json) {
          io.stdout(
            `${JSON.stringify({ dryRun, reachable: reachable.size, notPlanned: [...broken, ...unresolved.map((u) => u.spec)], ...report })}\n`,
          );
          return;
        }
        const where = relative(io.cwd, cacheRoot) || '.';
        io.stdout(
          `${plural(specs.length, 'spec')} reach${specs.length === 1 ? 'es' : ''} ${plural(reachable.size, 'stage')} (cache: ${where})\n${gcSummary(report, dryRun)}`,
        );
        if (opts.verbose)
          for (const r of report.removedStages)
            io.stdout(
              `  ${dryRun ? 'would remove' : 'removed'}  ${r.key.slice(0, 12)}  ${(r.kind ?? '?').padEnd(12)}  ${formatBytes(r.bytes)}\n`,
            );
      },
    );
}

/** Names each spec that does not fully resolve, with what did not, where, and the unset variables. */
function unresolvedText(list: readonly { spec: string; what: Unresolved[] }[]): string {
  const lines: string[] = [];
  for (const { spec, what } of list) {
    lines.push(`pefuse gc: ${spec} does not fully resolve:`);
    for (const u of what) {
      const at = u.span ? ` (${u.span.file}:${lineColText(u.span.source, u.span.start)})` : '';
      const vars =
        u.variables.length > 0
          ? `; ${u.variables.map((v) => `$${v}`).join(', ')} ${u.variables.length === 1 ? 'is' : 'are'} not set, so ${u.variables.length === 1 ? 'its' : 'their'} default was used`
          : '';
      lines.push(`  ${u.reason}${at}${vars}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function lineColText(source: string, offset: number): string {
  const { line, col } = lineCol(source, offset);
  return `${line}:${col}`;
}
