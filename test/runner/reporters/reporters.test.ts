/** The three reporters on one scripted run: exact text users see. */
import { describe, expect, it } from 'vitest';
import { failure } from '../../../runner/contract/failure.js';
import type { RunEvent, StageRef } from '../../../runner/events/event.js';
import { failureSummaryText } from '../../../runner/reporters/format.js';
import { jsonReporter } from '../../../runner/reporters/json.js';
import { plainReporter } from '../../../runner/reporters/plain.js';
import { ttyReporter } from '../../../runner/reporters/tty.js';
import { defaultReporter } from '../../../runner/reporters/types.js';

const K1 = `aaaaaaaaaaaa${'0'.repeat(52)}`;
const K2 = `bbbbbbbbbbbb${'0'.repeat(52)}`;
const K3 = `cccccccccccc${'0'.repeat(52)}`;
const data: StageRef = { key: K1, kind: 'dataset', role: 'dataset', backend: 'synthetic' };
const compose: StageRef = { key: K2, kind: 'mllm.compose', role: 'query-text', backend: 'dummy' };
const embed: StageRef = { key: K3, kind: 'embed.text', role: 'query-embed', backend: 'dummy' };
const crash = failure('worker-exit', 'worker 1 (gpu 0) exited with code 139 while working on item q2', {
  item: 'q2',
  detail: 'last stderr lines:\nsegfault while processing q2',
});

/** A run: dataset cached, compose resumes 1 of 4, one retry, one item fails for good, embed skipped. */
function script(clock: { t: number }): RunEvent[] {
  const evs: RunEvent[] = [
    {
      type: 'run-started',
      experiment: 'demo',
      specFile: 'demo.yaml',
      points: 2,
      stages: 3,
      gpus: ['0'],
      cpuSlots: 2,
      pid: 1,
    },
    { type: 'stage-planned', ...data, items: null, status: 'cached', reason: 'cached', points: [0, 1] },
    { type: 'stage-planned', ...compose, items: 4, status: 'run', reason: 'new', points: [0] },
    { type: 'stage-planned', ...embed, items: 4, status: 'run', reason: 'new', points: [0] },
    { type: 'stage-cached', ...data, items: 1, by: 'store' },
    {
      type: 'stage-started',
      ...compose,
      attempt: 1,
      items: 4,
      resumed: 1,
      resources: { gpus: ['0'], threads: 1, http: null },
    },
    {
      type: 'worker-ready',
      ...compose,
      worker: 0,
      gpu: '0',
      identity: { model: 'dummy-mllm', backend: 'dummy', versions: {}, device: 'cuda:0' },
    },
    { type: 'item-done', ...compose, item: 'q1', seconds: 0.5, cached: false },
    {
      type: 'item-failed',
      ...compose,
      item: 'q2',
      attempt: 1,
      failure: crash,
      willRetry: true,
      delayMs: 1000,
    },
    { type: 'worker-restarted', ...compose, worker: 0, failure: crash, restarts: 1 },
    { type: 'item-done', ...compose, item: 'q3', seconds: 0.5, cached: false },
    { type: 'item-failed', ...compose, item: 'q2', attempt: 3, failure: crash, willRetry: false, delayMs: 0 },
    {
      type: 'stage-failed',
      ...compose,
      failure: { ...crash, message: `item q2: ${crash.message}` },
      attempts: 1,
      done: 3,
      failedItems: 1,
      log: [],
    },
    {
      type: 'stage-failed',
      ...embed,
      failure: failure('upstream-failed', `upstream mllm.compose ${K2.slice(0, 12)} failed`),
      attempts: 0,
      done: 0,
      failedItems: 0,
      log: [],
    },
    {
      type: 'run-finished',
      ok: false,
      seconds: 2.5,
      interrupted: false,
      counts: { stages: 3, cached: 1, published: 0, failed: 2, cancelled: 0, itemsDone: 2, itemsFailed: 1 },
      failures: [
        {
          key: K2,
          kind: 'mllm.compose',
          role: 'query-text',
          reason: 'worker-exit',
          message: `item q2: ${crash.message}`,
          item: 'q2',
        },
      ],
    },
  ];
  void clock;
  return evs;
}

