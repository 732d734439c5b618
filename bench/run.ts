/**
 * `npm run bench -- run`: the executor's own cost.
 *
 * (a) Whole processes against bare `node -e 0` measured in the same run, interleaved: `--version`
 *     (goal ≤ 1.5×), `validate`, `plan` (goal ≤ 3×) and a no-op re-run of the finished demo, all 90
 *     stages cached (goal ≤ 5×). Medians of 9 runs (`--repeat N`).
 * (b) Runner overhead per item with a worker that answers instantly, 100 000 items, against a raw
 *     JSON-lines echo round trip to the same worker program without the runner. Target: overhead under
 *     0.2 ms per item (the paper's pipeline spends ~0.25 s per sample outside inference).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { exponentialBackoff } from '../runner/contract/run.js';
import type { KeyRecord, StageKey } from '../runner/contract/stage.js';
import type { RunEvent } from '../runner/events/event.js';
import { runPlan } from '../runner/exec/executor.js';
import { runWorkerPool } from '../runner/exec/worker-pool.js';
import { workerStageRunner } from '../runner/exec/worker-stage.js';
import type { Plan } from '../runner/plan/types.js';
import { ttyReporter } from '../runner/reporters/tty.js';
import { openStore } from '../runner/store/index.js';
import { canonicalJson, sha256Hex } from '../runner/util/json.js';
import { type BenchRow, peakRssMb, printTable, repeats, showSpread, spread } from './table.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const N = Number(process.env.BENCH_RUN_ITEMS ?? 100_000);

const ECHO_WORKER = `
import { createInterface } from 'node:readline';
const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.type === 'configure') out({ type: 'ready', protocol: 1, identity: { model: 'echo', backend: 'echo', versions: {}, device: 'cpu' } });
  else if (m.type === 'item') out({ type: 'result', id: m.id, output: { text: m.input.text }, seconds: 0 });
  else if (m.type === 'shutdown') process.exit(0);
}).on('close', () => process.exit(0));
`;

export async function run(): Promise<void> {
  await cachedRerun();
  if (process.env.BENCH_RUN_ITEMS !== '0') await overheadPerItem();
}

function items(n: number) {
  return Array.from({ length: n }, (_, i) => ({ id: `q${i}`, input: { text: `a caption for query ${i}` } }));
}

/** Raw round trip: the same worker, JSON lines, `window` in flight, no runner. */
async function rawEcho(worker: string, list: ReturnType<typeof items>, window: number): Promise<number> {
  const child = execa(process.execPath, [worker], { stdin: 'pipe', stdout: 'pipe', buffer: false });
  const rl = createInterface({ input: child.stdout });
  const t0 = performance.now();
  let sent = 0;
  let got = 0;
  const send = () => {
    const it = list[sent++]!;
    child.stdin.write(`${JSON.stringify({ type: 'item', id: it.id, input: it.input })}\n`);
  };
  await new Promise<void>((resolve) => {
    rl.on('line', (line) => {
      const m = JSON.parse(line) as { type: string };
      if (m.type === 'ready') {
        while (sent < Math.min(window, list.length)) send();
        return;
      }
      got++;
      if (sent < list.length) send();
      if (got === list.length) resolve();
    });
    child.stdin.write(
      `${JSON.stringify({ type: 'configure', protocol: 1, kind: 'x', params: {}, model: null })}\n`,
    );
  });
  const ms = performance.now() - t0;
  child.stdin.end();
  await child;
  return ms;
}

/** The worker pool alone (protocol parsing, window, timeouts), results dropped. */
async function pool(worker: string, list: ReturnType<typeof items>, window: number): Promise<number> {
  const t0 = performance.now();
  const never = new AbortController().signal;
  await runWorkerPool(list, {
    slots: [{ gpu: null }],
    command: () => ({ file: process.execPath, args: [worker] }),
    configure: { kind: 'x', params: {}, model: null },
    timeouts: { readyMs: 60_000, itemMs: 60_000, heartbeatMs: 0 },
    window,
    retry: { retries: 0, backoffMs: () => 0 },
    signal: never,
    kill: never,
    onResult: async () => {},
    onFailed: () => {},
  });
  return performance.now() - t0;
}

/** The whole executor on a one-stage plan: lock, journal (fsynced, group-committed), events, manifest. */
async function executor(worker: string, list: ReturnType<typeof items>, window: number): Promise<number> {
  const cache = mkdtempSync(join(tmpdir(), 'pefuse-bench-run-'));
  const record: KeyRecord = {
    scheme: 1,
    kind: 'mllm.compose',
    impl_version: 1,
    params: { window },
    model: null,
    inputs: {},
    data: null,
  };
  const key = sha256Hex(canonicalJson(record as never)) as StageKey;
  const runner = workerStageRunner({
    command: () => ({ ok: true, value: { file: process.execPath, args: [worker] } }),
    itemsOf: async () => ({ ok: true, value: list }),
    window,
  });
  const plan: Plan = {
    experiment: 'bench',
    specFile: 'bench',
    points: [],
    stages: [
      {
        key,
        record,
        node: {
          kind: 'mllm.compose',
          role: 'query-text',
          params: record.params,
          model: null,
          data: null,
          inputs: {},
          items: list.length,
          backend: 'echo',
          settings: {},
        },
        definition: {
          kind: 'mllm.compose',
          implVersion: 1,
          description: 'echo',
          resource: 'cpu',
          run: runner,
        },
        points: [0],
        upstream: [],
        status: 'run',
        reason: 'new',
        slot: 'query-text',
      },
    ],
    report: null,
    resources: {},
    warnings: [],
  };
  // The default terminal reporter consumes every event (its table is drawn into the void).
  const reporter = ttyReporter({ write: () => {}, now: () => performance.now() });
  const t0 = performance.now();
  const r = await runPlan(plan, {
    store: openStore(cache),
    results: null,
    emit: (e: RunEvent) => reporter.onEvent(e),
    resources: { gpus: [], cpuSlots: 1, httpWindow: 1 },
    failFast: false,
    retry: { retries: 0, backoffMs: exponentialBackoff(1000) },
  });
  const ms = performance.now() - t0;
  reporter.close();
  if (!r.ok || r.counts.itemsDone !== list.length)
    throw new Error(`bench run failed: ${JSON.stringify(r.failures)}`);
  return ms;
}

