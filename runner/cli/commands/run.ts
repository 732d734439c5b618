/**
 * `pefuse run SPEC`: plan, show what will run, then execute with the local executor.
 *
 *   options ─▶ plan (exit 2 on spec errors) ─▶ plan summary ─▶ reporter + Ctrl-C handler
 *     ─▶ runPlan (store, results DB, resources) ─▶ failure summary ─▶ exit 0 ok │ 1 failures
 *
 * Heavy modules (the executor, DuckDB) load only once the spec planned cleanly.
 */
import { availableParallelism } from 'node:os';
import { type Command, Option } from 'commander';
import { refusedText, runnablePart } from '../../plan/runnable.js';
import type { Plan } from '../../plan/types.js';
import { defaultReporter, REPORTER_NAMES, type ReporterName } from '../../reporters/types.js';
import { dbFileProblem } from '../../results/check.js';
import { resultsLine } from '../../results/outcome.js';
import { checkCacheDir } from '../cache-dir.js';
import {
  CliExit,
  type CliIo,
  deferPipeClose,
  EXIT_FAILURES,
  EXIT_OK,
  EXIT_USAGE,
  outputPipeClosed,
} from '../io.js';
import { intOption, limitOverrides } from '../limit.js';
import { cacheRootOf, collect, dbFileOf, planSpec, printDiagnostics } from '../planning.js';
import { provenForCachedRun, settleRecording } from '../recording.js';

interface RunOptions {
  set: string[];
  limit?: string;
  failFast?: boolean;
  retries: string;
  reporter?: string;
  gpus?: string;
  executor: string;
  shards?: string;
}

export function registerRun(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('run')
    .description('run an experiment: compute what is not cached, resume what was interrupted')
    .argument('<spec>', 'experiment spec file')
    .option(
      '--set <path=value>',
      'override a spec value (repeatable), e.g. --set mllm.temperature=0.5',
      collect,
      [],
    )
    .option('--limit <n>', 'use only the first N queries of every dataset (a quick check; cached separately)')
    .option('--fail-fast', 'stop at the first failure (default: keep going with independent work)')
    .option('--retries <n>', 'extra attempts for a failed item or stage (worker crash, timeout, OOM)', '2')
    .option(
      '--reporter <name>',
      `output: ${REPORTER_NAMES.join(' | ')} (default: tty on a terminal, else plain)`,
    )
    .option('--gpus <ids>', 'GPU ids to use, e.g. 0,1 (default: resources.gpus, then CUDA_VISIBLE_DEVICES)')
    .option(
      '--executor <name>',
      'local, or slurm: submit stages as Slurm job arrays (README "Running on a cluster")',
      'local',
    )
    // Internal (tests, benchmarks): `--executor subprocess` computes shardable stages in N
    // `pefuse __shard` processes on this machine, the local twin of a cluster executor.
    .addOption(new Option('--shards <n>', 'shards per stage for --executor subprocess').hideHelp())
    .action(async (spec: string, opts: RunOptions, cmd: Command) => {
      setExit(await runCommand(spec, opts, cmd, io));
    });
}

