/**
 * Ctrl-C handling (vitest's `node/stdin.ts` model): the first SIGINT (or SIGTERM, as sent by Slurm and
 * container runtimes) drains — no new stage or item starts, in-flight items finish and are journaled;
 * the second kills every worker's process group and stops now. Either way, re-running the same command
 * resumes from the journal.
 */
import type { EventSink } from '../events/event.js';
import { killAllServiceProcesses } from './service-process.js';
import { killAllWorkers } from './worker.js';

export interface InterruptHandle {
  drain: AbortSignal;
  kill: AbortSignal;
  /**
   * The run is over (only the summary and bookkeeping remain): a later Ctrl-C exits at once, quietly,
   * instead of announcing a drain or a kill after the run's summary.
   */
  finished(): void;
  dispose(): void;
}

export const DRAIN_MESSAGE =
  'interrupted: finishing the items in flight, starting nothing new (press Ctrl-C again to stop now)';
export const KILL_MESSAGE =
  'stopping now: killing workers (items in flight are lost; finished ones are kept)';

export function installInterruptHandler(emit: EventSink, proc: NodeJS.Process = process): InterruptHandle {
  const drain = new AbortController();
  const kill = new AbortController();
  let count = 0;
  let over = false;
  const onSignal = () => {
    if (over) proc.exit(130);
    count++;
    if (count === 1) {
      emit({ type: 'interrupt', force: false, message: DRAIN_MESSAGE });
      drain.abort();
      return;
    }
    if (count === 2) {
      emit({ type: 'interrupt', force: true, message: KILL_MESSAGE });
      kill.abort();
      killAllWorkers();
      killAllServiceProcesses();
      // The run normally unwinds within milliseconds once workers are dead; never hang on it.
      setTimeout(() => proc.exit(130), 3_000).unref();
      return;
    }
    proc.exit(130);
  };
  proc.on('SIGINT', onSignal);
  proc.on('SIGTERM', onSignal);
  // A worker must never outlive the orchestrator's normal exit either.
  const onExit = () => {
    killAllWorkers();
    killAllServiceProcesses();
  };
  proc.on('exit', onExit);
  return {
    drain: drain.signal,
    kill: kill.signal,
    finished() {
      over = true;
    },
    dispose() {
      proc.off('SIGINT', onSignal);
      proc.off('SIGTERM', onSignal);
      proc.off('exit', onExit);
    },
  };
}
