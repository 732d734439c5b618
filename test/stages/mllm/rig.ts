/**
 * A StageRunContext for the MLLM runner against the loopback server: a dataset manifest with N
 * queries (text `ITEM:<id>`, so the server can tell items apart) over small PNGs, node settings as the
 * pipeline writes them, and the journal kept in memory.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Failure } from '../../../runner/contract/failure.js';
import type { StageNotice } from '../../../runner/contract/run.js';
import type { StageKind } from '../../../runner/contract/stage.js';
import type { ItemRecord } from '../../../runner/store/types.js';
import type { JsonObject } from '../../../runner/util/json.js';
import type { GalleryItem, QueryRecord } from '../../../stages/contracts.js';
import { type FakeCtx, fakeCtx, fsStore, manifest } from '../dummy/harness.js';

export const SAMPLING = { temperature: 0.1, top_p: 0.9, top_k: 50, repetition_penalty: 1.05, max_tokens: 64 };

export async function writePng(path: string, w: number, h: number, seed = 0): Promise<void> {
  await sharp({ create: { width: w, height: h, channels: 3, background: { r: seed % 256, g: 80, b: 160 } } })
    .png()
    .toFile(path);
}

export interface MllmRig extends FakeCtx {
  journal: Map<string, ItemRecord>;
  failed: Map<string, Failure>;
  notices: StageNotice[];
}

export async function mllmRig(
  dir: string,
  opts: {
    n: number;
    kind?: StageKind;
    settings: JsonObject;
    params?: JsonObject;
    imageSide?: number;
    done?: string[];
  },
): Promise<MllmRig> {
  const store = fsStore(join(dir, 'cache'));
  const img = join(dir, 'img');
  mkdirSync(img, { recursive: true });
  const queries: QueryRecord[] = [];
  const gallery: GalleryItem[] = [];
  for (let i = 0; i < opts.n; i++) {
    const path = join(img, `i${i}.png`);
    await writePng(path, opts.imageSide ?? 16, opts.imageSide ?? 12, i);
    queries.push({ id: `q${i}`, reference: { id: `i${i}`, path }, text: `ITEM:q${i}`, targets: [] });
    gallery.push({ id: `g${i}`, path });
  }
  const q = await store.put(JSON.stringify(queries));
  const g = await store.put(JSON.stringify(gallery));
  const ds = manifest('dataset', [], {
    dataset: 'synthetic',
    split: 'val',
    subset: null,
    queries: q,
    gallery: g,
    n_queries: queries.length,
    n_gallery: gallery.length,
    missing_count: 0,
    missing: [],
  } as unknown as JsonObject);
  const kind = opts.kind ?? 'mllm.compose';
  const params: JsonObject = { ...SAMPLING, seed: 3, ...opts.params };
  const base = fakeCtx(store, kind, params, { dataset: ds });
  const journal = new Map<string, ItemRecord>();
  const failed = new Map<string, Failure>();
  const notices: StageNotice[] = [];
  for (const id of opts.done ?? []) journal.set(id, { id, output: { text: 'earlier' }, seconds: 0 });
  return {
    ...base,
    node: {
      ...base.node,
      backend: `${String(opts.settings.backend)}:${String(opts.settings.model)}`,
      settings: { prompt: 'Describe the target. {text}', ...opts.settings },
    },
    done: journal,
    itemDone: async (item) => {
      journal.set(item.id, item);
    },
    itemFailed: (item, f) => {
      failed.set(item, f);
    },
    notify: (n) => notices.push(n),
    retry: { retries: 3, backoffMs: () => 10 },
    resources: { threads: 4, gpu: null, gpus: [], http: null },
    journal,
    failed,
    notices,
  };
}
