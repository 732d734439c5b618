/**
 * The MLLM stage over an OpenAI-compatible server (vllm, sglang, ollama, openai): one the user started
 * (`endpoint`), or the servers pefuse starts for the run (`server`, see servers.ts and targets.ts):
 *
 *   items (queries for compose, gallery images for caption) ─▶ skip journaled ones (ctx.done)
 *     ─▶ the target: GET /v1/models must list mllm.model (else fail at once, no completion sent), or
 *        the run's servers for this model, started on first use
 *     ─▶ a window of `ctx.resources.threads` items in flight (the endpoint's / server group's share)
 *          each item: image → data URI, then `descriptions` requests with seeds f(seed, item, d),
 *          retried with backoff + jitter (Retry-After on 429) ─▶ journaled when answered; a request
 *          whose pefuse-started server died under it is asked again without counting an attempt
 *     ─▶ a server that stops answering ends the stage with one message; answered items are kept
 *
 * The stage output names what served it (`served_model`, `server_version`, and `server_command` for a
 * server pefuse started), for the manifest and the stages table.
 */
import { type Failure, failure } from '../../runner/contract/failure.js';
import {
  NO_RETRY,
  type StageRunContext,
  type StageRunner,
  type StageRunOutput,
} from '../../runner/contract/run.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../runner/util/json.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import { sleep } from '../../runner/util/sleep.js';
import { MLLM_ENDPOINT_DEFAULTS, MLLM_TIMEOUT_S } from '../defaults.js';
import { datasetOutputOf, readGallery, readQueries } from '../dummy/inputs.js';
import type { Attempt } from './client.js';
import { ImageEncoder } from './images.js';
import { NO_FIELDS, type PromptFields, queryFields, renderPrompt } from './prompts.js';
import {
  type Answer,
  buildRequest,
  type HttpBackend,
  isHttpBackend,
  requestSeed,
  type Sampling,
  samplingOf,
} from './request.js';
import { type RequestTarget, targetOf } from './targets.js';

export { checkServed } from './targets.js';

/** One item to describe: an image and the placeholder values of its prompt. */
interface MllmItem {
  id: string;
  image: string;
  /** GeneCIS attribute tasks: the instance box the benchmark crops around. */
  bbox?: [number, number, number, number];
  fields: PromptFields;
}

/** One description of an item, as journaled (and recorded in the generations table). */
export interface Description extends Answer {
  seed: number;
  latency_s: number;
}

interface StageConfig {
  backend: HttpBackend;
  model: string;
  endpoint: string;
  apiKey: string | undefined;
  timeoutMs: number;
  template: string;
  sampling: Sampling;
  seed: number;
  descriptions: number;
  maxSide: number | undefined;
  extraBody: JsonObject;
}

function configOf(ctx: StageRunContext): Result<StageConfig, Failure> {
  const s = ctx.node.settings;
  const p = ctx.record.params;
  const backend = typeof s.backend === 'string' ? s.backend : '';
  if (!isHttpBackend(backend))
    return err(failure('internal-error', `not an HTTP MLLM backend: "${backend}"`));
  const sampling = samplingOf(p);
  if (typeof sampling === 'string') return err(failure('internal-error', sampling));
  if (typeof s.prompt !== 'string')
    return err(failure('internal-error', 'the node carries no prompt template'));
  let apiKey: string | undefined;
  if (typeof s.api_key_env === 'string') {
    apiKey = process.env[s.api_key_env];
    if (apiKey === undefined || apiKey === '')
      return err(
        failure(
          'model-load',
          `mllm.api_key_env names ${s.api_key_env}, which is not set in the environment: export it before running`,
          { retryable: false },
        ),
      );
  }
  return ok({
    backend,
    model: String(s.model ?? ''),
    endpoint: typeof s.endpoint === 'string' ? s.endpoint : MLLM_ENDPOINT_DEFAULTS[backend],
    apiKey,
    timeoutMs: (typeof s.timeout_s === 'number' ? s.timeout_s : MLLM_TIMEOUT_S) * 1000,
    template: s.prompt,
    sampling,
    seed: typeof p.seed === 'number' ? p.seed : 0,
    descriptions: typeof p.descriptions === 'number' ? p.descriptions : 1,
    maxSide: typeof p.max_image_side === 'number' ? p.max_image_side : undefined,
    extraBody: isJsonObject(p.extra_body) ? p.extra_body : {},
  });
}

