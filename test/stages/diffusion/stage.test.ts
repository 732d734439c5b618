/**
 * The real `diffusion.edit` stage (backend diffusers) through the real CLI, against the real Python
 * worker (stages/diffusion/worker.py) with the fake pipeline injected by `PEFUSE_DIFFUSION_FAKE`
 * (test/fixtures/diffusion/fake_pipeline.py, which logs every load and call). Runs on Debian's
 * /usr/bin/python3 (numpy and PIL); fake GPU ids go into CUDA_VISIBLE_DEVICES only.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { openResults } from '../../../runner/results/index.js';
import type { JsonValue } from '../../../runner/util/json.js';
import { BIN, pefuse, REPO_ROOT, tempDir } from '../../helpers/cli.js';

const PY = '/usr/bin/python3';
const FAKE = join(REPO_ROOT, 'test/fixtures/diffusion/fake_pipeline.py:FakePipeline');

function skipReason(): string | null {
  if (!existsSync(PY)) return `${PY} is absent (the Debian python3 package)`;
  const r = spawnSync(PY, ['-c', 'import numpy, PIL'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${PY} lacks numpy or PIL`;
}
const reason = skipReason();
const suite = reason === null ? describe : describe.skip;
if (reason !== null) console.warn(`diffusion stage tests skipped: ${reason}`);

type Ev = Record<string, unknown> & { type: string };
interface FakeEvent {
  pid: number;
  event: 'load' | 'call';
  prompt?: string;
  seed?: number;
  kwargs?: Record<string, unknown>;
}

function spec(dir: string, body: string): string {
  const file = join(dir, 'spec.yaml');
  writeFileSync(
    file,
    `experiment: diffusion-fake
datasets:
  - { name: synthetic, seed: 3, n_gallery: 20, n_queries: 6 }
mode: i2i
mllm: { backend: dummy, model: dummy-mllm }
retrieval: { backend: dummy, model: dummy }
${body}`,
  );
  return file;
}

function env(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PEFUSE_PYTHON: PY,
    PEFUSE_DIFFUSION_FAKE: FAKE,
    PEFUSE_FAKE_LOG: join(dir, 'fake.jsonl'),
    ...extra,
  };
}

function fakeLog(dir: string): FakeEvent[] {
  const f = join(dir, 'fake.jsonl');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as FakeEvent);
}

const events = (stdout: string): Ev[] =>
  stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Ev);

async function query(file: string, sql: string): Promise<Record<string, JsonValue>[]> {
  const db = openResults(file, { readOnly: true });
  const r = await db.query(sql);
  await db.close();
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

suite('diffusion.edit with the diffusers worker (fake pipeline)', () => {
  it('a guidance sweep: distinct keys, the MLLM stage once, one load per GPU, items on both GPUs, PNGs in the store and DuckDB; a re-run is cached', async () => {
    const dir = tempDir();
    const file = spec(
      dir,
      `diffusion: { backend: diffusers, pipeline: sdxl-instructpix2pix, text: mllm, size: 64, dtype: fp32 }
sweep:
  grid: { diffusion.guidance_scale: [3.0, 7.5] }
`,
    );
    const cache = join(dir, 'cache');
    const r = await pefuse(['--cache', cache, 'run', file, '--reporter', 'json', '--gpus', '0,1'], {
      env: env(dir),
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const ev = events(r.stdout);
    const planned = ev.filter((e) => e.type === 'stage-planned');
    const diffusion = planned.filter((e) => e.kind === 'diffusion.edit');
    expect(diffusion.map((e) => e.backend)).toEqual([
      'diffusers-fake:sdxl-instructpix2pix',
      'diffusers-fake:sdxl-instructpix2pix',
    ]);
    expect(new Set(diffusion.map((e) => e.key)).size).toBe(2);
    const started = (kind: string) => ev.filter((e) => e.type === 'stage-started' && e.kind === kind);
    expect(started('mllm.compose')).toHaveLength(1);
    expect(started('diffusion.edit')).toHaveLength(2);
    // One worker per GPU, each says which GPU it was pinned to.
    const ready = ev.filter((e) => e.type === 'worker-ready' && e.kind === 'diffusion.edit');
    const devices = new Set(ready.map((e) => (e.identity as { device: string }).device));
    expect(devices).toEqual(new Set(['fake-gpu 0', 'fake-gpu 1']));

    const log = fakeLog(dir);
    const loads = log.filter((e) => e.event === 'load');
    const calls = log.filter((e) => e.event === 'call');
    // Each GPU's worker loaded the pipeline once and served both sweep points (re-configured).
    expect(loads).toHaveLength(2);
    expect(new Set(calls.map((c) => c.pid))).toEqual(new Set(loads.map((l) => l.pid)));
    expect(calls.map((c) => c.kwargs?.guidance_scale).sort()).toEqual([
      3, 3, 3, 3, 3, 3, 7.5, 7.5, 7.5, 7.5, 7.5, 7.5,
    ]);
    // Seeds depend on the item, not on the sweep point or the worker that ran it.
    const seedsAt = (g: number) =>
      calls
        .filter((c) => c.kwargs?.guidance_scale === g)
        .map((c) => `${c.prompt}|${c.seed}`)
        .sort();
    expect(seedsAt(3)).toEqual(seedsAt(7.5));
    expect(new Set(calls.map((c) => c.seed)).size).toBe(6);

    // Generated images: item → object path in DuckDB, and the file is there.
    const db = join(cache, 'results.duckdb');
    const rows = await query(
      db,
      `SELECT item_id, image_sha256, image_path, tokens, truncated_tokens FROM generations
       WHERE kind = 'diffusion.edit' ORDER BY stage_key, item_id`,
    );
    expect(rows).toHaveLength(12);
    for (const row of rows) {
      expect(row.image_path).toBe(
        join(cache, 'objects', String(row.image_sha256).slice(0, 2), String(row.image_sha256)),
      );
      expect(existsSync(String(row.image_path))).toBe(true);
      expect(readFileSync(String(row.image_path)).subarray(1, 4).toString()).toBe('PNG');
      expect(row.truncated_tokens).toBe(0);
      expect(typeof row.tokens).toBe('number');
    }
    const stages = await query(db, `SELECT device FROM stages WHERE kind = 'diffusion.edit'`);
    expect(stages.map((s) => s.device)).toEqual([
      expect.stringMatching(/^fake-gpu [01]$/),
      expect.stringMatching(/^fake-gpu [01]$/),
    ]);

    // A re-run: every stage cached, the worker never started.
    const again = await pefuse(['--cache', cache, 'run', file, '--reporter', 'plain', '--gpus', '0,1'], {
      env: env(dir),
    });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout.split('\n')[0]).toMatch(/: 2 points, all 11 stages cached$/);
    expect(fakeLog(dir)).toHaveLength(log.length);

    // The same spec without the fake is another model: nothing of the fake's is reused.
    const plan = await pefuse(['--cache', cache, 'plan', file, '--json'], { env: { PEFUSE_PYTHON: PY } });
    const p = JSON.parse(plan.stdout) as { stages: { kind: string; status: string; backend: string }[] };
    const real = p.stages.filter((s) => s.kind === 'diffusion.edit');
    expect(real.map((s) => [s.status, s.backend])).toEqual([
      ['run', 'diffusers:sdxl-instructpix2pix'],
      ['run', 'diffusers:sdxl-instructpix2pix'],
    ]);
  });

  it('resumes after kill -9: journaled items are kept, only the rest reach the worker, no worker is left behind', async () => {
    const dir = tempDir();
    const file = spec(dir, 'diffusion: { backend: diffusers, pipeline: sdxl-turbo, steps: 2, size: 64 }\n');
    const cache = join(dir, 'cache');
    const child = execa(
      process.execPath,
      [BIN, '--cache', cache, 'run', file, '--reporter', 'json', '--gpus', '0'],
      {
        cwd: REPO_ROOT,
        env: { NO_COLOR: '1', ...env(dir, { PEFUSE_FAKE_DELAY_S: '0.4' }) },
        reject: false,
        buffer: false,
      },
    );
    let out = '';
    const doneItems = () =>
      events(out.slice(0, out.lastIndexOf('\n') + 1)).filter(
        (e) => e.type === 'item-done' && e.kind === 'diffusion.edit',
      ).length;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no diffusion items done:\n${out}`)), 60_000);
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (doneItems() >= 2) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    await child;
    const firstCalls = fakeLog(dir).filter((e) => e.event === 'call');
    const workers = [...new Set(firstCalls.map((c) => c.pid))];
    for (let i = 0; i < 100 && workers.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(workers.filter(alive)).toEqual([]);

    const r = await pefuse(['--cache', cache, 'run', file, '--reporter', 'json', '--gpus', '0'], {
      env: env(dir),
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const ev = events(r.stdout);
    const started = ev.find((e) => e.type === 'stage-started' && e.kind === 'diffusion.edit');
    const resumed = Number(started?.resumed);
    expect(resumed).toBeGreaterThanOrEqual(2);
    expect(started?.items).toBe(6);
    const secondCalls = fakeLog(dir).filter((e) => e.event === 'call').length - firstCalls.length;
    expect(secondCalls).toBe(6 - resumed);
    const published = ev.find((e) => e.type === 'stage-published' && e.kind === 'diffusion.edit');
    expect(published?.items).toBe(6);
  });

  it('a crashed worker is restarted and its finished items kept; an out-of-memory item fails as oom under the retry policy', async () => {
    const dir = tempDir();
    const file = spec(dir, 'diffusion: { backend: diffusers, pipeline: sdxl-instructpix2pix, size: 64 }\n');
    const crash = await pefuse(
      ['--cache', join(dir, 'c1'), 'run', file, '--reporter', 'json', '--gpus', '0'],
      { env: env(dir, { PEFUSE_FAKE_CRASH_CALL: '3', PEFUSE_FAKE_CRASH_ONCE: dir }) },
    );
    expect(crash.exitCode, crash.stderr).toBe(0);
    const ev = events(crash.stdout);
    const restarted = ev.filter((e) => e.type === 'worker-restarted');
    expect(restarted).toHaveLength(1);
    expect((restarted[0]?.failure as { reason: string } | undefined)?.reason).toBe('worker-exit');
    const calls = fakeLog(dir).filter((e) => e.event === 'call');
    // 6 items + the one the crash interrupted; the two finished before the crash were not redone.
    expect(calls).toHaveLength(7);
    expect(new Set(calls.map((c) => c.pid)).size).toBe(2);

    // OOM on every call: each item is tried 1 + retries times, then fails as `oom`; the run fails.
    const oom = await pefuse(
      [
        '--cache',
        join(dir, 'c2'),
        'run',
        file,
        '--reporter',
        'json',
        '--gpus',
        '0',
        '--retries',
        '1',
        '--limit',
        '2',
      ],
      {
        env: env(dir, { PEFUSE_FAKE_OOM_CALLS: '1,2,3,4,5,6,7,8', PEFUSE_FAKE_LOG: join(dir, 'oom.jsonl') }),
      },
    );
    expect(oom.exitCode).not.toBe(0);
    const oev = events(oom.stdout);
    const failed = oev.filter((e) => e.type === 'item-failed' && e.kind === 'diffusion.edit');
    expect(failed.map((e) => (e.failure as { reason: string }).reason)).toEqual(['oom', 'oom', 'oom', 'oom']);
    expect(failed.filter((e) => e.willRetry === false)).toHaveLength(2);
    const oomCalls = readFileSync(join(dir, 'oom.jsonl'), 'utf8').trim().split('\n');
    expect(oomCalls.filter((l) => l.includes('"call"'))).toHaveLength(4);
  });

  it('a missing interpreter or a Python without torch fails the stage at load with what to do', async () => {
    const dir = tempDir();
    const file = spec(dir, 'diffusion: { backend: diffusers, pipeline: sdxl-instructpix2pix, size: 64 }\n');
    const gone = await pefuse(['--cache', join(dir, 'c'), 'run', file, '--reporter', 'plain'], {
      env: { PEFUSE_PYTHON: '/nonexistent/python3' },
    });
    expect(gone.exitCode).toBe(1);
    expect(gone.stdout).toContain(
      'model-load: the Python interpreter `/nonexistent/python3` was not found (PEFUSE_PYTHON); set PEFUSE_PYTHON to one with what requirements-gpu.txt lists',
    );
    const torch = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' });
    if (torch.status === 0) return; // this Python has torch: the real path would try to load diffusers
    const real = await pefuse(['--cache', join(dir, 'c'), 'run', file, '--reporter', 'plain'], {
      env: { PEFUSE_PYTHON: PY },
    });
    expect(real.exitCode).toBe(1);
    expect(real.stdout).toContain('model-load: worker 1 exited with code 2 before it was ready');
    expect(real.stdout).toContain(
      "[diffusion-worker] the diffusers worker needs torch (ModuleNotFoundError: No module named 'torch'); install what the GPU workers need into the interpreter pefuse runs (PEFUSE_PYTHON, default python3): pip install -r requirements-gpu.txt",
    );
    expect(real.stdout + real.stderr).not.toContain('Traceback');
  });
});
