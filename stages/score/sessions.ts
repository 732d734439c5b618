/**
 * onnxruntime-node sessions for scoring, cached per thread count for the life of the process:
 * session creation costs 20-40 ms, and a sweep re-scores the same gallery dozens of times. The graphs
 * have dynamic shapes, so one session serves every query/gallery size.
 */
import * as ort from 'onnxruntime-node';
import { scoringModelBytes } from './onnx-graph.js';

const cache = new Map<string, Promise<ort.InferenceSession>>();

/** The cached CPU scoring session with `threads` intra-op threads (created on first use). */
export function scoringSession(threads: number): Promise<ort.InferenceSession> {
  const key = `score/${threads}`;
  let s = cache.get(key);
  if (!s) {
    s = ort.InferenceSession.create(scoringModelBytes(), {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
    // A failed creation must not poison the cache.
    s.catch(() => cache.delete(key));
    cache.set(key, s);
  }
  return s;
}

/** Releases every cached session (tests, and long-lived processes that are done scoring). */
export async function releaseSessions(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const s of all) {
    try {
      await (await s).release();
    } catch {
      // A session that failed to create has nothing to release.
    }
  }
}

export { ort };
