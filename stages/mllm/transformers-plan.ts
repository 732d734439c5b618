/**
 * Plan-time parts of `mllm.backend: transformers` (light: no worker code), used by stages/fingerprints.ts:
 * the fake-model test option and the notes on `mllm.batch_size`.
 */
import { isAbsolute, resolve } from 'node:path';
import type { PlanContext } from '../../runner/contract/stage.js';
import { type Diagnostic, diag } from '../../runner/diagnostics/diagnostic.js';
import { packageFile } from '../../runner/exec/python.js';
import type { PointConfig } from '../../runner/spec/types.js';

/** Absolute path of the worker program (from the package root: `tsc` does not copy `.py` files). */
export function mllmWorkerScript(): string {
  return packageFile('stages', 'mllm', 'worker.py');
}

/** The environment variable naming a fake model class (test option, worker.py `--fake-model`). */
export const MLLM_FAKE_ENV = 'PEFUSE_MLLM_FAKE';

/** The fake model named by the environment (a `.py` path made absolute against `cwd`), or null. */
export function mllmFakeOf(env: NodeJS.ProcessEnv, cwd: string): string | null {
  const v = env[MLLM_FAKE_ENV];
  if (v === undefined || v.trim() === '') return null;
  const i = v.lastIndexOf(':');
  const mod = i > 0 ? v.slice(0, i) : v;
  return mod.endsWith('.py') && !isAbsolute(mod) ? `${resolve(cwd, mod)}${v.slice(mod.length)}` : v;
}

/**
 * `mllm.batch_size` only means something to the transformers backend, and above 1 it gives up per-item
 * reproducibility (one RNG per batch): a located warning either way.
 */
export function checkMllmBatch(
  c: PointConfig,
  ctx: PlanContext,
  warned: Set<string>,
  diagnostics: Diagnostic[],
): void {
  const m = c.mllm;
  if (m?.batch_size === undefined || m.batch_size <= 1) return;
  const id = `mllm.batch_size:${m.backend}:${m.batch_size}`;
  if (warned.has(id)) return;
  warned.add(id);
  const at = ctx.spanOf(['mllm', 'batch_size'], m.batch_size);
  diagnostics.push(
    m.backend === 'transformers'
      ? diag(
          `mllm.batch_size ${m.batch_size}: items are generated ${m.batch_size} at a time with one random stream per batch, so an item's text depends on its batch and is not reproducible on its own`,
          at,
          { severity: 'warning', hint: 'leave batch_size at 1 (the default) for per-item seeded outputs' },
        )
      : diag(`mllm.batch_size applies to backend transformers only; backend ${m.backend} ignores it`, at, {
          severity: 'warning',
          hint: 'remove mllm.batch_size, or use backend: transformers',
        }),
  );
}
