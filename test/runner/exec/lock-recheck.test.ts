/**
 * Two runs on one cache must compute a stage once, whatever the interleaving. The race that let a
 * second run compute a stage again: run B finds no manifest, run A publishes and releases its lock,
 * then B takes the (now free) lock without waiting. The store below forces exactly that order: its
 * `lock()` publishes the stage (as run A would) just before handing the free lock over.
 */
import { describe, expect, it } from 'vitest';
import { exponentialBackoff } from '../../../runner/contract/run.js';
import type { RunEvent } from '../../../runner/events/event.js';
import { runPlan } from '../../../runner/exec/executor.js';
import type { Plan, PlannedStage } from '../../../runner/plan/types.js';
import { openStore } from '../../../runner/store/index.js';
import type { StageManifest, StageStore, Store } from '../../../runner/store/types.js';
import { canonicalJson, sha256Hex } from '../../../runner/util/json.js';
import { tempDir } from '../../helpers/cli.js';

function onePlan(run: () => void): Plan {
  const record = {
    scheme: 1,
    kind: 'embed.text' as const,
    impl_version: 1,
    params: { stage: 'S' },
    model: null,
    inputs: {},
    data: null,
  };
  const key = sha256Hex(canonicalJson(record));
  const stage: PlannedStage = {
    key,
    record,
    node: {
      kind: 'embed.text',
      role: 'S',
      params: record.params,
      model: null,
      data: null,
      inputs: {},
      items: 0,
      backend: 'fake',
      settings: {},
    },
    definition: {
      kind: 'embed.text',
      implVersion: 1,
      description: 'fake',
      resource: 'cpu',
      run: async () => {
        run();
        return { ok: true, value: { output: { by: 'this run' } } };
      },
    },
    points: [0],
    upstream: [],
    status: 'run',
    reason: 'new',
    slot: 'S',
  } as unknown as PlannedStage;
  return {
    experiment: 'race',
    specFile: 'race.yaml',
    points: [],
    stages: [stage],
    report: null,
    resources: {},
    warnings: [],
  };
}

function manifestOf(stage: PlannedStage): StageManifest {
  return {
    format: 'pefuse-stage/1',
    key: stage.key,
    record: stage.record,
    items: [],
    output: { by: 'the other run' },
    seconds: 1,
    host: 'other',
    device: 'cpu',
    peak_mem_mb: null,
    attempts: 1,
    finished_at: new Date().toISOString(),
  };
}

describe('two runs on one cache', () => {
  it('re-checks the manifest after taking a free lock: a stage published in between is reused, not computed again', async () => {
    let runs = 0;
    const plan = onePlan(() => runs++);
    const stage = plan.stages[0]!;
    const real = openStore(tempDir('pefuse-race-'));
    const other = openStore(real.root);
    let locks = 0;
    const stages: StageStore = Object.create(real.stages, {
      lock: {
        value: async (...args: Parameters<StageStore['lock']>) => {
          locks++;
          // Run A finishes and releases between run B's first manifest check and B's lock.
          await other.stages.publish(manifestOf(stage));
          return real.stages.lock(...args);
        },
      },
    });
    const store: Store = Object.create(real, { stages: { value: stages } });
    const events: RunEvent[] = [];
    const summary = await runPlan(plan, {
      store,
      results: null,
      emit: (e) => events.push(e),
      resources: { gpus: [], cpuSlots: 1, httpWindow: 1 },
      failFast: false,
      retry: { retries: 0, backoffMs: exponentialBackoff(1) },
    });
    expect(summary.ok).toBe(true);
    expect(locks).toBe(1);
    expect(runs).toBe(0);
    const cached = events.filter((e) => e.type === 'stage-cached');
    expect(cached.map((e) => (e.type === 'stage-cached' ? e.by : null))).toEqual(['other-runner']);
    expect(events.some((e) => e.type === 'stage-started')).toBe(false);
    const m = await real.stages.readManifest(stage.key);
    expect(m.ok && m.value?.output).toEqual({ by: 'the other run' });
  });
});
