/**
 * The MLLM servers pefuse starts (`mllm.server`): one run-scoped group per server configuration, shared
 * by every stage of that model (fig2's 48 compose stages: one start per GPU, not 48).
 *
 *   first stage asks ─▶ GPUs from the scheduler (at least gpus_per_server; as many as free, ≤ max_servers)
 *     ─▶ one server per GPU (or per group of gpus_per_server), CUDA_VISIBLE_DEVICES set, a free port each,
 *        log appended to <cache>/services/mllm/<model>-gpu<ids>.log, pid file (service-process.ts)
 *     ─▶ GET /v1/models until it lists the model (startup_timeout_s); an exit or a timeout fails the
 *        group with the log's last lines, and stops the servers already up
 *   requests ─▶ the live server with the fewest in flight
 *   a server dies ─▶ restarted on its GPUs (max_restarts); the requests it had are retried, not counted
 *   the last stage of the group settles, the run ends, Ctrl-C ─▶ SIGTERM, then SIGKILL; GPUs released
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Failure, failure } from '../../runner/contract/failure.js';
import type { StageRunContext } from '../../runner/contract/run.js';
import type { StageKey } from '../../runner/contract/stage.js';
import type { ServiceProcess } from '../../runner/exec/service-process.js';
import type { GpuLease, RunService, ServiceHost } from '../../runner/exec/services.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import { MLLM_SERVER_DEFAULTS } from '../defaults.js';
import type { MllmClient } from './client.js';
import { displayCommand, type ServerConfig } from './server-config.js';
import { launchServer, logTail } from './server-launch.js';

/** A request's hold on one server. */
export interface ServerLease {
  client: MllmClient;
  release(): void;
  /** After a failed request: did its server die under it (then the request is retried for free)? */
  died(): Promise<boolean>;
}

interface Server {
  index: number;
  gpus: string[];
  label: string;
  logFile: string;
  proc: ServiceProcess | null;
  client: MllmClient | null;
  up: boolean;
  inFlight: number;
  /** Bumped on every exit: a lease taken on an earlier incarnation knows its server died. */
  incarnation: number;
  restarts: number;
  starting: Promise<void> | null;
  gaveUp: Failure | null;
}

export class MllmServerGroup implements RunService {
  readonly id: string;
  readonly #cfg: ServerConfig;
  readonly #host: ServiceHost;
  readonly #apiKey: string | undefined;
  readonly #timeoutMs: number;
  readonly #remaining: Set<StageKey>;
  readonly #attached: StageRunContext[] = [];
  #servers: Server[] = [];
  #lease: GpuLease | null = null;
  #starting: Promise<Result<void, Failure>> | null = null;
  #up = false;
  #failure: Failure | null = null;
  #version: string | null = null;
  #stopping: Promise<void> | null = null;
  #wake: Array<() => void> = [];
  #rr = 0;
  readonly #warned = new Set<string>();
  /** Aborted when the group stops or the run drains: start-ups (and restarts) in progress give up. */
  #epoch = new AbortController();
  /** Server processes started (first starts and restarts): for tests and the log. */
  starts = 0;

