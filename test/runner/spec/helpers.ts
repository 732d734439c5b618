/**
 * Plans a spec written to a temp dir (through the real planner and stage pipeline, without a cache)
 * and returns the diagnostics rendered exactly as the CLI prints them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderDiagnostics } from '../../../runner/diagnostics/render.js';
import { planFile } from '../../../runner/frontend.js';
import type { Plan } from '../../../runner/plan/types.js';
import type { PointConfig } from '../../../runner/spec/types.js';
import { createPipeline } from '../../../stages/catalog.js';
import { tempDir } from '../../helpers/cli.js';

export const BASE = `experiment: t
datasets:
  - { name: synthetic }
mode: t2i
mllm: { backend: dummy, model: m }
retrieval: { backend: dummy, model: d }
`;

export interface Checked {
  ok: boolean;
  /** What `pefuse validate` prints on stderr (errors, or the plan's warnings). */
  text: string;
  plan: Plan | null;
}

export async function check(
  files: Record<string, string | Buffer>,
  opts: { overrides?: string[]; env?: Record<string, string> } = {},
): Promise<Checked> {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  const r = await planFile('spec.yaml', {
    overrides: opts.overrides ?? [],
    cwd: dir,
    env: opts.env ?? {},
    cacheRoot: join(dir, 'cache'),
    pipeline: createPipeline(),
  });
  return r.ok
    ? { ok: true, text: renderDiagnostics(r.value.warnings), plan: r.value }
    : { ok: false, text: renderDiagnostics(r.error), plan: null };
}

/** The first point's configuration of a spec that planned (fails the test otherwise). */
export function firstConfig(r: Checked): PointConfig {
  const p = r.plan?.points[0];
  if (!p) throw new Error(`the spec did not plan:\n${r.text}`);
  return p.config as unknown as PointConfig;
}
