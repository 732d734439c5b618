/** In-memory ObjectStore / ItemCache and a StageRunContext builder for runner tests. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Failure, failure } from '../../../runner/contract/failure.js';
import type { StageRunContext } from '../../../runner/contract/run.js';
import type { KeyRecord, StageKey, StageNodeSpec } from '../../../runner/contract/stage.js';
import type {
  ItemCache,
  ItemRecord,
  ObjectRef,
  ObjectStore,
  StageManifest,
} from '../../../runner/store/types.js';
import type { JsonObject, JsonValue } from '../../../runner/util/json.js';
import { err, ok } from '../../../runner/util/result.js';

export class MemoryStore implements ObjectStore {
  readonly root = '/memory';
  readonly blobs = new Map<string, Uint8Array>();
  async put(data: Uint8Array | string): Promise<ObjectRef> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    this.blobs.set(sha256, bytes);
    return { sha256, size: bytes.length };
  }
  async putFile(path: string): Promise<ObjectRef> {
    return this.put(readFileSync(path));
  }
  async read(ref: ObjectRef) {
    const b = this.blobs.get(ref.sha256);
    if (!b) return err(failure('input-missing', `object ${ref.sha256} not found`));
    return ok(b);
  }
  pathOf(sha256: string): string {
    return `/memory/${sha256}`;
  }
  async has(sha256: string): Promise<boolean> {
    return this.blobs.has(sha256);
  }
  async json(ref: JsonValue): Promise<unknown> {
    const r = await this.read(ref as unknown as ObjectRef);
    if (!r.ok) throw new Error(r.error.message);
    return JSON.parse(Buffer.from(r.value).toString('utf8'));
  }
}

export class MemoryItems implements ItemCache {
  readonly map = new Map<string, JsonValue>();
  async get(k: string) {
    return this.map.get(k);
  }
  async put(k: string, v: JsonValue) {
    this.map.set(k, v);
  }
}

export function manifest(items: ItemRecord[], output: JsonValue = null): StageManifest {
  return {
    format: 'pefuse-stage/1',
    key: 'k'.repeat(64) as StageKey,
    record: {} as KeyRecord,
    items,
    output,
    seconds: 0,
    host: 'test',
    device: null,
    peak_mem_mb: null,
    attempts: 1,
    finished_at: '2026-01-01T00:00:00Z',
  };
}

export interface FakeCtx {
  ctx: StageRunContext;
  done: ItemRecord[];
  failed: { item: string; failure: Failure }[];
  logs: string[];
}

export function makeCtx(o: {
  kind: 'embed.text' | 'embed.image';
  params: JsonObject;
  settings?: JsonObject;
  inputs: Record<string, StageManifest>;
  store: MemoryStore;
  items: MemoryItems;
  gpu?: string | null;
  resume?: ItemRecord[];
}): FakeCtx {
  const done: ItemRecord[] = [];
  const failed: { item: string; failure: Failure }[] = [];
  const logs: string[] = [];
  const node: StageNodeSpec = {
    kind: o.kind,
    role: o.kind === 'embed.text' ? 'query-embed' : 'gallery-embed',
    params: o.params,
    model: null,
    data: null,
    inputs: {},
    items: null,
    backend: 'onnx',
    settings: o.settings ?? {},
  };
  const ctx: StageRunContext = {
    key: 'a'.repeat(64) as StageKey,
    record: {} as KeyRecord,
    node,
    inputs: o.inputs,
    objects: o.store,
    items: o.items,
    done: new Map((o.resume ?? []).map((r) => [r.id, r])),
    itemDone: async (r) => {
      done.push(r);
    },
    itemFailed: (item, f) => {
      failed.push({ item, failure: f });
    },
    signal: new AbortController().signal,
    resources: { threads: 1, gpu: o.gpu ?? null },
    log: (l) => {
      logs.push(l);
    },
  };
  return { ctx, done, failed, logs };
}
