/**
 * A small worker-thread pool for the Pillow-exact resize, so preprocessing uses every core the
 * scheduler grants (sharp already decodes on libuv's pool; the resize is JavaScript and would
 * otherwise serialise on the main thread). Workers are only used from compiled JavaScript (or under
 * tsx); elsewhere, and with one thread, the resize runs inline — the result is identical.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type Filter, pilResizeRgb } from './pil-resize.js';
import type { ResizeJob } from './resize-worker.js';

type Crop = ResizeJob['crop'];

function workerUrl(): URL | null {
  const js = new URL('./resize-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return js;
  const ts = new URL('./resize-worker.ts', import.meta.url);
  // Running from TypeScript sources: only tsx's loader (inherited by workers) can start a .ts worker.
  if (existsSync(fileURLToPath(ts)) && process.execArgv.some((a) => a.includes('tsx'))) return ts;
  return null;
}

interface Pending {
  job: Omit<ResizeJob, 'id'>;
  worker: number;
  resolve: (out: Uint8Array) => void;
}

const inline = (j: Omit<ResizeJob, 'id'>) =>
  pilResizeRgb(j.src, j.width, j.height, j.outW, j.outH, j.filter, j.crop);

class ResizePool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly busy: number[];
  private nextId = 0;
  /** Set when a worker fails to start or crashes: from then on everything runs inline. */
  broken = false;

  constructor(url: URL, size: number) {
    this.busy = new Array(size).fill(0);
    for (let i = 0; i < size; i++) {
      // From TypeScript sources the worker registers tsx itself (a dev-only path: benches, tsx runs).
      const w = url.pathname.endsWith('.ts')
        ? new Worker(
            `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`,
            { eval: true },
          )
        : new Worker(url);
      w.on('message', (m: { id: number; out: Uint8Array }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        this.release(i);
        p?.resolve(m.out);
      });
      w.on('error', () => {
        this.broken = true;
        for (const [id, p] of this.pending) {
          if (p.worker !== i) continue;
          this.pending.delete(id);
          this.release(i);
          p.resolve(inline(p.job));
        }
      });
      w.unref();
      this.workers.push(w);
    }
  }

  private release(i: number): void {
    this.busy[i]!--;
    if (this.busy[i] === 0) this.workers[i]!.unref();
  }

  run(job: Omit<ResizeJob, 'id'>): Promise<Uint8Array> {
    if (this.broken) return Promise.resolve(inline(job));
    // Least-busy worker; it is ref'd while it has work so the process waits for it.
    let best = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.busy[i]! < this.busy[best]!) best = i;
    const id = this.nextId++;
    this.busy[best]!++;
    const w = this.workers[best]!;
    w.ref();
    return new Promise((resolve) => {
      this.pending.set(id, { job, worker: best, resolve });
      // `src` is copied (not transferred) so a crashed worker's job can still be done inline.
      w.postMessage({ ...job, id });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

const pools = new Map<number, ResizePool>();

/** Pillow-exact resize of packed RGB, on `threads` worker threads when possible. */
export async function resizeRgb(
  src: Uint8Array,
  width: number,
  height: number,
  outW: number,
  outH: number,
  filter: Filter,
  crop: Crop,
  threads: number,
): Promise<Uint8Array> {
  const url = threads > 1 ? workerUrl() : null;
  if (!url) return pilResizeRgb(src, width, height, outW, outH, filter, crop);
  let pool = pools.get(threads);
  if (!pool) {
    pool = new ResizePool(url, threads);
    pools.set(threads, pool);
  }
  return pool.run({ src, width, height, outW, outH, filter, crop });
}

/** Stops the pool's workers (tests, and workers before exit). */
export async function closeResizePools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.close()));
}
