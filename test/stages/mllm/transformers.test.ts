/**
 * `mllm.backend: transformers` through the real CLI: `pefuse run` spawns stages/mllm/worker.py under
 * Debian's python3 (PEFUSE_PYTHON) with the fake model (PEFUSE_MLLM_FAKE, test/fixtures/mllm). Covers
 * two workers on two (fake) GPUs, caching, batching with partial batches, resume after `kill -9`, the
 * compute columns in DuckDB, and the worker-environment failures a user meets first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { openResults } from '../../../runner/results/index.js';
import { parseJournal } from '../../../runner/store/journal.js';
import { BIN, pefuse, REPO_ROOT, tempDir } from '../../helpers/cli.js';

const PY = '/usr/bin/python3';
const FAKE = join(REPO_ROOT, 'test', 'fixtures', 'mllm', 'fake_mllm.py:FakeMllm');

function skipReason(): string | null {
  if (!existsSync(PY)) return `${PY} is absent (Debian's python3; .ci/run installs it)`;
  const r = spawnSync(PY, ['-c', 'import numpy, PIL'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${PY} lacks numpy or PIL (apt-get install python3-numpy python3-pil)`;
}
const reason = skipReason();
const skip = reason !== null;
const because = reason ? ` (skipped: ${reason})` : '';

interface Gen {
  event: string;
  n?: number;
  seed?: number;
  pid: number;
  prompts?: string[];
}

function setup(opts: { queries: number; gallery?: number; mode?: string; mllm?: string }) {
  const dir = tempDir('pefuse-tf-');
  const spec = join(dir, 'spec.yaml');
  writeFileSync(
    spec,
    [
      'experiment: tf-test',
      'datasets:',
      `  - { name: synthetic, seed: 5, n_gallery: ${opts.gallery ?? 16}, n_queries: ${opts.queries} }`,
      `mode: ${opts.mode ?? 't2i'}`,
      `mllm: { backend: transformers, model: Qwen/Qwen2.5-VL-7B-Instruct, temperature: 0.7${opts.mllm ?? ''} }`,
      'retrieval: { backend: dummy, model: dummy }',
      '',
    ].join('\n'),
  );
  const log = join(dir, 'fake.jsonl');
  const cache = join(dir, 'cache');
  const env = (extra: Record<string, string> = {}) => ({
    PEFUSE_PYTHON: PY,
    PEFUSE_MLLM_FAKE: FAKE,
    FAKE_MLLM_LOG: log,
    PEFUSE_CACHE: cache,
    ...extra,
  });
  const calls = (): Gen[] =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as Gen)
      : [];
  /** The journal (or published manifest) items of the mllm.compose stage: id → output. */
  const composed = (): Map<string, { seed: number; text: string; batch?: number }> => {
    const out = new Map<string, { seed: number; text: string; batch?: number }>();
    for (const k of readdirSync(join(cache, 'stages'))) {
      const j = join(cache, 'stages', k, 'journal.jsonl');
      const m = join(cache, 'stages', k, 'manifest.json');
      if (existsSync(m)) {
        const man = JSON.parse(readFileSync(m, 'utf8'));
        if (man.record.kind !== 'mllm.compose') continue;
        for (const it of man.items) out.set(it.id, it.output);
      } else if (existsSync(j)) {
        for (const it of parseJournal(readFileSync(j, 'utf8')).items) {
          const o = it.output as { seed?: unknown; text: string; batch?: number };
          if (typeof o?.seed === 'number') out.set(it.id, o as { seed: number; text: string });
        }
      }
    }
    return out;
  };
  return { dir, spec, env, calls, composed, cache };
}

