/**
 * The local executor: a stage's runner computes every item in this process (its worker pool, its
 * threads), as pefuse always did. The default; the other executors fall back to it for stages that
 * cannot be split (`unit: none`).
 */
import type { Executor } from './types.js';

export const localExecutor: Executor = {
  name: 'local',
  computeStage: (job) => job.run(job.ctx),
  close: async () => {},
};
