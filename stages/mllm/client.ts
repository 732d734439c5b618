/**
 * The HTTP side of the MLLM stage: one client per endpoint, in process (Node's fetch). It asks the
 * server what it serves (`GET /v1/models`, `/version`), and sends one chat request per call, sorting
 * what can go wrong into what is worth trying again and what is not:
 *
 *   connection refused / reset / dropped   retry  (http-unreachable)
 *   no answer within timeout_s             retry  (http-unreachable, "no answer within …")
 *   429                                    retry after Retry-After when given (http-status)
 *   5xx, 408                               retry  (http-status)
 *   other 4xx                              final  (http-status, with the server's message)
 *   2xx that is not a usable answer        retry  (bad-output), then the item fails with the reason
 *
 * The API key is only ever put in the Authorization header; no message built here contains it.
 */
import { type Failure, failure } from '../../runner/contract/failure.js';
import { isJsonObject, type JsonValue } from '../../runner/util/json.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import { type Answer, type ChatRequest, parseAnswer } from './request.js';

export interface ClientOptions {
  /** OpenAI-compatible base URL, e.g. `http://localhost:8000/v1`. */
  endpoint: string;
  apiKey?: string | undefined;
  timeoutMs: number;
}

/** One attempt's outcome. */
export type Attempt =
  | { kind: 'ok'; answer: Answer }
  | { kind: 'retry'; failure: Failure; retryAfterMs?: number }
  | { kind: 'final'; failure: Failure };

/** What the server says it is. */
export interface ServedIdentity {
  models: string[];
  version: string | null;
}

/** `http://h:8000/v1/` → `http://h:8000` (where `/version` and Ollama's `/api` live). */
export function endpointRoot(endpoint: string): string {
  return endpoint.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/** The endpoint as shown to users: no credentials, no trailing slash. */
export function displayEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return endpoint;
  }
}

