/**
 * `computeInShards`, the sequence every shard executor shares: describe the stage, run the shards
 * (adopting their journals every few ms meanwhile, for progress), adopt what they reported, then let
 * the stage's own runner build the output, or report the shards' failure.
 */
import { describe, expect, it } from 'vitest';
import { failure } from '../../../runner/contract/failure.js';
import type { StageRunContext } from '../../../runner/contract/run.js';
import { SHARD_RESULT_FORMAT, type ShardResult, type StagePart } from '../../../runner/contract/shard.js';
import type { StageKey } from '../../../runner/contract/stage.js';
import { computeInShards, lostShard } from '../../../runner/exec/executors/shards.js';
import type { StageJob } from '../../../runner/exec/executors/types.js';
import type { PlannedStage } from '../../../runner/plan/types.js';
import { ok } from '../../../runner/util/result.js';

const KEY = 'cd'.repeat(32) as StageKey;

function fakeJob(unit: StageJob['unit']) {
  const calls: string[] = [];
  const job: StageJob = {
    stage: { key: KEY } as PlannedStage,
    ctx: { signal: new AbortController().signal } as StageRunContext,
    run: async () => {
      calls.push('run');
      return ok({ output: { built: true } });
    },
    unit,
    resource: 'cpu',
    cacheRoot: '/cache',
    shardsDir: '/cache/stages/x/shards',
    attempt: 1,
    describe: async () => {
      calls.push('describe');
      return '/cache/stages/x/description.json';
    },
    adopt: async (results) => {
      calls.push(results.length === 0 ? 'poll' : `adopt ${results.length}`);
      return 0;
    },
    log: () => {},
  };
  return { job, calls };
}

const done = (part: StagePart, extra: Partial<ShardResult> = {}): ShardResult => ({
  ...lostShard(KEY, part, ''),
  format: SHARD_RESULT_FORMAT,
  status: 'ok',
  failure: null,
  ...extra,
});

describe('computeInShards', () => {
  it('describes, runs the shards while adopting progress, adopts their results, then builds the output', async () => {
    const { job, calls } = fakeJob('item');
    const seen: StagePart[][] = [];
    const r = await computeInShards(
      job,
      3,
      async (parts) => {
        seen.push(parts);
        await new Promise((res) => setTimeout(res, 120));
        return parts.map((p) => done(p));
      },
      { progressMs: 20 },
    );
    expect(r).toEqual({ ok: true, value: { output: { built: true } } });
    expect(seen).toEqual([
      [
        { shard: 0, of: 3 },
        { shard: 1, of: 3 },
        { shard: 2, of: 3 },
      ],
    ]);
    expect(calls[0]).toBe('describe');
    expect(calls.filter((c) => c === 'poll').length).toBeGreaterThanOrEqual(2);
    expect(calls.slice(-2)).toEqual(['adopt 3', 'run']);
  });

  it("returns a shard's failure, or no output when only items failed (the orchestrator fails the stage)", async () => {
    const lost = fakeJob('chunk');
    const r = await computeInShards(lost.job, 2, async (parts) => [
      done(parts[0]!),
      lostShard(KEY, parts[1]!, 'exit code 137'),
    ]);
    expect(r.ok ? null : r.error).toMatchObject({
      reason: 'worker-exit',
      message: 'shard 2 of 2 ended without a result',
      detail: 'exit code 137',
      retryable: true,
    });
    expect(lost.calls).not.toContain('run');

    const items = fakeJob('item');
    const f = failure('bad-input', 'cannot decode image');
    const r2 = await computeInShards(items.job, 1, async (parts) => [
      done(parts[0]!, { status: 'failed', failed_items: [{ item: 'q3', failure: f, attempts: 1 }] }),
    ]);
    expect(r2).toEqual({ ok: true, value: { output: null } });
    expect(items.calls).not.toContain('run');
  });

  it('computes a stage that does not split in the orchestrator, with no description and no shard', async () => {
    const { job, calls } = fakeJob('none');
    const r = await computeInShards(job, 4, async () => {
      throw new Error('no shard should start');
    });
    expect(r.ok).toBe(true);
    expect(calls).toEqual(['run']);
  });
});
