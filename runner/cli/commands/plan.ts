/** `pefuse plan SPEC [--json]`: points, stages per kind, and for each stage cached or why it runs. */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { resolveGpus } from '../../exec/resources.js';
import { planJson, planText } from '../../plan/view.js';
import { CliExit, type CliIo, EXIT_USAGE } from '../io.js';
import { limitOverrides } from '../limit.js';
import { cacheRootOf, collect, planSpec, printDiagnostics } from '../planning.js';

interface PlanOptions {
  set: string[];
  limit?: string;
  json?: boolean;
  all?: boolean;
  showPrompt?: boolean;
  executor: string;
}

export function registerPlan(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('plan')
    .description('show what a spec expands to and which stages are cached or will run (and why)')
    .argument('<spec>', 'experiment spec file')
    .option('--set <path=value>', 'override a spec value (repeatable)', collect, [])
    .option('--limit <n>', 'plan with only the first N queries of every dataset (as `run --limit N`)')
    .option('--json', 'print the plan as one JSON document')
    .option('--all', 'list every stage (default: the first 40)')
    .option('--show-prompt', 'print each MLLM prompt rendered for the first query, instead of the plan')
    .option(
      '--executor <name>',
      'local, or slurm: also print the sbatch scripts `run --executor slurm` would submit',
      'local',
    )
    .action(async (spec: string, opts: PlanOptions, cmd: Command) => {
      if (opts.executor !== 'local' && opts.executor !== 'slurm')
        throw new CliExit(
          EXIT_USAGE,
          `pefuse plan: unknown executor "${opts.executor}" (available: local, slurm)`,
        );
      const limit = opts.limit === undefined ? [] : await limitOverrides('plan', spec, opts.limit, io);
      const r = await planSpec(spec, io, {
        overrides: [...opts.set, ...limit],
        cacheRoot: cacheRootOf(cmd, io),
        withStore: true,
      });
      if (!r.ok) {
        printDiagnostics(io, r.error);
        setExit(EXIT_USAGE);
        return;
      }
      // Loaded by planSpec already: the catalog holds no stage code (stages/catalog.ts).
      const { cpuDiffusionNote, showPrompts } = await import('../../../stages/catalog.js');
      if (opts.showPrompt) {
        printDiagnostics(io, r.value.warnings);
        io.stdout(await showPrompts(r.value.stages));
        return;
      }
      if (opts.json) {
        io.stdout(`${JSON.stringify(planJson(r.value), null, 2)}\n`);
        return;
      }
      printDiagnostics(io, r.value.warnings);
      io.stdout(planText(r.value, { all: opts.all ?? false }));
      const specGpus = Array.isArray(r.value.resources.gpus)
        ? (r.value.resources.gpus as number[])
        : undefined;
      const gpus = resolveGpus(undefined, specGpus, io.env);
      const note = cpuDiffusionNote(
        r.value.stages.map((s) => ({
          kind: s.node.kind,
          model: s.record.model,
          cached: s.status === 'cached',
        })),
        !gpus.ok || gpus.value.gpus.length > 0,
      );
      if (note !== null) io.stdout(note);
      if (opts.executor === 'slurm') {
        // Loaded only for the dry run: `plan` without it reads no Slurm code.
        const [{ dryRunText }, { slurmOptions }, { checkSharedFs }] = await Promise.all([
          import('../../exec/slurm/layout.js'),
          import('../../exec/slurm/options.js'),
          import('../../exec/slurm/shared-fs.js'),
        ]);
        const cacheRoot = cacheRootOf(cmd, io);
        const fs = await checkSharedFs(existsSync(cacheRoot) ? cacheRoot : dirname(cacheRoot));
        io.stdout(
          dryRunText(r.value, slurmOptions(r.value.slurm), { cacheRoot, cwd: io.cwd, sharedFs: fs.message }),
        );
      }
    });
}
