import { describe, expect, it } from 'vitest';
import type { StageRunContext } from '../../../runner/contract/run.js';
import type { KeyRecord, StageKey, StageNodeSpec } from '../../../runner/contract/stage.js';
import type { ItemRecord, ObjectRef, ObjectStore, StageManifest } from '../../../runner/store/types.js';
import { type JsonObject, type JsonValue, sha256Hex } from '../../../runner/util/json.js';
import { encodeNpy, parseNpy } from '../../../runner/util/npy.js';
import { err, ok } from '../../../runner/util/result.js';
import type { DatasetName, QueryRecord } from '../../../stages/contracts.js';
import { runScore } from '../../../stages/score/runner.js';

/** An in-memory ObjectStore: put/read by sha256, read verifies presence. */
class MemoryStore implements ObjectStore {
  readonly root = '/memory';
  readonly blobs = new Map<string, Uint8Array>();
  async put(data: Uint8Array | string): Promise<ObjectRef> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data.slice();
    const sha256 = sha256Hex(bytes);
    this.blobs.set(sha256, bytes);
    return { sha256, size: bytes.byteLength };
  }
  async putFile(): Promise<ObjectRef> {
    throw new Error('not used');
  }
  async read(ref: ObjectRef) {
    const b = this.blobs.get(ref.sha256);
    return b
      ? ok(b)
      : err({ reason: 'input-missing' as const, message: `object ${ref.sha256} missing`, retryable: false });
  }
  pathOf(sha256: string): string {
    return `/memory/${sha256}`;
  }
  async has(sha256: string): Promise<boolean> {
    return this.blobs.has(sha256);
  }
}

const manifest = (output: JsonValue): StageManifest => ({
  format: 'pefuse-stage/1',
  key: 'k' as StageKey,
  record: {} as KeyRecord,
  items: [],
  output,
  seconds: 0,
  host: 'test',
  device: null,
  peak_mem_mb: null,
  attempts: 1,
  finished_at: '2026-01-01T00:00:00Z',
});

const refJson = (r: ObjectRef): JsonObject => ({ sha256: r.sha256, size: r.size });

async function setup(opts: {
  dataset: DatasetName;
  queries: QueryRecord[];
  queryIds: string[];
  queryRows: number[][];
  galleryIds: string[];
  galleryRows: number[][];
  params?: JsonObject;
}) {
  const store = new MemoryStore();
  const embed = async (ids: string[], rows: number[][], dim = rows[0]!.length) => ({
    matrix: refJson(
      await store.put(
        encodeNpy({ dtype: '<f4', shape: [rows.length, dim], data: Float32Array.from(rows.flat()) }),
      ),
    ),
    ids: refJson(await store.put(JSON.stringify(ids))),
    n: ids.length,
    dim,
  });
  const ds = {
    dataset: opts.dataset,
    split: 'val',
    subset: null,
    queries: refJson(await store.put(JSON.stringify(opts.queries))),
    gallery: refJson(await store.put('[]')),
    n_queries: opts.queries.length,
    n_gallery: opts.galleryIds.length,
    missing_count: 0,
    missing: [],
  };
  const logs: string[] = [];
  const params = opts.params ?? { k: 2 };
  const ctx: StageRunContext = {
    key: 'score-key' as StageKey,
    record: { scheme: 1, kind: 'score', impl_version: 1, params, model: null, inputs: {}, data: null },
    node: {
      kind: 'score',
      role: 'score',
      params,
      model: null,
      data: null,
      inputs: {},
      items: null,
      backend: 'onnxruntime',
    } as StageNodeSpec,
    inputs: {
      dataset: manifest(ds),
      queries: manifest(await embed(opts.queryIds, opts.queryRows)),
      gallery: manifest(await embed(opts.galleryIds, opts.galleryRows)),
    },
    objects: store,
    items: { get: async () => undefined, put: async () => {} },
    done: new Map(),
    itemDone: async () => {},
    itemFailed: () => {},
    signal: new AbortController().signal,
    kill: new AbortController().signal,
    attempt: 1,
    retry: { retries: 0, backoffMs: () => 0 },
    resources: { threads: 2, gpu: null, gpus: [], http: null },
    log: (l) => logs.push(l),
    notify: () => {},
  };
  return { ctx, store, logs };
}

