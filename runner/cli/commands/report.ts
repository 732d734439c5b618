/**
 * `pefuse report SPEC… [--out DIR] [--format LIST] [--best METRIC] [--seed N]`: the figures, tables,
 * grids and HTML page a spec's `report:` block asks for, from the results database (opened read-only)
 * and the cache. It never runs a stage. Points are the experiment's points of its latest run.
 */

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { packageVersion } from '../../util/package.js';
import { checkCacheDir } from '../cache-dir.js';
import type { CliIo } from '../io.js';
import { CliExit, EXIT_FAILURES, EXIT_USAGE } from '../io.js';
import { cacheRootOf, dbFileOf, planSpec, printDiagnostics } from '../planning.js';

interface ReportOpts {
  out?: string;
  format: string;
  best?: string;
  seed: string;
  wait: string;
}

export function registerReport(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('report')
    .description(
      "write the figures, tables and HTML page of the specs' `report:` blocks from the results database",
    )
    .argument('<spec...>', 'experiment spec files')
    .option(
      '--out <dir>',
      'parent folder of the outputs; files go to DIR/<experiment>/ (default: reports/out)',
    )
    .option('--format <list>', 'comma-separated: vl, svg, png, md, tex, html, page (default: all)', 'all')
    .option(
      '--best <metric>',
      'print the best configuration by METRIC, its interval and its ties (writes nothing)',
    )
    .option('--seed <n>', 'seed of the bootstrap resampling (printed with every interval)', '0')
    .option('--db <file>', 'DuckDB results file (default: <cache>/results.duckdb)')
    .option('--wait <seconds>', 'how long to wait while a running `pefuse run` is writing', '10')
    .action(async (specs: string[], opts: ReportOpts, cmd: Command) => {
      const { FORMATS } = await import('../../../reports/report.js');
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
        throw new CliExit(
          EXIT_USAGE,
          `pefuse report: --seed expects a non-negative integer, got "${opts.seed}"`,
        );
      const waitS = Number(opts.wait);
      if (!Number.isFinite(waitS) || waitS < 0)
        throw new CliExit(
          EXIT_USAGE,
          `pefuse report: --wait expects a number of seconds, got "${opts.wait}"`,
        );
      const formats = opts.format === 'all' ? [...FORMATS] : opts.format.split(',').map((f) => f.trim());
      const unknown = formats.filter((f) => !(FORMATS as readonly string[]).includes(f));
      if (unknown.length > 0)
        throw new CliExit(
          EXIT_USAGE,
          `pefuse report: unknown format ${unknown.map((f) => `"${f}"`).join(', ')} (known: ${FORMATS.join(', ')})`,
        );
      const cacheRoot = cacheRootOf(cmd, io);
      if ((cmd.optsWithGlobals() as { db?: string }).db === undefined)
        await checkCacheDir('report', cacheRoot, false);
      const file = dbFileOf(cmd, io);
      const { dbFileProblem } = await import('../../results/check.js');
      const problem = await dbFileProblem(file, false);
      if (problem !== null) throw new CliExit(EXIT_USAGE, `pefuse report: ${problem}`);
      if (!existsSync(file))
        throw new CliExit(
          EXIT_USAGE,
          `pefuse report: no results database at ${file} yet; run \`pefuse run ${specs[0] ?? 'SPEC'}\` first`,
        );
      const { openResults } = await import('../../results/db.js');
      const { writeReport } = await import('../../../reports/report.js');
      const { readExperiment, ReportDataError } = await import('../../../reports/data.js');
      const { reportItemsOf } = await import('../../../reports/spec.js');
      const { findBest, renderBest } = await import('../../../reports/best.js');
      const { metricChoices, resolveMetric } = await import('../../../stages/metrics/names.js');
      const db = openResults(file, { readOnly: true, lockTimeoutMs: waitS * 1000 });
      try {
        for (const spec of specs) {
          const r = await planSpec(spec, io, { overrides: [], cacheRoot, withStore: false });
          if (!r.ok) {
            printDiagnostics(io, r.error);
            setExit(EXIT_USAGE);
            continue;
          }
          const plan = r.value;
          const specFile = resolve(io.cwd, spec);
          if (opts.best !== undefined) {
            const data = await readExperiment(db, plan.experiment);
            if (!data) {
              io.stderr(
                `pefuse report: nothing recorded for experiment \`${plan.experiment}\` in ${file}; run \`pefuse run ${spec}\` first\n`,
              );
              setExit(EXIT_FAILURES);
              continue;
            }
            const bad = [...new Set(data.points.map((p) => p.dataset))].find(
              (d) => resolveMetric(d, opts.best!) === null,
            );
            if (bad) {
              io.stderr(
                `pefuse report: ${bad} has no metric \`${opts.best}\` (it has ${metricChoices(bad).join(', ')})\n`,
              );
              setExit(EXIT_USAGE);
              continue;
            }
            io.stdout(`${plan.experiment}\n`);
            io.stdout(renderBest(await findBest(db, data, opts.best, seed), opts.best, seed));
            continue;
          }
          const items = reportItemsOf(plan.report);
          const outDir = resolve(io.cwd, opts.out ?? 'reports/out', plan.experiment);
          const res = await writeReport({
            db,
            experiment: plan.experiment,
            items,
            specFile,
            specText: readText(specFile),
            outDir,
            formats: new Set(formats as (typeof FORMATS)[number][]),
            seed,
            version: packageVersion(),
            gitCommit: gitCommit(dirname(specFile)),
            cacheRoot,
          }).catch((e: unknown) => {
            if (e instanceof ReportDataError)
              return { missing: `the results database could not be read: ${e.message}` };
            throw e;
          });
          if ('missing' in res) {
            io.stderr(`pefuse report: ${res.missing}; run \`pefuse run ${spec}\` first\n`);
            setExit(EXIT_FAILURES);
            continue;
          }
          for (const s of res.status) io.stdout(`${plan.experiment}: note: ${s}\n`);
          for (const l of res.lines) io.stdout(`${plan.experiment}: ${l}\n`);
          if (items.length === 0)
            io.stdout(`${plan.experiment}: the spec has no \`report:\` block; wrote the page only\n`);
          io.stdout(`${plan.experiment}: wrote ${res.files.length} files to ${outDir}\n`);
        }
      } finally {
        await db.close();
      }
    });
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The git commit of the folder holding the spec, or null outside a repository. */
function gitCommit(dir: string): string | null {
  // node:child_process loads here, not with the CLI (it pulls in much of Node's networking code).
  const { execFileSync } = createRequire(import.meta.url)(
    'node:child_process',
  ) as typeof import('node:child_process');
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}
