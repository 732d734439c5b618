/**
 * The MLLM stage through the real CLI against a loopback OpenAI-compatible server: generations and the
 * served identity in DuckDB, the API key found nowhere on disk, `kill -9` loses only the requests in
 * flight, a server serving another model fails before any completion, `doctor` and `plan` wording.
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, pefuse, REPO_ROOT, tempDir } from '../helpers/cli.js';
import { type LoopbackServer, startOpenAiServer } from '../helpers/openai-server.js';

const MODEL = 'Qwen/Qwen2.5-VL-7B-Instruct';
const KEY = 'sk-loopback-e2e-7f3a9c1d55e2';
let server: LoopbackServer | null = null;
const dirs: string[] = [];

afterEach(async () => {
  await server?.close();
  server = null;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function spec(dir: string, url: string, extra = ''): string {
  const file = join(dir, 'spec.yaml');
  writeFileSync(
    file,
    `experiment: mllm-e2e
datasets:
  - { name: synthetic, seed: 3, n_gallery: 60, n_queries: 12 }
mode: t2i
mllm:
  backend: vllm
  model: ${MODEL}
  endpoint: ${url}
  api_key_env: PEFUSE_E2E_KEY
  concurrency: 2
  timeout_s: 10
${extra}retrieval: { backend: dummy, model: dummy }
`,
  );
  return file;
}

async function query(db: string, sql: string): Promise<Record<string, unknown>[]> {
  const inst = await DuckDBInstance.create(db, { access_mode: 'READ_ONLY' });
  const conn = await inst.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

/** Every file under `dir` (recursively) whose bytes contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

describe('pefuse run with an HTTP MLLM', () => {
  it('records generations and the served identity; the API key is sent but stored nowhere', async () => {
    server = await startOpenAiServer({ models: [MODEL], version: '0.9.2', latencyMs: 5 });
    const dir = tempDir('pefuse-mllm-e2e-');
    dirs.push(dir);
    const cache = join(dir, 'cache');
    const db = join(dir, 'results.duckdb');
    const env = { PEFUSE_E2E_KEY: KEY };
    const r = await pefuse(
      ['--cache', cache, '--db', db, 'run', spec(dir, server.url), '--reporter', 'plain'],
      {
        env,
      },
    );
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(server.requests).toHaveLength(12);
    expect(server.requests.every((q) => q.headers.authorization === `Bearer ${KEY}`)).toBe(true);

    const gens = await query(
      db,
      `SELECT item_id, description, text, tokens, prompt_tokens, completion_tokens, finish_reason, latency_s
       FROM generations WHERE kind = 'mllm.compose' ORDER BY item_id`,
    );
    expect(gens).toHaveLength(12);
    expect(gens[0]).toMatchObject({
      description: 0,
      tokens: 7,
      prompt_tokens: 100,
      completion_tokens: 7,
      finish_reason: 'stop',
    });
    expect(String(gens[0]!.text)).toMatch(/^description of \? seed \d+$/);
    const stage = await query(
      db,
      `SELECT backend, served_model, server_version FROM stages WHERE kind = 'mllm.compose'`,
    );
    expect(stage).toEqual([{ backend: `vllm:${MODEL}`, served_model: MODEL, server_version: '0.9.2' }]);

    // The key: in no cache file (manifests, journals, logs, objects, history), not in the database.
    expect(filesContaining(cache, KEY)).toEqual([]);
    expect(filesContaining(dir, KEY)).toEqual([]);
    expect(r.stdout).not.toContain(KEY);
    const plan = await pefuse(['--cache', cache, 'plan', spec(dir, server.url), '--json'], { env });
    expect(plan.stdout + plan.stderr).not.toContain(KEY);

    // A re-run is fully cached: no request.
    const again = await pefuse(
      ['--cache', cache, '--db', db, 'run', spec(dir, server.url), '--reporter', 'plain'],
      {
        env,
      },
    );
    expect(again.exitCode).toBe(0);
    expect(server.requests).toHaveLength(12);
  });

  it('after kill -9, only what was in flight is asked again', async () => {
    server = await startOpenAiServer({ models: [MODEL], latencyMs: 250 });
    const dir = tempDir('pefuse-mllm-kill-');
    dirs.push(dir);
    const cache = join(dir, 'cache');
    const file = spec(dir, server.url);
    const env = { NO_COLOR: '1', PEFUSE_E2E_KEY: KEY };
    const first = execa(process.execPath, [BIN, '--cache', cache, 'run', file, '--reporter', 'plain'], {
      cwd: REPO_ROOT,
      env,
      reject: false,
    });
    const t0 = Date.now();
    while (server.answered.length < 5 && Date.now() - t0 < 30_000)
      await new Promise((r) => setTimeout(r, 20));
    first.kill('SIGKILL');
    const r1 = await first;
    expect(r1.signal).toBe('SIGKILL');
    const answeredFirst = new Set(server.answered);
    const askedFirst = new Set(server.requests.map((q) => q.body!.seed as number));
    expect(answeredFirst.size).toBeGreaterThanOrEqual(5);
    expect(answeredFirst.size).toBeLessThan(12);

    const second = await server.close().then(async () => {
      server = await startOpenAiServer({ models: [MODEL], latencyMs: 5 });
      return pefuse(['--cache', cache, 'run', spec(dir, server.url), '--reporter', 'plain'], { env });
    });
    expect(second.exitCode).toBe(0);
    const askedAgain = server!.requests.map((q) => q.body!.seed as number);
    // Every item is asked for at least once over both runs, and again only when it was in flight at
    // the kill (at most the concurrency window, 2, plus answers sent but not yet journaled).
    expect(new Set([...askedFirst, ...askedAgain]).size).toBe(12);
    const repeated = askedAgain.filter((s) => answeredFirst.has(s));
    expect(repeated.length).toBeLessThanOrEqual(2);
    expect(askedAgain.length).toBeLessThanOrEqual(12 - answeredFirst.size + 2);
  });

  it('a server serving another model: the stage fails at once naming both, no completion sent', async () => {
    server = await startOpenAiServer({ models: ['llava-hf/llava-1.5-7b-hf'] });
    const dir = tempDir('pefuse-mllm-wrong-');
    dirs.push(dir);
    const r = await pefuse(
      ['--cache', join(dir, 'cache'), 'run', spec(dir, server.url), '--reporter', 'plain'],
      {
        env: { PEFUSE_E2E_KEY: KEY },
      },
    );
    expect(r.exitCode).toBe(1);
    expect(r.stdout + r.stderr).toContain(
      `serves "llava-hf/llava-1.5-7b-hf", not "${MODEL}" (mllm.model); no request was sent`,
    );
    expect(server.chats).toBe(0);
  });
});

describe('pefuse doctor and plan', () => {
  it('doctor SPEC asks each server what it serves', async () => {
    server = await startOpenAiServer({ models: [MODEL], version: '0.9.2' });
    const dir = tempDir('pefuse-doctor-');
    dirs.push(dir);
    const ok = await pefuse(['doctor', spec(dir, server.url)], { env: { PEFUSE_E2E_KEY: KEY } });
    expect(ok.stdout).toMatch(/^runtime\n {2}ok {4}node /);
    expect(ok.stdout).toContain(`ok    mllm ${server.url}  serves "${MODEL}" (version 0.9.2)`);
    expect(ok.exitCode).toBe(0);
    const missingKey = await pefuse(['doctor', spec(dir, server.url)]);
    expect(missingKey.stdout).toContain('FAIL  mllm');
    expect(missingKey.stdout).toContain('mllm.api_key_env names PEFUSE_E2E_KEY, which is not set');
    expect(missingKey.exitCode).toBe(1);
    const url = server.url;
    await server.close();
    server = null;
    const down = await pefuse(['doctor', spec(dir, url)], { env: { PEFUSE_E2E_KEY: KEY } });
    expect(down.stdout).toContain(`FAIL  mllm ${url}  cannot reach ${url}/models (ECONNREFUSED)`);
    expect(down.stdout).toContain('1 check(s) failed');
  });

  it('plan warns, located, about fields the openai backend cannot take; --show-prompt renders the template', async () => {
    const dir = tempDir('pefuse-plan-mllm-');
    dirs.push(dir);
    writeFileSync(join(dir, 'p.txt'), 'Target for: {text}\n');
    const file = join(dir, 'spec.yaml');
    writeFileSync(
      file,
      `experiment: x
datasets: [{ name: synthetic }]
mode: t2i
mllm: { backend: openai, model: gpt-4o, top_k: 20, prompt: { synthetic: p.txt } }
retrieval: { backend: dummy, model: dummy }
`,
    );
    const r = await pefuse(['plan', file, '--show-prompt']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(
      'spec.yaml:4:48: warning: mllm.top_k is not sent to backend "openai" (its API rejects the field): the server\'s own top_k applies',
    );
    expect(r.stdout).toContain('text:   Target for: is red and has long sleeves');
    writeFileSync(join(dir, 'p.txt'), 'Target for: {txt}\n');
    const bad = await pefuse(['plan', file]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('uses unknown placeholder(s) {txt}');
  });

  it('raw: the modification text is the description (no server); raw cannot caption; extra_body cannot override sampling', async () => {
    const dir = tempDir('pefuse-raw-');
    dirs.push(dir);
    const file = join(dir, 'spec.yaml');
    const write = (mode: string, mllm: string) =>
      writeFileSync(
        file,
        `experiment: raw
datasets: [{ name: synthetic, n_gallery: 60, n_queries: 10 }]
mode: ${mode}
mllm: ${mllm}
retrieval: { backend: dummy, model: dummy }
`,
      );
    write('t2i', '{ backend: raw }');
    const db = join(dir, 'r.duckdb');
    const r = await pefuse(['--cache', join(dir, 'cache'), '--db', db, 'run', file, '--reporter', 'plain']);
    expect(r.exitCode).toBe(0);
    const gens = await query(db, `SELECT g.text, g.backend FROM generations g ORDER BY item_id LIMIT 1`);
    expect(gens[0]?.backend).toBe('raw');
    expect(String(gens[0]?.text)).not.toBe('');
    write('t2t', '{ backend: raw }');
    const t2t = await pefuse(['plan', file]);
    expect(t2t.exitCode).toBe(2);
    expect(t2t.stderr).toContain('mllm.backend "raw" has no gallery captions, but mode t2t needs them');
    write('t2i', '{ backend: vllm, model: m, extra_body: { temperature: 0.7 } }');
    const extra = await pefuse(['plan', file]);
    expect(extra.exitCode).toBe(2);
    expect(extra.stderr).toContain(
      'mllm.extra_body.temperature would override a field pefuse sets on every request',
    );
    write('t2i', '{ backend: vllm }');
    const noModel = await pefuse(['plan', file]);
    expect(noModel.exitCode).toBe(2);
    expect(noModel.stderr).toContain('mllm.model is required for backend "vllm"');
  });

  it('descriptions, max_image_side and extra_body change the MLLM key; endpoint, api_key_env, timeout_s and concurrency do not', async () => {
    const dir = tempDir('pefuse-keys-');
    dirs.push(dir);
    const file = join(dir, 'spec.yaml');
    const base = 'backend: vllm, model: m';
    const variants = [
      base,
      `${base}, endpoint: "http://other:9000/v1", api_key_env: K, timeout_s: 9, concurrency: 64`,
      `${base}, descriptions: 3`,
      `${base}, max_image_side: 448`,
      `${base}, extra_body: { mm_processor_kwargs: { max_pixels: 1003520 } }`,
    ];
    const keys: string[] = [];
    for (const v of variants) {
      writeFileSync(
        file,
        `experiment: k\ndatasets: [{ name: synthetic }]\nmode: t2i\nmllm: { ${v} }\nretrieval: { backend: dummy, model: dummy }\n`,
      );
      const r = await pefuse(['--cache', join(dir, 'cache'), 'plan', file, '--json']);
      expect(r.exitCode).toBe(0);
      keys.push(JSON.parse(r.stdout).point_list[0].stages['query-text']);
    }
    expect(keys[1]).toBe(keys[0]);
    expect(new Set([keys[0], keys[2], keys[3], keys[4]]).size).toBe(4);
  });
});
