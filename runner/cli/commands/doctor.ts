/**
 * `pefuse doctor [SPEC]`: Node, the native modules, and for a spec, the servers its stages use (each
 * MLLM endpoint's /v1/models and whether the model is served). Exit 1 when a check fails.
 */
import type { Command } from 'commander';
import { BASE_CHECKS, type CheckResult, type DoctorCheck, runChecks } from '../../doctor/checks.js';
import type { CliIo } from '../io.js';
import { EXIT_FAILURES, EXIT_USAGE } from '../io.js';
import { cacheRootOf, collect, planSpec, printDiagnostics } from '../planning.js';

const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

export function registerDoctor(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('doctor')
    .description('check this machine (Node, native modules) and, given a spec, the servers it uses')
    .argument('[spec]', 'experiment spec file: also check its MLLM servers')
    .option('--set <path=value>', 'override a spec value (repeatable)', collect, [])
    .action(async (spec: string | undefined, opts: { set: string[] }, cmd: Command) => {
      const checks: DoctorCheck[] = [...BASE_CHECKS, leftoverServersCheck(cacheRootOf(cmd, io))];
      if (spec !== undefined) {
        const r = await planSpec(spec, io, {
          overrides: opts.set,
          cacheRoot: cacheRootOf(cmd, io),
          withStore: false,
        });
        if (!r.ok) {
          printDiagnostics(io, r.error);
          setExit(EXIT_USAGE);
          return;
        }
        const { doctorChecks } = await import('../../../stages/catalog.js');
        checks.push(
          ...(await doctorChecks(
            r.value.stages.map((s) => s.node),
            io.env,
          )),
        );
      }
      const results = await runChecks(checks);
      let group = '';
      const width = Math.max(...results.map((r) => r.name.length));
      for (const r of results) {
        if (r.group !== group) {
          group = r.group;
          io.stdout(`${group}\n`);
        }
        io.stdout(`  ${MARK[r.status]}  ${r.name.padEnd(width)}  ${r.detail}\n`);
      }
      if (spec !== undefined && !results.some((r) => r.group === 'servers'))
        io.stdout(`servers\n  ${spec} uses no HTTP MLLM server\n`);
      const failed = results.filter((r) => r.status === 'fail').length;
      io.stdout(failed === 0 ? 'all checks passed\n' : `${failed} check(s) failed\n`);
      if (failed > 0) setExit(EXIT_FAILURES);
    });
}

/** Servers a `kill -9`ed run left on this host (`mllm.server`): a warning row, only when there are some. */
function leftoverServersCheck(cacheRoot: string): DoctorCheck {
  return {
    group: 'runtime',
    async run(): Promise<CheckResult[]> {
      const { listOrphans, servicePidDir } = await import('../../exec/service-process.js');
      const left = listOrphans(servicePidDir(cacheRoot));
      if (left.length === 0) return [];
      return [
        {
          name: 'leftover servers',
          status: 'warn',
          detail: `${left.length} server process(es) started by a pefuse run that was killed are still running (${left.map((o) => `pid ${o.pid}: ${o.label}`).join('; ')}); the next \`pefuse run\` on ${cacheRoot} stops them`,
        },
      ];
    },
  };
}
