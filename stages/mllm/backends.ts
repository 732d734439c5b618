/** The MLLM backends served over HTTP by the in-process client (stages/mllm/runner.ts). */
export const HTTP_BACKENDS = ['vllm', 'sglang', 'ollama', 'openai'] as const;
export type HttpBackend = (typeof HTTP_BACKENDS)[number];

export function isHttpBackend(b: string): b is HttpBackend {
  return (HTTP_BACKENDS as readonly string[]).includes(b);
}
