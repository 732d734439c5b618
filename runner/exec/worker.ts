/**
 * A client for one long-lived worker process (a loaded model) speaking the JSON-lines protocol in
 * `protocol.ts`. It owns the child process and turns everything that can go wrong with it into
 * `Failure` values:
 *
 *   spawn error (ENOENT, EACCES)        → model-load    (not retryable)
 *   exit / junk / timeout before ready  → model-load / bad-output / worker-timeout
 *   exit while items are in flight      → worker-exit   (exit code or signal, last stderr lines)
 *   no answer within the item timeout   → worker-timeout (worker killed)
 *   silence past the heartbeat timeout  → worker-timeout (worker killed)
 *   a stdout line that is not protocol  → bad-output    (line quoted; worker killed: its state is unknown)
 *   {"type":"error", reason}            → that reason   (worker keeps going)
 *
 * After a fatal failure the client is dead: the item the worker was working on is *blamed* (its
 * attempt counts), the others in flight are *collateral* and are retried for free by the pool.
 *
 * Workers start `detached` (their own process group) so that a terminal Ctrl-C reaches only the
 * orchestrator, which then drains them gracefully; shutdown and kill signal the whole group, so
 * grandchildren (Python DataLoader workers) go too (execa's termination notes).
 */
import type { execa as Execa } from 'execa';
import { type Failure, failure } from '../contract/failure.js';
import type { JsonValue } from '../util/json.js';
import { err, ok, type Result } from '../util/result.js';
import { LineRing, lineSplitter } from './lines.js';
import {
  encodeToWorker,
  ORCHESTRATOR_FEATURES,
  PROTOCOL_VERSION,
  parseFromWorker,
  type WorkerIdentity,
} from './protocol.js';
import type { ItemOutcome, WorkerClientOptions, WorkerCommand } from './worker-types.js';

export type { ItemOutcome, WorkerClientOptions, WorkerCommand, WorkerTimeouts } from './worker-types.js';
export { DEFAULT_TIMEOUTS } from './worker-types.js';

interface Pending {
  id: string;
  resolve: (o: ItemOutcome) => void;
}

const STDERR_TAIL = 20;
const live = new Set<WorkerClient>();

/** Kills every live worker's process group now (forced exit, second Ctrl-C). Synchronous. */
export function killAllWorkers(): void {
  for (const w of live) w.kill();
}

export class WorkerClient {
  readonly #child: ReturnType<typeof spawnWorker>;
  #opts: WorkerClientOptions;
  readonly #stderr = new LineRing(STDERR_TAIL);
  readonly #queue: Pending[] = [];
  #identity: WorkerIdentity | null = null;
  /** Items the worker runs together (its `ready` said so); 1 for workers that do not batch. */
  #batchSize = 1;
  /** An item was sent since the last `flush` (a batching worker may be waiting for more). */
  #unflushed = false;
  #dead: Failure | null = null;
  #closing = false;
  #headSince = 0;
  #lastLine = 0;
  #watchdog: NodeJS.Timeout | null = null;
  #onReady: ((r: Result<WorkerIdentity, Failure>) => void) | null = null;
  #exited: Promise<void>;

  private constructor(cmd: WorkerCommand, opts: WorkerClientOptions, execa: typeof Execa) {
    this.#opts = opts;
    this.#child = spawnWorker(execa, cmd);
    live.add(this);
    const child = this.#child;
    child.stdin?.on('error', () => {}); // EPIPE when the worker died; the exit handler reports it.
    const out = lineSplitter((line) => this.#onLine(line));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (c: string) => out.push(c));
    const errLines = lineSplitter((line) => {
      this.#stderr.push(line);
      this.#opts.onStderr?.(line);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => errLines.push(c));
    this.#exited = new Promise<void>((resolve) => {
      child.on('error', (e: NodeJS.ErrnoException) => {
        live.delete(this);
        if (child.pid === undefined) {
          this.#die(
            failure('model-load', `cannot start worker \`${cmd.file}\`: ${e.code ?? e.message}`, {
              retryable: false,
            }),
            true,
          );
        }
        resolve();
      });
      child.on('exit', (code, signal) => {
        live.delete(this);
        // Let stdout drain (a result written just before exiting still counts), then report.
        let settled = false;
        const finish = () => {
          if (settled) return;
          settled = true;
          out.flush();
          errLines.flush();
          this.#onExit(code, signal);
          resolve();
        };
        if (child.stdout?.readableEnded) finish();
        else {
          child.stdout?.once('end', finish);
          setTimeout(finish, 200).unref();
        }
      });
    });
    child.then(
      () => {},
      () => {},
    );
  }

  /** Spawns the worker, sends `configure` and waits for `ready` (the handshake). */
  static async start(cmd: WorkerCommand, opts: WorkerClientOptions): Promise<Result<WorkerClient, Failure>> {
    // execa loads with the first worker: a run whose stages are all cached never needs it.
    const { execa } = await import('execa');
    const w = new WorkerClient(cmd, opts, execa);
    const r = await w.#configure(opts, false);
    return r.ok ? ok(w) : err(r.error);
  }