async function readBack(store: MemoryStore, output: JsonValue) {
  const o = output as Record<string, JsonObject | number>;
  const get = (name: string) => store.blobs.get((o[name] as JsonObject).sha256 as string)!;
  const json = (name: string) => JSON.parse(new TextDecoder().decode(get(name)));
  const npy = (name: string) => {
    const r = parseNpy(get(name));
    if (!r.ok) throw new Error(r.error);
    return { shape: r.value.shape, data: Array.from(r.value.data as Int32Array | Float32Array) };
  };
  return {
    k: o.k,
    queryIds: json('query_ids'),
    galleryIds: json('gallery_ids'),
    indices: npy('indices'),
    scores: npy('scores'),
    subsetOrder: o.subset_order ? json('subset_order') : undefined,
  };
}

const q = (id: string, ref: string, gallery?: string[]): QueryRecord => ({
  id,
  reference: { id: ref, path: `/img/${ref}.png` },
  text: 't',
  targets: [],
  ...(gallery ? { gallery } : {}),
});

// Gallery g0=(1,0) g1=(0.8,0.6) g2=(0,1) g3=(0.6,0.8)
const galleryIds = ['g0', 'g1', 'g2', 'g3'];
const galleryRows = [
  [1, 0],
  [0.8, 0.6],
  [0, 1],
  [0.6, 0.8],
];

