/**
 * `npm run bench -- mllm`: the MLLM stage's HTTP client against a loopback OpenAI-compatible server
 * with a fixed latency (200 ms) and a capacity of 64 requests served at once, i.e. 320 requests/s.
 * Target: the runner reaches ≥ 95% of that over 5,000 items, with RSS flat (sampled every 500 items).
 * Reference in the same run: bare `fetch` calls (64 in flight, no image, no journal) against the same
 * server. Also images encoded per second into data URIs, with and without downscaling, against a
 * reference of reading the files and base64-encoding them.
 *
 * `node --expose-gc --import tsx bench/index.ts mllm` also prints the JS heap after a full GC at each
 * sample (RSS alone rises while V8 defers collection; the heap shows whether anything is retained).
 * `PEFUSE_BENCH_ITEMS=N` changes the item count.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import type { StageRunContext } from '../runner/contract/run.js';
import type { StageKey } from '../runner/contract/stage.js';
import { ImageEncoder } from '../stages/mllm/images.js';
import { httpMllmRunner } from '../stages/mllm/runner.js';
import { fsStore, manifest } from '../test/stages/dummy/harness.js';
import { type BenchRow, peakRssMb, printTable } from './table.js';

const ITEMS = Number(process.env.PEFUSE_BENCH_ITEMS ?? 5000);
const LATENCY_MS = 200;
const CAPACITY = 64;
const MODEL = 'bench/model';
/** Requests the client keeps in flight: above the server's capacity, so its queue never runs dry. */
const WINDOW = 96;

/** The loopback server in a child process (bench/mllm-server.ts). */
async function childServer(): Promise<{ url: string; close(): Promise<string> }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('./mllm-server.ts', import.meta.url).pathname,
      String(LATENCY_MS),
      String(CAPACITY),
      MODEL,
    ],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const [url] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  return {
    url,
    close: async () => {
      child.stdin.end();
      await once(child, 'exit');
      return stderr.trim();
    },
  };
}

const rssMb = () => Math.round(process.memoryUsage().rss / 1024 / 1024);

