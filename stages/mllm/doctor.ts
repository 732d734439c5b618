/**
 * `pefuse doctor SPEC`: for each HTTP MLLM server the spec's stages use, what `/v1/models` answers and
 * whether the spec's model is among them (the check the stage makes before any work); for each server
 * pefuse would start (`mllm.server`), the command and where its executable is (nothing is started).
 */

import type { StageNodeSpec } from '../../runner/contract/stage.js';
import type { CheckResult, DoctorCheck } from '../../runner/doctor/checks.js';
import { isJsonObject } from '../../runner/util/json.js';
import { MLLM_ENDPOINT_DEFAULTS, MLLM_TIMEOUT_S } from '../defaults.js';
import { MllmClient } from './client.js';
import { isHttpBackend } from './request.js';
import { displayCommand, type ServerConfig } from './server-config.js';
import { findExecutable } from './server-launch.js';

export function mllmServerChecks(nodes: readonly StageNodeSpec[], env: NodeJS.ProcessEnv): DoctorCheck[] {
  const seen = new Map<string, { endpoint: string; model: string; keyEnv: string | undefined }>();
  const started = new Map<string, ServerConfig>();
  for (const n of nodes) {
    const s = n.settings;
    if (typeof s.backend !== 'string' || !isHttpBackend(s.backend)) continue;
    if (typeof s.server === 'string' && isJsonObject(s.server_config)) {
      started.set(s.server, s.server_config as unknown as ServerConfig);
      continue;
    }
    const endpoint = typeof s.endpoint === 'string' ? s.endpoint : MLLM_ENDPOINT_DEFAULTS[s.backend];
    const model = String(s.model ?? '');
    const keyEnv = typeof s.api_key_env === 'string' ? s.api_key_env : undefined;
    seen.set(`${endpoint}\0${model}\0${keyEnv ?? ''}`, { endpoint, model, keyEnv });
  }
  const own: DoctorCheck[] = [...started.entries()].map(([id, cfg]) => ({
    group: 'servers',
    async run(): Promise<CheckResult[]> {
      const file = cfg.command[0] ?? '';
      const exe = findExecutable(file, cfg.env.PATH ?? env.PATH ?? '');
      const command = displayCommand(cfg);
      const gpus = `${cfg.gpus_per_server} GPU${cfg.gpus_per_server === 1 ? '' : 's'} each`;
      return exe === null
        ? [
            {
              name: `mllm ${id}`,
              status: 'fail',
              detail: `pefuse would start \`${command}\`, but "${file}" is not ${file.includes('/') ? 'an executable file' : 'on PATH'}`,
            },
          ]
        : [{ name: `mllm ${id}`, status: 'ok', detail: `pefuse starts \`${command}\` (${exe}; ${gpus})` }];
    },
  }));
  return [
    ...own,
    ...[...seen.values()].map(({ endpoint, model, keyEnv }) => ({
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
    })),
  ];
}