describe('score stage runner', () => {
  it('CIRR: scores in dataset query order, excludes the reference, publishes ScoreOutput', async () => {
    const { ctx, store, logs } = await setup({
      dataset: 'cirr',
      queries: [{ ...q('p1', 'g0'), subset: ['g0', 'g2', 'g3', 'g1'] }, q('p2', 'g2'), q('p3', 'g1')],
      // Embedding order differs from dataset order; p3 has no embedding (an upstream failure).
      queryIds: ['p2', 'p1'],
      queryRows: [
        [0, 1],
        [1, 0],
      ],
      galleryIds,
      galleryRows,
    });
    const r = await runScore(ctx);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.device).toBe('cpu');
    const out = await readBack(store, r.value.output);
    expect(out.k).toBe(2);
    expect(out.queryIds).toEqual(['p1', 'p2']);
    expect(out.galleryIds).toEqual(galleryIds);
    // p1=(1,0), reference g0 removed: g1 (0.8), g3 (0.6). p2=(0,1), reference g2 removed: g3, g1.
    expect(out.indices).toEqual({ shape: [2, 2], data: [1, 3, 3, 1] });
    expect(out.scores.data).toEqual([0.8, 0.6, 0.8, 0.6].map(Math.fround));
    expect(logs).toContain('score: 1 of 3 queries have no embedding and are skipped');
    // Recall_subset order over the whole ranking: g2 (score 0) is below the top-2 but still ordered.
    expect(out.subsetOrder).toEqual({ p1: ['g1', 'g3', 'g2'] });
  });

  it('CIRCO keeps the reference (it may rank first)', async () => {
    const { ctx, store } = await setup({
      dataset: 'circo',
      queries: [q('7', 'g0')],
      queryIds: ['7'],
      queryRows: [[1, 0]],
      galleryIds,
      galleryRows,
      params: { k: 50 },
    });
    const r = await runScore(ctx);
    if (!r.ok) throw new Error(r.error.message);
    const out = await readBack(store, r.value.output);
    expect(out.k).toBe(4);
    expect(out.indices.data).toEqual([0, 1, 3, 2]);
    expect(out.subsetOrder).toBeUndefined();
  });

  it('GeneCIS: indices point into each query own gallery', async () => {
    const { ctx, store } = await setup({
      dataset: 'genecis',
      queries: [q('0', 'x', ['g2', 'g0', 'g3']), q('1', 'x', ['g1', 'missing'])],
      queryIds: ['0', '1'],
      queryRows: [
        [1, 0],
        [1, 0],
      ],
      galleryIds,
      galleryRows,
    });
    const r = await runScore(ctx);
    if (!r.ok) throw new Error(r.error.message);
    const out = await readBack(store, r.value.output);
    expect(out.queryIds).toEqual(['0']);
    expect(out.galleryIds).toEqual([['g2', 'g0', 'g3']]);
    expect(out.indices.data).toEqual([1, 2]);
  });

  it('reports NaN embeddings as a bad-input failure naming the gallery image', async () => {
    const { ctx } = await setup({
      dataset: 'fashioniq',
      queries: [q('0', 'g0')],
      queryIds: ['0'],
      queryRows: [[1, 0]],
      galleryIds,
      galleryRows: [
        [1, 0],
        [0, 1],
        [Number.NaN, 0],
        [0, 1],
      ],
    });
    expect(await runScore(ctx)).toEqual({
      ok: false,
      error: {
        reason: 'bad-input',
        message: 'score: gallery image g2: gallery row 2 contains NaN; embeddings must be finite',
        item: 'g2',
        retryable: false,
      },
    });
  });

  it('rejects a bad k and mismatched dimensions with clear messages', async () => {
    const bad = await setup({
      dataset: 'circo',
      queries: [q('0', 'g0')],
      queryIds: ['0'],
      queryRows: [[1, 0]],
      galleryIds,
      galleryRows,
      params: { k: 0 },
    });
    const r = await runScore(bad.ctx);
    expect(r.ok ? '' : r.error.message).toBe('score: parameter k must be a positive integer, got 0');
    const dims = await setup({
      dataset: 'circo',
      queries: [q('0', 'g0')],
      queryIds: ['0'],
      queryRows: [[1, 0, 0]],
      galleryIds,
      galleryRows,
    });
    const r2 = await runScore(dims.ctx);
    expect(r2.ok ? '' : r2.error.message).toBe(
      'score: query embeddings have 3 dimensions but gallery embeddings 2; use the same embedding model for both',
    );
  });
  it('in shards: each journals its chunks of queries; the output built from them is the whole run, byte for byte', async () => {
    // 1100 CIRR queries against 300 images: three GEMM batches of queries, so three chunks.
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31 - 0.5;
    };
    const gIds = Array.from({ length: 300 }, (_, i) => `g${i}`);
    const qIds = Array.from({ length: 1100 }, (_, i) => `q${i}`);
    const { ctx, store } = await setup({
      dataset: 'cirr',
      queries: qIds.map((id, i) => q(id, `g${i % 300}`)),
      queryIds: qIds,
      queryRows: qIds.map(() => Array.from({ length: 8 }, rnd)),
      galleryIds: gIds,
      galleryRows: gIds.map(() => Array.from({ length: 8 }, rnd)),
      params: { k: 5 },
    });
    const whole = await runScore(ctx);
    expect(whole.ok).toBe(true);
    const journaled = new Map<string, ItemRecord>();
    for (let shard = 0; shard < 2; shard++) {
      const r = await runScore({
        ...ctx,
        part: { shard, of: 2 },
        itemDone: async (item) => {
          journaled.set(item.id, item);
        },
      });
      expect(r).toEqual({ ok: true, value: { output: null } });
    }
    expect([...journaled.keys()].sort()).toEqual([
      '#pefuse-chunk/000000',
      '#pefuse-chunk/000001',
      '#pefuse-chunk/000002',
    ]);
    const blobs = store.blobs.size;
    const built = await runScore({ ...ctx, done: journaled });
    expect(built.ok && whole.ok && built.value.output).toEqual(whole.ok && whole.value.output);
    // Nothing new was stored: the same objects as the whole run.
    expect(store.blobs.size).toBe(blobs);
  });
});