async function pool<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function throughput(dir: string): Promise<void> {
  const server = await childServer();
  let serverNote = '';
  try {
    // Reference: bare fetches, CAPACITY in flight.
    const nRef = 2000;
    const t0 = performance.now();
    await pool(
      Array.from({ length: nRef }, (_, i) => i),
      WINDOW,
      async (i) => {
        const r = await fetch(`${server.url}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: MODEL, messages: [], seed: i }),
        });
        await r.text();
      },
    );
    const tRef = (performance.now() - t0) / 1000;

    // The runner: 5,000 queries over 50 distinct 64×64 reference PNGs (CIRR-like reuse).
    const store = fsStore(join(dir, 'cache'));
    const img = join(dir, 'img');
    mkdirSync(img, { recursive: true });
    for (let i = 0; i < 50; i++)
      await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: i, g: 90, b: 200 } } })
        .png()
        .toFile(join(img, `${i}.png`));
    const queries = Array.from({ length: ITEMS }, (_, i) => ({
      id: `q${i}`,
      reference: { id: `r${i % 50}`, path: join(img, `${i % 50}.png`) },
      text: `make it number ${i}`,
      targets: [],
    }));
    const ds = manifest('dataset', [], {
      dataset: 'synthetic',
      split: 'val',
      subset: null,
      queries: await store.put(JSON.stringify(queries)),
      gallery: await store.put('[]'),
      n_queries: ITEMS,
      n_gallery: 0,
      missing_count: 0,
      missing: [],
    });
    const rss: number[] = [];
    const heap: number[] = [];
    let done = 0;
    const params = {
      temperature: 0.1,
      top_p: 0.9,
      top_k: 50,
      repetition_penalty: 1.05,
      max_tokens: 128,
      seed: 0,
    };
    const ctx: StageRunContext = {
      key: 'bench' as StageKey,
      record: {
        scheme: 1,
        kind: 'mllm.compose',
        impl_version: 1,
        params,
        model: null,
        inputs: {},
        data: null,
      },
      node: {
        kind: 'mllm.compose',
        role: 'query-text',
        params,
        model: null,
        data: null,
        inputs: {},
        items: ITEMS,
        backend: `vllm:${MODEL}`,
        settings: {
          backend: 'vllm',
          model: MODEL,
          endpoint: server.url,
          prompt: 'Describe the target: {text}',
        },
      },
      inputs: { dataset: ds },
      objects: store,
      items: { get: async () => undefined, put: async () => {} },
      done: new Map(),
      itemDone: async () => {
        if (++done % 500 === 0) {
          (globalThis as { gc?: () => void }).gc?.();
          rss.push(rssMb());
          heap.push(Math.round(process.memoryUsage().heapUsed / 1048576));
        }
      },
      itemFailed: (item, f) => {
        throw new Error(`bench item ${item} failed: ${f.message}`);
      },
      signal: new AbortController().signal,
      retry: { retries: 2, backoffMs: () => 100 },
      resources: { threads: WINDOW, gpu: null, gpus: [], http: server.url },
      log: () => {},
    };
    const t1 = performance.now();
    const r = await httpMllmRunner(ctx);
    const tRun = (performance.now() - t1) / 1000;
    if (!r.ok) throw new Error(r.error.message);
    const capacity = (CAPACITY * 1000) / LATENCY_MS;
    const row = (name: string, n: number, s: number): BenchRow => ({
      name,
      requests: n,
      seconds: s,
      'req/s': n / s,
      'of capacity': n / s / capacity,
    });
    printTable(
      `mllm HTTP client: loopback server, ${LATENCY_MS} ms per answer, ${CAPACITY} at once (capacity ${capacity} req/s)`,
      [
        row(`reference: bare fetch, ${WINDOW} in flight, no image`, nRef, tRef),
        row(`mllm.compose runner, window ${WINDOW}, image + journal per item`, ITEMS, tRun),
      ],
      ['requests', 'seconds', 'req/s', 'of capacity'],
    );
    const ratio = ITEMS / tRun / capacity;
    console.log(
      `\nrunner vs reference (bare fetch): ${((ITEMS / tRun / (nRef / tRef)) * 100).toFixed(1)}%; vs capacity: ${(ratio * 100).toFixed(1)}% (target ≥ 95%: ${ratio >= 0.95 ? 'met' : 'NOT met'})`,
    );
    console.log(`RSS every 500 items (MB): ${rss.join(' ')}; peak RSS ${peakRssMb()} MB`);
    if ((globalThis as { gc?: () => void }).gc)
      console.log(`JS heap after a full GC, every 500 items (MB): ${heap.join(' ')}`);
  } finally {
    serverNote = await server.close();
  }
  console.log(`server (own process): ${serverNote}`);
}

async function encoding(dir: string): Promise<void> {
  const n = 120;
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = join(dir, `photo${i}.jpg`);
    await sharp({
      create: {
        width: 1024,
        height: 768,
        channels: 3,
        background: { r: i, g: 120, b: 60 },
        noise: { type: 'gaussian', mean: 128, sigma: 40 },
      },
    })
      .jpeg({ quality: 90 })
      .toFile(f);
    files.push(f);
  }
  const timed = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return (performance.now() - t0) / 1000;
  };
  const tRef = await timed(() =>
    pool(files, 4, async (f) => `data:image/jpeg;base64,${(await readFile(f)).toString('base64')}`),
  );
  const plain = new ImageEncoder();
  const tPlain = await timed(() => pool(files, 4, (f) => plain.dataUri(f)));
  const small = new ImageEncoder({ maxSide: 448 });
  const tSmall = await timed(() => pool(files, 4, (f) => small.dataUri(f)));
  const tCached = await timed(() => pool(files, 4, (f) => small.dataUri(f)));
  const row = (name: string, s: number): BenchRow => ({
    name,
    images: n,
    seconds: s,
    'images/s': n / s,
    'vs reference': s / tRef,
  });
  printTable(
    `image → data URI: ${n} JPEGs of 1024×768, 4 in flight`,
    [
      row('reference: readFile + base64', tRef),
      row('ImageEncoder, as they are', tPlain),
      row('ImageEncoder, downscaled to 448 (sharp)', tSmall),
      row('ImageEncoder, second pass (cache)', tCached),
    ],
    ['images', 'seconds', 'images/s', 'vs reference'],
  );
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pefuse-bench-mllm-'));
  try {
    await throughput(dir);
    await encoding(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
