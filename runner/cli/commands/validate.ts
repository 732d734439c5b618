/** `pefuse validate SPEC…`: every problem in every spec, located; exit 2 when any has an error. */
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { EXIT_USAGE } from '../io.js';
import { cacheRootOf, collect, planSpec, printDiagnostics } from '../planning.js';

export function registerValidate(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('validate')
    .description(
      'check experiment specs (YAML syntax, schema, sweeps, datasets, prompts) without running anything',
    )
    .argument('<spec...>', 'experiment spec files')
    .option(
      '--set <path=value>',
      'override a spec value (repeatable), e.g. --set mllm.temperature=0.5',
      collect,
      [],
    )
    .action(async (specs: string[], opts: { set: string[] }, cmd: Command) => {
      let failed = false;
      const cacheRoot = cacheRootOf(cmd, io);
      for (const spec of specs) {
        const r = await planSpec(spec, io, { overrides: opts.set, cacheRoot, withStore: false });
        if (!r.ok) {
          // Each spec is reported on its own: one spec's problems never hide that another is fine.
          printDiagnostics(io, r.error);
          const n = r.error.filter((d) => d.severity === 'error').length;
          io.stdout(`${spec}: ${n} error${n === 1 ? '' : 's'}\n`);
          failed = true;
          continue;
        }
        printDiagnostics(io, r.value.warnings);
        const n = r.value.points.length;
        const u = r.value.points.filter((p) => p.unresolved).length;
        io.stdout(
          `${spec}: ok (${n} point${n === 1 ? '' : 's'}, ${r.value.stages.length} stages${u > 0 ? `; ${u} unresolved: see the warnings` : ''})\n`,
        );
      }
      if (failed) setExit(EXIT_USAGE);
    });
}
