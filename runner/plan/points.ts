/**
 * Points: datasets × sweep assignments × repeats, each with its resolved configuration and typed params.
 * Also runs the semantic checks that depend on a point's final configuration (a swept `mode` that needs a
 * model block the spec lacks), located at whichever YAML node set the value.
 */
import { type Diagnostic, diag, type SourceSpan } from '../diagnostics/diagnostic.js';
import { type LNode, nodeAt, toJson } from '../spec/located.js';
import { missingBlockDiagnostic, requiredBlocks } from '../spec/semantic.js';
import type { DatasetSpec, Mode, PointConfig } from '../spec/types.js';
import type { Assignment } from '../sweep/expand.js';
import { canonicalJson, isJsonObject, type JsonObject, type JsonValue, sha256Hex } from '../util/json.js';
import type { ParamValue } from './types.js';

export interface DraftPoint {
  params: Record<string, ParamValue>;
  /** Where each swept path's axis is written in the sweep (warnings about an axis point there). */
  axes: Record<string, SourceSpan>;
  config: PointConfig;
  id: string;
}

const NOT_POINT_CONFIG = new Set([
  'experiment',
  'description',
  'include',
  'datasets',
  'sweep',
  'report',
  'repeats',
  'resources',
  // Execution, not configuration: never in a point's config, a stage key or a point id.
  'slurm',
]);

export function expandPoints(
  tree: LNode,
  assignments: readonly Assignment[],
  datasetLabel: (d: DatasetSpec) => string,
  diagnostics: Diagnostic[],
): DraftPoint[] {
  const json = toJson(tree) as JsonObject;
  const base: JsonObject = {};
  for (const [k, v] of Object.entries(json)) if (!NOT_POINT_CONFIG.has(k)) base[k] = v;
  const datasets = (Array.isArray(json.datasets) ? json.datasets : []) as unknown as DatasetSpec[];
  const seeds = repeatSeeds(json.repeats, typeof json.seed === 'number' ? json.seed : 0);
  const showRepeat =
    seeds.length > 1 || (isJsonObject(json.repeats ?? null) && 'seeds' in (json.repeats as JsonObject));
  const modeSpan = nodeAt(tree, ['mode']).node.span;
  const reported = new Set<string>();
  const points: DraftPoint[] = [];
  const seen = new Set<string>();
  const labels = distinctLabels(datasets, datasetLabel);
  for (const [i, dataset] of datasets.entries()) {
    const label = labels[i]!;
    for (const a of assignments) {
      // Copy-on-write: only the blocks an assignment changes are copied; the others stay shared by
      // reference across points (cheaper for 100k-point grids, and identity-cached when keyed).
      const cfg: JsonObject = { ...base };
      for (const [path, v] of a) setDotted(cfg, path, v.value);
      for (let r = 0; r < seeds.length; r++) {
        const params: Record<string, ParamValue> = { dataset: label };
        const axes: Record<string, SourceSpan> = {};
        for (const [path, v] of a) {
          params[path] = v.value;
          axes[path] = v.axis;
        }
        if (showRepeat) {
          params.repeat = r;
          params.seed = seeds[r]!;
        }
        const config = { ...cfg, dataset, seed: seeds[r]!, repeat: r } as unknown as PointConfig;
        const key = canonicalJson(params as JsonObject);
        if (seen.has(key)) continue;
        seen.add(key);
        checkBlocks(config, a.get('mode')?.span ?? modeSpan, reported, diagnostics);
        // The swept values and seed; build.ts adds the point's stage keys to make its id.
        points.push({ params, axes, config, id: sha256Hex(`${key}\u0000${seeds[r]}`).slice(0, 12) });
      }
    }
  }
  return points;
}

/**
 * Each dataset entry's label (the `dataset` axis value). Two different entries with the same label (two
 * synthetic sets of different sizes, one benchmark from two roots) get `#<list index>` appended, so
 * neither is mistaken for a repeat of the other and dropped; identical entries keep one label (and
 * collapse into the same points).
 */
function distinctLabels(datasets: readonly DatasetSpec[], label: (d: DatasetSpec) => string): string[] {
  const plain = datasets.map(label);
  const variants = new Map<string, Set<string>>();
  datasets.forEach((d, i) => {
    const set = variants.get(plain[i]!) ?? new Set<string>();
    set.add(canonicalJson(d as unknown as JsonValue));
    variants.set(plain[i]!, set);
  });
  const first = new Map<string, number>();
  return datasets.map((d, i) => {
    const l = plain[i]!;
    if (variants.get(l)!.size === 1) return l;
    const k = `${l}\u0000${canonicalJson(d as unknown as JsonValue)}`;
    if (!first.has(k)) first.set(k, i);
    return `${l}#${first.get(k)}`;
  });
}

function repeatSeeds(repeats: JsonValue | undefined, seed: number): number[] {
  if (typeof repeats === 'number' && repeats >= 1) return Array.from({ length: repeats }, (_, i) => seed + i);
  if (isJsonObject(repeats ?? null) && Array.isArray((repeats as JsonObject).seeds))
    return ((repeats as JsonObject).seeds as number[]).slice();
  return [seed];
}

/** Sets a dotted path, copying each object on the way (the base spec's objects are shared). */
function setDotted(obj: JsonObject, path: string, value: JsonValue): void {
  const parts = path.split('.');
  let cur = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    const next = cur[p];
    const copy: JsonObject = isJsonObject(next ?? null) ? { ...(next as JsonObject) } : {};
    cur[p] = copy;
    cur = copy;
  }
  cur[parts[parts.length - 1]!] = value;
}

function checkBlocks(
  config: PointConfig,
  span: SourceSpan,
  reported: Set<string>,
  diagnostics: Diagnostic[],
): void {
  const mode = config.mode as Mode;
  if (!['t2i', 'i2i', 't2t', 'i2t'].includes(mode)) return; // the schema reported it
  const text = config.diffusion?.text;
  for (const block of requiredBlocks(mode, text)) {
    if (config[block] !== undefined) continue;
    const id = `${mode}:${block}:${span.start}`;
    if (reported.has(id)) continue;
    reported.add(id);
    diagnostics.push(missingBlockDiagnostic(mode, block, span, text === 'mllm'));
  }
}

export function emptySweepDiagnostic(span: SourceSpan): Diagnostic {
  return diag('the sweep produced no points', span);
}
