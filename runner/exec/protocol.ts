/**
 * The worker protocol: JSON lines over a worker process's stdin/stdout. stdout is reserved for the
 * protocol; anything a worker wants to log goes to stderr (captured into the stage log).
 *
 *   orchestrator → worker                      worker → orchestrator
 *   {"type":"configure", kind, params, model}  {"type":"ready", identity}          (handshake)
 *   {"type":"item", id, input}                 {"type":"result", id, output, seconds, peak_mem_mb?}
 *                                              {"type":"error", id, reason, message}
 *                                              {"type":"heartbeat"}               (any time)
 *   {"type":"shutdown"}                        (exit 0)
 *
 * A worker handles items one at a time, in the order received, and may receive the next item before it
 * answered the previous one (the orchestrator keeps a small window in flight).
 */
import type { JsonObject, JsonValue } from '../util/json.js';

export const PROTOCOL_VERSION = 1;

export interface WorkerIdentity {
  /** Model id as loaded (or as reported by the server), e.g. `Qwen/Qwen2.5-VL-7B-Instruct`. */
  model: string;
  /** Backend name, e.g. `transformers`, `diffusers`, `onnxruntime`, `dummy`. */
  backend: string;
  /** Library versions that can change outputs. */
  versions: Record<string, string>;
  /** `cuda:0`, `cpu`, … */
  device: string;
}

export type ToWorker =
  | { type: 'configure'; protocol: number; kind: string; params: JsonObject; model: JsonValue }
  | { type: 'item'; id: string; input: JsonValue }
  | { type: 'shutdown' };

/** Item failure reasons a worker may report itself. */
export type WorkerItemErrorReason = 'oom' | 'bad-input' | 'input-missing' | 'bad-output';

export type FromWorker =
  | { type: 'ready'; protocol: number; identity: WorkerIdentity }
  | { type: 'result'; id: string; output: JsonValue; seconds?: number; peak_mem_mb?: number }
  | { type: 'error'; id: string; reason: WorkerItemErrorReason; message: string }
  | { type: 'heartbeat' };
