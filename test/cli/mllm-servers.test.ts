/**
 * `mllm.server`: pefuse starts the MLLM servers itself. A fake `vllm` (test/fixtures/mllm/fake-vllm,
 * first on PATH) serves the OpenAI chat shape on loopback and logs what happens to it; the real CLI runs
 * a spec with several MLLM stages on two fake GPUs (`--gpus 0,1`): exactly one start per GPU, requests on
 * both, both stopped at the end, after Ctrl-C and after a failed start; a server that dies mid-run is
 * restarted and its requests retried; after `kill -9` of pefuse the next run stops the orphans.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, pefuse, REPO_ROOT, tempDir } from '../helpers/cli.js';

const MODEL = 'Qwen/Qwen2.5-VL-7B-Instruct';
const FAKE_BIN = join(REPO_ROOT, 'test', 'fixtures', 'mllm', 'fake-vllm');
const dirs: string[] = [];
const strays: number[] = [];

afterEach(() => {
  // Never leave a fake server behind, whatever a test did.
  for (const pid of strays.splice(0))
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Setup {
  dir: string;
  spec: string;
  cache: string;
  db: string;
  env: Record<string, string>;
}

function setup(knobs: Record<string, string> = {}, mllmExtra = '', queries = 10): Setup {
  const dir = tempDir('pefuse-servers-');
  dirs.push(dir);
  const spec = join(dir, 'spec.yaml');
  writeFileSync(
    spec,
    `experiment: servers-e2e
datasets:
  - { name: synthetic, seed: 3, n_gallery: 40, n_queries: ${queries} }
mode: t2i
mllm:
  backend: vllm
  model: ${MODEL}
  concurrency: 4
  timeout_s: 10
${mllmExtra || '  server: {}\n'}retrieval: { backend: dummy, model: dummy }
sweep:
  grid: { mllm.temperature: [0.1, 0.5, 0.9] }
`,
  );
  return {
    dir,
    spec,
    cache: join(dir, 'cache'),
    db: join(dir, 'results.duckdb'),
    env: { PATH: `${FAKE_BIN}:${process.env.PATH}`, FAKE_VLLM_DIR: dir, ...knobs },
  };
}

interface Events {
  starts: { pid: number; gpu: string; args: string }[];
  ready: number[];
  stops: number[];
  dies: number[];
  reqsByGpu: Record<string, number>;
}

function events(dir: string): Events {
  const file = join(dir, 'events.log');
  const lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
  const e: Events = { starts: [], ready: [], stops: [], dies: [], reqsByGpu: {} };
  for (const l of lines) {
    const [what, pid, gpu, , ...rest] = l.split(' ');
    if (what === 'start') {
      e.starts.push({ pid: Number(pid), gpu: gpu!, args: rest.join(' ') });
      strays.push(Number(pid));
    } else if (what === 'ready') e.ready.push(Number(pid));
    else if (what === 'stop') e.stops.push(Number(pid));
    else if (what === 'die') e.dies.push(Number(pid));
    else if (what === 'req') e.reqsByGpu[gpu!] = (e.reqsByGpu[gpu!] ?? 0) + 1;
  }
  return e;
}

/** Alive and not a zombie (an orphan reparented to a PID 1 that does not reap stays a zombie). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function pidFiles(cache: string): string[] {
  const d = join(cache, 'services', 'pids');
  return existsSync(d) ? readdirSync(d) : [];
}

/** Every line of every stage log of the cache. */
function stageLogLines(cache: string): string[] {
  const root = join(cache, 'stages');
  return readdirSync(root).flatMap((k) => {
    const f = join(root, k, 'stage.log');
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n') : [];
  });
}

