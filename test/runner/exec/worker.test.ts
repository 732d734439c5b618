/** WorkerClient against the fake worker: handshake, results, and every way a worker can misbehave. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ItemOutcome, WorkerClient, type WorkerTimeouts } from '../../../runner/exec/worker.js';
import { tempDir } from '../../helpers/cli.js';
import { alive, FAKE_WORKER, until } from './rig.js';

const started: WorkerClient[] = [];
afterEach(() => {
  for (const w of started.splice(0)) w.kill();
});

function setup(control: Record<string, unknown>, timeouts: Partial<WorkerTimeouts> = {}) {
  const dir = tempDir('pefuse-worker-');
  const file = join(dir, 'control.json');
  writeFileSync(file, JSON.stringify({ state: dir, ...control }));
  const stderr: string[] = [];
  const start = async () => {
    const r = await WorkerClient.start(
      {
        file: process.execPath,
        args: [FAKE_WORKER],
        env: { FAKE_WORKER_CONTROL: file, CUDA_VISIBLE_DEVICES: '3' },
      },
      {
        configure: { kind: 'mllm.compose', params: { temperature: 0 }, model: { id: 'fake/model' } },
        timeouts: { readyMs: 10_000, itemMs: 10_000, heartbeatMs: 0, ...timeouts },
        label: 'worker 1 (gpu 3)',
        onStderr: (l) => stderr.push(l),
      },
    );
    if (r.ok) started.push(r.value);
    return r;
  };
  return { dir, start, stderr };
}

function failed(o: ItemOutcome) {
  if (o.ok) throw new Error(`expected a failure, got ${JSON.stringify(o)}`);
  return {
    reason: o.failure.reason,
    message: o.failure.message,
    blamed: o.blamed,
    retryable: o.failure.retryable,
  };
}

describe('WorkerClient', () => {
  it('handshakes, reports the identity and answers items in order', async () => {
    const { start, stderr } = setup({});
    const r = await start();
    if (!r.ok) throw new Error(r.error.message);
    const w = r.value;
    expect(w.identity).toEqual({
      model: 'fake/model',
      backend: 'fake',
      versions: { fake: '1.0' },
      device: 'cuda:3',
    });
    const outs = await Promise.all(['a', 'b', 'c'].map((id) => w.send(id, { id })));
    expect(outs.map((o) => (o.ok ? o.output : null))).toEqual([
      { text: 'out-a', gpu: '3' },
      { text: 'out-b', gpu: '3' },
      { text: 'out-c', gpu: '3' },
    ]);
    const pid = w.pid!;
    await w.shutdown();
    expect(alive(pid)).toBe(false);
    expect(stderr[0]).toMatch(/^fake worker \d+ starting \(gpu 3\)$/);
  });

  it('turns junk on stdout into bad-output, quoting the line, and kills the worker', async () => {
    const { start } = setup({ items: { b: 'junk' } });
    const r = await start();
    if (!r.ok) throw new Error(r.error.message);
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => r.value.send(id, {})));
    expect(a?.ok).toBe(true);
    expect(failed(b!)).toEqual({
      reason: 'bad-output',
      message:
        'worker 1 (gpu 3): stdout line is not JSON (stdout is reserved for protocol lines; log to stderr): "warning: something printed b"',
      blamed: true,
      retryable: false,
    });
    // c was in flight behind b: collateral, retried for free.
    expect(failed(c!).blamed).toBe(false);
    expect(r.value.dead?.reason).toBe('bad-output');
  });

  it('reports a crash mid-item as worker-exit with the exit code and the last stderr lines', async () => {
    const { start } = setup({ items: { b: 'crash' } });
    const r = await start();
    if (!r.ok) throw new Error(r.error.message);
    const [, b] = await Promise.all(['a', 'b'].map((id) => r.value.send(id, {})));
    if (b!.ok) throw new Error('expected failure');
    expect(b!.failure.reason).toBe('worker-exit');
    expect(b!.failure.message).toBe('worker 1 (gpu 3) exited with code 139 while working on item b');
    expect(b!.failure.detail).toMatch(
      /^last stderr lines:\nfake worker \d+ starting \(gpu 3\)\nsegfault while processing b$/,
    );
    expect(b!.failure.retryable).toBe(true);
  });

  it('times out a hung item and kills the worker', async () => {
    const { start } = setup({ items: { a: 'hang' } }, { itemMs: 200 });
    const r = await start();
    if (!r.ok) throw new Error(r.error.message);
    const pid = r.value.pid!;
    expect(failed(await r.value.send('a', {}))).toEqual({
      reason: 'worker-timeout',
      message: 'worker 1 (gpu 3): item a took longer than 200 ms',
      blamed: true,
      retryable: true,
    });
    await until(() => !alive(pid), 'the hung worker to be killed');
  });

  it('times out a worker that stops sending heartbeats, but not a slow one that sends them', async () => {
    // The slow item is held until the worker has sent heartbeats for well over the 1 s timeout (its
    // log says so), so the item is slower than the timeout whatever the machine's load.
    const dir = tempDir('pefuse-worker-gate-');
    const log = join(dir, 'worker.jsonl');
    const slow = setup({ gate: dir, log, heartbeatMs: 20 }, { heartbeatMs: 1000 });
    const r1 = await slow.start();
    if (!r1.ok) throw new Error(r1.error.message);
    const answer = r1.value.send('a', {});
    const beats = () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter((l) => l.includes('"heartbeat"')).length
        : 0;
    // 75 beats 20 ms apart span at least 1.5 s: longer than the timeout.
    await until(() => beats() >= 75, '75 heartbeats (over 1.5 s)', 60_000);
    writeFileSync(join(dir, 'a'), '');
    expect((await answer).ok).toBe(true);

    const hung = setup({ items: { a: 'hang' }, heartbeatMs: 20 }, { heartbeatMs: 1000 });
    const r2 = await hung.start();
    if (!r2.ok) throw new Error(r2.error.message);
    expect(failed(await r2.value.send('a', {})).message).toBe(
      'worker 1 (gpu 3): no heartbeat for 1 s while busy',
    );
  });

  it('passes item errors through with their reason; an error without id applies to the oldest item', async () => {
    const { start } = setup({ items: { a: 'oom', b: 'error-no-id', c: 'missing' } });
    const r = await start();
    if (!r.ok) throw new Error(r.error.message);
    const outs = await Promise.all(['a', 'b', 'c', 'd'].map((id) => r.value.send(id, {})));
    expect(outs.map((o) => (o.ok ? 'ok' : `${o.failure.reason}: ${o.failure.message}`))).toEqual([
      'oom: CUDA out of memory. Tried to allocate 2.00 GiB',
      'bad-input: cannot decode image for b',
      'input-missing: image not found: /data/c.png',
      'ok',
    ]);
    expect(r.value.dead).toBe(null);
  });

  it('fails the handshake: exit before ready, junk before ready, wrong protocol, no ready in time, no program', async () => {
    const exit = await setup({ ready: 'exit' }).start();
    expect(exit.ok ? null : [exit.error.reason, exit.error.message, exit.error.detail]).toEqual([
      'model-load',
      'worker 1 (gpu 3) exited with code 3 before it was ready',
      expect.stringMatching(/cannot load model: weights not found$/),
    ]);
    const junk = await setup({ ready: 'junk' }).start();
    expect(junk.ok ? null : [junk.error.reason, junk.error.message]).toEqual([
      'bad-output',
      'worker 1 (gpu 3): stdout line is not JSON (stdout is reserved for protocol lines; log to stderr): "Loading checkpoint shards: 100%"',
    ]);
    const old = await setup({ ready: 'old-protocol' }).start();
    expect(old.ok ? null : [old.error.reason, old.error.message]).toEqual([
      'model-load',
      'worker 1 (gpu 3) speaks protocol 0, pefuse speaks 1',
    ]);
    const hang = await setup({ ready: 'hang' }, { readyMs: 300 }).start();
    expect(hang.ok ? null : [hang.error.reason, hang.error.message]).toEqual([
      'worker-timeout',
      'worker 1 (gpu 3) sent no "ready" within 300 ms',
    ]);
    const none = await WorkerClient.start(
      { file: '/nonexistent/worker-binary', args: [] },
      {
        configure: { kind: 'x', params: {}, model: null },
        timeouts: { readyMs: 5_000, itemMs: 5_000, heartbeatMs: 0 },
        label: 'worker 1',
      },
    );
    expect(none.ok ? null : [none.error.reason, none.error.message, none.error.retryable]).toEqual([
      'model-load',
      'cannot start worker `/nonexistent/worker-binary`: ENOENT',
      false,
    ]);
  });
});