async function runCommand(spec: string, opts: RunOptions, cmd: Command, io: CliIo): Promise<number> {
  deferPipeClose();
  if (opts.executor !== 'local' && opts.executor !== 'subprocess' && opts.executor !== 'slurm') {
    throw new CliExit(
      EXIT_USAGE,
      `pefuse run: unknown executor "${opts.executor}" (available: local, slurm)`,
    );
  }
  const reporterName = (opts.reporter ?? defaultReporter(io.isTTY, io.env)) as ReporterName;
  if (!REPORTER_NAMES.includes(reporterName)) {
    throw new CliExit(
      EXIT_USAGE,
      `pefuse run: unknown reporter "${opts.reporter}" (available: ${REPORTER_NAMES.join(', ')})`,
    );
  }
  const retries = intOption('run', '--retries', opts.retries, 0);
  const shards = opts.shards === undefined ? 2 : intOption('run', '--shards', opts.shards, 1);
  const overrides = [...opts.set];
  if (opts.limit !== undefined) overrides.push(...(await limitOverrides('run', spec, opts.limit, io)));

  const cacheRoot = cacheRootOf(cmd, io);
  await checkCacheDir('run', cacheRoot, true);
  const dbFile = dbFileOf(cmd, io);
  const dbProblem = await dbFileProblem(dbFile, true);
  if (dbProblem !== null) throw new CliExit(EXIT_USAGE, `pefuse run: ${dbProblem}`);
  const planned = await planSpec(spec, io, { overrides, cacheRoot, withStore: true });
  if (!planned.ok) {
    printDiagnostics(io, planned.error);
    return EXIT_USAGE;
  }
  printDiagnostics(io, planned.value.warnings);
  // Unresolved points (an input not there) never run: their keys are not their real inputs'.
  const { plan, refused } = runnablePart(planned.value);
  if (refused.length > 0) {
    io.stderr(refusedText(refused));
    if (plan.points.length === 0) {
      io.stderr('pefuse run: no point of the plan resolved; nothing was run\n');
      return EXIT_USAGE;
    }
  }

  const { resolveGpus, visibleGpuCount } = await import('../../exec/resources.js');
  const specGpus = Array.isArray(plan.resources.gpus) ? (plan.resources.gpus as number[]) : undefined;
  const gpus = resolveGpus(opts.gpus, specGpus, io.env);
  if (!gpus.ok) throw new CliExit(EXIT_USAGE, `pefuse run: ${gpus.error}`);
  if (gpus.value.gpus.length > 0 && visibleGpuCount() === 0)
    io.stderr(
      `pefuse run: warning: ${gpus.value.source} names GPU ${gpus.value.gpus.join(',')}, but no GPU is visible on this machine (no NVIDIA driver found); stages that need a GPU will fail or run on the CPU. Use --gpus none to run without one.\n`,
    );
  const cpuSlots =
    typeof plan.resources.cpu_slots === 'number' ? plan.resources.cpu_slots : availableParallelism();
  const httpWindow =
    typeof plan.resources.http_concurrency === 'number' ? plan.resources.http_concurrency : 8;

  // --executor slurm: preflight (exit 2 on a problem), placement, and the plan it schedules.
  const startedAt = new Date();
  const runId = `${startedAt.toISOString()}-${process.pid}`;
  const slurm =
    opts.executor === 'slurm'
      ? await (await import('../../exec/slurm/setup.js')).setupSlurmRun(plan, {
          cacheRoot,
          cwd: io.cwd,
          runId,
        })
      : null;
  if (slurm !== null && !slurm.ok) {
    for (const e of slurm.error) io.stderr(`pefuse run: --executor slurm: ${e}\n`);
    return EXIT_USAGE;
  }

  // The summary goes where the reporter's output goes, except for json (stdout is events only).
  const summary = planSummary(plan) + (slurm?.ok ? slurm.value.summary.map((l) => `${l}\n`).join('') : '');
  if (reporterName === 'json') io.stderr(summary);
  else io.stdout(summary);

  const [
    { runPlan },
    { exponentialBackoff },
    { installInterruptHandler },
    { REPORTERS },
    fmt,
    { openStore },
  ] = await Promise.all([
    import('../../exec/executor.js'),
    import('../../contract/run.js'),
    import('../../exec/interrupt.js'),
    import('../../reporters/index.js'),
    import('../../reporters/format.js'),
    import('../../store/index.js'),
  ]);
  const reporter = REPORTERS[reporterName]({
    write: io.stdout,
    now: () => performance.now(),
    columns: () => process.stdout.columns,
  });
  const emit = reporter.onEvent.bind(reporter);
  const interrupt = installInterruptHandler(emit);
  // The output pipe may have closed while the summary was written: drain from the start.
  if (outputPipeClosed()) process.emit('SIGINT', 'SIGINT');
  const store = openStore(cacheRoot);
  const needsDb = plan.stages.length > 0;
  // A fully cached run of a plan the database provably holds leaves DuckDB closed (recording.ts).
  const proven = needsDb && refused.length === 0 ? await provenForCachedRun(plan, dbFile) : null;
  const results =
    needsDb && proven === null ? (await import('../../results/index.js')).openResults(dbFile) : null;
  const argv = process.argv.slice(2);
  try {
    const r = await runPlan(slurm?.ok ? slurm.value.plan : plan, {
      store,
      results,
      emit,
      resources: { gpus: gpus.value.gpus, cpuSlots, httpWindow },
      failFast: opts.failFast === true,
      retry: { retries, backoffMs: exponentialBackoff(1_000) },
      drain: interrupt.drain,
      kill: interrupt.kill,
      argv,
      runId,
      ...(slurm?.ok ? { executor: slurm.value.executor(emit, results) } : {}),
      ...(opts.executor === 'subprocess'
        ? {
            executor: (await import('../../exec/executors/subprocess.js')).subprocessExecutor({
              shards,
              pefuse: { file: process.execPath, args: [...process.execArgv, process.argv[1] ?? 'pefuse'] },
            }),
          }
        : {}),
    });
    const recorded = needsDb
      ? await settleRecording({
          plan,
          dbFile,
          summary: r,
          results,
          proven,
          runId,
          startedAt,
          argv,
          store,
          emit,
        })
      : null;
    interrupt.finished();
    reporter.close();
    const finished = plan.stages.filter((s) => {
      const o = r.outcomes.get(s.key);
      return o?.status === 'published' || o?.status === 'cached';
    });
    await store.history.appendMany(
      plan.experiment,
      finished.map((s) => ({ role: s.slot, record: s.record })),
    );
    if (r.ok && refused.length > 0) {
      io.stderr(
        `finished the resolved points; ${refused.length} unresolved point${refused.length === 1 ? ' was' : 's were'} refused (see above)\n`,
      );
      return EXIT_FAILURES;
    }
    if (r.ok) {
      if (reporterName !== 'json')
        io.stdout(
          recorded
            ? resultsLine(recorded)
            : `results: ${dbFile} (\`pefuse status\` shows the metrics of every point)\n`,
        );
      return EXIT_OK;
    }
    const skipped = [...r.outcomes.values()].filter(
      (o) => o.status === 'failed' && o.failure.reason === 'upstream-failed',
    ).length;
    io.stderr(fmt.failureSummaryText(r.failures, r.interrupted, skipped));
    return EXIT_FAILURES;
  } finally {
    reporter.close();
    interrupt.dispose();
  }
}