async function countRows(db: string, sql: string): Promise<number> {
  const inst = await DuckDBInstance.create(db, { access_mode: 'READ_ONLY' });
  const conn = await inst.connect();
  try {
    const rows = (await conn.runAndReadAll(sql)).getRowObjectsJS();
    return Number((rows[0] as { n: bigint | number }).n);
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

function run(s: Setup, extra: string[] = []) {
  return pefuse(
    ['--cache', s.cache, '--db', s.db, 'run', s.spec, '--gpus', '0,1', '--reporter', 'plain', ...extra],
    {
      env: s.env,
    },
  );
}

/** The CLI as a child process the test can signal. */
function spawnRun(s: Setup) {
  return execa(
    process.execPath,
    [BIN, '--cache', s.cache, '--db', s.db, 'run', s.spec, '--gpus', '0,1', '--reporter', 'plain'],
    { cwd: REPO_ROOT, env: { NO_COLOR: '1', ...s.env }, reject: false, stdin: 'ignore', all: true },
  );
}

describe('pefuse run with mllm.server (servers pefuse starts)', () => {
  it('starts one server per GPU for all three MLLM stages, spreads requests over both, stops both', async () => {
    const s = setup();
    const r = await run(s);
    expect(r.stdout + r.stderr).toContain('done: 14 stages');
    expect(r.exitCode).toBe(0);
    const e = events(s.dir);
    // Three compose stages, two GPUs: exactly two starts, one per GPU.
    expect(e.starts.map((x) => x.gpu).sort()).toEqual(['0', '1']);
    expect(e.starts[0]!.args).toContain('--generation-config vllm');
    expect(e.starts[0]!.args).toContain('--tensor-parallel-size 1');
    expect(e.reqsByGpu['0']).toBeGreaterThan(0);
    expect(e.reqsByGpu['1']).toBeGreaterThan(0);
    expect(e.reqsByGpu['0']! + e.reqsByGpu['1']!).toBe(30);
    expect(e.stops.sort()).toEqual(e.starts.map((x) => x.pid).sort());
    for (const x of e.starts) expect(alive(x.pid)).toBe(false);
    expect(pidFiles(s.cache)).toEqual([]);
    // Each server's log is kept in the cache, with what pefuse ran and when it stopped it.
    const logs = readdirSync(join(s.cache, 'services', 'mllm')).sort();
    expect(logs).toEqual([
      'vllm-Qwen_Qwen2.5-VL-7B-Instruct-gpu0.log',
      'vllm-Qwen_Qwen2.5-VL-7B-Instruct-gpu1.log',
    ]);
    const log0 = readFileSync(join(s.cache, 'services', 'mllm', logs[0]!), 'utf8');
    expect(log0).toContain('vllm serve Qwen/Qwen2.5-VL-7B-Instruct --host 127.0.0.1 --port');
    expect(log0).toContain('Application startup complete');
    expect(log0).toMatch(/stopped \(every stage of the model has finished\)/);
    expect(await countRows(s.db, `SELECT count(*) AS n FROM generations WHERE kind = 'mllm.compose'`)).toBe(
      30,
    );

    // Cached re-run: no stage to run, no server started.
    const again = await run(s);
    expect(again.exitCode).toBe(0);
    expect(events(s.dir).starts).toHaveLength(2);

    // No part of the server block is in a stage key: the same spec against a server the user started
    // finds every stage cached.
    const own = join(s.dir, 'own-server.yaml');
    writeFileSync(
      own,
      readFileSync(s.spec, 'utf8').replace('  server: {}', '  endpoint: http://localhost:8000/v1'),
    );
    const plan = await pefuse(['--cache', s.cache, 'plan', own], { env: s.env });
    expect(plan.stdout).toContain('all 14 stages are cached');

    // doctor names the command it would run and where the executable is, starting nothing.
    const doc = await pefuse(['--cache', s.cache, 'doctor', s.spec], { env: s.env });
    expect(doc.stdout).toMatch(
      /pefuse starts `vllm serve Qwen\/Qwen2\.5-VL-7B-Instruct --host 127\.0\.0\.1 --port \{port\}/,
    );
    expect(doc.stdout).toContain(join(FAKE_BIN, 'vllm'));
    expect(events(s.dir).starts).toHaveLength(2);
  }, 60_000);

  it('a server that cannot start fails the run with its log tail, and the other server is stopped', async () => {
    const s = setup({ FAKE_VLLM_FAIL_GPU: '1' });
    const r = await run(s);
    expect(r.exitCode).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toContain('vllm server 2 of 2 (GPU 1) exited with code 1 before it was ready');
    expect(out).toContain('CUDA out of memory on GPU 1 (fake)');
    // One attempt per GPU for the whole run (not one per stage), then nothing: what pefuse started, as its
    // stage logs say (the fake may be stopped before it could note its own start).
    const started = stageLogLines(s.cache).flatMap((l) => {
      const m = /starting vllm server \d of 2 \(GPU (\d)\), pid (\d+)/.exec(l);
      return m ? [{ gpu: m[1]!, pid: Number(m[2]) }] : [];
    });
    expect(started.map((x) => x.gpu).sort()).toEqual(['0', '1']);
    for (const x of started) {
      strays.push(x.pid);
      expect(alive(x.pid)).toBe(false);
    }
    const e = events(s.dir);
    for (const x of e.starts) expect(started.map((y) => y.pid)).toContain(x.pid);
    const gpu0 = started.find((x) => x.gpu === '0')!;
    if (e.ready.includes(gpu0.pid)) expect(e.stops).toContain(gpu0.pid);
    expect(pidFiles(s.cache)).toEqual([]);
  }, 60_000);

  it('a server that dies mid-run is restarted on its GPU and its unfinished requests are asked again', async () => {
    const s = setup({ FAKE_VLLM_DIE_GPU: '0', FAKE_VLLM_DIE_AFTER: '4', FAKE_VLLM_LATENCY_MS: '30' });
    const r = await run(s);
    expect(r.stdout + r.stderr).toContain('done: 14 stages');
    expect(r.exitCode).toBe(0);
    const e = events(s.dir);
    expect(e.dies).toHaveLength(1);
    // Two first starts and one restart, on the GPU whose server died.
    expect(e.starts.map((x) => x.gpu).sort()).toEqual(['0', '0', '1']);
    expect(r.stdout).toMatch(
      /worker 1 restarts \(worker-exit: vllm server 1 of 2 \(GPU 0\) exited with code 3/,
    );
    // Every item answered (the ones in flight on the dead server were asked again, not failed).
    expect(await countRows(s.db, `SELECT count(*) AS n FROM generations WHERE kind = 'mllm.compose'`)).toBe(
      30,
    );
    for (const x of e.starts) expect(alive(x.pid)).toBe(false);
    expect(pidFiles(s.cache)).toEqual([]);
  }, 60_000);

  it('Ctrl-C (SIGINT to the CLI) drains the run and stops both servers', async () => {
    const s = setup({ FAKE_VLLM_LATENCY_MS: '200' }, '', 30);
    const child = spawnRun(s);
    await waitFor(
      () => events(s.dir).ready.length === 2 && Object.keys(events(s.dir).reqsByGpu).length === 2,
      'both servers serving',
    );
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).not.toBe(0);
    expect(String(r.all)).toContain('interrupted');
    const e = events(s.dir);
    expect(e.starts).toHaveLength(2);
    expect(e.stops.sort()).toEqual(e.starts.map((x) => x.pid).sort());
    for (const x of e.starts) expect(alive(x.pid)).toBe(false);
    expect(pidFiles(s.cache)).toEqual([]);
  }, 60_000);

  it('a second Ctrl-C stops now: the servers are killed, nothing is left running', async () => {
    const s = setup({ FAKE_VLLM_LATENCY_MS: '500' }, '', 30);
    const child = spawnRun(s);
    await waitFor(
      () => events(s.dir).ready.length === 2 && Object.keys(events(s.dir).reqsByGpu).length === 2,
      'both servers serving',
    );
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).not.toBe(0);
    expect(String(r.all)).toContain('stopping now');
    const e = events(s.dir);
    expect(e.starts).toHaveLength(2);
    await waitFor(() => e.starts.every((x) => !alive(x.pid)), 'the servers to be gone', 5_000);
  }, 60_000);

  it('after kill -9 of pefuse, the next run stops the servers it left and finishes the work', async () => {
    const s = setup({ FAKE_VLLM_LATENCY_MS: '200' }, '', 30);
    const child = spawnRun(s);
    await waitFor(
      () => events(s.dir).ready.length === 2 && Object.keys(events(s.dir).reqsByGpu).length === 2,
      'both servers serving',
    );
    child.kill('SIGKILL');
    await child;
    const first = events(s.dir).starts;
    expect(first).toHaveLength(2);
    // Their own process group: still running, and their pid files name them.
    for (const x of first) expect(alive(x.pid)).toBe(true);
    expect(pidFiles(s.cache)).toHaveLength(2);
    // doctor names them (and stops nothing).
    const doc = await pefuse(['--cache', s.cache, 'doctor'], { env: s.env });
    expect(doc.stdout).toMatch(
      /warn {2}leftover servers +2 server process\(es\) started by a pefuse run that was killed/,
    );
    for (const x of first) expect(doc.stdout).toContain(`pid ${x.pid}: vllm server`);
    for (const x of first) expect(alive(x.pid)).toBe(true);

    const r = await run(s);
    expect(r.exitCode).toBe(0);
    const out = r.stdout + r.stderr;
    for (const x of first)
      expect(out).toContain(`(pid ${x.pid}) left running by an earlier pefuse run that was killed`);
    for (const x of first) expect(alive(x.pid)).toBe(false);
    const all = events(s.dir);
    expect(all.starts).toHaveLength(4);
    for (const x of all.starts) expect(alive(x.pid)).toBe(false);
    expect(pidFiles(s.cache)).toEqual([]);
  }, 90_000);

  it('another model gets its own servers once the first model is done with the GPUs', async () => {
    const s = setup({}, '', 4);
    writeFileSync(
      s.spec,
      readFileSync(s.spec, 'utf8')
        .replace(
          'grid: { mllm.temperature: [0.1, 0.5, 0.9] }',
          'grid: { mllm.model: [Qwen/Qwen2.5-VL-7B-Instruct, Qwen/Qwen2.5-VL-3B-Instruct] }',
        )
        .replace('  concurrency: 4\n', ''),
    );
    const r = await run(s);
    expect(r.exitCode).toBe(0);
    // No mllm.concurrency: each model's two servers share the run's default window, and the run says so.
    expect(r.stdout.match(/2 servers share the run's default request window/g)).toHaveLength(2);
    const lines = readFileSync(join(s.dir, 'events.log'), 'utf8').trim().split('\n');
    const starts = lines.filter((l) => l.startsWith('start '));
    expect(starts).toHaveLength(4);
    const modelOf = (l: string) => l.split(' ')[5];
    const first = modelOf(starts[0]!);
    // Both servers of the first model were stopped before a server of the second one started.
    const firstSecond = lines.findIndex((l) => l.startsWith('start ') && modelOf(l) !== first);
    const firstPids = starts.filter((l) => modelOf(l) === first).map((l) => l.split(' ')[1]);
    expect(firstPids).toHaveLength(2);
    for (const pid of firstPids) expect(lines.indexOf(`stop ${pid} SIGTERM`)).toBeLessThan(firstSecond);
    for (const x of events(s.dir).starts) expect(alive(x.pid)).toBe(false);
  }, 60_000);

  it('gpus_per_server: 2 starts one tensor-parallel server on both GPUs', async () => {
    const s = setup({}, '  server: { gpus_per_server: 2, args: [--gpu-memory-utilization, "0.8"] }\n', 4);
    const r = await run(s);
    expect(r.exitCode).toBe(0);
    const e = events(s.dir);
    expect(e.starts.map((x) => x.gpu)).toEqual(['0,1']);
    expect(e.starts[0]!.args).toContain('--tensor-parallel-size 2');
    expect(e.starts[0]!.args).toMatch(/--gpu-memory-utilization 0\.8$/);
    expect(e.reqsByGpu['0,1']).toBe(12);
    expect(e.stops).toEqual([e.starts[0]!.pid]);
  }, 60_000);

  it('endpoint and server together are a located spec error', async () => {
    const s = setup({}, '  endpoint: http://localhost:8000/v1\n  server: { gpus_per_server: 1 }\n');
    const r = await pefuse(['--cache', s.cache, 'plan', s.spec], { env: s.env });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/spec\.yaml:11:\d+: error: `mllm\.endpoint` and `mllm\.server` together/);
    expect(r.stderr).toContain('endpoint given here');
    expect(events(s.dir).starts).toEqual([]);
  });

  it('a server command without {port}, and a backend without a default command, are located errors', async () => {
    const a = setup({}, '  server: { command: "vllm serve {model}" }\n');
    const ra = await pefuse(['--cache', a.cache, 'plan', a.spec], { env: a.env });
    expect(ra.exitCode).toBe(2);
    expect(ra.stderr).toMatch(/spec\.yaml:10:\d+: error: `mllm\.server\.command` has no `\{port\}`/);
    const b = setup({}, '  server: {}\n');
    writeFileSync(b.spec, readFileSync(b.spec, 'utf8').replace('backend: vllm', 'backend: ollama'));
    const rb = await pefuse(['--cache', b.cache, 'plan', b.spec], { env: b.env });
    expect(rb.exitCode).toBe(2);
    expect(rb.stderr).toContain('no default command for backend "ollama"');
  });
});
