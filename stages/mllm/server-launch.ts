/**
 * Starting one MLLM server (servers.ts decides which, where and when): the command filled in, the
 * executable found (or a message saying what to install), a header in its log, the process started in
 * its own group with a pid file (service-process.ts), then `GET /v1/models` until it lists the model.
 * An exit, a timeout or another model fails with the log's last lines; an abort stops it.
 */
import { accessSync, appendFileSync, constants, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { type Failure, failure } from '../../runner/contract/failure.js';
import { ServiceProcess, servicePidDir } from '../../runner/exec/service-process.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import { sleep } from '../../runner/util/sleep.js';
import { MLLM_SERVER_DEFAULTS } from '../defaults.js';
import { MllmClient } from './client.js';
import { fillCommand, type ServerConfig } from './server-config.js';

const LOG_TAIL = 25;

export interface LaunchOptions {
  cfg: ServerConfig;
  /** The server's place in its group (a fixed `port` gives it `port + index`). */
  index: number;
  gpus: string[];
  label: string;
  logFile: string;
  /** 0 for a first start, n for the n-th restart. */
  restart: number;
  cacheRoot: string;
  apiKey: string | undefined;
  timeoutMs: number;
  signal: AbortSignal;
  /** The process exists (stop it from here on); `line` says so, for the stage log. */
  onSpawn(proc: ServiceProcess, line: string): void;
}

export interface Launched {
  proc: ServiceProcess;
  client: MllmClient;
  port: number;
  version: string | null;
  seconds: number;
}

export async function launchServer(o: LaunchOptions): Promise<Result<Launched, Failure>> {
  const { cfg, signal } = o;
  const port = cfg.port !== null ? cfg.port + o.index : await freePort();
  const argv = fillCommand(cfg.command, {
    model: cfg.model,
    port: String(port),
    host: MLLM_SERVER_DEFAULTS.host,
    gpus_per_server: String(cfg.gpus_per_server),
    revision: cfg.revision ?? '',
  });
  const [file, ...args] = argv as [string, ...string[]];
  const env: Record<string, string> = { ...cfg.env };
  if (o.gpus.length > 0) env.CUDA_VISIBLE_DEVICES = o.gpus.join(',');
  const exe = findExecutable(file, env.PATH ?? process.env.PATH ?? '');
  if (exe === null)
    return err(
      failure(
        'model-load',
        `cannot start the ${cfg.backend} server: "${file}" is not ${file.includes('/') ? 'an executable file' : 'on PATH'} (mllm.server.command); install it in the environment pefuse runs in${cfg.backend === 'vllm' ? ' (pip install vllm)' : ''}, or name it with mllm.server.command`,
        { retryable: false },
      ),
    );
  const restart = o.restart > 0 ? ` (restart ${o.restart})` : '';
  appendFileSync(
    o.logFile,
    `\n=== pefuse ${new Date().toISOString()}: ${o.label}${restart}: ${argv.join(' ')}${o.gpus.length > 0 ? ` (CUDA_VISIBLE_DEVICES=${o.gpus.join(',')})` : ''} ===\n`,
  );
  const offset = statSync(o.logFile).size;
  const t0 = performance.now();
  const proc = new ServiceProcess({
    file: exe,
    args,
    env,
    logFile: o.logFile,
    pidDir: servicePidDir(o.cacheRoot),
    label: o.label,
  });
  o.onSpawn(
    proc,
    `[pefuse] starting ${o.label}${restart}, pid ${proc.pid ?? '?'}, port ${port}: log ${o.logFile}`,
  );
  const client = new MllmClient({
    endpoint: `http://${MLLM_SERVER_DEFAULTS.host}:${port}/v1`,
    apiKey: o.apiKey,
    timeoutMs: o.timeoutMs,
  });
  const deadline = t0 + cfg.startup_timeout_s * 1000;
  const tail = () => logTail(o.logFile, offset);
  const stop = () => proc.stop(MLLM_SERVER_DEFAULTS.stop_grace_s * 1000);
  for (let wait = 200; ; wait = Math.min(2000, wait * 1.5)) {
    const e = proc.exit;
    if (e) {
      const how = e.error
        ? `could not be started (${e.error})`
        : e.signal
          ? `was killed by ${e.signal}`
          : `exited with code ${e.code}`;
      return err(
        failure('model-load', `${o.label} ${how} before it was ready (log: ${o.logFile})`, {
          retryable: false,
          detail: tail(),
        }),
      );
    }
    if (signal.aborted) {
      await stop();
      return err(failure('cancelled', `${o.label}: start-up stopped`));
    }
    if (performance.now() > deadline) {
      await stop();
      return err(
        failure(
          'model-load',
          `${o.label} did not answer GET /v1/models within ${cfg.startup_timeout_s} s (mllm.server.startup_timeout_s); it was stopped (log: ${o.logFile})`,
          { retryable: false, detail: tail() },
        ),
      );
    }
    const r = await client.served(signal);
    if (r.ok) {
      if (!r.value.models.includes(cfg.model)) {
        await stop();
        return err(
          failure(
            'model-load',
            `${o.label} serves ${r.value.models.map((m) => `"${m}"`).join(', ') || 'no model'}, not "${cfg.model}" (mllm.model); check the command's served model name`,
            { retryable: false, detail: tail() },
          ),
        );
      }
      return ok({ proc, client, port, version: r.value.version, seconds: (performance.now() - t0) / 1000 });
    }
    await sleep(wait, signal);
  }
}

/** Ports handed out by this process: two servers starting at once never get the same one. */
const handed = new Set<number>();

/** A port the OS says is free on the loopback interface now (and not handed to another server of this run). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolvePort, reject) => {
      const srv = createServer();
      srv.on('error', reject);
      srv.listen(0, MLLM_SERVER_DEFAULTS.host, () => {
        const a = srv.address();
        const p = typeof a === 'object' && a !== null ? a.port : 0;
        srv.close(() => resolvePort(p));
      });
    });
    if (!handed.has(port)) {
      handed.add(port);
      return port;
    }
  }
}

/** The executable a command word names: a path (absolute or relative), or a name looked up on PATH. */
export function findExecutable(file: string, path: string): string | null {
  const ok = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (file.includes('/')) {
    const p = isAbsolute(file) ? file : resolve(file);
    return ok(p) ? p : null;
  }
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, file);
    if (ok(p)) return p;
  }
  return null;
}

/** The last lines a server wrote since `offset` (its current start). */
export function logTail(file: string, offset: number): string {
  try {
    const text = readFileSync(file).subarray(offset).toString('utf8');
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    const last = lines.slice(-LOG_TAIL);
    return last.length === 0
      ? 'the server wrote nothing to its log'
      : `last lines of the server log:\n${last.join('\n')}`;
  } catch {
    return 'the server log could not be read';
  }
}
