/**
 * What stages run on: GPU ids, CPU slots and a request window per HTTP endpoint. The manager grants
 * them to waiting stages in priority order (see `scheduler.ts`), shares what is free among the stages
 * waiting for the same kind of resource, and, when a GPU is released, prefers a stage that needs the
 * same model as the one that just ran there (keeping a loaded model's cache warm).
 */
import { existsSync, readdirSync } from 'node:fs';
import type { StageResource } from '../contract/stage.js';
import { err, ok, type Result } from '../util/result.js';

export interface ResourceConfig {
  /** GPU ids as `CUDA_VISIBLE_DEVICES` understands them (indices or UUIDs). */
  gpus: string[];
  cpuSlots: number;
  /** Requests in flight per HTTP endpoint (shared by every stage using that endpoint). */
  httpWindow: number;
}

/**
 * GPU ids, first found: `--gpus` (CLI), `resources.gpus` (spec), `CUDA_VISIBLE_DEVICES`. An empty
 * value, `none` or `-1` means no GPU.
 */
export function resolveGpus(
  cli: string | undefined,
  spec: readonly (string | number)[] | undefined,
  env: NodeJS.ProcessEnv,
): Result<{ gpus: string[]; source: string }, string> {
  if (cli !== undefined) {
    const r = parseGpuList(cli);
    return r.ok ? ok({ gpus: r.value, source: '--gpus' }) : err(`--gpus: ${r.error}`);
  }
  if (spec !== undefined) {
    if (spec.length === 0) return ok({ gpus: [], source: 'resources.gpus' });
    const r = parseGpuList(spec.map(String).join(','));
    return r.ok ? ok({ gpus: r.value, source: 'resources.gpus' }) : err(`resources.gpus: ${r.error}`);
  }
  const cvd = env.CUDA_VISIBLE_DEVICES;
  if (cvd !== undefined) {
    const r = parseGpuList(cvd);
    return r.ok
      ? ok({ gpus: r.value, source: 'CUDA_VISIBLE_DEVICES' })
      : err(`CUDA_VISIBLE_DEVICES: ${r.error}`);
  }
  return ok({ gpus: [], source: 'none found' });
}

/**
 * How many NVIDIA GPUs the driver shows on this machine (`/proc/driver/nvidia/gpus`, else `/dev/nvidiaN`):
 * 0 when there is no driver, null where this cannot be told (not Linux).
 */
export function visibleGpuCount(root = '/'): number | null {
  if (process.platform !== 'linux') return null;
  try {
    return readdirSync(`${root}proc/driver/nvidia/gpus`).length;
  } catch {
    let n = 0;
    while (existsSync(`${root}dev/nvidia${n}`)) n++;
    return n;
  }
}

export function parseGpuList(text: string): Result<string[], string> {
  const t = text.trim();
  if (t === '' || t === 'none' || t === '-1') return ok([]);
  const ids = t.split(',').map((s) => s.trim());
  // What CUDA_VISIBLE_DEVICES accepts: indices, or GPU/MIG UUIDs as nvidia-smi -L prints them.
  if (ids.some((s) => !/^(\d+|(GPU|MIG)-[A-Za-z0-9/-]+)$/.test(s))) {
    return err(
      `expected a comma-separated list of GPU indices or UUIDs such as "0,1" or "GPU-5f1c…" (see nvidia-smi -L), got "${text}"`,
    );
  }
  if (new Set(ids).size !== ids.length) return err(`GPU ids listed twice in "${text}"`);
  return ok(ids);
}

/** What a stage asks for. */
export interface ResourceRequest {
  resource: StageResource;
  /** The HTTP endpoint (for `http` stages). */
  endpoint: string | null;
  /** That endpoint's request window when the stage states one (else `ResourceConfig.httpWindow`). */
  window?: number | null;
  /** Upper bound worth granting (e.g. item count): no point giving 8 GPUs to 2 items. */
  max: number;
  /** Lexicographic priority, smaller first. */
  priority: readonly number[];
  /** Stages with the same model key are preferred on a GPU that just ran that model. */
  modelKey: string;
}

export interface Grant {
  gpus: string[];
  threads: number;
  http: string | null;
  /** Internal: what to give back. */
  readonly held: { gpus: string[]; cpu: number; http: number };
}

interface Waiter {
  req: ResourceRequest;
  resolve: (g: Grant | null) => void;
  seq: number;
}

export class ResourceManager {
  readonly #freeGpus: string[];
  #freeCpu: number;
  readonly #http = new Map<string, number>();
  readonly #cfg: ResourceConfig;
  #waiters: Waiter[] = [];
  readonly #holds = new Map<string, { req: ResourceRequest; seq: number }>();
  #seq = 0;
  /** GPU id → model key of the stage that last ran there. */
  readonly #lastModel = new Map<string, string>();
  /** Stages granted (for tests and the bench: peak concurrency). */
  peakGpusInUse = 0;

  constructor(cfg: ResourceConfig) {
    this.#cfg = cfg;
    this.#freeGpus = [...cfg.gpus];
    this.#freeCpu = Math.max(1, cfg.cpuSlots);
  }

  get hasGpus(): boolean {
    return this.#cfg.gpus.length > 0;
  }

