/**
 * Where an HTTP MLLM stage sends its requests:
 *
 *   endpoint (a server the user started) ─▶ one client; GET /v1/models must list the model first
 *   server   (servers pefuse starts)     ─▶ the run's server group for this configuration (servers.ts):
 *                                           started on first use, shared with every stage of the model,
 *                                           each request on the least busy live server
 *
 * Either way the stage sees leases on clients and an identity for its manifest.
 */
import type { Failure } from '../../runner/contract/failure.js';
import { failure } from '../../runner/contract/failure.js';
import type { StageRunContext } from '../../runner/contract/run.js';
import { lentServices } from '../../runner/exec/services.js';
import { isJsonObject, type JsonObject } from '../../runner/util/json.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import { MllmClient } from './client.js';
import type { ServerConfig } from './server-config.js';
import { MllmServerGroup, type ServerLease } from './servers.js';

export interface TargetOptions {
  backend: string;
  model: string;
  endpoint: string;
  apiKey: string | undefined;
  timeoutMs: number;
}

export interface RequestTarget {
  /** The manifest's identity fields: backend, served_model, server_version (and server_command). */
  output: JsonObject;
  /** The manifest's `device`. */
  device(): string;
  lease(signal: AbortSignal): Promise<Result<ServerLease, Failure>>;
  /** After an item gave up on a connection problem: is the whole server gone (then the stage ends)? */
  gone(signal: AbortSignal): Promise<boolean>;
  /** The stage's closing message when the servers went away for good. */
  stoppedMessage(f: Failure): string;
  /** The stage is done with the target. */
  detach(): void;
}

/** The target of a stage; `todo`: items still to ask (0: a resumed stage publishes without a server). */
export async function targetOf(
  ctx: StageRunContext,
  o: TargetOptions,
  todo: number,
): Promise<Result<RequestTarget, Failure>> {
  const s = ctx.node.settings;
  if (typeof s.server === 'string' && isJsonObject(s.server_config))
    return managedTarget(ctx, o, s.server, s.server_config as unknown as ServerConfig, todo);
  return endpointTarget(ctx, o, todo);
}

async function endpointTarget(
  ctx: StageRunContext,
  o: TargetOptions,
  todo: number,
): Promise<Result<RequestTarget, Failure>> {
  const client = new MllmClient({ endpoint: o.endpoint, apiKey: o.apiKey, timeoutMs: o.timeoutMs });
  const kill = ctx.kill ?? new AbortController().signal;
  const served = await checkServed(client, o.model, kill);
  if (!served.ok) {
    // Everything answered already (a resumed stage): publish without the server.
    if (todo > 0) return served;
  } else {
    ctx.log(
      `[pefuse] ${client.endpoint} serves ${o.model}${served.value.server_version ? ` (version ${served.value.server_version})` : ''}`,
    );
  }
  let probing: Promise<boolean> | null = null;
  const lease: ServerLease = { client, release() {}, died: async () => false };
  return ok({
    output: {
      backend: o.backend,
      served_model: served.ok ? served.value.served_model : o.model,
      server_version: served.ok ? served.value.server_version : null,
    },
    device: () => `http:${client.endpoint}`,
    lease: async () => ok(lease),
    gone(signal) {
      probing ??= client.served(signal).then((r) => !r.ok && r.error.reason === 'http-unreachable');
      return probing.then((gone) => {
        probing = null;
        return gone;
      });
    },
    stoppedMessage: (f) => `${client.endpoint} stopped answering (${f.message})`,
    detach() {},
  });
}

async function managedTarget(
  ctx: StageRunContext,
  o: TargetOptions,
  id: string,
  cfg: ServerConfig,
  todo: number,
): Promise<Result<RequestTarget, Failure>> {
  const services = lentServices(ctx);
  if (!services)
    return err(
      failure('internal-error', 'mllm.server needs the run services of the executor (none in this context)'),
    );
  const group = services.get(
    id,
    (host) => new MllmServerGroup(id, cfg, host, { apiKey: o.apiKey, timeoutMs: o.timeoutMs }),
  );
  const output: JsonObject = {
    backend: o.backend,
    served_model: o.model,
    server_version: null,
    server_command: group.command,
  };
  if (todo === 0)
    return ok({
      output,
      device: () => 'server',
      lease: async () => err(failure('internal-error', 'no item left to ask')),
      gone: async () => false,
      stoppedMessage: (f) => f.message,
      detach() {},
    });
  const detach = group.attach(ctx);
  const up = await group.ensure();
  if (!up.ok) {
    detach();
    return up;
  }
  ctx.log(`[pefuse] ${id}: ${group.device}${group.version ? `, version ${group.version}` : ''}`);
  // The request window is shared by the group's servers: the run's default (8) starves several GPUs.
  if (typeof ctx.node.settings.concurrency !== 'number' && group.size > 1)
    group.warnOnce(
      'window',
      `${id}: ${group.size} servers share the run's default request window (resources.http_concurrency, else 8); set mllm.concurrency (32-128 per server keeps a GPU busy)`,
    );
  return ok({
    output: { ...output, server_version: group.version },
    device: () => group.device,
    lease: (signal) => group.lease(signal),
    // A server that dies is restarted by the group; a request that failed on a live one failed for itself.
    gone: async () => false,
    stoppedMessage: (f) => f.message,
    detach,
  });
}

/** Checks that the server serves the model; its identity for the manifest. */
export async function checkServed(
  client: MllmClient,
  model: string,
  signal?: AbortSignal,
): Promise<Result<{ served_model: string; server_version: string | null }, Failure>> {
  const r = await client.served(signal);
  if (!r.ok) {
    const f = r.error;
    return err({
      ...f,
      message: `${f.message}; start the server (see README "MLLM servers") or fix mllm.endpoint`,
      retryable: false,
    });
  }
  if (!r.value.models.includes(model))
    return err(
      failure(
        'model-load',
        `${client.endpoint} serves ${r.value.models.length === 0 ? 'no model' : r.value.models.map((m) => `"${m}"`).join(', ')}, not "${model}" (mllm.model); no request was sent`,
        { retryable: false },
      ),
    );
  return ok({ served_model: model, server_version: r.value.version });
}
