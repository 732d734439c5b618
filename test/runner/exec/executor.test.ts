/**
 * The executor end to end: the compiled executor runs hand-built plans in a separate process (the
 * driver) over fake workers the test controls. Assertions are on the events users see (json reporter)
 * and on what the workers themselves logged — never on timing.
 */
import { describe, expect, it } from 'vitest';
import { type Ev, peakLiveWorkers, Rig } from './rig.js';

const itemFailures = (events: Ev[]) =>
  events
    .filter((e) => e.type === 'item-failed')
    .map(
      (e) => `${e.role}/${e.item} attempt ${e.attempt} ${e.failure.reason}${e.willRetry ? ' (retry)' : ''}`,
    );

const stageEnds = (events: Ev[]) =>
  events
    .filter((e) => ['stage-published', 'stage-failed', 'stage-cached'].includes(e.type))
    .map((e) => `${e.role} ${e.type === 'stage-failed' ? `failed ${e.failure.reason}` : e.type.slice(6)}`)
    .sort();

describe('executor scheduling', () => {
  it('never runs more workers than GPUs, one worker per GPU, and computes every item once', async () => {
    const rig = new Rig(
      {
        gpus: ['0', '1'],
        stages: [
          { id: 'A', kind: 'mllm.compose', items: 6, points: [0] },
          { id: 'B', kind: 'mllm.compose', items: 6, points: [1] },
          { id: 'C', kind: 'diffusion.edit', items: 6, points: [2] },
        ],
      },
      { delayMs: 20 },
    );
    const r = await rig.run();
    expect(r.exitCode).toBe(0);
    const log = rig.workerLog();
    expect(peakLiveWorkers(log)).toBeLessThanOrEqual(2);
    // No two live workers on the same GPU.
    const onGpu = new Map<string, number>();
    for (const l of log) {
      if (l.ev === 'start') {
        expect(onGpu.get(l.gpu!) ?? 0).toBe(0);
        onGpu.set(l.gpu!, 1);
      } else if (l.ev === 'exit') onGpu.set(l.gpu!, 0);
    }
    const items = log.filter((l) => l.ev === 'item').map((l) => `${l.stage}/${l.id}`);
    expect(items.sort()).toEqual(
      ['A', 'B', 'C'].flatMap((s) => [0, 1, 2, 3, 4, 5].map((i) => `${s}/i${i}`)).sort(),
    );
    expect(stageEnds(r.events)).toEqual(['A published', 'B published', 'C published']);
  });

  it('keeps a loaded model busy: the next stage with the same worker and model reuses the parked worker', async () => {
    const rig = new Rig(
      {
        gpus: ['0'],
        stages: [
          { id: 'A', kind: 'mllm.compose', items: 3, points: [0], shared: true },
          { id: 'B', kind: 'mllm.compose', items: 3, points: [1], shared: true },
          { id: 'C', kind: 'mllm.compose', items: 2, points: [2] },
        ],
      },
      {},
    );
    const r = await rig.run();
    expect(r.exitCode).toBe(0);
    const log = rig.workerLog();
    // One process served A and B (configured twice); C has another command, so it got its own worker.
    const starts = log.filter((l) => l.ev === 'start').map((l) => l.stage);
    expect(starts.sort()).toEqual(['C', 'shared']);
    expect(log.filter((l) => l.ev === 'item' && l.stage === 'shared')).toHaveLength(6);
    expect(stageEnds(r.events)).toEqual(['A published', 'B published', 'C published']);
    // Every worker is gone when the run ends.
    expect(log.filter((l) => l.ev === 'exit')).toHaveLength(2);
  });

  it('frees the GPU of a parked worker before an in-process stage takes it', async () => {
    const rig = new Rig(
      {
        gpus: ['0'],
        stages: [
          { id: 'A', kind: 'mllm.compose', items: 2, points: [0], shared: true },
          { id: 'X', kind: 'embed.text', items: 2, points: [1], inProcess: true, inputs: { texts: 'A' } },
        ],
      },
      {},
    );
    const r = await rig.run();
    expect(r.exitCode).toBe(0);
    const order = rig
      .workerLog()
      .filter((l) => ['start', 'exit', 'in-process'].includes(l.ev))
      .map((l) => `${l.ev} ${l.stage} gpu ${l.gpu}`);
    // The worker that served A exited before X loaded anything on GPU 0.
    expect(order).toEqual(['start shared gpu 0', 'exit shared gpu 0', 'in-process X gpu 0']);
    expect(stageEnds(r.events)).toEqual(['A published', 'X published']);
  });

  it('keeps going past a failed branch: dependants fail upstream-failed, independent stages finish; exit 1 with a summary', async () => {
    const rig = new Rig(
      {
        gpus: ['0'],
        stages: [
          { id: 'data', kind: 'dataset', resource: 'cpu', items: 1 },
          { id: 'compose', kind: 'mllm.compose', items: ['q1', 'q2', 'q3'], inputs: { dataset: 'data' } },
          { id: 'embed', kind: 'embed.text', resource: 'cpu', items: 3, inputs: { texts: 'compose' } },
          { id: 'caption', kind: 'mllm.caption', items: 2, inputs: { dataset: 'data' } },
          { id: 'todo', kind: 'score', resource: 'cpu', run: false, inputs: { q: 'caption' } },
        ],
      },
      { items: { q2: 'missing' } },
    );
    const r = await rig.run();
    expect(r.exitCode).toBe(1);
    expect(stageEnds(r.events)).toEqual([
      'caption published',
      'compose failed input-missing',
      'data published',
      'embed failed upstream-failed',
      'todo failed not-implemented',
    ]);
    // The good items of the failed stage were kept.
    const compose = r.events.find((e) => e.type === 'stage-failed' && e.role === 'compose');
    expect([compose?.done, compose?.failedItems]).toEqual([2, 1]);
    expect(r.stderr.replace(/[0-9a-f]{12}/g, 'KEY')).toBe(
      [
        '2 stages failed:',
        '  mllm.compose  KEY  compose  input-missing    item q2: image not found: /data/q2.png',
        '  score         KEY  todo     not-implemented  this version of pefuse cannot run score stages with backend "fake"',
        '1 downstream stage was skipped (upstream failed)',
        'fix what the failures above name, then run the same command again: finished work is kept',
      ].join('\n'),
    );
  });

  it('--fail-fast stops at the first failure: nothing new starts', async () => {
    const rig = new Rig(
      {
        gpus: ['0'],
        failFast: true,
        window: 1,
        stages: [
          { id: 'bad', kind: 'mllm.compose', items: ['a', 'b', 'c', 'd'], points: [0] },
          { id: 'later', kind: 'mllm.compose', items: 2, points: [1] },
        ],
      },
      { items: { a: 'missing' } },
    );
    const r = await rig.run();
    expect(r.exitCode).toBe(1);
    expect(stageEnds(r.events)).toEqual(['bad failed input-missing', 'later failed cancelled']);
    expect(rig.workerLog().filter((l) => l.stage === 'later')).toEqual([]);
    // Items of the failing stage after the failure were not started (b may have been in flight).
    const sent = rig
      .workerLog()
      .filter((l) => l.ev === 'item')
      .map((l) => l.id);
    expect(sent).not.toContain('d');
    expect(r.stderr.split('\n')[1]).toMatch(
      /^ {2}mllm\.compose {2}[0-9a-f]{12} {2}bad {2}input-missing {2}item a: image not found: \/data\/a\.png$/,
    );
  });

  it('prefers finishing a sweep point: point 0 chain runs before point 1 stages', async () => {
    const rig = new Rig({
      gpus: ['0'],
      cpuSlots: 1,
      stages: [
        { id: 'p0-compose', kind: 'mllm.compose', items: 1, points: [0] },
        { id: 'p1-compose', kind: 'mllm.compose', items: 1, points: [1] },
        { id: 'p0-embed', kind: 'embed.text', items: 1, points: [0], inputs: { t: 'p0-compose' } },
        { id: 'p1-embed', kind: 'embed.text', items: 1, points: [1], inputs: { t: 'p1-compose' } },
      ],
    });
    const r = await rig.run();
    expect(r.exitCode).toBe(0);
    expect(r.events.filter((e) => e.type === 'stage-started').map((e) => e.role)).toEqual([
      'p0-compose',
      'p0-embed',
      'p1-compose',
      'p1-embed',
    ]);
  });
});

