/**
 * The front end: spec file → located tree → schema → semantic checks → sweep → points.
 * All problems are collected; nothing here throws for bad input.
 *
 *   YAML file (+ include: fragments, --set overrides, ${env:VAR})
 *     ─▶ located tree ─▶ ajv schema check ─▶ dataset/endpoint/seed checks ─▶ size check
 *     ─▶ sweep expansion ─▶ points (+ mode/block checks)
 */
import { checkReport, reportContext } from '../../reports/spec.js';
import { type Diagnostic, hasErrors } from '../diagnostics/diagnostic.js';
import type { DraftPoint } from '../plan/points.js';
import { expandPoints } from '../plan/points.js';
import { checkSweepSize } from '../sweep/count.js';
import { expandSweep } from '../sweep/expand.js';
import type { JsonObject } from '../util/json.js';
import { type LoadOptions, loadSpec } from './load.js';
import { type LNode, nodeAt, toJson } from './located.js';
import { checkDatasets, checkEndpoint, checkRepeatSeeds } from './semantic.js';
import type { DatasetSpec } from './types.js';
import { validateSchema } from './validate.js';

export interface CompiledSpec {
  path: string;
  tree: LNode;
  json: JsonObject;
  files: string[];
  points: DraftPoint[];
}

export function compileSpec(
  file: string,
  opts: LoadOptions & { datasetLabel: (d: DatasetSpec) => string },
): { spec: CompiledSpec | null; diagnostics: Diagnostic[] } {
  const { spec, diagnostics } = loadSpec(file, opts);
  if (!spec) return { spec: null, diagnostics };
  const json = toJson(spec.tree) as JsonObject;
  // One error per place: a value already reported while loading (an unset `${env:VAR}`) is not
  // reported again by the schema for its unsubstituted text.
  const reported = new Set(
    diagnostics
      .filter((d) => d.severity === 'error' && d.span)
      .map((d) => `${d.span!.file}:${d.span!.start}`),
  );
  diagnostics.push(
    ...validateSchema(spec.tree, json).filter(
      (d) => !d.span || !reported.has(`${d.span.file}:${d.span.start}`),
    ),
  );
  checkDatasets(spec.tree, diagnostics);
  checkEndpoint(spec.tree, diagnostics);
  checkRepeatSeeds(spec.tree, diagnostics);
  if (!checkSweepSize(spec.tree, diagnostics)) return { spec: null, diagnostics };
  const sweepNode = spec.tree.kind === 'map' ? spec.tree.entries.get('sweep')?.value : undefined;
  const assignments = expandSweep(sweepNode, diagnostics);
  if (hasErrors(diagnostics)) return { spec: null, diagnostics };
  const points = expandPoints(spec.tree, assignments, opts.datasetLabel, diagnostics);
  if (hasErrors(diagnostics)) return { spec: null, diagnostics };
  checkReport(spec.tree, reportContext(points, spec.path), diagnostics);
  if (hasErrors(diagnostics)) return { spec: null, diagnostics };
  return { spec: { path: spec.path, tree: spec.tree, json, files: spec.files, points }, diagnostics };
}

export { nodeAt };
