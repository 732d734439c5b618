/**
 * Batching over the worker protocol: a worker that announces `batch_size` gets up to two batches in
 * flight and a `flush` whenever the pool has nothing more to send, so partial batches never wait for
 * items that will not come (end of items, several workers sharing the tail, a drain). A worker that
 * does not batch never receives `flush`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NO_RETRY } from '../../../runner/contract/run.js';
import { DEFAULT_TIMEOUTS } from '../../../runner/exec/worker.js';
import { type PoolItem, runWorkerPool } from '../../../runner/exec/worker-pool.js';
import { tempDir } from '../../helpers/cli.js';

const BATCH_WORKER = fileURLToPath(new URL('../../fixtures/workers/batch-worker.mjs', import.meta.url));

function pool(n: number, params: Record<string, number>, slots: number, opts: { drainAfter?: number } = {}) {
  const log = join(tempDir('pefuse-batch-'), 'log.jsonl');
  const items: PoolItem[] = Array.from({ length: n }, (_, i) => ({ id: `i${i}`, input: {} }));
  const results: Array<{ id: string; batch: number }> = [];
  const drain = new AbortController();
  const run = runWorkerPool(items, {
    slots: Array.from({ length: slots }, (_, i) => ({ gpu: String(i) })),
    command: () => ({
      file: process.execPath,
      args: [BATCH_WORKER],
      env: { BATCH_LOG: log, BATCH_DELAY_MS: '80' },
    }),
    configure: { kind: 'mllm.compose', params, model: { id: 'batch/model' } },
    timeouts: { ...DEFAULT_TIMEOUTS, readyMs: 10_000, itemMs: 10_000 },
    window: 2,
    retry: NO_RETRY,
    signal: drain.signal,
    kill: new AbortController().signal,
    onResult: async (item, o) => {
      results.push({ id: item.id, batch: (o.output as { batch: number }).batch });
      if (opts.drainAfter !== undefined && results.length === opts.drainAfter) drain.abort();
    },
    onFailed: (item, f) => {
      throw new Error(`${item.id} failed: ${f.message}`);
    },
  });
  const events = () =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { ev: string; n?: number; type?: string; pid: number })
      : [];
  return { run, results, events };
}

describe('worker protocol batching', () => {
  it('runs full batches, then the partial tail on flush, on two workers', async () => {
    const p = pool(31, { batch_size: 3 }, 2);
    const summary = await p.run;
    expect(summary.fatal).toBeNull();
    expect(p.results.map((r) => r.id).sort()).toEqual(Array.from({ length: 31 }, (_, i) => `i${i}`).sort());
    const batches = p.events().filter((e) => e.ev === 'batch');
    expect(batches.reduce((a, b) => a + (b.n ?? 0), 0)).toBe(31);
    expect(Math.max(...batches.map((b) => b.n ?? 0))).toBe(3);
    expect(batches.some((b) => (b.n ?? 0) < 3)).toBe(true); // 31 items: some batch is partial
    expect(new Set(batches.map((b) => b.pid)).size).toBe(2);
    expect(p.events().some((e) => e.type === 'flush')).toBe(true);
  });

  it('never sends flush to a worker that does not batch', async () => {
    const p = pool(5, {}, 1);
    const summary = await p.run;
    expect(summary.fatal).toBeNull();
    expect(p.results).toHaveLength(5);
    const types = p.events().flatMap((e) => (e.ev === 'msg' ? [e.type] : []));
    expect(types).not.toContain('flush');
    expect(p.events().filter((e) => e.ev === 'batch')).toHaveLength(5);
  });

  it('a drain flushes: items already sent finish as a partial batch instead of hanging', async () => {
    const p = pool(40, { batch_size: 4 }, 1, { drainAfter: 2 });
    const summary = await p.run;
    expect(summary.stopped).toBe(true);
    // Whatever was sent before the drain was answered (a partial batch among it); nothing new after.
    const sent = p.events().filter((e) => e.type === 'item').length;
    expect(p.results).toHaveLength(sent);
    expect(sent).toBeLessThan(40);
  });
});
