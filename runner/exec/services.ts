/**
 * Run-scoped services: things a stage needs that outlive the stage, such as the MLLM servers pefuse
 * starts (`mllm.server`, stages/mllm/servers.ts). The executor owns one `RunServices` per run:
 *
 *   stage run ─▶ lentServices(ctx).get(id, make) ─▶ the one service with that id (made on first use)
 *   every stage outcome ─▶ settled(key) ─▶ each service (stop once no stage of its own is left)
 *   end of run / Ctrl-C ─▶ close() ─▶ every service stops what it started
 *
 * GPUs for a service come from the run's ResourceManager like a stage's, so GPU stages and services
 * never share a GPU; `acquireGpus` gathers at least `min` of them (tensor parallel groups), one
 * gathering at a time so that two services cannot each hold half of what both need.
 */
import type { StageKey } from '../contract/stage.js';
import type { PlannedStage } from '../plan/types.js';
import type { Grant, ResourceManager } from './resources.js';

export interface RunService {
  /** A planned stage finished (published, cached, failed or cancelled): it will not ask again. */
  settled?(key: StageKey): void;
  /** Stops everything the service started (end of run). */
  close(): Promise<void>;
}

/** GPUs held by a service until `release`. */
export interface GpuLease {
  gpus: string[];
  release(): void;
}

export interface ServiceHost {
  /** The run's planned stages (a service finds the ones that use it). */
  readonly stages: readonly PlannedStage[];
  /** The store root: services keep their logs and pid files under `<cacheRoot>/services/`. */
  readonly cacheRoot: string;
  /** Every GPU id the run was given. */
  readonly gpus: readonly string[];
  /** First Ctrl-C (start nothing new) and second Ctrl-C (stop now). */
  readonly drain: AbortSignal;
  readonly kill: AbortSignal;
  /**
   * At least `min` and at most `max` GPUs, a multiple of `step`; null when `signal` aborts first. With no
   * GPUs in the run it resolves an empty lease at once.
   */
  acquireGpus(
    opts: { min: number; max: number; step: number },
    signal: AbortSignal,
  ): Promise<GpuLease | null>;
  warn(message: string): void;
}

export class RunServices {
  readonly #services = new Map<string, RunService>();
  /** Stages settled so far: a service made later hears of them too. */
  readonly #settled: StageKey[] = [];
  readonly host: ServiceHost;

  constructor(host: ServiceHost) {
    this.host = host;
  }

  /** The service `id`, made by `make` the first time it is asked for. */
  get<T extends RunService>(id: string, make: (host: ServiceHost) => T): T {
    let s = this.#services.get(id);
    if (!s) {
      s = make(this.host);
      this.#services.set(id, s);
      for (const key of this.#settled) s.settled?.(key);
    }
    return s as T;
  }

  settled(key: StageKey): void {
    this.#settled.push(key);
    for (const s of this.#services.values()) s.settled?.(key);
  }

  async close(): Promise<void> {
    const all = [...this.#services.values()];
    await Promise.all(all.map((s) => s.close()));
  }
}

const LENT = new WeakMap<object, RunServices>();

/** Gives a stage context the run's services (the executor does, for every context it builds). */
export function lendServices(ctx: object, services: RunServices): void {
  LENT.set(ctx, services);
}

/** The run's services, or undefined in a context built by hand (stage tests). */
export function lentServices(ctx: object): RunServices | undefined {
  return LENT.get(ctx);
}

/** `acquireGpus` over the run's ResourceManager (see ServiceHost). */
export function gpuAcquirer(
  resources: ResourceManager,
  gpus: readonly string[],
  /** Frees the granted GPUs of what idle workers parked there hold (executor: `WorkerCache.vacate`). */
  vacate: (ids: readonly string[]) => Promise<unknown> = async () => {},
): ServiceHost['acquireGpus'] {
  let queue: Promise<unknown> = Promise.resolve();
  return (opts, signal) => {
    if (gpus.length === 0) return Promise.resolve({ gpus: [], release() {} });
    const run = queue.then(async () => {
      const lease = await gather(resources, opts, signal);
      if (lease) await vacate(lease.gpus);
      return lease;
    });
    queue = run.catch(() => {});
    return run;
  };
}

async function gather(
  resources: ResourceManager,
  opts: { min: number; max: number; step: number },
  signal: AbortSignal,
): Promise<GpuLease | null> {
  const grants: Grant[] = [];
  const modelKey = 'run-service';
  const held = () => grants.flatMap((g) => g.gpus);
  const giveBack = (ids: string[]) =>
    resources.release({ gpus: ids, threads: 0, http: null, held: { gpus: ids, cpu: 0, http: 0 } }, modelKey);
  while (held().length < opts.min) {
    const g = await resources.acquire(
      {
        resource: 'gpu',
        endpoint: null,
        max: Math.max(1, opts.max - held().length),
        // Ahead of every stage: a stage already running is waiting for this service.
        priority: [-1],
        modelKey,
      },
      signal,
    );
    if (!g) {
      if (held().length > 0) giveBack(held());
      return null;
    }
    grants.push(g);
  }
  const all = held();
  const keep = all.slice(0, Math.min(opts.max, Math.floor(all.length / opts.step) * opts.step));
  const extra = all.slice(keep.length);
  if (extra.length > 0) giveBack(extra);
  let released = false;
  return {
    gpus: keep,
    release() {
      if (released) return;
      released = true;
      giveBack(keep);
    },
  };
}
