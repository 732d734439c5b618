/** The planner's view of the store (published stages, history, journals), for `planSpec` and benches. */
import type { PlanStore } from '../plan/build.js';
import { openStore } from '../store/index.js';

export function planStoreAt(cacheRoot: string): PlanStore {
  const store = openStore(cacheRoot);
  // One directory listing instead of one stat per stage: plans can have tens of thousands of stages,
  // and only the keys that have a stage directory can be published.
  let present: Promise<Set<string>> | undefined;
  return {
    isPublished: async (key) => {
      present ??= store.stages.list().then((keys) => new Set<string>(keys));
      return (await present).has(key) && store.stages.isPublished(key);
    },
    history: (experiment, slot) => store.history.read(experiment, slot),
    journaled: async (key) => {
      present ??= store.stages.list().then((keys) => new Set<string>(keys));
      return (await present).has(key) ? (await store.stages.journal(key).read()).length : 0;
    },
  };
}
