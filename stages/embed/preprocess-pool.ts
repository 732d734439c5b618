/**
 * A worker-thread pool that preprocesses whole images (decode + Pillow-exact resize, decode.ts), so
 * with many images in flight every core the scheduler grants does both parts of one image in turn.
 *
 * Why whole images: the earlier split (sharp decoding on libuv's pool, the resize on a worker pool)
 * moved every decoded image (0.9 MB at 640×480) from the libuv pool to the main thread and copied it
 * to a worker, and put decode threads and resize threads on the same cores at once. Now the main thread
 * sends the file's bytes (or its path) and gets the small crop back, transferred, not copied.
 *
 * Workers are only used from compiled JavaScript (or under tsx); elsewhere, and with one thread, the
 * image is preprocessed inline — the result is identical.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { decodeAndResize, ImageDecodeError, type Pixels, type PreprocessConfig } from './decode.js';
import type { PreprocessJob, PreprocessReply } from './preprocess-worker.js';

function workerUrl(): URL | null {
  const js = new URL('./preprocess-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return js;
  const ts = new URL('./preprocess-worker.ts', import.meta.url);
  // Running from TypeScript sources: only tsx's loader (inherited by workers) can start a .ts worker.
  if (existsSync(fileURLToPath(ts)) && process.execArgv.some((a) => a.includes('tsx'))) return ts;
  return null;
}

interface Pending {
  job: Omit<PreprocessJob, 'id'>;
  worker: number;
  resolve: (px: Pixels) => void;
  reject: (e: Error) => void;
}

class PreprocessPool {
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
      w.on('message', (m: PreprocessReply) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        this.release(i);
        if (!p) return;
        if ('error' in m) p.reject(m.decode ? new ImageDecodeError(m.error) : new Error(m.error));
        else
          p.resolve({ data: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), size: m.size });
      });
      w.on('error', () => {
        this.broken = true;
        for (const [id, p] of this.pending) {
          if (p.worker !== i) continue;
          this.pending.delete(id);
          this.release(i);
          decodeAndResize(p.job.input, p.job.cfg).then(p.resolve, p.reject);
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

  run(job: Omit<PreprocessJob, 'id'>): Promise<Pixels> {
    if (this.broken) return decodeAndResize(job.input, job.cfg);
    // Least-busy worker; it is ref'd while it has work so the process waits for it.
    let best = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.busy[i]! < this.busy[best]!) best = i;
    const id = this.nextId++;
    this.busy[best]!++;
    const w = this.workers[best]!;
    w.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { job, worker: best, resolve, reject });
      // The file's bytes are copied (not transferred): small, and a crashed worker's job can still run inline.
      w.postMessage({ ...job, id } satisfies PreprocessJob);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

const pools = new Map<number, PreprocessPool>();

/** Decode + Pillow-exact resize of one image, on `threads` worker threads when possible. */
export function preprocessOnPool(
  input: Uint8Array | string,
  cfg: PreprocessConfig,
  threads: number,
): Promise<Pixels> {
  const url = threads > 1 ? workerUrl() : null;
  if (!url) return decodeAndResize(input, cfg);
  let pool = pools.get(threads);
  if (!pool) {
    pool = new PreprocessPool(url, threads);
    pools.set(threads, pool);
  }
  return pool.run({ input, cfg: plainConfig(cfg) });
}

/** Only the fields preprocessing reads (a model config may carry more, not all of it cloneable). */
function plainConfig(cfg: PreprocessConfig): PreprocessConfig {
  const { image_size, resize, crop, interpolation, mean, std, exif_transpose } = cfg;
  return { image_size, resize, crop, interpolation, mean, std, exif_transpose };
}

/** Stops the pools' workers (tests, benches, and before exit). */
export async function closePreprocessPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.close()));
}
