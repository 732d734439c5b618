/**
 * A pool of long-lived workers (one per granted GPU, or one per CPU slot) working through a list of
 * items. It keeps a small window of items in flight per worker, restarts a worker that crashed, hung or
 * printed junk, and retries the item it was working on with an attempt counter and backoff; the other
 * items in flight on the dead worker are requeued for free.
 *
 *   queue ──▶ slot 0: WorkerClient (gpu 0) ──▶ result ─▶ onResult (journal)
 *        └──▶ slot 1: WorkerClient (gpu 1)        └─ failure ─▶ retry later │ onFailed (for good)
 *
 * Draining (first Ctrl-C, --fail-fast) stops sending new items and waits for the in-flight ones; a kill
 * (second Ctrl-C) kills the workers at once.
 */

import { convertExceptionToFailure, type Failure } from '../contract/failure.js';
import type { RetryPolicy } from '../contract/run.js';
import type { JsonObject, JsonValue } from '../util/json.js';
import { ok } from '../util/result.js';
import type { WorkerIdentity } from './protocol.js';
import { type ItemOutcome, WorkerClient, type WorkerCommand, type WorkerTimeouts } from './worker.js';
import type { WorkerCache } from './worker-cache.js';

export interface PoolItem {
  id: string;
  input: JsonValue;
}

export interface PoolSlot {
  gpu: string | null;
}

export interface WorkerPoolOptions {
  slots: PoolSlot[];
  /** The command for a slot's worker (the slot's GPU goes into `CUDA_VISIBLE_DEVICES`). */
  command(slot: PoolSlot, index: number): WorkerCommand;
  configure: { kind: string; params: JsonObject; model: JsonValue };
  timeouts: WorkerTimeouts;
  /** Items in flight per worker (1–2 for a GPU pipeline; more hides the pipe round trip for fast ones). */
  window: number;
  retry: RetryPolicy;
  signal: AbortSignal;
  kill: AbortSignal;
  onResult(item: PoolItem, outcome: Extract<ItemOutcome, { ok: true }>): Promise<void>;
  /** The item failed for good (not retryable, or out of attempts). */
  onFailed(item: PoolItem, failure: Failure, attempts: number): void;
  onRetry?(item: PoolItem, attempt: number, failure: Failure, delayMs: number): void;
  onReady?(worker: number, gpu: string | null, identity: WorkerIdentity): void;
  onRestart?(worker: number, failure: Failure, restarts: number): void;
  onStderr?(worker: number, line: string): void;
  /**
   * Reuse workers across stages: take a parked worker with the same `key` (worker program + model) on
   * the slot's GPU instead of starting one, and park the workers when the items are done.
   */
  workers?: { cache: WorkerCache; key: string };
}

export interface PoolSummary {
  /** Set when no worker could be started (every slot gave up): the stage fails with it. */
  fatal: Failure | null;
  /** True when stopped by the drain or kill signal before every item was handled. */
  stopped: boolean;
  identity: WorkerIdentity | null;
  peakMemMb: number | null;
}

interface Entry {
  item: PoolItem;
  attempt: number;
}

interface Slot {
  index: number;
  gpu: string | null;
  worker: WorkerClient | null;
  starting: boolean;
  startFailures: number;
  restarts: number;
  gaveUp: Failure | null;
}

/** Runs `items` through the pool; resolves when all are handled, or after draining. Never rejects. */
export function runWorkerPool(items: readonly PoolItem[], opts: WorkerPoolOptions): Promise<PoolSummary> {
  return new PoolRun(items, opts).done;
}

class PoolRun {
  readonly done: Promise<PoolSummary>;
  readonly #opts: WorkerPoolOptions;
  readonly #items: readonly PoolItem[];
  #next = 0;
  /** Requeued entries (collateral, retries): taken before fresh items. */
  readonly #front: Entry[] = [];
  #delayed = new Set<NodeJS.Timeout>();
  #inflight = 0;
  readonly #slots: Slot[];
  #stopping = false;
  #finished = false;
  #identity: WorkerIdentity | null = null;
  #peak: number | null = null;
  #writes = new Set<Promise<void>>();
  #writeError: unknown = null;
  #resolve!: (s: PoolSummary) => void;

