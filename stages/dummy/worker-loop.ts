/**
 * The JSON-lines loop shared by the dummy worker programs (runner/exec/protocol.ts): handshake on
 * `configure`, then one `result` or `error` per `item`, in order, until `shutdown` or end of input.
 * stdout carries only protocol lines; diagnostics go to stderr.
 */
import { createInterface } from 'node:readline';
import {
  type FromWorker,
  PROTOCOL_VERSION,
  type ToWorker,
  type WorkerIdentity,
  type WorkerItemErrorReason,
} from '../../runner/exec/protocol.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../runner/util/json.js';

/** What handling one item gives: an output, or an item error the orchestrator records. */
export type ItemAnswer =
  | { ok: true; output: JsonValue }
  | { ok: false; reason: WorkerItemErrorReason; message: string };

/** Handles the items of one configured stage kind. */
export type ItemHandler = (id: string, input: JsonValue) => Promise<ItemAnswer>;

export interface WorkerProgram {
  /** The identity reported in `ready`. */
  identity: WorkerIdentity;
  /** Returns the item handler for a kind + params, or a message when the kind/params are unusable. */
  configure(kind: string, params: JsonObject): ItemHandler | string;
}

function send(msg: FromWorker): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

/** A bad-input answer. */
export function badInput(message: string): ItemAnswer {
  return { ok: false, reason: 'bad-input', message };
}

/** Reads a required string field of an item input. */
export function stringField(input: JsonValue, field: string): string | undefined {
  if (!isJsonObject(input)) return undefined;
  const v = input[field];
  return typeof v === 'string' ? v : undefined;
}

/** Reads the per-item seed (an integer; 0 when absent). */
export function seedField(input: JsonValue): number {
  if (!isJsonObject(input)) return 0;
  const v = input.seed;
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/**
 * Runs the protocol on stdin/stdout until shutdown. A configure error or a protocol violation is written
 * to stderr and the process exits with code 2 (the orchestrator reports `worker-exit` with that stderr).
 */
export function runWorker(program: WorkerProgram): void {
  let handler: ItemHandler | undefined;
  let chain: Promise<void> = Promise.resolve();
  const fatal = (message: string) => {
    process.stderr.write(`${message}\n`);
    process.exit(2);
  };
  // Exit only once queued items are answered and stdout is flushed (pipe writes can be asynchronous).
  const finish = () => {
    chain = chain.then(() => {
      process.stdout.write('', () => process.exit(0));
    });
  };
  const rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  rl.on('line', (line) => {
    if (line.trim() === '') return;
    let msg: ToWorker;
    try {
      msg = JSON.parse(line) as ToWorker;
    } catch {
      fatal(`protocol error: not a JSON line: ${line.slice(0, 200)}`);
      return;
    }
    switch (msg.type) {
      case 'configure': {
        if (msg.protocol !== PROTOCOL_VERSION) {
          fatal(
            `protocol error: this worker speaks protocol ${PROTOCOL_VERSION}, got ${String(msg.protocol)}`,
          );
          return;
        }
        const h = program.configure(msg.kind, isJsonObject(msg.params) ? msg.params : {});
        if (typeof h === 'string') {
          fatal(h);
          return;
        }
        handler = h;
        chain = chain.then(() =>
          send({ type: 'ready', protocol: PROTOCOL_VERSION, identity: program.identity }),
        );
        return;
      }
      case 'item': {
        const { id, input } = msg;
        chain = chain.then(async () => {
          if (handler === undefined) {
            send({ type: 'error', id, reason: 'bad-input', message: 'item received before configure' });
            return;
          }
          const started = performance.now();
          let answer: ItemAnswer;
          try {
            answer = await handler(id, input);
          } catch (e) {
            answer = { ok: false, reason: 'bad-input', message: e instanceof Error ? e.message : String(e) };
          }
          const seconds = (performance.now() - started) / 1000;
          if (answer.ok) send({ type: 'result', id, output: answer.output, seconds });
          else send({ type: 'error', id, reason: answer.reason, message: answer.message });
        });
        return;
      }
      case 'flush':
        // Only batching workers receive it (this loop answers item by item): nothing to do.
        return;
      case 'shutdown':
        finish();
        return;
      default:
        fatal(`protocol error: unknown message type ${JSON.stringify((msg as { type?: unknown }).type)}`);
    }
  });
  // Stdin closed (the orchestrator is gone or done): finish what is queued, then exit.
  rl.on('close', finish);
}
