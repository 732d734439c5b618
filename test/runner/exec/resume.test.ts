/**
 * Crash safety and concurrency across processes: `kill -9` of the orchestrator loses only the items in
 * flight; two runners on one cache compute each stage once; Ctrl-C drains, a second Ctrl-C kills.
 * Items finish when the test opens their gate, so every interleaving asserted here is forced, not timed.
 */
import { describe, expect, it } from 'vitest';
import { alive, type Ev, Rig, until } from './rig.js';

const done = (events: Ev[], role?: string) =>
  events
    .filter((e) => e.type === 'item-done' && (role === undefined || e.role === role))
    .map((e) => e.item as string);

describe('resume after kill -9', () => {
  it('keeps journaled items, drops only the in-flight one, reclaims the dead runner lock, and leaves no worker behind', async () => {
    const rig = new Rig({ gpus: ['0'], window: 1, stages: [{ id: 'S', kind: 'mllm.compose', items: 6 }] });
    rig.setControl({ gate: rig.gate });
    rig.open('i0', 'i1', 'i2');
    const first = rig.start();
    await first.waitFor((evs) => done(evs).length === 3, 'three items done');
    // i3 is in flight (its gate is closed) when the orchestrator dies.
    await until(
      () => rig.workerLog().some((l) => l.ev === 'item' && l.id === 'i3'),
      'item i3 to reach the worker',
    );
    first.child.kill('SIGKILL');
    const r1 = await first.finished();
    expect(r1.signal).toBe('SIGKILL');
    const workers = [...new Set(rig.workerLog().map((l) => l.pid))];
    await until(() => workers.every((pid) => !alive(pid)), 'orphaned workers to exit (stdin closed)');

    rig.open('i3', 'i4', 'i5');
    const r2 = await rig.run();
    expect(r2.exitCode).toBe(0);
    const started = r2.events.find((e) => e.type === 'stage-started');
    expect([started?.items, started?.resumed]).toEqual([6, 3]);
    // The takeover of the dead runner's lock is said, not silent.
    const took = r2.events.filter((e) => e.type === 'warning').map((e) => e.message);
    expect(took).toEqual([
      expect.stringMatching(
        /^mllm\.compose stage [0-9a-f]{12}: took over a stale lock \(pid \d+ on .+, last heartbeat .+: process gone\); its journaled items are resumed$/,
      ),
    ]);
    expect(done(r2.events).sort()).toEqual(['i3', 'i4', 'i5']);
    // Every item reached a worker at most twice (i3: once per run), the others once.
    const items = rig
      .workerLog()
      .filter((l) => l.ev === 'item')
      .map((l) => l.id);
    expect(items.sort()).toEqual(['i0', 'i1', 'i2', 'i3', 'i3', 'i4', 'i5']);
    const published = r2.events.find((e) => e.type === 'stage-published');
    expect(published?.items).toBe(6);
  });
});