async function overheadPerItem(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pefuse-bench-worker-'));
  const worker = join(dir, 'echo-worker.mjs');
  writeFileSync(worker, ECHO_WORKER);
  const list = items(N);
  await rawEcho(worker, items(2000), 2); // warm-up (JIT, page cache)
  const rows: BenchRow[] = [];
  for (const window of [2, 32]) {
    const raw = await rawEcho(worker, list, window);
    const p = await pool(worker, list, window);
    const e = await executor(worker, list, window);
    const perItem = (ms: number) => (ms * 1000) / list.length;
    rows.push({
      name: `raw JSON-lines echo, window ${window} (reference)`,
      'µs/item': perItem(raw),
      ratio: 1,
      'overhead µs/item': 0,
    });
    rows.push({
      name: `worker pool, window ${window}`,
      'µs/item': perItem(p),
      ratio: p / raw,
      'overhead µs/item': perItem(p - raw),
    });
    rows.push({
      name: `executor + journal + tty reporter, window ${window}`,
      'µs/item': perItem(e),
      ratio: e / raw,
      'overhead µs/item': perItem(e - raw),
    });
  }
  printTable(
    `runner overhead per item (${N.toLocaleString('en-US')} items, instant worker; target overhead < 200 µs/item)`,
    rows,
    ['µs/item', 'ratio', 'overhead µs/item'],
  );
  console.log(`peak RSS ${peakRssMb()} MB`);
}

/**
 * (a) Whole processes, each timed from spawn to exit (`spawnSync`), interleaved with the reference
 * `node -e 0` run by run so that a drifting machine load hits both alike; ratios of medians.
 */
async function cachedRerun(): Promise<void> {
  const bin = join(ROOT, 'bin', 'pefuse.js');
  const cache = mkdtempSync(join(tmpdir(), 'pefuse-bench-demo-'));
  const spec = join(ROOT, 'experiments', 'demo.yaml');
  const pefuse = (args: string[]) =>
    execa(process.execPath, [bin, '--cache', cache, ...args], { cwd: ROOT, reject: false, env: { CI: '1' } });
  try {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'compile-schema.mjs')], {
      cwd: ROOT,
      stdio: 'ignore',
    });
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
      { cwd: ROOT, stdio: 'ignore' },
    );
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle-vendor.mjs')], {
      cwd: ROOT,
      stdio: 'ignore',
    });
  } catch {
    // Type errors elsewhere still emit JavaScript; run with what was built.
  }
  const first = await pefuse(['run', spec, '--reporter', 'plain']);
  if (first.exitCode !== 0) {
    const last = String(first.stderr).trim().split('\n').slice(0, 3).join(' / ');
    console.log(
      `\n### whole-process start-up\n\nnot measurable yet: the demo does not finish (exit ${first.exitCode}): ${last}`,
    );
    return;
  }
  const commands: { name: string; args: string[]; goal: number | null }[] = [
    { name: 'pefuse --version', args: ['--version'], goal: 1.5 },
    { name: 'pefuse validate demo.yaml', args: ['validate', spec], goal: null },
    { name: 'pefuse plan demo.yaml', args: ['plan', spec], goal: 3 },
    {
      name: 'pefuse run demo.yaml (all 90 stages cached)',
      args: ['run', spec, '--reporter', 'plain'],
      goal: 5,
    },
  ];
  const wallMs = (argv: string[]) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, argv, {
      cwd: ROOT,
      stdio: 'ignore',
      env: { ...process.env, CI: '1' },
    });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`node ${argv.join(' ')} exited ${r.status}`);
    return ms;
  };
  const n = repeats(9);
  const node: number[] = [];
  const times = commands.map(() => [] as number[]);
  wallMs(['-e', '0']); // warm-up (page cache)
  for (const c of commands) wallMs([bin, '--cache', cache, ...c.args]);
  for (let i = 0; i < n; i++) {
    node.push(wallMs(['-e', '0']));
    commands.forEach((c, j) => {
      times[j]!.push(wallMs([bin, '--cache', cache, ...c.args]));
    });
  }
  const ref = spread(node);
  const rows: BenchRow[] = [
    {
      name: 'node -e 0 (reference)',
      'ms median (min–max)': showSpread(ref),
      ratio: 1,
      goal: '',
      verdict: '',
    },
  ];
  commands.forEach((c, j) => {
    const s = spread(times[j]!);
    const ratio = s.median / ref.median;
    rows.push({
      name: c.name,
      'ms median (min–max)': showSpread(s),
      ratio,
      goal: c.goal === null ? '' : `≤ ${c.goal}×`,
      verdict: c.goal === null ? '' : ratio <= c.goal ? 'meets' : 'misses',
    });
  });
  printTable(`whole-process start-up, ${n} runs each, interleaved with the reference`, rows, [
    'ms median (min–max)',
    'ratio',
    'goal',
    'verdict',
  ]);
}