/** The items of a compose (queries) or caption (gallery) stage, in dataset order. */
export async function mllmItems(ctx: StageRunContext): Promise<Result<MllmItem[], Failure>> {
  const ds = datasetOutputOf(ctx);
  if (!ds.ok) return ds;
  if (ctx.record.kind === 'mllm.caption') {
    const g = await readGallery(ctx, ds.value);
    if (!g.ok) return g;
    return ok(
      g.value.map((x) => {
        const bbox = (x as { bbox?: [number, number, number, number] }).bbox;
        return { id: x.id, image: x.path, fields: NO_FIELDS, ...(bbox ? { bbox } : {}) };
      }),
    );
  }
  const q = await readQueries(ctx, ds.value);
  if (!q.ok) return q;
  return ok(
    q.value.map((x) => ({
      id: x.id,
      image: x.reference.path,
      fields: queryFields(x),
      ...(x.reference.bbox ? { bbox: x.reference.bbox } : {}),
    })),
  );
}

export const httpMllmRunner: StageRunner = async (ctx) => {
  const cfg = configOf(ctx);
  if (!cfg.ok) return cfg;
  const c = cfg.value;
  const all = await mllmItems(ctx);
  if (!all.ok) return all;
  ctx.notify?.({ type: 'items', items: all.value.length });
  const todo = all.value.filter((i) => !ctx.done.has(i.id));
  const t = await targetOf(
    ctx,
    { backend: c.backend, model: c.model, endpoint: c.endpoint, apiKey: c.apiKey, timeoutMs: c.timeoutMs },
    todo.length,
  );
  if (!t.ok) return t;
  const target = t.value;
  try {
    return await describeAll(ctx, c, all.value, todo, target);
  } finally {
    target.detach();
  }
};

