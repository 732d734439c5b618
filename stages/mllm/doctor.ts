/**
 * `pefuse doctor SPEC`: for each HTTP MLLM server the spec's stages use, what `/v1/models` answers and
 * whether the spec's model is among them (the check the stage makes before any work).
 */

import type { StageNodeSpec } from '../../runner/contract/stage.js';
import type { CheckResult, DoctorCheck } from '../../runner/doctor/checks.js';
import { MLLM_ENDPOINT_DEFAULTS, MLLM_TIMEOUT_S } from '../defaults.js';
import { MllmClient } from './client.js';
import { isHttpBackend } from './request.js';

export function mllmServerChecks(nodes: readonly StageNodeSpec[], env: NodeJS.ProcessEnv): DoctorCheck[] {
  const seen = new Map<string, { endpoint: string; model: string; keyEnv: string | undefined }>();
  for (const n of nodes) {
    const s = n.settings;
    if (typeof s.backend !== 'string' || !isHttpBackend(s.backend)) continue;
    const endpoint = typeof s.endpoint === 'string' ? s.endpoint : MLLM_ENDPOINT_DEFAULTS[s.backend];
    const model = String(s.model ?? '');
    const keyEnv = typeof s.api_key_env === 'string' ? s.api_key_env : undefined;
    seen.set(`${endpoint}\0${model}\0${keyEnv ?? ''}`, { endpoint, model, keyEnv });
  }
  return [...seen.values()].map(({ endpoint, model, keyEnv }) => ({
    group: 'servers',
    async run(): Promise<CheckResult[]> {
      const apiKey = keyEnv === undefined ? undefined : env[keyEnv];
      const client = new MllmClient({ endpoint, apiKey, timeoutMs: Math.min(MLLM_TIMEOUT_S, 10) * 1000 });
      const name = `mllm ${client.endpoint}`;
      if (keyEnv !== undefined && !apiKey)
        return [{ name, status: 'fail', detail: `mllm.api_key_env names ${keyEnv}, which is not set` }];
      const r = await client.served();
      if (!r.ok) return [{ name, status: 'fail', detail: r.error.message }];
      const version = r.value.version ? ` (version ${r.value.version})` : '';
      const list = r.value.models.map((m) => `"${m}"`).join(', ') || 'no model';
      return r.value.models.includes(model)
        ? [{ name, status: 'ok', detail: `serves "${model}"${version}` }]
        : [{ name, status: 'fail', detail: `serves ${list}, not "${model}" (mllm.model)${version}` }];
    },
  }));
}
