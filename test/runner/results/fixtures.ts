/** A small recorded experiment shared by the results and `pefuse status` tests. */

import { failure } from '../../../runner/contract/failure.js';
import type { StageKey } from '../../../runner/contract/stage.js';
import type { Point } from '../../../runner/plan/types.js';
import type { ResultsDb } from '../../../runner/results/types.js';
import { sha256Hex } from '../../../runner/util/json.js';

export const key = (s: string) => sha256Hex(s) as StageKey;

export const K = {
  dataset: key('dataset'),
  compose0: key('compose-t0'),
  compose1: key('compose-t1'),
  qembed0: key('qembed-0'),
  qembed1: key('qembed-1'),
  gembed: key('gembed'),
  score0: key('score-0'),
  score1: key('score-1'),
  metrics0: key('metrics-0'),
  metrics1: key('metrics-1'),
};

export const POINTS: Point[] = [0, 1].map((i) => ({
  index: i,
  id: `p${i}aaaaaaaaaa`,
  params: { dataset: 'synthetic/val', 'mllm.temperature': i === 0 ? 0 : 0.5, repeat: 0, mode: 't2i' },
  config: { mllm: { backend: 'dummy', temperature: i === 0 ? 0 : 0.5 } },
  stages: {
    dataset: K.dataset,
    'query-text': i === 0 ? K.compose0 : K.compose1,
    'query-embed': i === 0 ? K.qembed0 : K.qembed1,
    'gallery-embed': K.gembed,
    score: i === 0 ? K.score0 : K.score1,
    metrics: i === 0 ? K.metrics0 : K.metrics1,
  },
}));

const rec = (kind: string) =>
  ({ scheme: 1, kind, impl_version: 1, params: {}, model: 'dummy', inputs: {}, data: null }) as never;

/** Records: one run, two points; point 1's compose stage failed. */
export async function recordDemo(db: ResultsDb): Promise<void> {
  const ok = (r: { ok: boolean; error?: { message: string } }) => {
    if (!r.ok) throw new Error(r.error?.message);
  };
  ok(
    await db.recordRun({
      id: 'run-1',
      experiment: 'demo',
      specFile: 'demo.yaml',
      startedAt: new Date('2025-01-02T03:04:05Z'),
      status: 'failed',
      host: 'h1',
    }),
  );
  ok(await db.recordExperiment({ name: 'demo', specFile: 'demo.yaml', nPoints: 2 }));
  ok(await db.recordPoints('demo', POINTS, 'run-1'));
  const stage = (k: StageKey, kind: string, extra: object = {}) =>
    db.recordStage({
      key: k,
      kind: kind as never,
      backend: 'dummy',
      record: rec(kind),
      status: 'published',
      host: 'h1',
      runId: 'run-1',
      ...extra,
    });
  ok(await stage(K.dataset, 'dataset', { status: 'cached', seconds: 0.2 }));
  ok(await stage(K.compose0, 'mllm.compose', { seconds: 8, items: 4, peakMemMb: 1536, device: 'cpu' }));
  ok(
    await stage(K.compose1, 'mllm.compose', {
      status: 'failed',
      attempts: 3,
      failure: failure('worker-exit', 'worker exited with code 3', { item: 'q2' }),
    }),
  );
  ok(await stage(K.qembed0, 'embed.text', { seconds: 0.4, items: 4 }));
  ok(await stage(K.qembed1, 'embed.text', { status: 'skipped' }));
  ok(await stage(K.gembed, 'embed.image', { seconds: 3, items: 10 }));
  ok(await stage(K.score0, 'score', { seconds: 0.04, items: 4 }));
  ok(await stage(K.metrics0, 'metrics', { seconds: 0.01 }));
  ok(
    await db.recordItemTimings(
      K.compose0,
      ['q1', 'q2', 'q3', 'q4'].map((id, i) => ({ id, output: null, seconds: 1 + i, cached: false })),
    ),
  );
  ok(
    await db.recordGenerations(K.compose0, 'mllm.compose', 'dummy', [
      { itemId: 'q1', text: 'a red dress', tokens: 3 },
    ]),
  );
  ok(
    await db.recordMetrics({
      experiment: 'demo',
      pointId: POINTS[0]!.id,
      stageKey: K.metrics0,
      runId: 'run-1',
      dataset: 'synthetic',
      split: 'val',
      subset: null,
      n: 4,
      metrics: { 'recall@1': 25, 'recall@10': 75, 'recall@5': 50 },
      hits: { 'recall@1': 1, 'recall@10': 3, 'recall@5': 2 },
    }),
  );
  ok(
    await db.recordRankings({
      stageKey: K.score0,
      queryIds: ['q1', 'q2', 'q3', 'q4'],
      galleryIds: ['g0', 'g1', 'g2'],
      indices: Int32Array.from([0, 1, 1, 2, 2, 0, 0, -1]),
      scores: Float32Array.from([0.9, 0.5, 0.8, 0.4, 0.7, 0.3, 0.6, 0]),
      k: 2,
    }),
  );
}
