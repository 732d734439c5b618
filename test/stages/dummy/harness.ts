/**
 * A library-level stand-in for the executor, for testing the dummy backends without the engine: a
 * file-backed object store, a StageRunContext builder, manifests, a protocol driver for worker
 * programs, and a cosine top-K ranking with Recall@K.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { failure } from '../../../runner/contract/failure.js';
import type { StageRunContext } from '../../../runner/contract/run.js';
import type { KeyRecord, StageKey, StageKind, StageNodeSpec } from '../../../runner/contract/stage.js';
import type { FromWorker, ToWorker } from '../../../runner/exec/protocol.js';
import { ingestFiles } from '../../../runner/exec/worker-stage.js';
import type { ItemRecord, ObjectRef, ObjectStore, StageManifest } from '../../../runner/store/types.js';
import { type JsonObject, type JsonValue, sha256Hex } from '../../../runner/util/json.js';
import { parseNpy } from '../../../runner/util/npy.js';
import { err, ok } from '../../../runner/util/result.js';

export function fsStore(root: string): ObjectStore {
  const pathOf = (sha: string) => join(root, 'objects', sha.slice(0, 2), sha);
  return {
    root,
    pathOf,
    async put(data) {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      const sha256 = sha256Hex(bytes);
      const p = pathOf(sha256);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, bytes);
      return { sha256, size: bytes.byteLength };
    },
    async putFile(path) {
      const bytes = readFileSync(path);
      const sha256 = sha256Hex(bytes);
      const p = pathOf(sha256);
      mkdirSync(dirname(p), { recursive: true });
      renameSync(path, p);
      return { sha256, size: bytes.byteLength };
    },
    async read(ref) {
      try {
        return ok(new Uint8Array(readFileSync(pathOf(ref.sha256))));
      } catch {
        return err(failure('input-missing', `object ${ref.sha256} missing`));
      }
    },
    async has(sha) {
      try {
        readFileSync(pathOf(sha));
        return true;
      } catch {
        return false;
      }
    },
  };
}

export interface FakeCtx extends StageRunContext {
  failures: Array<{ item: string; message: string }>;
  lines: string[];
}

export function fakeCtx(
  store: ObjectStore,
  kind: StageKind,
  params: JsonObject,
  inputs: Record<string, StageManifest> = {},
): FakeCtx {
  const node: StageNodeSpec = {
    kind,
    role: kind,
    params,
    model: null,
    data: null,
    inputs: {},
    items: null,
    backend: 'dummy',
    settings: {},
  };
  const failures: FakeCtx['failures'] = [];
  const lines: string[] = [];
  return {
    key: sha256Hex(kind + JSON.stringify(params)) as StageKey,
    record: recordOf(kind, params),
    node,
    inputs,
    objects: store,
    items: { get: async () => undefined, put: async () => {} },
    done: new Map(),
    itemDone: async () => {},
    itemFailed: (item, f) => failures.push({ item, message: f.message }),
    signal: new AbortController().signal,
    kill: new AbortController().signal,
    attempt: 1,
    retry: { retries: 0, backoffMs: () => 0 },
    resources: { threads: 2, gpu: null, gpus: [], http: null },
    notify: () => {},
    log: (line) => lines.push(line),
    failures,
    lines,
  };
}

function recordOf(kind: StageKind, params: JsonObject): KeyRecord {
  return { scheme: 1, kind, impl_version: 1, params, model: null, inputs: {}, data: null };
}

export function manifest(kind: StageKind, items: ItemRecord[], output: JsonValue): StageManifest {
  return {
    format: 'pefuse-stage/1',
    key: sha256Hex(kind + JSON.stringify(output)) as StageKey,
    record: recordOf(kind, {}),
    items,
    output,
    seconds: 0,
    host: 'test',
    device: 'cpu',
    peak_mem_mb: null,
    attempts: 1,
    finished_at: new Date(0).toISOString(),
  };
}

/** Drives a worker program over the protocol; returns every message it sent (ready first). */
export async function driveWorker(
  script: string,
  kind: string,
  params: JsonObject,
  items: Array<{ id: string; input: JsonValue }>,
  opts: { protocol?: number } = {},
): Promise<{ messages: FromWorker[]; exitCode: number | null; stderr: string }> {
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
  const messages: FromWorker[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const rl = createInterface({ input: child.stdout });
  rl.on('line', (l) => messages.push(JSON.parse(l) as FromWorker));
  const send = (m: ToWorker) => child.stdin.write(`${JSON.stringify(m)}\n`);
  send({ type: 'configure', protocol: opts.protocol ?? 1, kind, params, model: null });
  for (const it of items) send({ type: 'item', id: it.id, input: it.input });
  send({ type: 'shutdown' });
  child.stdin.end();
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { messages, exitCode, stderr };
}

/** Item records from a worker's results, files ingested as the worker-backed runner does. */
export async function resultsToItems(store: ObjectStore, messages: FromWorker[]): Promise<ItemRecord[]> {
  const out: ItemRecord[] = [];
  for (const m of messages) {
    if (m.type !== 'result') continue;
    const output = await ingestFiles(m.output, store);
    if (!output.ok) throw new Error(output.error.message);
    out.push({ id: m.id, output: output.value, seconds: m.seconds ?? 0 });
  }
  return out;
}

export interface Matrix {
  ids: string[];
  rows: Float32Array[];
  dim: number;
}

/** Reads an EmbedOutput back into rows. */
export async function readEmbedding(store: ObjectStore, output: JsonValue): Promise<Matrix> {
  const o = output as unknown as { matrix: ObjectRef; ids: ObjectRef; dim: number };
  const m = await store.read(o.matrix);
  const ids = await store.read(o.ids);
  if (!m.ok || !ids.ok) throw new Error('embedding objects missing');
  const arr = parseNpy(m.value);
  if (!arr.ok) throw new Error(arr.error);
  const [n, dim] = arr.value.shape as [number, number];
  const data = arr.value.data as Float32Array;
  const rows = Array.from({ length: n }, (_, i) => data.subarray(i * dim, (i + 1) * dim));
  return { ids: JSON.parse(Buffer.from(ids.value).toString('utf8')) as string[], rows, dim };
}

/** Recall@K (percent) of a cosine ranking, excluding each query's reference image from its gallery. */
export function recallAtK(
  queries: Matrix,
  gallery: Matrix,
  truth: Map<string, { target: string; reference: string }>,
  k: number,
): number {
  let hits = 0;
  let n = 0;
  for (const [qi, qid] of queries.ids.entries()) {
    const t = truth.get(qid);
    if (t === undefined) continue;
    n++;
    const q = queries.rows[qi]!;
    const scored = gallery.ids
      .map((gid, gi) => {
        let s = 0;
        const g = gallery.rows[gi]!;
        for (let d = 0; d < q.length; d++) s += q[d]! * g[d]!;
        return { gid, s };
      })
      .filter((x) => x.gid !== t.reference)
      .sort((a, b) => b.s - a.s || (a.gid < b.gid ? -1 : 1));
    if (scored.slice(0, k).some((x) => x.gid === t.target)) hits++;
  }
  return n === 0 ? 0 : (100 * hits) / n;
}