  /**
   * Announces that a stage is about to ask (its upstream just published; it is still checking its
   * cache and lock). Until it asks or `unhold`s, lower-priority stages do not take the kind of
   * resource it needs — otherwise point 1's stage would grab the GPU point 0's next stage is about to
   * want, and points would interleave instead of finishing one by one.
   */
  hold(id: string, req: ResourceRequest): void {
    this.#holds.set(id, { req, seq: this.#seq++ });
  }

  unhold(id: string): void {
    if (this.#holds.delete(id)) this.#dispatch(null);
  }

  /** Waits for a grant; resolves null when `signal` aborts first. `id` consumes a `hold`. */
  acquire(req: ResourceRequest, signal: AbortSignal, id?: string): Promise<Grant | null> {
    if (id !== undefined) this.#holds.delete(id);
    if (signal.aborted) {
      this.#dispatch(null);
      return Promise.resolve(null);
    }
    return new Promise((resolve) => {
      const onAbort = () => {
        if (this.#waiters.includes(w)) {
          this.#waiters = this.#waiters.filter((x) => x !== w);
          resolve(null);
        }
      };
      // The listener goes away once the waiter is served, so long runs do not pile listeners up.
      const w: Waiter = {
        req,
        resolve: (g) => {
          signal.removeEventListener('abort', onAbort);
          resolve(g);
        },
        seq: this.#seq++,
      };
      this.#waiters.push(w);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#dispatch(null);
    });
  }

  release(g: Grant, modelKey: string): void {
    for (const id of g.held.gpus) {
      this.#freeGpus.push(id);
      this.#lastModel.set(id, modelKey);
    }
    this.#freeCpu += g.held.cpu;
    if (g.http !== null) this.#http.set(g.http, (this.#http.get(g.http) ?? 0) - g.held.http);
    this.#dispatch(modelKey);
  }

  #dispatch(releasedModel: string | null): void {
    type Entry = { req: ResourceRequest; seq: number; waiter: Waiter | null };
    const entries: Entry[] = [
      ...this.#waiters.map((w) => ({ req: w.req, seq: w.seq, waiter: w })),
      ...[...this.#holds.values()].map((h) => ({ req: h.req, seq: h.seq, waiter: null })),
    ];
    // Sweep point first (finish points early), then the model that just ran (keep it warm), then the rest.
    entries.sort((a, b) => {
      const point = (a.req.priority[0] ?? 0) - (b.req.priority[0] ?? 0);
      if (point !== 0) return point;
      if (releasedModel !== null) {
        const am = a.req.modelKey === releasedModel ? 0 : 1;
        const bm = b.req.modelKey === releasedModel ? 0 : 1;
        if (am !== bm) return am - bm;
      }
      return comparePriority(a.req.priority, b.req.priority) || a.seq - b.seq;
    });
    const waiting = entries.filter((e) => e.waiter !== null).map((e) => e.waiter!);
    const blocked = new Set<StageResource>();
    for (const e of entries) {
      const kind = this.#kindOf(e.req);
      if (e.waiter === null) {
        blocked.add(kind);
        continue;
      }
      if (blocked.has(kind) && kind !== 'none') continue;
      const g = this.#tryGrant(e.req, waiting);
      if (g) {
        this.#waiters = this.#waiters.filter((x) => x !== e.waiter);
        e.waiter.resolve(g);
      }
    }
  }

  #tryGrant(req: ResourceRequest, waiting: Waiter[]): Grant | null {
    const same = (r: ResourceRequest['resource']) => waiting.filter((w) => this.#kindOf(w.req) === r).length;
    switch (this.#kindOf(req)) {
      case 'none':
        return { gpus: [], threads: 1, http: null, held: { gpus: [], cpu: 0, http: 0 } };
      case 'gpu': {
        if (this.#freeGpus.length === 0) return null;
        const n = share(this.#freeGpus.length, same('gpu'), req.max);
        // Prefer GPUs that last ran this stage's model.
        this.#freeGpus.sort(
          (a, b) =>
            (this.#lastModel.get(a) === req.modelKey ? 0 : 1) -
            (this.#lastModel.get(b) === req.modelKey ? 0 : 1),
        );
        const gpus = this.#freeGpus.splice(0, n);
        this.peakGpusInUse = Math.max(this.peakGpusInUse, this.#cfg.gpus.length - this.#freeGpus.length);
        return { gpus, threads: 1, http: null, held: { gpus, cpu: 0, http: 0 } };
      }
      case 'cpu': {
        if (this.#freeCpu === 0) return null;
        const n = share(this.#freeCpu, same('cpu'), req.max);
        this.#freeCpu -= n;
        return { gpus: [], threads: n, http: null, held: { gpus: [], cpu: n, http: 0 } };
      }
      case 'http': {
        const ep = req.endpoint ?? 'default';
        const used = this.#http.get(ep) ?? 0;
        const free = (req.window ?? this.#cfg.httpWindow) - used;
        if (free <= 0) return null;
        const n = share(free, same('http'), req.max);
        this.#http.set(ep, used + n);
        return { gpus: [], threads: n, http: ep, held: { gpus: [], cpu: 0, http: n } };
      }
    }
  }

  /** Without GPUs, GPU stages (e.g. dummy backends) run on a CPU slot. */
  #kindOf(req: ResourceRequest): StageResource {
    return req.resource === 'gpu' && !this.hasGpus ? 'cpu' : req.resource;
  }
}

function share(free: number, waiting: number, max: number): number {
  return Math.max(1, Math.min(Math.max(1, max), Math.floor(free / Math.max(1, waiting))));
}

export function comparePriority(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