describe('plain reporter', () => {
  it('prints one line per stage transition, retries and failures with the worker stderr', () => {
    let out = '';
    const clock = { t: 0 };
    const r = plainReporter({ write: (t) => (out += t), now: () => clock.t });
    for (const e of script(clock)) r.onEvent(e);
    r.close();
    expect(out).toBe(
      [
        'run demo (demo.yaml): 2 points, 3 stages; gpus: 0, cpu slots: 2',
        'cached     dataset        aaaaaaaaaaaa  dataset (synthetic): 1 item',
        'started    mllm.compose   bbbbbbbbbbbb  query-text (dummy): 4 items, 1 resumed from the journal, gpu 0',
        'worker     mllm.compose   bbbbbbbbbbbb  query-text (dummy): worker 1 ready: dummy-mllm (dummy) on cuda:0',
        'retry      mllm.compose   bbbbbbbbbbbb  query-text (dummy): item q2 attempt 2 in 1.0s after worker-exit: worker 1 (gpu 0) exited with code 139 while working on item q2',
        'restart    mllm.compose   bbbbbbbbbbbb  query-text (dummy): worker 1 restarts (worker-exit: worker 1 (gpu 0) exited with code 139 while working on item q2)',
        'item-fail  mllm.compose   bbbbbbbbbbbb  query-text (dummy): item q2: worker-exit: worker 1 (gpu 0) exited with code 139 while working on item q2',
        'failed     mllm.compose   bbbbbbbbbbbb  query-text (dummy): worker-exit: item q2: worker 1 (gpu 0) exited with code 139 while working on item q2',
        '    last stderr lines:',
        '    segfault while processing q2',
        'failed     embed.text     cccccccccccc  query-embed (dummy): upstream-failed: upstream mllm.compose bbbbbbbbbbbb failed',
        'finished with failures: 3 stages (1 cached, 0 computed, 2 failed), 2 items done, 1 failed in 2.5s',
        '',
      ].join('\n'),
    );
  });
});

describe('json reporter', () => {
  it('prints every event as one JSON line with t (seconds since start)', async () => {
    let out = '';
    const clock = { t: 1000 };
    const r = jsonReporter({ write: (t) => (out += t), now: () => clock.t });
    const evs = script(clock);
    for (const e of evs) {
      clock.t += 250;
      r.onEvent(e);
    }
    r.close();
    const lines = out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(evs.length);
    expect(lines.map((l) => l.type)).toEqual(evs.map((e) => e.type));
    expect(lines[0]).toEqual({ t: 0.25, ...evs[0] });
    expect(lines.at(-1)?.t).toBe(0.25 * evs.length);
  });
});