async function describeAll(
  ctx: StageRunContext,
  c: StageConfig,
  all: readonly MllmItem[],
  todo: readonly MllmItem[],
  target: RequestTarget,
): Promise<Result<StageRunOutput, Failure>> {
  const output = target.output;
  if (todo.length === 0) return ok({ output, device: target.device() });
  const kill = ctx.kill ?? new AbortController().signal;

  // Stop now (second Ctrl-C): abort every request in flight. One listener on `kill`, whatever the window.
  const inFlight = new Set<AbortController>();
  const abortAll = () => {
    for (const a of inFlight) a.abort();
  };
  kill.addEventListener('abort', abortAll, { once: true });
  const encoder = new ImageEncoder({ maxSide: c.maxSide });
  const retry = ctx.retry ?? NO_RETRY;
  let dead: Failure | null = null;
  let truncated = 0;
  let failedItems = 0;

  /** One description, retried as the failure allows; on failure, with how many attempts were made. */
  const ask = async (
    item: MllmItem,
    d: number,
    image: string,
  ): Promise<Result<Description, Failure & { attempts: number }>> => {
    const seed = requestSeed(c.seed, item.id, d);
    const req = buildRequest({
      backend: c.backend,
      model: c.model,
      prompt: renderPrompt(c.template, item.fields),
      image,
      sampling: c.sampling,
      seed,
      extraBody: c.extraBody,
    });
    for (let attempt = 1; ; attempt++) {
      const lease = await target.lease(kill);
      if (!lease.ok) {
        // No server left to ask (pefuse's servers could not be restarted): the stage ends.
        if (lease.error.reason !== 'cancelled') dead ??= lease.error;
        return err({ ...lease.error, attempts: attempt });
      }
      const t0 = performance.now();
      const stop = new AbortController();
      if (kill.aborted) stop.abort();
      inFlight.add(stop);
      const a: Attempt = await lease.value.client.attempt(req, c.model, stop.signal).finally(() => {
        inFlight.delete(stop);
        lease.value.release();
      });
      if (a.kind === 'ok') return ok({ ...a.answer, seed, latency_s: (performance.now() - t0) / 1000 });
      // Its server died under it (pefuse restarts it): asked again, and the attempt does not count.
      if (
        a.kind === 'retry' &&
        a.failure.reason === 'http-unreachable' &&
        !kill.aborted &&
        (await lease.value.died())
      ) {
        ctx.log(`[pefuse] item ${item.id}: its server went away (${a.failure.message}); asked again`);
        attempt--;
        continue;
      }
      if (a.kind === 'final' || attempt > retry.retries || kill.aborted || dead)
        return err({ ...a.failure, attempts: attempt });
      const backoff = retry.backoffMs(attempt + 1);
      const delayMs = a.retryAfterMs ?? Math.round(backoff * (0.5 + Math.random() * 0.5));
      ctx.notify?.({ type: 'item-retry', item: item.id, attempt: attempt + 1, failure: a.failure, delayMs });
      ctx.log(`[pefuse] item ${item.id}: ${a.failure.message}; retry ${attempt + 1} in ${delayMs} ms`);
      const nap = new AbortController();
      if (kill.aborted) nap.abort();
      inFlight.add(nap);
      const stopped = await sleep(delayMs, nap.signal).finally(() => inFlight.delete(nap));
      if (stopped) return err({ ...failure('cancelled', 'stopped'), attempts: attempt });
    }
  };

  const one = async (item: MllmItem): Promise<void> => {
    const t0 = performance.now();
    const image = await encoder.dataUri(item.image, item.bbox);
    if (!image.ok) {
      failedItems++;
      ctx.itemFailed(item.id, { ...image.error, item: item.id });
      return;
    }
    const descs: Description[] = [];
    for (let d = 0; d < c.descriptions; d++) {
      const r = await ask(item, d, image.value);
      if (!r.ok) {
        if (r.error.reason === 'cancelled' || dead) return;
        if (r.error.reason === 'http-unreachable' && (await target.gone(kill))) {
          dead ??= r.error;
          return;
        }
        failedItems++;
        const { attempts, ...f } = r.error;
        ctx.itemFailed(item.id, { ...f, item: item.id }, attempts);
        return;
      }
      if (r.value.finish_reason === 'length') truncated++;
      descs.push(r.value);
    }
    await ctx.itemDone({ id: item.id, output: itemOutput(descs), seconds: (performance.now() - t0) / 1000 });
  };

  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < todo.length && !ctx.signal.aborted && !kill.aborted && dead === null) {
      const item = todo[next++] as MllmItem;
      await one(item);
    }
  };
  const lanes = Math.max(1, Math.min(ctx.resources.threads, todo.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  kill.removeEventListener('abort', abortAll);

  if (truncated > 0)
    ctx.log(
      `[pefuse] ${truncated} description(s) stopped at max_tokens (${c.sampling.max_tokens}): finish_reason "length", recorded per item`,
    );
  if (dead !== null) {
    const d: Failure = dead;
    const left = all.length - ctx.done.size;
    return err(
      failure(
        d.reason === 'worker-exit' || d.reason === 'model-load' ? d.reason : 'http-unreachable',
        `${target.stoppedMessage(d)}; ${ctx.done.size} of ${all.length} items are answered and kept, run the same command again to ask for the other ${left}`,
        { retryable: false, ...(d.detail !== undefined ? { detail: d.detail } : {}) },
      ),
    );
  }
  if (kill.aborted || (ctx.signal.aborted && ctx.done.size + failedItems < all.length))
    return err(failure('cancelled', 'stopped before every item was answered'));
  return ok({ output: failedItems > 0 ? null : output, device: target.device() });
}

/** The journaled output of an item: the first description flat, all of them when there are several. */
export function itemOutput(descs: readonly Description[]): JsonObject {
  const first = descs[0] as Description;
  const out: JsonObject = {
    text: first.text,
    ...(first.completion_tokens !== null ? { tokens: first.completion_tokens } : {}),
    finish_reason: first.finish_reason,
    prompt_tokens: first.prompt_tokens,
    completion_tokens: first.completion_tokens,
    latency_s: first.latency_s,
    seed: first.seed,
  };
  if (descs.length > 1) {
    out.texts = descs.map((d) => d.text);
    out.descriptions = descs.map((d) => ({ ...d }) as unknown as JsonValue);
  }
  return out;
}
