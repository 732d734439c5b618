/**
 * The request bodies and answers of the OpenAI-compatible MLLM backends, spelled per backend:
 *
 *   vllm, sglang   POST {endpoint}/chat/completions   every sampling field top-level (+ min_p 0)
 *   openai         POST {endpoint}/chat/completions   top_k and repetition_penalty left out (the API
 *                                                      rejects them; planning warns, see plan.ts)
 *   ollama         POST {root}/api/chat                native API: sampling in `options` (its OpenAI
 *                                                      layer ignores top_k), image as raw base64
 *
 * Every request states every sampling field and a per-request seed, so no server or model default
 * (Qwen2.5-VL's generation_config.json: top_k 1, top_p 0.001) silently takes over (models.md §1.2).
 */

import { isJsonObject, type JsonObject, type JsonValue } from '../../runner/util/json.js';

import type { HttpBackend } from './backends.js';

export { HTTP_BACKENDS, type HttpBackend, isHttpBackend } from './backends.js';

/** The sampling fields of the key record (stages/pipeline.ts fills every one). */
export interface Sampling {
  temperature: number;
  top_p: number;
  top_k: number;
  repetition_penalty: number;
  max_tokens: number;
}

/** Sampling fields a backend's API rejects (left out of its requests, with a plan warning). */
export const UNSUPPORTED_FIELDS: Record<HttpBackend, readonly (keyof Sampling)[]> = {
  vllm: [],
  sglang: [],
  ollama: [],
  openai: ['top_k', 'repetition_penalty'],
};

/** The system message every request carries (Qwen's reference layout; the same for every backend). */
export const SYSTEM_MESSAGE = 'You are a helpful assistant.';

/** The request seed: f(point seed, item id, description index), one definition for every backend. */
export { mllmSeed as requestSeed } from './seed.js';

/** Reads the sampling fields from a key record's params; a missing one is a bug in the pipeline. */
export function samplingOf(params: JsonObject): Sampling | string {
  const out: Partial<Sampling> = {};
  for (const k of ['temperature', 'top_p', 'top_k', 'repetition_penalty', 'max_tokens'] as const) {
    const v = params[k];
    if (typeof v !== 'number') return `the stage record has no numeric ${k}`;
    out[k] = v;
  }
  return out as Sampling;
}

export interface ChatRequest {
  /** Path relative to the endpoint root handled by the client (`chat` or `ollama`). */
  api: 'chat' | 'ollama';
  body: JsonObject;
}

export interface RequestParts {
  backend: HttpBackend;
  model: string;
  prompt: string;
  /** `data:image/<type>;base64,<b64>` */
  image: string;
  sampling: Sampling;
  seed: number;
  extraBody: JsonObject;
}

export function buildRequest(p: RequestParts): ChatRequest {
  const s = p.sampling;
  if (p.backend === 'ollama') {
    const b64 = p.image.slice(p.image.indexOf(',') + 1);
    return {
      api: 'ollama',
      body: {
        model: p.model,
        messages: [
          { role: 'system', content: SYSTEM_MESSAGE },
          { role: 'user', content: p.prompt, images: [b64] },
        ],
        stream: false,
        options: {
          temperature: s.temperature,
          top_p: s.top_p,
          top_k: s.top_k,
          min_p: 0,
          repeat_penalty: s.repetition_penalty,
          num_predict: s.max_tokens,
          seed: p.seed,
        },
        ...p.extraBody,
      },
    };
  }
  const body: JsonObject = {
    model: p.model,
    messages: [
      { role: 'system', content: SYSTEM_MESSAGE },
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: p.image } },
          { type: 'text', text: p.prompt },
        ],
      },
    ],
    temperature: s.temperature,
    top_p: s.top_p,
    max_tokens: s.max_tokens,
    seed: p.seed,
    n: 1,
    stream: false,
  };
  if (p.backend !== 'openai') {
    body.top_k = s.top_k;
    body.repetition_penalty = s.repetition_penalty;
    // llama.cpp's server (and others behind the same spelling) default to min_p 0.05: not the paper's sampler.
    body.min_p = 0;
  }
  return { api: 'chat', body: { ...body, ...p.extraBody } };
}

/** One answer, as recorded per description. */
export interface Answer {
  text: string;
  finish_reason: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
}

const num = (v: JsonValue | undefined): number | null => (typeof v === 'number' ? v : null);

/** Parses a response body; a string says why it is not a usable answer (retried, then the item fails). */
export function parseAnswer(api: ChatRequest['api'], json: JsonValue, model: string): Answer | string {
  if (!isJsonObject(json)) return 'the answer is not a JSON object';
  if (typeof json.model === 'string' && json.model !== model && api === 'chat')
    return `the answer came from model "${json.model}", not "${model}"`;
  if (api === 'ollama') {
    const msg = json.message;
    if (!isJsonObject(msg) || typeof msg.content !== 'string') return 'the answer has no message.content';
    const text = msg.content.trim();
    if (text === '') return 'the model answered an empty text';
    return {
      text,
      finish_reason: typeof json.done_reason === 'string' ? json.done_reason : null,
      prompt_tokens: num(json.prompt_eval_count),
      completion_tokens: num(json.eval_count),
    };
  }
  const choices = json.choices;
  if (!Array.isArray(choices) || choices.length === 0) return 'the answer has no choices';
  const c = choices[0];
  if (!isJsonObject(c)) return 'the answer has no choices';
  const msg = c.message;
  if (!isJsonObject(msg) || typeof msg.content !== 'string')
    return 'the answer has no choices[0].message.content';
  const text = msg.content.trim();
  if (text === '') return 'the model answered an empty text';
  const usage = isJsonObject(json.usage) ? json.usage : {};
  return {
    text,
    finish_reason: typeof c.finish_reason === 'string' ? c.finish_reason : null,
    prompt_tokens: num(usage.prompt_tokens),
    completion_tokens: num(usage.completion_tokens),
  };
}
