/**
 * The front end, read one way: spec → sweep → plan. Each layer hands its output to the next and none
 * calls back:
 *
 *   spec/compile (YAML, schema, semantics) ─▶ sweep (size check, assignments)
 *     ─▶ plan/points (datasets × assignments × repeats) ─▶ plan/build (facts, keys, DAG, cache status)
 */
import { checkReport, reportContext } from '../reports/spec.js';
import { type Diagnostic, diag, hasErrors } from './diagnostics/diagnostic.js';
import { type BuildOptions, buildPlan } from './plan/build.js';
import { type DraftPoint, expandPoints } from './plan/points.js';
import type { Plan } from './plan/types.js';
import { type CheckedSpec, compileSpec } from './spec/compile.js';
import type { DatasetSpec } from './spec/types.js';
import { type Assignment, sweepAssignments } from './sweep/index.js';
import { err, type Result } from './util/result.js';

export interface FrontOptions extends BuildOptions {
  overrides: readonly string[];
}

/** A spec's points (spec and sweep layers), or null with the diagnostics saying why. */
export function compilePoints(
  file: string,
  opts: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    overrides: readonly string[];
    datasetLabel: (d: DatasetSpec) => string;
  },
): { spec: CheckedSpec | null; points: DraftPoint[]; diagnostics: Diagnostic[] } {
  const { spec, diagnostics } = compileSpec(file, opts);
  if (!spec) return { spec: null, points: [], diagnostics };
  const assignments = sweepAssignments(spec.tree, diagnostics);
  if (assignments === null || hasErrors(diagnostics)) return { spec: null, points: [], diagnostics };
  diagnostics.push(...overriddenBySweep(opts.overrides, assignments));
  const points = expandPoints(spec.tree, assignments, opts.datasetLabel, diagnostics);
  if (hasErrors(diagnostics)) return { spec: null, points: [], diagnostics };
  checkReport(spec.tree, reportContext(points, spec.path), diagnostics);
  if (hasErrors(diagnostics)) return { spec: null, points: [], diagnostics };
  return { spec, points, diagnostics };
}

/** Plans a spec file: every problem located, warnings kept on the plan. */
export async function planFile(file: string, opts: FrontOptions): Promise<Result<Plan, Diagnostic[]>> {
  const { spec, points, diagnostics } = compilePoints(file, {
    cwd: opts.cwd,
    env: opts.env,
    overrides: opts.overrides,
    datasetLabel: opts.pipeline.datasetLabel,
  });
  if (!spec) return err(diagnostics);
  return buildPlan(spec, points, diagnostics, opts);
}

/**
 * `--set PATH=…` on a path that the sweep also sets: in the sweep's points the swept value wins, so the
 * override does not apply there. A warning at the sweep axis.
 */
function overriddenBySweep(overrides: readonly string[], assignments: readonly Assignment[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const o of overrides) {
    const path = o.slice(0, Math.max(0, o.indexOf('='))).trim();
    if (path === '' || seen.has(path)) continue;
    const swept = assignments.filter((a) => a.has(path));
    if (swept.length === 0) continue;
    seen.add(path);
    const all = swept.length === assignments.length;
    out.push(
      diag(
        `\`--set ${o}\` is overridden by the sweep ${all ? 'in every point' : `in ${swept.length} of ${assignments.length} sweep points`}: there the swept value of \`${path}\` is used`,
        swept[0]!.get(path)!.axis,
        {
          severity: 'warning',
          code: 'set-overridden',
          hint: all
            ? 'remove the --set, or the axis from the sweep'
            : `the --set applies only to the sweep points that do not sweep \`${path}\``,
        },
      ),
    );
  }
  return out;
}