describe.skipIf(skip)(`mllm backend transformers, real CLI with the fake model${because}`, () => {
  it('runs one worker per GPU with items spread, records compute, and a second run is all cached', async () => {
    const t = setup({ queries: 12, gallery: 10, mode: 't2t' });
    const r = await pefuse(['run', t.spec, '--gpus', '0,1', '--reporter', 'plain'], {
      cwd: t.dir,
      env: t.env({ FAKE_MLLM_PEAK_MB: '321.5', FAKE_MLLM_WAIT_FOR: '2' }),
    });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /mllm\.compose .*query-text \(transformers-fake:Qwen\/Qwen2\.5-VL-7B-Instruct\): 12 items/,
    );
    // Either both GPUs serve one stage after the other (two workers each), or compose and caption
    // (independent stages) run side by side, one GPU each: two workers, two pids, either way.
    expect(r.stdout).toMatch(/worker 1 ready: Qwen\/Qwen2\.5-VL-7B-Instruct \(transformers-fake\) on cpu/);
    const gens = t.calls().filter((c) => c.event === 'generate');
    // 12 queries + 10 gallery captions, one generate each (batch size 1), spread over two workers.
    expect(gens).toHaveLength(22);
    const pids = new Set(gens.map((g) => g.pid));
    expect(pids.size).toBe(2);
    for (const pid of pids) expect(gens.filter((g) => g.pid === pid).length).toBeGreaterThanOrEqual(2);
    // The rendered prompts reached the worker: the modification text filled in, no placeholder left.
    const prompts = gens.flatMap((g) => g.prompts ?? []);
    expect(prompts.filter((p) => /^You are given a reference image/.test(p))).toHaveLength(12);
    expect(prompts.some((p) => /\{[a-z_]+\}/.test(p))).toBe(false);
    // Two workers loaded the model once each; the caption stage reused them (parked, reconfigured).
    expect(t.calls().filter((c) => c.event === 'init')).toHaveLength(2);
    // Seeds are per item: each journaled output carries the seed its generate call used.
    const out = t.composed();
    expect(out.size).toBe(12);
    const seeds = new Set(gens.map((g) => g.seed));
    for (const o of out.values()) expect(seeds.has(o.seed)).toBe(true);

    const db = openResults(join(t.cache, 'results.duckdb'), { readOnly: true });
    const rows = await db.query(
      `SELECT kind, peak_mem_mb, device, (SELECT count(*) FROM item_timings t WHERE t.stage_key = s.key AND t.seconds IS NOT NULL) AS timed
       FROM stages s WHERE kind LIKE 'mllm.%' ORDER BY kind`,
    );
    await db.close();
    expect(rows.ok && rows.value).toEqual([
      { kind: 'mllm.caption', peak_mem_mb: 321.5, device: 'cpu', timed: 10 },
      { kind: 'mllm.compose', peak_mem_mb: 321.5, device: 'cpu', timed: 12 },
    ]);

    const again = await pefuse(['run', t.spec, '--gpus', '0,1', '--reporter', 'plain'], {
      cwd: t.dir,
      env: t.env(),
    });
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/1 point, all 7 stages cached/);
    expect(t.calls().filter((c) => c.event === 'generate')).toHaveLength(22);
    // Without the fake, the same spec is another stage key: fake outputs never answer for the real model.
    const plan = await pefuse(['plan', t.spec], { cwd: t.dir, env: { PEFUSE_CACHE: t.cache } });
    expect(plan.stdout).toMatch(/mllm\.compose\s+query-text\s+run\s+model changed/);
  });

  it('batches with left padding when mllm.batch_size > 1: full and partial batches, nothing waits', async () => {
    const t = setup({ queries: 10, mllm: ', batch_size: 4' });
    const r = await pefuse(['run', t.spec, '--gpus', '0', '--reporter', 'plain'], {
      cwd: t.dir,
      env: t.env(),
    });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    // The plan says what batching costs, at the spec line.
    expect(r.stderr + r.stdout).toMatch(
      /spec\.yaml:5:\d+.*mllm\.batch_size 4: .*not reproducible on its own/s,
    );
    const sizes = t
      .calls()
      .filter((c) => c.event === 'generate')
      .map((c) => c.n ?? 0);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
    expect(Math.max(...sizes)).toBe(4);
    expect(sizes.some((n) => n < 4)).toBe(true); // a partial batch ran (flush), the stage did not hang
    const out = [...t.composed().values()];
    expect(out).toHaveLength(10);
    expect(out.filter((o) => (o.batch ?? 1) > 1).length).toBeGreaterThanOrEqual(8);
  });

  it('resumes after kill -9 of pefuse without recomputing a finished item, and leaves no worker behind', async () => {
    const t = setup({ queries: 24 });
    const child = execa(process.execPath, [BIN, 'run', t.spec, '--gpus', '0', '--reporter', 'json'], {
      cwd: t.dir,
      env: { NO_COLOR: '1', ...t.env({ FAKE_MLLM_DELAY_S: '0.15' }) },
      reject: false,
      buffer: false,
      stdin: 'ignore',
    });
    let buf = '';
    let done = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no 5 items done within 60 s')), 60_000);
      child.stdout?.on('data', (c: Buffer) => {
        buf += c.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) {
          const e = JSON.parse(l) as { type: string; kind?: string };
          if (e.type === 'item-done' && e.kind === 'mllm.compose') done++;
        }
        if (done >= 5) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    await child;
    const first = t.calls();
    const workerPids = [...new Set(first.map((c) => c.pid))];
    expect(workerPids).toHaveLength(1);
    // The worker sees its stdin close and exits by itself.
    const deadline = Date.now() + 15_000;
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    while (workerPids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(workerPids.filter(alive)).toEqual([]);
    const journaled = t.composed();
    expect(journaled.size).toBeGreaterThanOrEqual(5);
    expect(journaled.size).toBeLessThan(24);

    const r2 = await pefuse(['run', t.spec, '--gpus', '0', '--reporter', 'plain'], {
      cwd: t.dir,
      env: t.env(),
    });
    expect(r2.exitCode, r2.stdout + r2.stderr).toBe(0);
    expect(r2.stdout).toMatch(new RegExp(`24 items, ${journaled.size} resumed from the journal`));
    const second = t
      .calls()
      .slice(first.length)
      .filter((c) => c.event === 'generate');
    const finishedSeeds = new Set([...journaled.values()].map((o) => o.seed));
    expect(second.filter((g) => finishedSeeds.has(g.seed ?? -1))).toEqual([]);
    expect(second).toHaveLength(24 - journaled.size);
    expect(t.composed().size).toBe(24);
  });

  it('says what to install when the interpreter lacks torch, and names a missing PEFUSE_PYTHON', async () => {
    const t = setup({ queries: 3 });
    const noFake = { PEFUSE_PYTHON: PY, PEFUSE_CACHE: t.cache };
    const r = await pefuse(['run', t.spec, '--gpus', '0', '--reporter', 'plain'], {
      cwd: t.dir,
      env: noFake,
    });
    expect(r.exitCode).toBe(1);
    const all = r.stdout + r.stderr;
    expect(all).toMatch(/model-load/);
    expect(all).toMatch(/needs torch and transformers in \/usr\/bin\/python3/);
    expect(all).toMatch(/pip install -r requirements-gpu\.txt/);
    expect(all).not.toMatch(/Traceback/);

    const r2 = await pefuse(['run', t.spec, '--gpus', '0', '--reporter', 'plain'], {
      cwd: t.dir,
      env: { ...t.env(), PEFUSE_PYTHON: '/nonexistent/python3' },
    });
    expect(r2.exitCode).toBe(1);
    expect(r2.stdout + r2.stderr).toMatch(
      /the Python interpreter PEFUSE_PYTHON=\/nonexistent\/python3 does not exist/,
    );
  });
});
