/**
 * Scheduling policy, as plain functions of the plan (the mechanics live in `resources.ts` and
 * `executor.ts`):
 *
 * - Priority: finish whole sweep points early. A stage's priority is (lowest point index it serves,
 *   position in topological order), so once point 0's chain is ready it runs before point 1's, and the
 *   first metrics appear as early as possible instead of after every stage of every point.
 * - Grouping: stages that need the same loaded model share a model key; a GPU released by one is
 *   offered first to the next stage with the same key.
 * - HTTP stages share a request window per endpoint: the server in the node's settings (`endpoint`,
 *   where the pipeline keeps it, out of the key), sized by the node's `concurrency` when it has one.
 */
import { stageResource } from '../contract/stage.js';
import type { PlannedStage } from '../plan/types.js';
import { canonicalJson, isJsonObject } from '../util/json.js';
import type { ResourceRequest } from './resources.js';

export function stagePriority(stage: PlannedStage, topoIndex: number): number[] {
  const first = stage.points.length > 0 ? Math.min(...stage.points) : Number.MAX_SAFE_INTEGER;
  return [first, topoIndex];
}

/** Stages with equal model keys can reuse a loaded model (same kind, same model identity). */
export function modelKey(stage: PlannedStage): string {
  return canonicalJson({ kind: stage.record.kind, model: stage.record.model });
}

/** The HTTP server a stage talks to: `settings.endpoint` (else the model's `server`/`url`/…), else `default`. */
export function httpEndpoint(stage: PlannedStage): string | null {
  if (stageResource(stage.definition, stage.node) !== 'http') return null;
  for (const m of [stage.node.settings, stage.node.model]) {
    if (!isJsonObject(m)) continue;
    for (const k of ['endpoint', 'server', 'url', 'base_url']) {
      const v = m[k];
      if (typeof v === 'string' && v !== '') return v;
    }
  }
  return 'default';
}

/** The endpoint's request window as the node states it (`settings.concurrency`); null: the run's default. */
export function httpWindow(stage: PlannedStage): number | null {
  const v = stage.node.settings.concurrency;
  return typeof v === 'number' && v >= 1 ? Math.floor(v) : null;
}

export function resourceRequest(
  stage: PlannedStage,
  topoIndex: number,
  items: number | null,
): ResourceRequest {
  return {
    resource: stageResource(stage.definition, stage.node),
    endpoint: httpEndpoint(stage),
    window: httpWindow(stage),
    max: items === null ? Number.MAX_SAFE_INTEGER : Math.max(1, items),
    priority: stagePriority(stage, topoIndex),
    modelKey: modelKey(stage),
  };
}