  /**
   * Re-uses this live, idle worker for another stage with the same model: sends `configure` again (with
   * that stage's parameters) and waits for `ready`. A worker that cannot (dead, busy, no answer) is killed
   * and the caller starts a fresh one.
   */
  async reconfigure(opts: WorkerClientOptions): Promise<Result<WorkerIdentity, Failure>> {
    if (this.#dead || this.#queue.length > 0 || this.#closing)
      return err(failure('worker-exit', `${opts.label} cannot be reused`, { retryable: true }));
    this.#opts = opts;
    this.#stopWatchdog();
    this.#identity = null;
    return this.#configure(opts, true);
  }

  /**
   * The handshake, for a new worker and for a reused one: send `configure`, wait for `ready` (at most
   * `readyMs`); a worker that fails it is killed. On success the item watchdog starts.
   */
  async #configure(opts: WorkerClientOptions, again: boolean): Promise<Result<WorkerIdentity, Failure>> {
    const ready = new Promise<Result<WorkerIdentity, Failure>>((resolve) => {
      this.#onReady = resolve;
    });
    const timer = setTimeout(() => {
      const what = again ? ' to a new configure' : '';
      this.#die(
        failure(
          'worker-timeout',
          `${opts.label} sent no "ready"${what} within ${fmtMs(opts.timeouts.readyMs)}`,
          again ? {} : { detail: this.#stderrTail() },
        ),
        true,
      );
    }, opts.timeouts.readyMs);
    this.#batchSize = 1;
    this.#write(
      encodeToWorker({
        type: 'configure',
        protocol: PROTOCOL_VERSION,
        ...opts.configure,
        features: ORCHESTRATOR_FEATURES,
      }),
    );
    const r = await ready;
    clearTimeout(timer);
    if (!r.ok) {
      this.kill();
      return r;
    }
    this.#startWatchdog();
    return r;
  }

  get identity(): WorkerIdentity {
    if (!this.#identity) throw new Error('WorkerClient.identity read before ready');
    return this.#identity;
  }
  get pid(): number | undefined {
    return this.#child.pid;
  }
  get inFlight(): number {
    return this.#queue.length;
  }
  /** Items the worker runs together (1 unless its `ready` announced a larger `batch_size`). */
  get batchSize(): number {
    return this.#batchSize;
  }
  /** The failure that killed this worker, or null while it is usable. */
  get dead(): Failure | null {
    return this.#dead;
  }

  /** Sends one item; resolves with its result or failure (never rejects). */
  send(id: string, input: JsonValue): Promise<ItemOutcome> {
    if (this.#dead) {
      return Promise.resolve({ ok: false, id, failure: { ...this.#dead, item: id }, blamed: false });
    }
    return new Promise<ItemOutcome>((resolve) => {
      if (this.#queue.length === 0) this.#headSince = performance.now();
      this.#queue.push({ id, resolve });
      this.#unflushed = true;
      this.#write(encodeToWorker({ type: 'item', id, input }));
    });
  }

  /**
   * Tells a batching worker that nothing more is coming for now, so it runs what it holds as a
   * (partial) batch. Sent only to workers with `batchSize > 1`, and only after new items.
   */
  flush(): void {
    if (this.#dead || this.#batchSize <= 1 || !this.#unflushed) return;
    this.#unflushed = false;
    this.#write(encodeToWorker({ type: 'flush' }));
  }

  /** Graceful stop: `shutdown`, close stdin, wait; then SIGTERM and finally SIGKILL the group. */
  async shutdown(graceMs = 5_000): Promise<void> {
    if (this.#closing) return this.#exited;
    this.#closing = true;
    this.#stopWatchdog();
    if (this.#child.exitCode === null && this.#child.signalCode === null && this.#child.pid !== undefined) {
      this.#write(encodeToWorker({ type: 'shutdown' }));
      this.#child.stdin?.end();
      const t1 = setTimeout(() => this.#signalGroup('SIGTERM'), graceMs);
      const t2 = setTimeout(() => this.#signalGroup('SIGKILL'), graceMs + 2_000);
      await this.#exited;
      clearTimeout(t1);
      clearTimeout(t2);
    }
    this.#die(failure('cancelled', `${this.#opts.label} was shut down`), false);
  }

  /** Kills the worker's process group now. In-flight items fail as `cancelled`. */
  kill(): void {
    this.#closing = true;
    this.#signalGroup('SIGKILL');
    this.#die(failure('cancelled', `${this.#opts.label} was killed`), false);
  }

  #signalGroup(sig: NodeJS.Signals): void {
    const pid = this.#child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // Already gone.
    }
  }

  #write(line: string): void {
    const stdin = this.#child.stdin;
    if (stdin && !stdin.destroyed && stdin.writable) stdin.write(line);
  }

  #onLine(line: string): void {
    if (this.#dead) return;
    this.#lastLine = performance.now();
    if (line.trim() === '') return;
    const parsed = parseFromWorker(line);
    if (!parsed.ok) {
      this.#badOutput(`${parsed.error}: ${quote(line)}`);
      return;
    }
    const msg = parsed.value;
    switch (msg.type) {
      case 'heartbeat':
        return;
      case 'ready': {
        if (this.#identity) {
          this.#badOutput(`a second "ready" line: ${quote(line)}`);
          return;
        }
        if (msg.protocol !== PROTOCOL_VERSION) {
          this.#die(
            failure(
              'model-load',
              `${this.#opts.label} speaks protocol ${msg.protocol}, pefuse speaks ${PROTOCOL_VERSION}`,
              { retryable: false },
            ),
            true,
          );
          return;
        }
        this.#identity = msg.identity;
        this.#batchSize = msg.batch_size ?? 1;
        this.#onReady?.(ok(msg.identity));
        this.#onReady = null;
        return;
      }
      case 'result':
      case 'error': {
        if (!this.#identity) {
          this.#badOutput(`"${msg.type}" before "ready": ${quote(line)}`);
          return;
        }
        const id = msg.id ?? this.#queue[0]?.id;
        const idx = id === undefined ? -1 : this.#queue.findIndex((p) => p.id === id);
        if (idx === -1) {
          this.#badOutput(`"${msg.type}" for an item not in flight: ${quote(line)}`);
          return;
        }
        const [p] = this.#queue.splice(idx, 1) as [Pending];
        const now = performance.now();
        const measured = (now - this.#headSince) / 1000;
        if (idx === 0) this.#headSince = now;
        if (msg.type === 'result') {
          const o: ItemOutcome = { ok: true, id: p.id, output: msg.output, seconds: msg.seconds ?? measured };
          if (msg.peak_mem_mb !== undefined) o.peak_mem_mb = msg.peak_mem_mb;
          p.resolve(o);
        } else {
          p.resolve({
            ok: false,
            id: p.id,
            failure: failure(msg.reason, msg.message, { item: p.id }),
            blamed: true,
          });
        }
        return;
      }
    }
  }

  #badOutput(message: string): void {
    this.#die(failure('bad-output', `${this.#opts.label}: ${message}`), true);
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#dead) return;
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    if (!this.#identity) {
      this.#die(
        failure('model-load', `${this.#opts.label} ${how} before it was ready`, {
          detail: this.#stderrTail(),
        }),
        true,
      );
      return;
    }
    const busy = this.#queue[0] ? ` while working on item ${this.#queue[0].id}` : '';
    this.#die(
      failure('worker-exit', `${this.#opts.label} ${how}${busy}`, { detail: this.#stderrTail() }),
      true,
    );
  }

  /** Marks the worker dead, kills it, and fails everything in flight (the head item is blamed). */
  #die(f: Failure, blameHead: boolean): void {
    if (this.#dead) return;
    this.#dead = f;
    this.#stopWatchdog();
    // Also after a clean exit: takes grandchildren the worker left behind.
    this.#signalGroup('SIGKILL');
    if (this.#onReady) {
      this.#onReady(err(f));
      this.#onReady = null;
    }
    const pending = this.#queue.splice(0);
    pending.forEach((p, i) => {
      const blamed = blameHead && i === 0 && f.reason !== 'cancelled';
      p.resolve({ ok: false, id: p.id, failure: { ...f, item: p.id }, blamed });
    });
  }

  #startWatchdog(): void {
    const { itemMs, heartbeatMs } = this.#opts.timeouts;
    const shortest = Math.min(itemMs, heartbeatMs > 0 ? heartbeatMs : Number.POSITIVE_INFINITY);
    const period = Math.max(5, Math.min(1_000, shortest / 4));
    this.#lastLine = performance.now();
    this.#watchdog = setInterval(() => {
      const head = this.#queue[0];
      if (!head || this.#dead) return;
      const now = performance.now();
      if (now - this.#headSince > itemMs) {
        this.#die(
          failure(
            'worker-timeout',
            `${this.#opts.label}: item ${head.id} took longer than ${fmtMs(itemMs)}`,
            {
              detail: this.#stderrTail(),
            },
          ),
          true,
        );
      } else if (heartbeatMs > 0 && now - this.#lastLine > heartbeatMs) {
        this.#die(
          failure(
            'worker-timeout',
            `${this.#opts.label}: no heartbeat for ${fmtMs(heartbeatMs)} while busy`,
            {
              detail: this.#stderrTail(),
            },
          ),
          true,
        );
      }
    }, period);
    this.#watchdog.unref();
  }

  #stopWatchdog(): void {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
  }

  #stderrTail(): string {
    const lines = this.#stderr.lines;
    return lines.length > 0 ? `last stderr lines:\n${lines.join('\n')}` : '(no stderr output)';
  }
}

function spawnWorker(execa: typeof Execa, cmd: WorkerCommand) {
  return execa(cmd.file, cmd.args, {
    detached: true,
    buffer: false,
    reject: false,
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    env: cmd.env ?? {},
    cwd: cmd.cwd ?? process.cwd(),
  });
}

function quote(line: string): string {
  const s = line.length > 200 ? `${line.slice(0, 200)}…` : line;
  return JSON.stringify(s);
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}