describe('tty reporter', () => {
  it('keeps one table per stage kind with counts, items, rate and ETA, rewritten in place', () => {
    let out = '';
    const clock = { t: 0 };
    const r = ttyReporter({ write: (t) => (out += t), now: () => clock.t }, { intervalMs: 60_000 });
    // Up to the first item-done, 2 s after compose started: 1 item computed → 0.5/s, 2 left → 4s.
    const evs = script(clock);
    for (const e of evs.slice(0, 6)) r.onEvent(e);
    r.onEvent({ type: 'warning', message: 'results database is locked' });
    for (const e of evs.slice(6, 8)) r.onEvent(e);
    clock.t = 2000;
    r.close();
    // The second frame erases the first (5 lines) before printing itself.
    expect(out).toContain('warning: results database is locked\n');
    expect(out.split('\x1b[5A\r\x1b[J')).toHaveLength(2);
    const last = out.slice(out.lastIndexOf('pefuse run'));
    expect(last).toBe(
      [
        'pefuse run demo: 2 points, 3 stages — 2.0s',
        '  kind          stages  cached  running  done  failed  items    rate   eta',
        '  dataset            1       1        0     0       0      -       -     -',
        '  mllm.compose       1       0        1     0       0    2/4  0.50/s  4.0s',
        '  embed.text         1       0        0     0       0    0/4       -     -',
        '',
      ].join('\n'),
    );
  });

  it('clips the table to a narrow terminal, so redraws never leave wrapped copies behind', () => {
    let out = '';
    const clock = { t: 0 };
    const r = ttyReporter(
      { write: (t) => (out += t), now: () => clock.t, columns: () => 40 },
      { intervalMs: 60_000 },
    );
    for (const e of script(clock).slice(0, 6)) r.onEvent(e);
    r.close();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping cursor movement
    const frames = out.replace(/\x1b\[\d*[AJ]\r?/g, '').split('\n');
    const table = frames.filter((l) => l.startsWith('  '));
    expect(table.length).toBeGreaterThan(0);
    for (const l of table) expect(l.length).toBeLessThan(40);
    expect(table[0]).toBe('  kind          stages  cached  runnin…');
  });

  it('prints failures above the table and a final line', () => {
    let out = '';
    const clock = { t: 0 };
    const r = ttyReporter({ write: (t) => (out += t), now: () => clock.t }, { intervalMs: 60_000 });
    for (const e of script(clock)) r.onEvent(e);
    r.close();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping cursor movement
    const plain = out.replace(/\x1b\[\d*[AJ]\r?/g, '');
    expect(plain).toContain(
      'failed mllm.compose bbbbbbbbbbbb query-text (dummy): worker-exit: item q2: worker 1 (gpu 0) exited with code 139 while working on item q2\n    last stderr lines:\n    segfault while processing q2\n',
    );
    expect(plain.trimEnd().split('\n').at(-1)).toBe(
      'finished with failures: 3 stages (1 cached, 0 computed, 2 failed), 2 items done, 1 failed in 2.5s',
    );
  });
});

describe('in-process progress (stage-progress: embedding, scoring)', () => {
  const gallery: StageRef = { key: K3, kind: 'embed.image', role: 'gallery-embed', backend: 'dummy' };
  const started: RunEvent = {
    type: 'stage-started',
    ...gallery,
    attempt: 1,
    items: 2400,
    resumed: 0,
    resources: { gpus: [], threads: 2, http: null },
  };
  const progress = (done: number, seconds: number): RunEvent => ({
    type: 'stage-progress',
    ...gallery,
    done,
    items: 2400,
    seconds,
    rate: done / seconds,
    eta: (2400 - done) / (done / seconds),
  });
  const head: RunEvent[] = [
    {
      type: 'run-started',
      experiment: 'demo',
      specFile: 'demo.yaml',
      points: 1,
      stages: 1,
      gpus: [],
      cpuSlots: 2,
      pid: 1,
    },
    { type: 'stage-planned', ...gallery, items: 2400, status: 'run', reason: 'new', points: [0] },
  ];

  it('tty: the live table shows items done, rate and ETA while the stage runs, and all items once published', () => {
    let out = '';
    const clock = { t: 0 };
    const r = ttyReporter({ write: (t) => (out += t), now: () => clock.t }, { intervalMs: 60_000 });
    for (const e of [...head, started]) r.onEvent(e);
    clock.t = 4000;
    r.onEvent(progress(600, 4));
    r.onEvent({ type: 'warning', message: 'redraw now' });
    expect(out.slice(out.lastIndexOf('pefuse run'))).toBe(
      [
        'pefuse run demo: 1 points, 1 stages — 4.0s',
        '  kind         stages  cached  running  done  failed     items   rate  eta',
        '  embed.image       1       0        1     0       0  600/2400  150/s  12s',
        '',
      ].join('\n'),
    );
    clock.t = 8000;
    r.onEvent(progress(1200, 8));
    r.onEvent({ type: 'stage-published', ...gallery, items: 2400, seconds: 9, attempts: 1 });
    r.close();
    expect(out.slice(out.lastIndexOf('pefuse run'))).toContain(
      '  embed.image       1       0        0     1       0  2400/2400     -    -',
    );
  });

  it('plain: a progress line with items, rate and ETA every 10 s of a stage (none in its first 10 s, none for the last)', () => {
    let out = '';
    const clock = { t: 0 };
    const r = plainReporter({ write: (t) => (out += t), now: () => clock.t });
    for (const e of [...head, started]) r.onEvent(e);
    clock.t = 1000;
    r.onEvent(progress(100, 1));
    clock.t = 5000;
    r.onEvent(progress(500, 5));
    clock.t = 11_000;
    r.onEvent(progress(1100, 11));
    clock.t = 16_000;
    r.onEvent(progress(1600, 16));
    clock.t = 21_500;
    r.onEvent(progress(2150, 21.5));
    clock.t = 24_000;
    r.onEvent(progress(2400, 24));
    r.close();
    expect(out.split('\n').filter((l) => l.startsWith('progress'))).toEqual([
      'progress   embed.image    cccccccccccc  gallery-embed (dummy): 1100/2400 items, 100/s, eta 13s',
      'progress   embed.image    cccccccccccc  gallery-embed (dummy): 2150/2400 items, 100/s, eta 2.5s',
    ]);
  });

  it('json: every stage-progress event as a line with done, items, rate and eta', () => {
    let out = '';
    const r = jsonReporter({ write: (t) => (out += t), now: () => 0 });
    r.onEvent(progress(600, 4));
    r.close();
    expect(JSON.parse(out)).toEqual({
      t: 0,
      type: 'stage-progress',
      ...gallery,
      done: 600,
      items: 2400,
      seconds: 4,
      rate: 150,
      eta: 12,
    });
  });
});

describe('defaults and summary', () => {
  it('picks tty only on an interactive terminal outside CI', () => {
    expect(defaultReporter(true, {})).toBe('tty');
    expect(defaultReporter(true, { CI: 'true' })).toBe('plain');
    expect(defaultReporter(false, {})).toBe('plain');
  });

  it('summarises failures with the resume advice', () => {
    expect(
      failureSummaryText(
        [
          {
            key: K2,
            kind: 'mllm.compose',
            role: 'query-text',
            reason: 'oom',
            message: 'item q2: CUDA out of memory',
          },
        ],
        false,
        3,
      ),
    ).toBe(
      [
        '1 stage failed:',
        '  mllm.compose  bbbbbbbbbbbb  query-text  oom  item q2: CUDA out of memory',
        '3 downstream stages were skipped (upstream failed)',
        're-run the same command to resume: finished items are kept',
        '',
      ].join('\n'),
    );
  });
});