  constructor(
    id: string,
    cfg: ServerConfig,
    host: ServiceHost,
    client: { apiKey: string | undefined; timeoutMs: number },
  ) {
    this.id = id;
    this.#cfg = cfg;
    this.#host = host;
    this.#apiKey = client.apiKey;
    this.#timeoutMs = client.timeoutMs;
    this.#remaining = new Set(
      host.stages.filter((s) => s.status === 'run' && s.node.settings.server === id).map((s) => s.key),
    );
  }

  get command(): string {
    return displayCommand(this.#cfg);
  }

  get version(): string | null {
    return this.#version;
  }

  /** `server:gpu0,gpu1` (one entry per server; `gpu0+1` for a tensor-parallel pair) for the manifest's device. */
  get device(): string {
    return `server:${this.#servers.map((s) => (s.gpus.length > 0 ? `gpu${s.gpus.join('+')}` : 'default-device')).join(',')}`;
  }

  /** Servers in the group now. */
  get size(): number {
    return this.#servers.length;
  }

  /** A warning for the whole run, given once per group and topic. */
  warnOnce(topic: string, message: string): void {
    if (this.#warned.has(topic)) return;
    this.#warned.add(topic);
    this.#host.warn(message);
  }

  /** A running stage: it receives the group's log lines and notices until the returned function is called. */
  attach(ctx: StageRunContext): () => void {
    this.#attached.push(ctx);
    return () => {
      const i = this.#attached.indexOf(ctx);
      if (i >= 0) this.#attached.splice(i, 1);
    };
  }

  /** Starts the servers unless they are up; a failed start is final for the run. */
  async ensure(): Promise<Result<void, Failure>> {
    if (this.#failure) return err(this.#failure);
    if (this.#stopping) await this.#stopping;
    if (this.#up) return ok(undefined);
    this.#starting ??= this.#startAll().finally(() => {
      this.#starting = null;
    });
    return this.#starting;
  }

  /** The live server with the fewest requests in flight; waits while servers are (re)starting. */
  async lease(signal: AbortSignal): Promise<Result<ServerLease, Failure>> {
    for (;;) {
      if (signal.aborted) return err(failure('cancelled', 'stopped'));
      const live = this.#servers.filter((s) => s.up && s.client);
      if (live.length > 0) {
        const min = Math.min(...live.map((s) => s.inFlight));
        const least = live.filter((s) => s.inFlight === min);
        const s = least[this.#rr++ % least.length] as Server;
        s.inFlight++;
        const incarnation = s.incarnation;
        let released = false;
        return ok({
          client: s.client as MllmClient,
          release: () => {
            if (!released) s.inFlight--;
            released = true;
          },
          died: () => this.#died(s, incarnation),
        });
      }
      if (!this.#servers.some((s) => s.starting) && !this.#starting) {
        const gave = this.#servers.find((s) => s.gaveUp)?.gaveUp;
        return err(
          this.#failure ??
            gave ??
            failure('http-unreachable', `no ${this.#cfg.backend} server of ${this.#cfg.model} is running`, {
              retryable: false,
            }),
        );
      }
      await new Promise<void>((r) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          r();
        };
        this.#wake.push(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  settled(key: StageKey): void {
    if (!this.#remaining.delete(key) || this.#remaining.size > 0) return;
    if (this.#servers.length > 0) void this.#stopAll('every stage of the model has finished');
  }

  async close(): Promise<void> {
    if (this.#servers.length > 0) await this.#stopAll('the run is over');
    else if (this.#stopping) await this.#stopping;
  }

  async #died(s: Server, incarnation: number): Promise<boolean> {
    if (s.incarnation !== incarnation) return true;
    const proc = s.proc;
    if (!proc || proc.exit) return true;
    // A connection reset can arrive a moment before the exit is seen.
    await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 1500))]);
    return s.incarnation !== incarnation || proc.exit !== null;
  }

  async #startAll(): Promise<Result<void, Failure>> {
    const cfg = this.#cfg;
    const tp = cfg.gpus_per_server;
    const host = this.#host;
    if (host.gpus.length > 0 && tp > host.gpus.length)
      return this.#fail(
        failure(
          'model-load',
          `mllm.server.gpus_per_server is ${tp}, but the run has ${host.gpus.length} GPU(s) (${host.gpus.join(',')}): give more with --gpus or lower gpus_per_server`,
          { retryable: false },
        ),
      );
    const max =
      cfg.max_servers === null ? host.gpus.length : Math.min(host.gpus.length, cfg.max_servers * tp);
    this.#log(`[pefuse] ${this.id}: waiting for GPUs to start ${cfg.backend} server(s)`);
    const lease = await host.acquireGpus({ min: tp, max: Math.max(tp, max), step: tp }, host.drain);
    if (!lease) return err(failure('cancelled', 'stopped before the MLLM servers started'));
    this.#lease = lease;
    if (lease.gpus.length === 0)
      host.warn(
        `${this.id}: no GPUs given (--gpus, resources.gpus or CUDA_VISIBLE_DEVICES): one ${cfg.backend} server, with the environment's CUDA_VISIBLE_DEVICES (if any)`,
      );
    const groups: string[][] = [];
    for (let i = 0; i < lease.gpus.length; i += tp) groups.push(lease.gpus.slice(i, i + tp));
    if (groups.length === 0) groups.push([]);
    const dir = join(host.cacheRoot, 'services', 'mllm');
    mkdirSync(dir, { recursive: true });
    const slug = `${cfg.backend}-${cfg.model.replace(/[^A-Za-z0-9._-]+/g, '_')}`;
    this.#servers = groups.map((gpus, index) => ({
      index,
      gpus,
      label: `${cfg.backend} server ${index + 1} of ${groups.length}${gpus.length > 0 ? ` (GPU ${gpus.join(',')})` : ''}`,
      // GPU ids may be UUIDs (MIG ones hold slashes): file-name safe.
      logFile: join(
        dir,
        `${slug}-${gpus.length > 0 ? `gpu${gpus.join('+').replace(/[^A-Za-z0-9.+_-]+/g, '_')}` : 'nogpu'}.log`,
      ),
      proc: null,
      client: null,
      up: false,
      inFlight: 0,
      incarnation: 0,
      restarts: 0,
      starting: null,
      gaveUp: null,
    }));
    const epoch = new AbortController();
    this.#epoch = epoch;
    const onDrain = () => epoch.abort();
    if (host.drain.aborted) epoch.abort();
    else host.drain.addEventListener('abort', onDrain, { once: true });
    epoch.signal.addEventListener('abort', () => host.drain.removeEventListener('abort', onDrain), {
      once: true,
    });
    // One server that cannot start stops the others' start-up too.
    const abort = new AbortController();
    const onEpoch = () => abort.abort();
    epoch.signal.addEventListener('abort', onEpoch, { once: true });
    const results = await Promise.all(
      this.#servers.map(async (s) => {
        const r = await this.#launch(s, abort.signal);
        if (!r.ok) abort.abort();
        return r;
      }),
    );
    epoch.signal.removeEventListener('abort', onEpoch);
    const bad = results.find((r) => !r.ok && r.error.reason !== 'cancelled') ?? results.find((r) => !r.ok);
    if (bad && !bad.ok) {
      await this.#stopAll('a server did not start');
      return bad.error.reason === 'cancelled' ? bad : this.#fail(bad.error);
    }
    this.#up = true;
    this.#wakeAll();
    return ok(undefined);
  }

  #fail(f: Failure): Result<void, Failure> {
    this.#failure = { ...f, retryable: false };
    this.#wakeAll();
    return err(this.#failure);
  }

  /** Starts (or restarts) one server and waits until it serves the model. */
  async #launch(s: Server, signal: AbortSignal): Promise<Result<void, Failure>> {
    const r = await launchServer({
      cfg: this.#cfg,
      index: s.index,
      gpus: s.gpus,
      label: s.label,
      logFile: s.logFile,
      restart: s.restarts,
      cacheRoot: this.#host.cacheRoot,
      apiKey: this.#apiKey,
      timeoutMs: this.#timeoutMs,
      signal,
      onSpawn: (proc, line) => {
        this.starts++;
        s.proc = proc;
        this.#log(line);
      },
    });
    if (!r.ok) return r;
    const { proc, client, port, version, seconds } = r.value;
    this.#version ??= version;
    s.client = client;
    s.up = true;
    s.gaveUp = null;
    proc.exited.then((x) => this.#onExit(s, proc, x));
    this.#log(`[pefuse] ${s.label} ready on port ${port} after ${seconds.toFixed(1)} s`);
    this.#attached[0]?.notify?.({
      type: 'worker-ready',
      worker: s.index,
      gpu: s.gpus.length > 0 ? s.gpus.join(',') : null,
      identity: {
        model: this.#cfg.model,
        backend: `${this.#cfg.backend} server, port ${port}`,
        versions: version ? { [this.#cfg.backend]: version } : {},
        device: s.gpus.length > 0 ? `GPU ${s.gpus.join(',')}` : 'the default device',
      },
    });
    this.#wakeAll();
    return ok(undefined);
  }

  /** A server exited by itself: restart it on its GPUs while stages still need it. */
  #onExit(s: Server, proc: ServiceProcess, e: { code: number | null; signal: NodeJS.Signals | null }): void {
    if (s.proc !== proc || proc.stopping) return;
    s.up = false;
    s.incarnation++;
    const how = e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
    const f = failure('worker-exit', `${s.label} ${how} during the run (log: ${s.logFile})`, {
      detail: logTail(s.logFile, 0),
    });
    this.#wakeAll();
    if (this.#stopping || this.#remaining.size === 0) return;
    if (s.restarts >= this.#cfg.max_restarts) {
      s.gaveUp = {
        ...f,
        message: `${f.message}; given up after ${s.restarts} restart(s) (mllm.server.max_restarts)`,
        retryable: false,
      };
      this.#tell(s.gaveUp.message);
      return;
    }
    s.restarts++;
    this.#tell(`${f.message}: restarting it; its unfinished requests are retried`);
    this.#attached[0]?.notify?.({
      type: 'worker-restarted',
      worker: s.index,
      failure: f,
      restarts: s.restarts,
    });
    s.starting = this.#launch(s, this.#epoch.signal).then((r) => {
      s.starting = null;
      if (!r.ok) {
        s.gaveUp = r.error;
        this.#log(`[pefuse] ${r.error.message}`);
      }
      this.#wakeAll();
    });
  }

  #stopAll(why: string): Promise<void> {
    if (this.#stopping) return this.#stopping;
    const servers = this.#servers;
    const lease = this.#lease;
    this.#up = false;
    this.#epoch.abort();
    const stopping = (async () => {
      const running = servers.filter((s) => s.proc && !s.proc.exit);
      if (running.length > 0)
        this.#log(`[pefuse] stopping ${running.length} ${this.#cfg.backend} server(s): ${why}`);
      await Promise.all(
        servers.map(async (s) => {
          s.up = false;
          await s.starting;
          const proc = s.proc;
          if (!proc || proc.exit) return;
          const e = await proc.stop(MLLM_SERVER_DEFAULTS.stop_grace_s * 1000);
          const how = e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;
          appendFileSync(s.logFile, `=== pefuse ${new Date().toISOString()}: stopped (${why}): ${how} ===\n`);
        }),
      );
      lease?.release();
    })();
    this.#stopping = stopping.finally(() => {
      this.#servers = [];
      this.#lease = null;
      this.#stopping = null;
      this.#wakeAll();
    });
    return this.#stopping;
  }

  #wakeAll(): void {
    const w = this.#wake;
    this.#wake = [];
    for (const f of w) f();
  }

  #log(line: string): void {
    for (const ctx of this.#attached) ctx.log(line);
  }

  /** A line every user should see: to the stages' logs, or as a run warning when no stage is running. */
  #tell(line: string): void {
    if (this.#attached.length > 0) this.#log(`[pefuse] ${line}`);
    else this.#host.warn(line);
  }
}
