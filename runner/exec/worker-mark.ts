/**
 * Which stage runners claim parked workers themselves: those made by `workerStageRunner`
 * (worker-stage.ts) and dispatchers marked with `dispatchesToWorkers` (the stage catalog). Kept apart
 * from worker-stage.ts so that the catalog, which every command loads, does not load the worker pool.
 */
import type { StageRunner } from '../contract/run.js';

const WORKER_RUNNERS = new WeakSet<StageRunner>();

/**
 * Whether `run` goes through the worker cache. The executor vacates a granted GPU of parked workers
 * for every other runner, since it would load its model into the same GPU memory in-process.
 */
export function parksWorkers(run: StageRunner): boolean {
  return WORKER_RUNNERS.has(run);
}

/**
 * Marks a runner that dispatches to worker-backed runners only (e.g. by backend) as parking workers
 * too, so the GPU it is granted keeps the workers parked there for it. Returns `run`.
 * (`workerStageRunner` marks its runners the same way.)
 */
export function dispatchesToWorkers(run: StageRunner): StageRunner {
  WORKER_RUNNERS.add(run);
  return run;
}