  constructor(items: readonly PoolItem[], opts: WorkerPoolOptions) {
    this.#items = items;
    this.#opts = opts;
    this.#slots = opts.slots.map((s, index) => ({
      index,
      gpu: s.gpu,
      worker: null,
      starting: false,
      startFailures: 0,
      restarts: 0,
      gaveUp: null,
    }));
    this.done = new Promise((r) => {
      this.#resolve = r;
    });
    const onDrain = () => {
      this.#stopping = true;
      // Items already sent finish (a batching worker must not wait for a full batch).
      for (const s of this.#slots) s.worker?.flush();
      for (const t of this.#delayed) clearTimeout(t);
      this.#delayed.clear();
      this.#maybeFinish();
    };
    const onKill = () => {
      onDrain();
      for (const s of this.#slots) s.worker?.kill();
    };
    if (this.#slots.length === 0) throw new Error('runWorkerPool: no slots');
    if (opts.kill.aborted) onKill();
    else if (opts.signal.aborted) onDrain();
    opts.signal.addEventListener('abort', onDrain, { once: true });
    opts.kill.addEventListener('abort', onKill, { once: true });
    for (const s of this.#slots) this.#pump(s);
    this.#maybeFinish();
  }

  #queued(): number {
    return this.#front.length + (this.#items.length - this.#next);
  }

  #take(): Entry | undefined {
    const f = this.#front.pop();
    if (f) return f;
    const item = this.#items[this.#next];
    if (item === undefined) return undefined;
    this.#next++;
    return { item, attempt: 1 };
  }

  #pump(slot: Slot): void {
    if (this.#finished || this.#stopping || slot.gaveUp || slot.starting) return;
    if (this.#queued() === 0) {
      slot.worker?.flush();
      return;
    }
    const w = slot.worker;
    if (!w || w.dead) {
      if (w?.dead && w.dead.reason !== 'cancelled') {
        slot.restarts++;
        this.#opts.onRestart?.(slot.index, w.dead, slot.restarts);
      }
      slot.worker = null;
      this.#start(slot);
      return;
    }
    // A batching worker holds two batches: one running, the next one queued behind it.
    const window = w.batchSize > 1 ? Math.max(this.#opts.window, 2 * w.batchSize) : this.#opts.window;
    while (w.inFlight < window && !this.#stopping) {
      const e = this.#take();
      if (!e) break;
      this.#inflight++;
      w.send(e.item.id, e.item.input).then((o) => this.#onOutcome(slot, e, o));
    }
    // Nothing more to send for now: batching workers run what they hold instead of waiting (all of
    // them: another slot may have taken the last items while this one held a partial batch).
    if (this.#queued() === 0 || this.#stopping) for (const s of this.#slots) s.worker?.flush();
  }

  #pumpAll(): void {
    for (const s of this.#slots) this.#pump(s);
  }

  #start(slot: Slot): void {
    slot.starting = true;
    const opts = this.#opts;
    const clientOpts = {
      configure: opts.configure,
      timeouts: opts.timeouts,
      label: slot.gpu === null ? `worker ${slot.index + 1}` : `worker ${slot.index + 1} (gpu ${slot.gpu})`,
      ...(opts.onStderr ? { onStderr: (line: string) => opts.onStderr?.(slot.index, line) } : {}),
    };
    const started = async () => {
      // A parked worker with this model on this GPU answers a new configure in milliseconds.
      const parked = opts.workers ? await opts.workers.cache.claim(opts.workers.key, slot.gpu) : undefined;
      if (parked) {
        const again = await parked.reconfigure(clientOpts);
        if (again.ok) return ok(parked);
      }
      return WorkerClient.start(opts.command({ gpu: slot.gpu }, slot.index), clientOpts);
    };
    void started().then((r) => {
      slot.starting = false;
      if (r.ok) {
        slot.startFailures = 0;
        slot.worker = r.value;
        this.#identity ??= r.value.identity;
        opts.onReady?.(slot.index, slot.gpu, r.value.identity);
        if (this.#stopping || this.#finished) void r.value.shutdown();
        else this.#pump(slot);
      } else {
        slot.startFailures++;
        const f = r.error;
        if (this.#stopping) {
          // Cancelled while loading: nothing to report.
        } else if (!f.retryable || slot.startFailures > opts.retry.retries) {
          slot.gaveUp = f;
        } else {
          slot.restarts++;
          opts.onRestart?.(slot.index, f, slot.restarts);
          this.#later(() => this.#pump(slot), opts.retry.backoffMs(slot.startFailures + 1));
        }
      }
      this.#maybeFinish();
    });
  }

  #later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.#delayed.delete(t);
      fn();
      this.#maybeFinish();
    }, ms);
    this.#delayed.add(t);
  }

  #onOutcome(slot: Slot, e: Entry, o: ItemOutcome): void {
    this.#inflight--;
    const opts = this.#opts;
    if (o.ok) {
      if (o.peak_mem_mb !== undefined) this.#peak = Math.max(this.#peak ?? 0, o.peak_mem_mb);
      const p = opts.onResult(e.item, o).then(
        () => {
          this.#writes.delete(p);
          this.#maybeFinish();
        },
        (error: unknown) => {
          this.#writes.delete(p);
          this.#writeError ??= error;
          this.#stopping = true;
          this.#maybeFinish();
        },
      );
      this.#writes.add(p);
    } else if (this.#stopping && o.failure.reason === 'cancelled') {
      // Killed on purpose: the item stays undone (resumed next run).
    } else if (!o.blamed) {
      this.#front.push(e);
    } else if (o.failure.retryable && e.attempt <= opts.retry.retries) {
      const delay = opts.retry.backoffMs(e.attempt + 1);
      opts.onRetry?.(e.item, e.attempt + 1, o.failure, delay);
      this.#later(() => {
        this.#front.push({ item: e.item, attempt: e.attempt + 1 });
        this.#pumpAll();
      }, delay);
    } else {
      opts.onFailed(e.item, o.failure, e.attempt);
    }
    this.#pump(slot);
    if (this.#front.length > 0) this.#pumpAll();
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (this.#finished || this.#inflight > 0 || this.#writes.size > 0) return;
    const starting = this.#slots.some((s) => s.starting);
    const allGaveUp = this.#slots.every((s) => s.gaveUp !== null);
    const idle = this.#queued() === 0 && this.#delayed.size === 0;
    if (!(this.#stopping || allGaveUp || (idle && !starting))) return;
    if (starting && !allGaveUp) return; // wait for the start to settle (it shuts itself down)
    this.#finished = true;
    for (const t of this.#delayed) clearTimeout(t);
    const fatal = allGaveUp && !idle ? (this.#slots[0]?.gaveUp ?? null) : null;
    const reuse = this.#opts.workers;
    const release = (s: Slot): Promise<void> | undefined => {
      if (!s.worker) return undefined;
      if (reuse && !this.#stopping && !s.worker.dead) {
        reuse.cache.park(reuse.key, s.gpu, s.worker);
        return undefined;
      }
      return s.worker.shutdown();
    };
    void Promise.all(this.#slots.map(release)).then(() => {
      this.#resolve({
        fatal: this.#writeError !== null ? convertExceptionToFailure(this.#writeError) : fatal,
        stopped: this.#stopping && !idle,
        identity: this.#identity,
        peakMemMb: this.#peak,
      });
    });
  }
}