/** `Retry-After` in milliseconds (seconds or an HTTP date), capped at 5 minutes; null when absent. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  const s = Number(header);
  const ms = Number.isFinite(s) ? s * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(ms)) return null;
  return Math.min(300_000, Math.max(0, ms));
}

export class MllmClient {
  readonly endpoint: string;
  readonly #base: string;
  readonly #root: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;

  constructor(opts: ClientOptions) {
    this.#base = opts.endpoint.replace(/\/+$/, '');
    this.#root = endpointRoot(opts.endpoint);
    this.endpoint = displayEndpoint(opts.endpoint);
    this.#timeoutMs = opts.timeoutMs;
    this.#headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (opts.apiKey) this.#headers.authorization = `Bearer ${opts.apiKey}`;
  }

  /** `GET /v1/models` (and `/version` when the server has one). */
  async served(signal?: AbortSignal): Promise<Result<ServedIdentity, Failure>> {
    const r = await this.#get(`${this.#base}/models`, signal, Math.min(this.#timeoutMs, 30_000));
    if (!r.ok) return r;
    const data = isJsonObject(r.value) ? r.value.data : undefined;
    if (!Array.isArray(data))
      return err(
        failure('bad-output', `${this.endpoint}/models did not answer a model list ({"data": [...]})`, {
          retryable: false,
        }),
      );
    const models = data.flatMap((d) => (isJsonObject(d) && typeof d.id === 'string' ? [d.id] : []));
    return ok({ models, version: await this.version(signal) });
  }

  /** The server's version: vLLM/SGLang `/version`, Ollama `/api/version`; null when none answers. */
  async version(signal?: AbortSignal): Promise<string | null> {
    for (const path of ['/version', '/api/version']) {
      const r = await this.#get(`${this.#root}${path}`, signal, 5_000);
      if (r.ok && isJsonObject(r.value) && typeof r.value.version === 'string') return r.value.version;
    }
    return null;
  }

  async #get(
    url: string,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<Result<JsonValue, Failure>> {
    const timeout = deadline(timeoutMs, signal);
    try {
      const res = await fetch(url, { headers: this.#headers, signal: timeout.signal });
      const text = await res.text();
      if (!res.ok)
        return err(
          failure('http-status', `GET ${displayEndpoint(url)} answered ${res.status} ${snippet(text)}`, {
            detail: String(res.status),
            retryable: res.status >= 500 || res.status === 429,
          }),
        );
      try {
        return ok(JSON.parse(text) as JsonValue);
      } catch {
        return err(failure('bad-output', `GET ${displayEndpoint(url)} answered something that is not JSON`));
      }
    } catch (e) {
      return err(networkFailure(e, displayEndpoint(url), timeoutMs, timeout.timedOut()));
    } finally {
      timeout.done();
    }
  }

  /** One chat request. `signal` aborts it (stop now); the timeout is the client's `timeoutMs`. */
  async attempt(req: ChatRequest, model: string, signal?: AbortSignal): Promise<Attempt> {
    const url = req.api === 'ollama' ? `${this.#root}/api/chat` : `${this.#base}/chat/completions`;
    const timeout = deadline(this.#timeoutMs, signal);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: this.#headers,
        body: JSON.stringify(req.body),
        signal: timeout.signal,
      });
      text = await res.text();
    } catch (e) {
      if (signal?.aborted) return { kind: 'final', failure: failure('cancelled', 'stopped') };
      return {
        kind: 'retry',
        failure: networkFailure(e, this.endpoint, this.#timeoutMs, timeout.timedOut()),
      };
    } finally {
      timeout.done();
    }
    if (!res.ok) {
      const f = failure('http-status', `${this.endpoint} answered ${res.status}: ${snippet(text)}`, {
        detail: String(res.status),
      });
      if (res.status === 429) {
        const after = retryAfterMs(res.headers.get('retry-after'));
        return after === null
          ? { kind: 'retry', failure: f }
          : { kind: 'retry', failure: f, retryAfterMs: after };
      }
      if (res.status >= 500 || res.status === 408) return { kind: 'retry', failure: f };
      return { kind: 'final', failure: { ...f, retryable: false } };
    }
    let json: JsonValue;
    try {
      json = JSON.parse(text) as JsonValue;
    } catch {
      return {
        kind: 'retry',
        failure: failure('bad-output', `${this.endpoint} answered malformed JSON: ${snippet(text)}`, {
          retryable: false,
        }),
      };
    }
    const a = parseAnswer(req.api, json, model);
    if (typeof a === 'string')
      return {
        kind: 'retry',
        failure: failure('bad-output', `${this.endpoint}: ${a}`, { retryable: false }),
      };
    return { kind: 'ok', answer: a };
  }
}

/**
 * A per-request signal that aborts after `ms` or when `outer` aborts. (Not `AbortSignal.any`: with a
 * stage-long outer signal it keeps every request's signal reachable, and memory grows per request.)
 */
function deadline(
  ms: number,
  outer: AbortSignal | undefined,
): { signal: AbortSignal; timedOut(): boolean; done(): void } {
  const c = new AbortController();
  let timedOut = false;
  const t = setTimeout(() => {
    timedOut = true;
    c.abort();
  }, ms);
  const onOuter = () => c.abort();
  if (outer?.aborted) c.abort();
  else outer?.addEventListener('abort', onOuter, { once: true });
  return {
    signal: c.signal,
    timedOut: () => timedOut,
    done: () => {
      clearTimeout(t);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}

function snippet(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t === '' ? '(empty body)' : t;
}

function networkFailure(e: unknown, where: string, timeoutMs: number, timedOut: boolean): Failure {
  if (timedOut)
    return failure(
      'http-unreachable',
      `no answer from ${where} within ${timeoutMs / 1000} s (mllm.timeout_s)`,
    );
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause : null;
  const code = (cause as NodeJS.ErrnoException | null)?.code ?? (e as NodeJS.ErrnoException).code;
  const why = code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
  return failure('http-unreachable', `cannot reach ${where} (${why})`);
}
