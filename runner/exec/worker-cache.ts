/**
 * Keeps a loaded model busy across stages. When a worker-backed stage finishes, its healthy workers are
 * parked here instead of shut down; the next stage that needs the same worker program and model on the
 * same GPU takes one and sends it a new `configure` (new sampling or guidance parameters) instead of
 * loading the model again. A sweep over MLLM temperatures or diffusion guidance therefore loads each
 * model once per GPU.
 *
 *   stage A (model m, gpu 0) ──finish──▶ park(m, gpu 0) ──claim(m, gpu 0)──▶ stage B: configure again
 *                                              └── claim(other model, gpu 0): shut down first (frees the GPU)
 *
 * Parked workers are shut down after `idleMs` without a taker, when a stage needs another model on their
 * GPU, when a stage that runs in-process (an ONNX session on CUDA) is granted their GPU (`vacate`), and
 * when the run ends.
 */
import type { WorkerClient } from './worker.js';

interface Parked {
  key: string;
  gpu: string | null;
  worker: WorkerClient;
  timer: NodeJS.Timeout;
}

export class WorkerCache {
  #parked: Parked[] = [];
  #closed = false;

  constructor(readonly idleMs = 20_000) {}

  /** A parked worker for `key` on `gpu`, if any; other models parked on that GPU are shut down first. */
  async claim(key: string, gpu: string | null): Promise<WorkerClient | undefined> {
    let found: Parked | undefined;
    const evict: Parked[] = [];
    for (const p of this.#parked) {
      if (p.gpu !== gpu) continue;
      if (!found && p.key === key && !p.worker.dead) found = p;
      else if (p.key !== key || p.worker.dead) evict.push(p);
    }
    const taken = new Set([...evict, ...(found ? [found] : [])]);
    this.#parked = this.#parked.filter((p) => !taken.has(p));
    for (const p of taken) clearTimeout(p.timer);
    await Promise.all(evict.map((p) => p.worker.shutdown()));
    return found?.worker;
  }

  /**
   * Shuts down every worker parked on one of `gpus`, so a stage that does not go through this cache
   * (an in-process CUDA session) gets the GPU's memory. Returns how many were shut down.
   */
  async vacate(gpus: readonly string[]): Promise<number> {
    const gone = this.#parked.filter((p) => p.gpu !== null && gpus.includes(p.gpu));
    if (gone.length === 0) return 0;
    this.#parked = this.#parked.filter((p) => !gone.includes(p));
    for (const p of gone) clearTimeout(p.timer);
    await Promise.all(gone.map((p) => p.worker.shutdown()));
    return gone.length;
  }

  /** Parks an idle, healthy worker for a later stage (or shuts it down when the run is over). */
  park(key: string, gpu: string | null, worker: WorkerClient): void {
    if (this.#closed || worker.dead || worker.inFlight > 0) {
      void worker.shutdown();
      return;
    }
    const entry: Parked = {
      key,
      gpu,
      worker,
      timer: setTimeout(() => {
        this.#parked = this.#parked.filter((p) => p !== entry);
        void worker.shutdown();
      }, this.idleMs),
    };
    entry.timer.unref();
    this.#parked.push(entry);
  }

  get size(): number {
    return this.#parked.length;
  }

  /** Shuts every parked worker down; later parks shut down at once. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = this.#parked;
    this.#parked = [];
    for (const p of all) clearTimeout(p.timer);
    await Promise.all(all.map((p) => p.worker.shutdown()));
  }
}

/**
 * The cache lent to a runner context by the executor that built it. Parking workers is an executor
 * service, not part of the stage contract (a shard on another host has no parked workers), so it
 * travels beside the context rather than in it.
 */
const LENT = new WeakMap<object, WorkerCache>();

export function lendWorkers(ctx: object, cache: WorkerCache): void {
  LENT.set(ctx, cache);
}

export function lentWorkers(ctx: object): WorkerCache | undefined {
  return LENT.get(ctx);
}
