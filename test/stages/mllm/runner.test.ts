/**
 * The real MLLM client and runner against a loopback OpenAI-compatible server that records requests
 * and injects faults: the request shape per backend, retries and the reasons items finally fail with,
 * the model check before any work, a server that dies mid-stage.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { retryAfterMs } from '../../../stages/mllm/client.js';
import { ImageEncoder } from '../../../stages/mllm/images.js';
import { requestSeed } from '../../../stages/mllm/request.js';
import { httpMllmRunner } from '../../../stages/mllm/runner.js';
import { tempDir } from '../../helpers/cli.js';
import { type Fault, type LoopbackServer, startOpenAiServer } from '../../helpers/openai-server.js';
import { mllmRig, SAMPLING, writePng } from './rig.js';

const MODEL = 'Qwen/Qwen2.5-VL-7B-Instruct';
let dir: string;
let server: LoopbackServer | null = null;

beforeEach(() => {
  dir = tempDir('pefuse-mllm-');
});
afterEach(async () => {
  await server?.close();
  server = null;
  rmSync(dir, { recursive: true, force: true });
});

const settings = (url: string, extra: Record<string, string | number> = {}) => ({
  backend: 'vllm',
  model: MODEL,
  endpoint: url,
  timeout_s: 5,
  ...extra,
});

describe('requests', () => {
  it('every request carries every sampling field, a per-item seed, the system message and the image', async () => {
    server = await startOpenAiServer({ models: [MODEL], version: '0.9.1' });
    process.env.PEFUSE_TEST_MLLM_KEY = 'sk-test-secret-123';
    const ctx = await mllmRig(dir, {
      n: 6,
      settings: settings(server.url, { api_key_env: 'PEFUSE_TEST_MLLM_KEY' }),
      params: { extra_body: { mm_processor_kwargs: { max_pixels: 1003520 } } },
    });
    const r = await httpMllmRunner(ctx);
    expect(r.ok).toBe(true);
    expect(r.ok && r.value.output).toEqual({ backend: 'vllm', served_model: MODEL, server_version: '0.9.1' });
    expect(server.requests).toHaveLength(6);
    const seeds = new Set<number>();
    for (const req of server.requests) {
      const b = req.body!;
      expect(b).toMatchObject({ ...SAMPLING, model: MODEL, n: 1, min_p: 0, stream: false });
      expect(b.mm_processor_kwargs).toEqual({ max_pixels: 1003520 });
      expect(b.seed).toBe(requestSeed(3, req.item!, 0));
      seeds.add(b.seed as number);
      const [system, user] = b.messages as Array<{ role: string; content: unknown }>;
      expect(system).toEqual({ role: 'system', content: 'You are a helpful assistant.' });
      const parts = user!.content as Array<Record<string, { url: string } | string>>;
      expect((parts[0]!.image_url as { url: string }).url).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
      expect(parts[1]).toEqual({ type: 'text', text: `Describe the target. ITEM:${req.item}` });
      expect(req.headers.authorization).toBe('Bearer sk-test-secret-123');
    }
    expect(seeds.size).toBe(6);
    const rec = ctx.journal.get('q2')!.output as Record<string, unknown>;
    expect(rec).toMatchObject({
      text: `description of q2 seed ${requestSeed(3, 'q2', 0)}`,
      finish_reason: 'stop',
      prompt_tokens: 100,
      completion_tokens: 7,
      tokens: 7,
    });
    expect(rec.latency_s).toBeGreaterThanOrEqual(0);
    delete process.env.PEFUSE_TEST_MLLM_KEY;
  });

  it('ollama: native /api/chat with options (top_k, repeat_penalty, num_predict) and raw base64', async () => {
    server = await startOpenAiServer({ models: ['qwen2.5vl:7b'] });
    const ctx = await mllmRig(dir, {
      n: 2,
      settings: { backend: 'ollama', model: 'qwen2.5vl:7b', endpoint: server.url },
    });
    const r = await httpMllmRunner(ctx);
    expect(r.ok).toBe(true);
    for (const req of server.requests) {
      expect(req.path).toBe('/api/chat');
      expect(req.body!.options).toEqual({
        temperature: 0.1,
        top_p: 0.9,
        top_k: 50,
        min_p: 0,
        repeat_penalty: 1.05,
        num_predict: 64,
        seed: requestSeed(3, req.item!, 0),
      });
      const user = (req.body!.messages as Array<{ images?: string[] }>)[1]!;
      expect(user.images![0]).toMatch(/^iVBORw0KGgo/);
    }
  });

  it('openai: leaves out the fields its API rejects (planning warns about them)', async () => {
    server = await startOpenAiServer({ models: ['gpt-4o'] });
    const ctx = await mllmRig(dir, {
      n: 1,
      settings: { backend: 'openai', model: 'gpt-4o', endpoint: server.url },
    });
    expect((await httpMllmRunner(ctx)).ok).toBe(true);
    const b = server.requests[0]!.body!;
    expect(b).toMatchObject({ temperature: 0.1, top_p: 0.9, max_tokens: 64 });
    expect(b).not.toHaveProperty('top_k');
    expect(b).not.toHaveProperty('repetition_penalty');
  });

  it('descriptions: N requests per item with distinct seeds, all texts kept', async () => {
    server = await startOpenAiServer({ models: [MODEL] });
    const ctx = await mllmRig(dir, { n: 2, settings: settings(server.url), params: { descriptions: 3 } });
    expect((await httpMllmRunner(ctx)).ok).toBe(true);
    expect(server.requests).toHaveLength(6);
    const out = ctx.journal.get('q1')!.output as { texts: string[]; descriptions: Array<{ seed: number }> };
    expect(out.texts).toHaveLength(3);
    expect(new Set(out.descriptions.map((d) => d.seed)).size).toBe(3);
    expect(out.descriptions.map((d) => d.seed)).toEqual([0, 1, 2].map((d) => requestSeed(3, 'q1', d)));
  });

  it('caption stages send each gallery image', async () => {
    server = await startOpenAiServer({ models: [MODEL] });
    const ctx = await mllmRig(dir, { n: 3, kind: 'mllm.caption', settings: settings(server.url) });
    expect((await httpMllmRunner(ctx)).ok).toBe(true);
    expect([...ctx.journal.keys()].sort()).toEqual(['g0', 'g1', 'g2']);
  });

  it('asks only for items not journaled yet', async () => {
    server = await startOpenAiServer({ models: [MODEL] });
    const ctx = await mllmRig(dir, { n: 5, settings: settings(server.url), done: ['q0', 'q3'] });
    expect((await httpMllmRunner(ctx)).ok).toBe(true);
    expect(server.requests.map((r) => r.item).sort()).toEqual(['q1', 'q2', 'q4']);
  });
});

describe('before any work', () => {
  it('a server that serves another model: fails at once naming both, no completion sent', async () => {
    server = await startOpenAiServer({ models: ['llava-hf/llava-1.5-7b-hf'] });
    const ctx = await mllmRig(dir, { n: 3, settings: settings(server.url) });
    const r = await httpMllmRunner(ctx);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.reason).toBe('model-load');
    expect(!r.ok && r.error.message).toContain(`serves "llava-hf/llava-1.5-7b-hf", not "${MODEL}"`);
    expect(server.chats).toBe(0);
  });

  it('no server: one clear failure', async () => {
    server = await startOpenAiServer({ models: [MODEL] });
    const url = server.url;
    await server.close();
    server = null;
    const ctx = await mllmRig(dir, { n: 3, settings: settings(url) });
    const r = await httpMllmRunner(ctx);
    expect(!r.ok && r.error.reason).toBe('http-unreachable');
    expect(!r.ok && r.error.message).toMatch(/cannot reach .*ECONNREFUSED.*start the server/);
  });

  it('a missing API key variable is named', async () => {
    server = await startOpenAiServer({ models: [MODEL] });
    const ctx = await mllmRig(dir, {
      n: 1,
      settings: settings(server.url, { api_key_env: 'PEFUSE_NO_SUCH_KEY' }),
    });
    const r = await httpMllmRunner(ctx);
    expect(!r.ok && r.error.message).toContain('PEFUSE_NO_SUCH_KEY, which is not set');
  });
});

describe('faults', () => {
  /** Item q1 meets `faults` in order on its first attempts; other items are answered. */
  const scripted = (faults: Fault[]) => {
    let i = 0;
    return (_n: number, item: string | null): Fault =>
      item === 'q1' ? (faults[i++] ?? { kind: 'ok' }) : { kind: 'ok' };
  };

  it('429 with Retry-After, 500, a dropped connection and a slow answer are retried', async () => {
    server = await startOpenAiServer({
      models: [MODEL],
      fault: scripted([{ kind: '429', retryAfter: '1' }, { kind: '500' }, { kind: 'drop' }]),
    });
    const ctx = await mllmRig(dir, { n: 3, settings: settings(server.url) });
    const t0 = Date.now();
    const r = await httpMllmRunner(ctx);
    expect(r.ok).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(server.requests.filter((q) => q.item === 'q1')).toHaveLength(4);
    const retries = ctx.notices.filter((n) => n.type === 'item-retry');
    expect(retries.map((n) => n.type === 'item-retry' && n.failure.reason)).toEqual([
      'http-status',
      'http-status',
      'http-unreachable',
    ]);
    expect(retries[0]!.type === 'item-retry' && retries[0]!.delayMs).toBe(1000);
    expect(ctx.journal.size).toBe(3);
  });

  it('an answer slower than timeout_s is retried', async () => {
    server = await startOpenAiServer({ models: [MODEL], fault: scripted([{ kind: 'slow', ms: 1500 }]) });
    const ctx = await mllmRig(dir, { n: 2, settings: settings(server.url, { timeout_s: 0.5 }) });
    expect((await httpMllmRunner(ctx)).ok).toBe(true);
    const first = ctx.notices.find((n) => n.type === 'item-retry');
    expect(first?.type === 'item-retry' && first.failure.message).toMatch(/no answer .* within 0.5 s/);
  });

  it.each([
    ['malformed', 'malformed JSON'],
    ['empty', 'the model answered an empty text'],
    ['wrong-model', 'the answer came from model "some/other-model"'],
  ] as const)('a %s answer is retried, then the item fails with the reason', async (kind, reason) => {
    server = await startOpenAiServer({ models: [MODEL], fault: scripted(Array(9).fill({ kind })) });
    const ctx = await mllmRig(dir, { n: 3, settings: settings(server.url) });
    const r = await httpMllmRunner(ctx);
    expect(r.ok).toBe(true); // the stage runner went on; the executor fails the stage for q1
    expect(server.requests.filter((q) => q.item === 'q1')).toHaveLength(4);
    const f = ctx.failed.get('q1')!;
    expect(f.reason).toBe('bad-output');
    expect(f.message).toContain(reason);
    expect([...ctx.journal.keys()].sort()).toEqual(['q0', 'q2']);
  });

  it("a 400 is not retried: the item fails with the server's message", async () => {
    server = await startOpenAiServer({ models: [MODEL], fault: scripted([{ kind: '400' }]) });
    const ctx = await mllmRig(dir, { n: 2, settings: settings(server.url) });
    expect((await httpMllmRunner(ctx)).ok).toBe(true);
    expect(server.requests.filter((q) => q.item === 'q1')).toHaveLength(1);
    expect(ctx.failed.get('q1')).toMatchObject({ reason: 'http-status', retryable: false });
    expect(ctx.failed.get('q1')!.message).toContain(
      'answered 400: {"error":{"message":"top_k is not supported"}}',
    );
  });

  it('finish_reason length is recorded per item', async () => {
    server = await startOpenAiServer({ models: [MODEL], fault: scripted([{ kind: 'length' }]) });
    const ctx = await mllmRig(dir, { n: 2, settings: settings(server.url) });
    expect((await httpMllmRunner(ctx)).ok).toBe(true);
    expect((ctx.journal.get('q1')!.output as { finish_reason: string }).finish_reason).toBe('length');
    expect((ctx.journal.get('q0')!.output as { finish_reason: string }).finish_reason).toBe('stop');
    expect(ctx.lines.join('\n')).toContain('1 description(s) stopped at max_tokens (64)');
  });

  it('a server that dies mid-stage ends it with one message; answered items are kept', async () => {
    let srv: LoopbackServer | null = null;
    srv = await startOpenAiServer({
      models: [MODEL],
      latencyMs: 20,
      fault: (n) => {
        if (n === 10) void srv!.close();
        return n >= 10 ? { kind: 'drop' } : { kind: 'ok' };
      },
    });
    server = srv;
    const ctx = await mllmRig(dir, { n: 40, settings: settings(srv.url) });
    ctx.resources = { threads: 2, gpu: null, gpus: [], http: null };
    const r = await httpMllmRunner(ctx);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.reason).toBe('http-unreachable');
    // Requests 1-9 were answered, but the one in flight when the server closed may have been cut off.
    const kept = ctx.journal.size;
    expect([8, 9]).toContain(kept);
    expect(!r.ok && r.error.message).toContain(
      `stopped answering (cannot reach ${srv.url} (ECONNREFUSED)); ${kept} of 40 items are answered and kept, run the same command again to ask for the other ${40 - kept}`,
    );
    expect(ctx.failed.size).toBe(0);
  });
});

describe('helpers', () => {
  it('Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 7_000)).toBe(3000);
    expect(retryAfterMs(null)).toBeNull();
    expect(retryAfterMs('soon')).toBeNull();
  });

  it('images: downscaled to the longer side, cached, read once', async () => {
    const path = `${dir}/big.png`;
    await writePng(path, 400, 200);
    const enc = new ImageEncoder({ maxSide: 100 });
    const [a, b] = await Promise.all([enc.dataUri(path), enc.dataUri(path)]);
    expect(a).toEqual(b);
    expect(enc.encoded).toBe(1);
    expect(enc.downscaled).toBe(1);
    const sharp = (await import('sharp')).default;
    const bytes = Buffer.from((a as { value: string }).value.split(',')[1]!, 'base64');
    const meta = await sharp(bytes).metadata();
    expect([meta.width, meta.height]).toEqual([100, 50]);
    const missing = await enc.dataUri(`${dir}/nope.png`);
    expect(!missing.ok && missing.error.reason).toBe('input-missing');
  });
});
