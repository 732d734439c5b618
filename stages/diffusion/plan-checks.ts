/**
 * Plan-time checks of the `diffusion` block of each point (run by `resolveFacts`, so `validate`,
 * `plan` and `run` reject the same things):
 *
 * - error: an image-to-image pipeline (sdxl-turbo, generic) with `steps × strength < 1` runs no
 *   denoising step at all;
 * - error: `pipeline: generic` without a `model`, or `backend: diffusers` with `pipeline: dummy`;
 * - warning: a parameter the chosen pipeline ignores (it stays out of the stage key). The paper's
 *   fragment sets `image_guidance_scale` for every pipeline, so this is never an error.
 *
 * A value that came from a sweep has no place of its own in the spec; the diagnostic then points at the
 * pipeline (or the block) and names the point's values.
 */

import type { PlanContext } from '../../runner/contract/stage.js';
import { type Diagnostic, diag, type SourceSpan } from '../../runner/diagnostics/diagnostic.js';
import type { PointConfig } from '../../runner/spec/types.js';
import { diffusionNodeParams, isImageToImage, PIPELINE_READS, TUNING_PARAMS } from './params.js';

export function checkDiffusion(
  c: PointConfig,
  ctx: PlanContext,
  seen: Set<string>,
  diagnostics: Diagnostic[],
): void {
  const d = c.diffusion;
  if (d === undefined || !(c.mode === 'i2i' || c.mode === 'i2t')) return;
  const once = (id: string, make: () => Diagnostic) => {
    if (seen.has(id)) return;
    seen.add(id);
    diagnostics.push(make());
  };
  const at = (field: string, value?: unknown): SourceSpan | null =>
    ctx.spanOf(['diffusion', field], value) ??
    ctx.spanOf(['diffusion', 'pipeline'], d.pipeline) ??
    ctx.spanOf(['diffusion', 'pipeline']) ??
    ctx.spanOf(['diffusion']);

  if (d.backend === 'diffusers' && d.pipeline === 'dummy')
    once('diffusion:dummy-pipeline', () =>
      diag('`pipeline: dummy` runs only with `backend: dummy`', at('pipeline', 'dummy'), {
        hint: 'use sdxl-instructpix2pix, sdxl-turbo or generic with the diffusers backend',
      }),
    );
  if (d.pipeline === 'generic' && d.model === undefined)
    once('diffusion:generic-model', () =>
      diag('`pipeline: generic` needs a `diffusion.model` (the checkpoint id)', at('pipeline', 'generic'), {
        hint: 'e.g. `model: stabilityai/stable-diffusion-xl-refiner-1.0` (any AutoPipelineForImage2Image checkpoint)',
      }),
    );

  const params = diffusionNodeParams(d, c.seed);
  if (isImageToImage(d.pipeline)) {
    const steps = Number(params.steps);
    const strength = Number(params.strength);
    if (Math.floor(steps * strength) < 1)
      once(`diffusion:steps-strength:${d.pipeline}:${steps}:${strength}`, () =>
        diag(
          `\`diffusion.steps\` × \`diffusion.strength\` = ${steps} × ${strength} < 1: the ${d.pipeline} pipeline would run no denoising step`,
          at(d.steps !== undefined ? 'steps' : 'strength', d.steps ?? d.strength),
          {
            hint: `it runs int(steps × strength) steps; e.g. steps: ${Math.ceil(1 / strength)} or more at strength ${strength}`,
          },
        ),
      );
  }

  const reads = PIPELINE_READS[d.pipeline];
  for (const p of TUNING_PARAMS) {
    if (d[p] === undefined || reads.includes(p)) continue;
    once(`diffusion:ignored:${d.pipeline}:${p}`, () =>
      diag(
        `the ${d.pipeline} pipeline ignores \`diffusion.${p}\` (it stays out of the stage key)`,
        at(p, d[p]),
        {
          severity: 'warning',
          hint: `${d.pipeline} reads ${reads.join(', ')}`,
        },
      ),
    );
  }
}

/**
 * `plan`'s one line when diffusers stages will run without a GPU, or null: `stages` are the planned
 * stages (kind, model record, whether cached).
 */
export function cpuDiffusionNote(
  stages: ReadonlyArray<{ kind: string; model: unknown; cached: boolean }>,
  hasGpus: boolean,
): string | null {
  if (hasGpus) return null;
  const n = stages.filter(
    (s) =>
      !s.cached &&
      s.kind === 'diffusion.edit' &&
      typeof s.model === 'object' &&
      s.model !== null &&
      (s.model as { backend?: unknown }).backend === 'diffusers',
  ).length;
  if (n === 0) return null;
  return `note: no GPU (--gpus, resources.gpus, CUDA_VISIBLE_DEVICES): ${n} diffusion stage${n === 1 ? '' : 's'} will run on the CPU, which is slow (minutes per SDXL image; fine for a tiny checkpoint with dtype: fp32)\n`;
}