describe('two runners on one cache', () => {
  it('compute each stage once: the second waits for the lock, then reuses the result', async () => {
    const rig = new Rig({
      gpus: ['0'],
      stages: [
        { id: 'A', kind: 'mllm.compose', items: 3 },
        { id: 'B', kind: 'embed.text', resource: 'cpu', items: 2, inputs: { t: 'A' } },
      ],
    });
    rig.setControl({ gate: rig.gate });
    const one = rig.start();
    const two = rig.start();
    // One of them takes A's lock and starts; the other reports that it waits.
    await Promise.all([
      Promise.race([
        one.waitFor((e) => e.some((x) => x.type === 'stage-waiting-lock'), 'runner 1 waiting'),
        two.waitFor((e) => e.some((x) => x.type === 'stage-waiting-lock'), 'runner 2 waiting'),
      ]),
      Promise.race([
        one.waitFor((e) => e.some((x) => x.type === 'stage-started'), 'runner 1 started'),
        two.waitFor((e) => e.some((x) => x.type === 'stage-started'), 'runner 2 started'),
      ]),
    ]);
    rig.open('i0', 'i1', 'i2');
    const [r1, r2] = await Promise.all([one.finished(), two.finished()]);
    expect([r1.exitCode, r2.exitCode]).toEqual([0, 0]);
    const [worker, waiter] = r1.events.some((e) => e.type === 'stage-waiting-lock' && e.role === 'A')
      ? [r2, r1]
      : [r1, r2];
    expect(done(worker.events).sort()).toEqual(['i0', 'i0', 'i1', 'i1', 'i2']);
    expect(done(waiter.events)).toEqual([]);
    // A was waited for; B is either waited for too or, when the first runner finished it before the
    // second got there (a loaded machine), found published in the store. Never computed twice.
    expect(waiter.events.filter((e) => e.type === 'stage-cached').map((e) => `${e.role} ${e.by}`)).toEqual([
      'A other-runner',
      expect.stringMatching(/^B (other-runner|store)$/),
    ]);
    // Each item reached a worker exactly once across both runners.
    const items = rig
      .workerLog()
      .filter((l) => l.ev === 'item')
      .map((l) => `${l.stage}/${l.id}`);
    expect(items.sort()).toEqual(['A/i0', 'A/i1', 'A/i2', 'B/i0', 'B/i1']);
  });
});

describe('Ctrl-C', () => {
  it('first SIGINT drains: in-flight items finish and are journaled, nothing new starts; exit 1 with resume advice', async () => {
    const rig = new Rig({
      gpus: ['0'],
      window: 1,
      reporter: 'json',
      stages: [{ id: 'S', kind: 'mllm.compose', items: 4 }],
    });
    rig.setControl({ gate: rig.gate });
    rig.open('i0');
    const run = rig.start();
    await run.waitFor((evs) => done(evs).length === 1, 'item i0 done');
    await until(() => rig.workerLog().some((l) => l.ev === 'item' && l.id === 'i1'), 'item i1 in flight');
    run.child.kill('SIGINT');
    await run.waitFor((evs) => evs.some((e) => e.type === 'interrupt'), 'the interrupt event');
    rig.open('i1', 'i2', 'i3');
    const r = await run.finished();
    expect(r.exitCode).toBe(1);
    expect(r.events.find((e) => e.type === 'interrupt')?.message).toBe(
      'interrupted: finishing the items in flight, starting nothing new (press Ctrl-C again to stop now)',
    );
    expect(done(r.events)).toEqual(['i0', 'i1']);
    expect(
      rig
        .workerLog()
        .filter((l) => l.ev === 'item')
        .map((l) => l.id),
    ).toEqual(['i0', 'i1']);
    expect(r.stderr.replace(/[0-9a-f]{12}/g, 'KEY')).toBe(
      [
        '1 stage did not finish:',
        '  mllm.compose  KEY  S  cancelled  mllm.compose stage KEY did not finish: the run was stopped',
        're-run the same command to resume: finished items are kept',
      ].join('\n'),
    );
    const again = await rig.run();
    expect(again.exitCode).toBe(0);
    expect(done(again.events).sort()).toEqual(['i2', 'i3']);
  });

  it('second SIGINT kills the workers and stops now', async () => {
    const rig = new Rig({ gpus: ['0'], window: 1, stages: [{ id: 'S', kind: 'mllm.compose', items: 3 }] });
    rig.setControl({ gate: rig.gate });
    const run = rig.start();
    await until(() => rig.workerLog().some((l) => l.ev === 'item' && l.id === 'i0'), 'item i0 in flight');
    run.child.kill('SIGINT');
    await run.waitFor((evs) => evs.some((e) => e.type === 'interrupt'), 'the first interrupt event');
    run.child.kill('SIGINT');
    const r = await run.finished();
    expect(r.events.filter((e) => e.type === 'interrupt').map((e) => e.force)).toEqual([false, true]);
    expect(r.exitCode).not.toBe(0);
    const pid = rig.workerLog()[0]!.pid;
    await until(() => !alive(pid), 'the worker to be killed');
    expect(done(r.events)).toEqual([]);
  });
});