/** What is about to happen, before anything expensive starts. */
function planSummary(plan: Plan): string {
  const run = plan.stages.filter((s) => s.status === 'run');
  const byKind = new Map<string, { stages: number; cached: number; items: number | null }>();
  for (const s of plan.stages) {
    const k = byKind.get(s.node.kind) ?? { stages: 0, cached: 0, items: 0 };
    k.stages++;
    if (s.status === 'cached') k.cached++;
    else k.items = k.items === null || s.node.items === null ? null : k.items + s.node.items;
    byKind.set(s.node.kind, k);
  }
  const lines = [
    `experiment ${plan.experiment} (${plan.specFile}): ${plan.points.length} point${plan.points.length === 1 ? '' : 's'}, ` +
      (run.length === 0
        ? `all ${plan.stages.length} stages cached`
        : `${run.length} of ${plan.stages.length} stages to run, ${plan.stages.length - run.length} cached`),
  ];
  for (const [kind, k] of byKind) {
    const todo = k.stages - k.cached;
    lines.push(
      `  ${kind.padEnd(14)} ${String(k.stages).padStart(4)} stages  ${String(k.cached).padStart(4)} cached  ${String(todo).padStart(4)} to run` +
        (todo > 0 && k.items !== null && k.items > 0 ? `  (${k.items} items)` : ''),
    );
  }
  return `${lines.join('\n')}\n`;
}
