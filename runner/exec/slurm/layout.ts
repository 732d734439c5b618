/**
 * The Slurm view of a plan, shared by the dry run (`pefuse plan SPEC --executor slurm`) and the
 * executor: where each stage to run goes (placement.ts), the first submission's script of each stage
 * placed on Slurm, and what is refused under Slurm (servers pefuse starts itself).
 */
import { join } from 'node:path';
import { stageResource, stageShardUnit } from '../../contract/stage.js';
import type { Plan, PlannedStage } from '../../plan/types.js';
import { isJsonObject, type JsonObject } from '../../util/json.js';
import { shardCommand } from './command.js';
import type { SlurmOptions } from './options.js';
import { type Placement, placeStage } from './placement.js';
import { renderScript, type ScriptInput } from './script.js';

/** The serialised stage description the shards read (in the stage folder of the shared cache). */
export const DESCRIPTION_FILE = 'description.json';

export function stageDirOf(cacheRoot: string, key: string): string {
  return join(cacheRoot, 'stages', key);
}

export interface PlacedStage {
  stage: PlannedStage;
  placement: Placement;
}

/** Every stage that will run, with where it goes. */
export function placePlan(plan: Plan, o: SlurmOptions): PlacedStage[] {
  return plan.stages
    .filter((s) => s.status === 'run')
    .map((stage) => ({
      stage,
      placement: placeStage(
        {
          kind: stage.node.kind,
          resource: stageResource(stage.definition, stage.node),
          items: stage.node.items,
          unit: stageShardUnit(stage.definition, stage.node),
        },
        o,
      ),
    }));
}

/** The script input of a submission of `shards` of a placed stage. */
export function scriptInput(
  stage: PlannedStage,
  gpu: boolean,
  shards: readonly number[],
  total: number,
  ctx: { cacheRoot: string; cwd: string },
): ScriptInput {
  const stageDir = stageDirOf(ctx.cacheRoot, stage.key);
  const descriptionFile = join(stageDir, DESCRIPTION_FILE);
  return {
    key: stage.key,
    kind: stage.node.kind,
    stageDir,
    shards,
    gpu,
    visibleFile: descriptionFile,
    node: process.execPath,
    command: shardCommand({ cacheRoot: ctx.cacheRoot, key: stage.key, shards: total }),
    cwd: ctx.cwd,
  };
}

/**
 * Why this plan cannot run under Slurm, one line per reason (empty: it can). Servers that pefuse starts
 * itself (`mllm.server`) would have to run inside a job beside the shards that use them: not in this
 * version. Read defensively from the points' configuration, so it holds whatever shape the block has.
 */
export function slurmRefusals(plan: Plan): string[] {
  const toRun = plan.stages.filter((s) => s.status === 'run' && s.node.kind.startsWith('mllm.'));
  const points = new Set(toRun.flatMap((s) => s.points));
  const withServer = plan.points.filter((p) => {
    if (!points.has(p.index)) return false;
    const m = p.config.mllm;
    return (
      isJsonObject(m ?? null) && (m as JsonObject).server !== undefined && (m as JsonObject).server !== null
    );
  });
  if (withServer.length === 0) return [];
  return [
    `the spec asks pefuse to start the MLLM server itself (mllm.server), which --executor slurm does not do in this version: start the server yourself (on a GPU node, or as its own Slurm job) and give its URL as mllm.endpoint; the MLLM stages then run from the submit host against it`,
  ];
}

/** `pefuse plan SPEC --executor slurm`: what would be submitted, and each first submission's script. */
export function dryRunText(
  plan: Plan,
  o: SlurmOptions,
  ctx: { cacheRoot: string; cwd: string; sharedFs: string },
): string {
  const placed = placePlan(plan, o);
  const onSlurm = placed.filter((p) => p.placement.where === 'slurm');
  const shards = onSlurm.reduce(
    (n, p) => n + (p.placement.where === 'slurm' ? p.placement.shards.length : 0),
    0,
  );
  const out: string[] = [
    '',
    `slurm: ${onSlurm.length} stage${onSlurm.length === 1 ? '' : 's'} as job arrays (${shards} shard${shards === 1 ? '' : 's'}), ${placed.length - onSlurm.length} on the submit host, ${plan.stages.length - placed.length} cached or not run`,
    `slurm: ${ctx.sharedFs}`,
  ];
  for (const r of slurmRefusals(plan)) out.push(`slurm: refused: ${r}`);
  // The submit host's share, one line per kind and reason (a sweep has many alike).
  const local = new Map<string, number>();
  for (const p of placed) {
    if (p.placement.where !== 'local') continue;
    const id = `${p.stage.node.kind.padEnd(14)} ${p.placement.why}`;
    local.set(id, (local.get(id) ?? 0) + 1);
  }
  for (const [id, n] of local) out.push(`  ${String(n).padStart(4)} × ${id}`);
  for (const p of onSlurm) {
    if (p.placement.where !== 'slurm') continue;
    const input = scriptInput(
      p.stage,
      p.placement.gpu,
      p.placement.shards.map((s) => s.index),
      p.placement.shards.length,
      ctx,
    );
    out.push(
      '',
      `# ---- ${p.stage.node.kind} ${p.stage.node.role} ${p.stage.key.slice(0, 12)}: ${p.placement.why} ----`,
      renderScript(input, o).trimEnd(),
    );
  }
  return `${out.join('\n')}\n`;
}
