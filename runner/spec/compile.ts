/**
 * The spec layer of the front end: spec file → located tree → schema → semantic checks. The sweep and
 * the points come after it (runner/frontend.ts chains spec → sweep → plan); nothing here throws for bad
 * input, and every problem is collected.
 *
 *   YAML file (+ include: fragments, --set overrides, ${env:VAR})
 *     ─▶ located tree ─▶ ajv schema check ─▶ dataset/endpoint/seed checks
 */
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import type { JsonObject } from '../util/json.js';
import { type LoadOptions, loadSpec } from './load.js';
import { type LNode, toJson } from './located.js';
import { checkDatasets, checkEndpoint, checkRepeatSeeds } from './semantic.js';
import { checkSlurm } from './slurm.js';
import { validateSchema } from './validate.js';

/** A spec that loaded: its located tree (for diagnostics), its JSON, and every file it read. */
export interface CheckedSpec {
  path: string;
  tree: LNode;
  json: JsonObject;
  files: string[];
}

export function compileSpec(
  file: string,
  opts: LoadOptions,
): { spec: CheckedSpec | null; diagnostics: Diagnostic[] } {
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
  checkSlurm(spec.tree, diagnostics);
  return { spec: { path: spec.path, tree: spec.tree, json, files: spec.files }, diagnostics };
}
