/**
 * The worker protocol: JSON lines over a worker process's stdin/stdout. stdout is reserved for the
 * protocol; anything a worker wants to log goes to stderr (captured into the stage log).
 *
 *   orchestrator → worker                      worker → orchestrator
 *   {"type":"configure", kind, params, model,  {"type":"ready", identity, batch_size?}  (handshake)
 *    features: ["flush"]}
 *   {"type":"item", id, input}                 {"type":"result", id, output, seconds, peak_mem_mb?}
 *                                              {"type":"error", id, reason, message}
 *                                              {"type":"heartbeat"}               (any time)
 *   {"type":"flush"}                           (only to a worker whose ready said batch_size > 1)
 *   {"type":"shutdown"}                        (exit 0)
 *
 * A worker handles items one at a time, in the order received, and may receive the next item before it
 * answered the previous one (the orchestrator keeps a small window in flight). A worker must exit when
 * its stdin closes (the orchestrator died, even by `kill -9`), so no orphan keeps a GPU busy.
 *
 * Batching (optional, backward compatible): `configure.features` lists what this orchestrator can do
 * (`flush`). A worker that batches answers `ready` with `batch_size: N`; the orchestrator then keeps up
 * to 2·N items in flight and sends `{"type":"flush"}` whenever it has nothing more to send for now
 * (end of the stage's items, retries waiting, a drain). The worker runs a batch when N items are
 * queued, or when a flush (or the end of stdin) follows its queued items, so a partial batch never
 * waits for items that will not come. Workers that say nothing about batches never receive `flush`.
 *
 * An output may name files the worker wrote (`{"file": "/abs/path.png"}` anywhere inside `output`):
 * the orchestrator moves each into the content-addressed store and replaces it by its ObjectRef.
 */
import type { JsonObject, JsonValue } from '../util/json.js';
import { isJsonObject } from '../util/json.js';
import { err, ok, type Result } from '../util/result.js';

export const PROTOCOL_VERSION = 1;

/** What this orchestrator can do beyond protocol 1's core, sent in every `configure`. */
export const ORCHESTRATOR_FEATURES: readonly string[] = ['flush'];

import type { WorkerIdentity } from '../contract/run.js';

export type { WorkerIdentity };

export type ToWorker =
  | {
      type: 'configure';
      protocol: number;
      kind: string;
      params: JsonObject;
      model: JsonValue;
      features?: readonly string[];
    }
  | { type: 'item'; id: string; input: JsonValue }
  /** "Nothing more for now": run the queued items as a (partial) batch. Batching workers only. */
  | { type: 'flush' }
  | { type: 'shutdown' };

/** Item failure reasons a worker may report itself. */
export type WorkerItemErrorReason = 'oom' | 'bad-input' | 'input-missing' | 'bad-output';

export const WORKER_ITEM_ERROR_REASONS: readonly WorkerItemErrorReason[] = [
  'oom',
  'bad-input',
  'input-missing',
  'bad-output',
];

export type FromWorker =
  /** `batch_size`: items the worker runs together (> 1 only after a configure listing `flush`). */
  | { type: 'ready'; protocol: number; identity: WorkerIdentity; batch_size?: number }
  | { type: 'result'; id: string; output: JsonValue; seconds?: number; peak_mem_mb?: number }
  /**
   * An item failed inside the worker; the worker goes on with the next item. `id` may be omitted (a
   * worker that catches an error without knowing the item): it then applies to the oldest item in flight.
   */
  | { type: 'error'; id?: string; reason: WorkerItemErrorReason; message: string }
  | { type: 'heartbeat' };

/** One protocol line, newline included. */
export function encodeToWorker(msg: ToWorker): string {
  return `${JSON.stringify(msg)}\n`;
}

/**
 * Parses and validates one stdout line. An error names what is wrong so the `bad-output` failure can
 * quote it (`stdout line is not JSON`, `"result" without an "id"`, …).
 */
export function parseFromWorker(line: string): Result<FromWorker, string> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return err('stdout line is not JSON (stdout is reserved for protocol lines; log to stderr)');
  }
  if (!isJsonObject(v)) return err('stdout line is not a JSON object');
  switch (v.type) {
    case 'heartbeat':
      return ok({ type: 'heartbeat' });
    case 'result': {
      if (typeof v.id !== 'string') return err('"result" without a string "id"');
      if (!('output' in v)) return err(`"result" for item ${v.id} without an "output"`);
      const msg: FromWorker = { type: 'result', id: v.id, output: v.output as JsonValue };
      if (typeof v.seconds === 'number') msg.seconds = v.seconds;
      if (typeof v.peak_mem_mb === 'number') msg.peak_mem_mb = v.peak_mem_mb;
      return ok(msg);
    }
    case 'error': {
      const reason = v.reason as WorkerItemErrorReason;
      if (!WORKER_ITEM_ERROR_REASONS.includes(reason)) {
        return err(
          `"error" with unknown reason ${JSON.stringify(v.reason)} (allowed: ${WORKER_ITEM_ERROR_REASONS.join(', ')})`,
        );
      }
      const message = typeof v.message === 'string' ? v.message : 'worker reported an error';
      if (v.id !== undefined && typeof v.id !== 'string') return err('"error" with a non-string "id"');
      return ok(
        typeof v.id === 'string'
          ? { type: 'error', id: v.id, reason, message }
          : { type: 'error', reason, message },
      );
    }
    case 'ready': {
      if (typeof v.protocol !== 'number') return err('"ready" without a numeric "protocol"');
      const id = v.identity;
      if (!isJsonObject(id) || typeof id.model !== 'string' || typeof id.backend !== 'string') {
        return err('"ready" without an "identity" {model, backend, versions, device}');
      }
      const versions: Record<string, string> = {};
      if (isJsonObject(id.versions)) {
        for (const [k, val] of Object.entries(id.versions)) versions[k] = String(val);
      }
      const device = typeof id.device === 'string' ? id.device : 'unknown';
      const bs = v.batch_size;
      if (bs !== undefined && bs !== null && !(typeof bs === 'number' && Number.isInteger(bs) && bs >= 1))
        return err('"ready" with a "batch_size" that is not a positive integer');
      const msg: FromWorker = {
        type: 'ready',
        protocol: v.protocol,
        identity: { model: id.model, backend: id.backend, versions, device },
      };
      if (typeof bs === 'number' && bs > 1) msg.batch_size = bs;
      return ok(msg);
    }
    default:
      return err(`unknown message type ${JSON.stringify(v.type ?? null)}`);
  }
}
