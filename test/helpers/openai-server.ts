/**
 * A loopback OpenAI-compatible server for tests and benches (node:http): `GET /v1/models`,
 * `GET /version`, `POST /v1/chat/completions` and Ollama's `POST /api/chat`. It records every request
 * (headers and parsed body), answers after a fixed latency with at most `capacity` requests being
 * served at once (the rest wait in a queue, like a busy vLLM), and injects faults chosen per request.
 *
 * Answers are deterministic: `description of <item> seed <seed>` where the item is read from the
 * prompt's `ITEM:<id>` marker when present, so tests can tell which item a request was for.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { kind: 'ok' }
  | { kind: 'slow'; ms: number }
  | { kind: '429'; retryAfter?: string }
  | { kind: '500' }
  | { kind: '400' }
  | { kind: 'drop' }
  | { kind: 'malformed' }
  | { kind: 'empty' }
  | { kind: 'wrong-model' }
  | { kind: 'length' };

export interface RecordedRequest {
  n: number;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown> | null;
  /** The `ITEM:<id>` marker of the prompt, when present. */
  item: string | null;
}

export interface ServerOptions {
  /** Model ids `/v1/models` lists. */
  models?: string[];
  version?: string | null;
  latencyMs?: number;
  /** Requests served at once; more wait in a queue. */
  capacity?: number;
  /** The fault for the n-th chat request (1-based) and its item. */
  fault?: (n: number, item: string | null) => Fault;
  /** Keep request bodies (tests); the bench turns it off to keep memory flat. */
  record?: boolean;
}

export interface LoopbackServer {
  url: string;
  requests: RecordedRequest[];
  /** Chat requests seen (recorded or not). */
  chats: number;
  /** Seeds of the chat answers fully sent (200s only), in order. */
  answered: number[];
  /** Most requests served at once. */
  peakActive: number;
  close(): Promise<void>;
}

export async function startOpenAiServer(opts: ServerOptions = {}): Promise<LoopbackServer> {
  const models = opts.models ?? ['test/model'];
  const capacity = opts.capacity ?? Number.POSITIVE_INFINITY;
  const latency = opts.latencyMs ?? 0;
  let active = 0;
  const queue: Array<() => void> = [];
  const state: LoopbackServer = {
    url: '',
    requests: [],
    chats: 0,
    answered: [],
    peakActive: 0,
    close: async () => {},
  };
  const acquire = (): Promise<void> =>
    new Promise((resolve) => {
      if (active < capacity) {
        active++;
        state.peakActive = Math.max(state.peakActive, active);
        resolve();
      } else
        queue.push(() => {
          active++;
          state.peakActive = Math.max(state.peakActive, active);
          resolve();
        });
    });
  const release = () => {
    active--;
    queue.shift()?.();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '/').split('?')[0] as string;
    if (req.method === 'GET' && path === '/v1/models') {
      return json(res, 200, { object: 'list', data: models.map((id) => ({ id, object: 'model' })) });
    }
    if (req.method === 'GET' && path === '/version') {
      if (opts.version === null) return json(res, 404, { detail: 'Not Found' });
      return json(res, 200, { version: opts.version ?? '0.0.0-loopback' });
    }
    const chat = path === '/v1/chat/completions' || path === '/api/chat';
    if (req.method !== 'POST' || !chat) return json(res, 404, { detail: 'Not Found' });
    const n = ++state.chats;
    let body: Record<string, unknown> | null = null;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      body = null;
    }
    const item = itemOf(body);
    if (opts.record !== false)
      state.requests.push({ n, method: req.method, path, headers: req.headers, body, item });
    const fault = opts.fault?.(n, item) ?? { kind: 'ok' };
    await acquire();
    try {
      await delay(fault.kind === 'slow' ? fault.ms : latency);
      if (fault.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault.kind === '429') {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
        res.writeHead(429, headers);
        res.end(JSON.stringify({ error: { message: 'rate limited' } }));
        return;
      }
      if (fault.kind === '500') return json(res, 500, { error: { message: 'internal server error' } });
      if (fault.kind === '400') return json(res, 400, { error: { message: 'top_k is not supported' } });
      if (fault.kind === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"choices": [{"message": ');
        return;
      }
      const seed = path === '/api/chat' ? (body?.options as { seed?: number } | undefined)?.seed : body?.seed;
      if (opts.record !== false && typeof seed === 'number')
        res.on('finish', () => state.answered.push(seed));
      const text = fault.kind === 'empty' ? '' : `description of ${item ?? '?'} seed ${seed}`;
      if (path === '/api/chat')
        return json(res, 200, {
          model: body?.model,
          message: { role: 'assistant', content: text },
          done: true,
          done_reason: fault.kind === 'length' ? 'length' : 'stop',
          prompt_eval_count: 100,
          eval_count: 7,
        });
      return json(res, 200, {
        id: `chatcmpl-${n}`,
        object: 'chat.completion',
        model: fault.kind === 'wrong-model' ? 'some/other-model' : body?.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: text },
            finish_reason: fault.kind === 'length' ? 'length' : 'stop',
          },
        ],
        usage: { prompt_tokens: 100, completion_tokens: 7, total_tokens: 107 },
      });
    } finally {
      release();
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${port}/v1`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

function itemOf(body: Record<string, unknown> | null): string | null {
  const s = JSON.stringify(body?.messages ?? '');
  const m = /ITEM:([A-Za-z0-9_.-]+)/.exec(s);
  return m ? (m[1] as string) : null;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function delay(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((r) => setTimeout(r, ms));
}