describe('executor retries and timeouts', () => {
  it('retries items with an attempt counter: a crash restarts the worker, OOM is retried, out of attempts fails', async () => {
    const rig = new Rig(
      {
        gpus: ['0'],
        retries: 2,
        window: 1,
        stages: [{ id: 'S', kind: 'mllm.compose', items: ['a', 'b', 'c', 'd'] }],
      },
      { items: { b: 'crash-once', c: 'oom', d: 'oom-once' } },
    );
    const r = await rig.run();
    expect(r.exitCode).toBe(1);
    expect(itemFailures(r.events)).toEqual([
      'S/b attempt 1 worker-exit (retry)',
      'S/c attempt 1 oom (retry)',
      'S/d attempt 1 oom (retry)',
      'S/c attempt 2 oom (retry)',
      'S/c attempt 3 oom',
    ]);
    const restarts = r.events.filter((e) => e.type === 'worker-restarted');
    expect(restarts.map((e) => [e.worker, e.restarts, e.failure.message])).toEqual([
      [0, 1, 'worker 1 (gpu 0) exited with code 139 while working on item b'],
    ]);
    const done = r.events.filter((e) => e.type === 'item-done').map((e) => e.item);
    expect(done.sort()).toEqual(['a', 'b', 'd']);
  });

  it('an item timeout kills the worker, restarts it and retries the item', async () => {
    const rig = new Rig(
      {
        gpus: ['0'],
        timeouts: { itemMs: 300 },
        stages: [{ id: 'S', kind: 'diffusion.edit', items: ['a', 'b'] }],
      },
      { items: { a: 'hang-once' } },
    );
    const r = await rig.run();
    expect(r.exitCode).toBe(0);
    expect(itemFailures(r.events)).toEqual(['S/a attempt 1 worker-timeout (retry)']);
    const f = r.events.find((e) => e.type === 'item-failed');
    expect(f?.failure.message).toBe('worker 1 (gpu 0): item a took longer than 300 ms');
    expect(r.events.filter((e) => e.type === 'worker-ready')).toHaveLength(2);
    expect(stageEnds(r.events)).toEqual(['S published']);
  });

  it('junk on stdout fails the item as bad-output (not retried) and quotes the line', async () => {
    const rig = new Rig(
      { gpus: ['0'], reporter: 'plain', stages: [{ id: 'S', kind: 'mllm.caption', items: ['a', 'b'] }] },
      { items: { a: 'junk' } },
    );
    const r = await rig.run();
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('item-fail  mllm.caption   ');
    expect(r.stdout).toMatch(
      /item-fail {2}mllm\.caption {3}[0-9a-f]{12} {2}S \(fake\): item a: bad-output: worker 1 \(gpu 0\): stdout line is not JSON \(stdout is reserved for protocol lines; log to stderr\): "warning: something printed a"\n/,
    );
  });

  it('a worker that cannot start fails the stage as model-load with its stderr', async () => {
    const rig = new Rig(
      { gpus: ['0'], stages: [{ id: 'S', kind: 'mllm.compose', items: 2 }] },
      { ready: 'exit' },
    );
    const r = await rig.run();
    expect(r.exitCode).toBe(1);
    const f = r.events.find((e) => e.type === 'stage-failed');
    expect([f?.failure.reason, f?.failure.message]).toEqual([
      'model-load',
      'worker 1 (gpu 0) exited with code 3 before it was ready',
    ]);
    expect(f?.failure.detail).toMatch(/cannot load model: weights not found$/);
  });

  it('moves files named in outputs into the object store', async () => {
    const rig = new Rig(
      { gpus: ['0'], stages: [{ id: 'S', kind: 'diffusion.edit', items: ['a'] }] },
      { items: { a: 'file' } },
    );
    const r = await rig.run();
    expect(r.exitCode).toBe(0);
    const { openStore } = await import('../../../runner/store/index.js');
    const { stageKeyFromEvents } = {
      stageKeyFromEvents: (evs: Ev[]) => evs.find((e) => e.type === 'stage-published')?.key,
    };
    const store = openStore(rig.cache);
    const m = await store.stages.readManifest(stageKeyFromEvents(r.events));
    if (!m.ok || !m.value) throw new Error('no manifest');
    const out = m.value.items[0]?.output as { image: { sha256: string; size: number } };
    expect(out.image.size).toBe('png bytes of a'.length);
    const bytes = await store.objects.read(out.image);
    expect(bytes.ok && new TextDecoder().decode(bytes.value)).toBe('png bytes of a');
  });
});
