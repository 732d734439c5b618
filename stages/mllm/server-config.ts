/**
 * `mllm.server` at plan time: the resolved server configuration a stage node carries in its settings
 * (never in its key), the group id that names one set of servers for the whole run (also the scheduler's
 * request-window key, `settings.server`), the command template, and the located checks.
 *
 * What is in the stage key and what is not: the served model (`mllm.model`, `revision`) and every
 * sampling field are, through the existing fields; the server block is execution — how and where the
 * model is served — as it is for a server the user starts (whose flags pefuse cannot see). Its command
 * is recorded in the stage manifest (`output.server_command`) for provenance.
 */

import type { PlanContext } from '../../runner/contract/stage.js';
import { type Diagnostic, diag } from '../../runner/diagnostics/diagnostic.js';
import type { MllmSpec, PointConfig } from '../../runner/spec/types.js';
import { canonicalJson, type JsonObject, sha256Hex } from '../../runner/util/json.js';
import { MLLM_SERVER_COMMANDS, MLLM_SERVER_DEFAULTS } from '../defaults.js';

/** What a node's `settings.server_config` holds: everything needed to start and supervise a server. */
export interface ServerConfig {
  backend: string;
  model: string;
  revision: string | null;
  /** Template words; `{model}`, `{port}`, `{host}`, `{gpus_per_server}`, `{revision}` are filled per server. */
  command: string[];
  env: Record<string, string>;
  gpus_per_server: number;
  max_servers: number | null;
  port: number | null;
  startup_timeout_s: number;
  max_restarts: number;
}

export const PLACEHOLDERS = ['model', 'port', 'host', 'gpus_per_server', 'revision'] as const;

/** Splits a command line into words: blanks separate, '…' and "…" quote, \ escapes (outside '…'). */
export function splitCommand(text: string): string[] | string {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else cur += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1] as string))
        cur += text[++i];
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote !== null) return `unclosed ${quote} quote`;
  if (inWord) words.push(cur);
  return words;
}

/** Fills the known `{name}` placeholders; any other brace text (a JSON flag value) is left as written. */
export function fillCommand(words: readonly string[], vars: Record<string, string>): string[] {
  return words.map((w) =>
    w.replace(/\{(model|port|host|gpus_per_server|revision)\}/g, (m, k: string) => vars[k] ?? m),
  );
}

/** The resolved server configuration of an `mllm` block with `server`, or a problem (checked at plan time). */
export function serverConfigOf(m: MllmSpec): ServerConfig | string {
  const s = m.server;
  if (!s) return 'no server block';
  let command: string[];
  if (s.command === undefined) {
    const dflt = MLLM_SERVER_COMMANDS[m.backend as keyof typeof MLLM_SERVER_COMMANDS];
    if (!dflt) return `no default command for backend "${m.backend}"`;
    command = [...dflt];
    if (m.revision !== undefined) command.push('--revision', '{revision}');
  } else if (typeof s.command === 'string') {
    const w = splitCommand(s.command);
    if (typeof w === 'string') return w;
    command = w;
  } else command = [...s.command];
  if (command.length === 0) return 'the command is empty';
  command.push(...(s.args ?? []));
  return {
    backend: m.backend,
    model: m.model ?? '',
    revision: m.revision ?? null,
    command,
    env: { ...(s.env ?? {}) },
    gpus_per_server: s.gpus_per_server ?? MLLM_SERVER_DEFAULTS.gpus_per_server,
    max_servers: s.max_servers ?? null,
    port: s.port ?? null,
    startup_timeout_s: s.startup_timeout_s ?? MLLM_SERVER_DEFAULTS.startup_timeout_s,
    max_restarts: s.max_restarts ?? MLLM_SERVER_DEFAULTS.max_restarts,
  };
}

/**
 * One set of servers per distinct configuration: `pefuse-started vllm:<model> #<hash>`. Stages with the
 * same id share the servers (and one request window).
 */
export function serverGroupId(cfg: ServerConfig): string {
  const hash = sha256Hex(canonicalJson(cfg as unknown as JsonObject)).slice(0, 10);
  return `pefuse-started ${cfg.backend}:${cfg.model} #${hash}`;
}

/** The command as a user reads it, with the port left as `{port}`. */
export function displayCommand(cfg: ServerConfig): string {
  const words = fillCommand(cfg.command, {
    model: cfg.model,
    host: MLLM_SERVER_DEFAULTS.host,
    gpus_per_server: String(cfg.gpus_per_server),
    revision: cfg.revision ?? '',
  });
  return words.map((w) => (/^[\w@%+=:,./{}-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Located checks of `mllm.server` for one point; `once` reports each problem once per plan. */
export function checkServer(
  c: PointConfig,
  ctx: PlanContext,
  once: (id: string, d: () => Diagnostic) => void,
): void {
  const m = c.mllm;
  if (!m?.server) return;
  const at = ctx.spanOf(['mllm', 'server']) ?? ctx.spanOf(['mllm', 'backend'], m.backend);
  if (m.endpoint !== undefined) {
    const ep = ctx.spanOf(['mllm', 'endpoint']);
    once('server:endpoint', () =>
      diag(
        '`mllm.endpoint` and `mllm.server` together: pefuse either talks to a server you started or starts its own',
        at,
        {
          ...(ep ? { related: [{ message: 'endpoint given here', span: ep }] } : {}),
          hint: 'remove `endpoint` to let pefuse start the server, or remove `server` to use the one at `endpoint`',
        },
      ),
    );
  }
  if (m.backend === 'transformers' || m.backend === 'dummy' || m.backend === 'raw') {
    once(`server:backend:${m.backend}`, () =>
      diag(`\`mllm.server\` starts an HTTP server, but backend "${m.backend}" uses none`, at, {
        hint: 'use backend vllm or sglang (or another OpenAI-compatible server with `server.command`)',
      }),
    );
    return;
  }
  const cfg = serverConfigOf(m);
  if (typeof cfg === 'string') {
    const cmdAt = ctx.spanOf(['mllm', 'server', 'command']) ?? at;
    once(`server:command:${cfg}`, () =>
      diag(`\`mllm.server\`: ${cfg}`, cmdAt, {
        hint:
          m.server?.command === undefined
            ? `pefuse has default commands for vllm and sglang; for ${m.backend}, write the command, e.g. \`command: "my-server --model {model} --port {port}"\``
            : 'write the command as one line (quotes as in a shell) or as a list of words',
      }),
    );
    return;
  }
  if (!cfg.command.some((w) => w.includes('{port}')))
    once('server:port', () =>
      diag(
        "`mllm.server.command` has no `{port}`: pefuse picks each server's port and must pass it",
        ctx.spanOf(['mllm', 'server', 'command']) ?? at,
        {
          hint: 'add e.g. `--port {port}` (and `--host {host}`: 127.0.0.1)',
        },
      ),
    );
}

/** A node's settings for a point with `mllm.server`: the group id (window key) and the configuration. */
export function serverSettings(m: MllmSpec): { server: string; server_config: JsonObject } | null {
  if (!m.server) return null;
  const cfg = serverConfigOf(m);
  if (typeof cfg === 'string') return null;
  return { server: serverGroupId(cfg), server_config: cfg as unknown as JsonObject };
}
