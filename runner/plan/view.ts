/**
 * How a plan is shown: a text view for people and one JSON document for tools (`plan --json`).
 */

import { STAGE_KINDS, type StageKind } from '../contract/stage.js';
import { renderDiagnostic } from '../diagnostics/render.js';
import { groupDigits } from '../util/digits.js';
import type { JsonObject } from '../util/json.js';
import type { Plan, PlannedStage } from './types.js';

export interface KindTotals {
  stages: number;
  cached: number;
  run: number;
  /** Stages only unresolved points use: they do not run. */
  unresolved: number;
  /** Items across stages (null when some counts are unknown before upstream runs). */
  items: number | null;
}

export function totalsByKind(plan: Plan): Partial<Record<StageKind, KindTotals>> {
  const t: Partial<Record<StageKind, KindTotals>> = {};
  for (const s of plan.stages) {
    const kind = s.node.kind;
    // dataset and metrics stages have no items; their totals say so with null.
    const itemless = kind === 'dataset' || kind === 'metrics';
    let k = t[kind];
    if (!k) {
      k = { stages: 0, cached: 0, run: 0, unresolved: 0, items: itemless ? null : 0 };
      t[kind] = k;
    }
    k.stages++;
    if (s.status === 'cached') k.cached++;
    else if (s.status === 'unresolved') k.unresolved++;
    else k.run++;
    if (!itemless) k.items = k.items === null || s.node.items === null ? null : k.items + s.node.items;
  }
  return t;
}

export function planJson(plan: Plan): JsonObject {
  const totals: JsonObject = {};
  for (const [kind, v] of Object.entries(totalsByKind(plan))) totals[kind] = { ...v };
  return {
    experiment: plan.experiment,
    spec: plan.specFile,
    points: plan.points.length,
    point_list: plan.points.map((p) => ({
      index: p.index,
      id: p.id,
      params: p.params,
      stages: p.stages,
      ...(p.unresolved ? { unresolved: p.unresolved.map((u) => u.reason) } : {}),
    })),
    stages: plan.stages.map((s) => ({
      key: s.key,
      kind: s.node.kind,
      role: s.node.role,
      status: s.status,
      reason: s.reason,
      items: s.node.items,
      backend: s.node.backend,
      points: s.points.length,
      upstream: s.upstream,
    })),
    totals,
    warnings: plan.warnings.map((w) => renderDiagnostic(w)),
  };
}

/** Axis summary: for each swept path, its distinct values in order. */
function axes(plan: Plan): [string, string[]][] {
  const m = new Map<string, string[]>();
  for (const p of plan.points)
    for (const [k, v] of Object.entries(p.params)) {
      const list = m.get(k) ?? [];
      const s = JSON.stringify(v);
      if (!list.includes(s)) list.push(s);
      m.set(k, list);
    }
  return [...m.entries()];
}

export function planText(plan: Plan, opts: { all: boolean; maxStages?: number }): string {
  const out: string[] = [];
  out.push(`experiment ${plan.experiment} (${plan.specFile})`);
  out.push(`points: ${plan.points.length}`);
  for (const [path, values] of axes(plan)) {
    const shown =
      values.length > 8 ? `${values.slice(0, 8).join(', ')}, … (${values.length} values)` : values.join(', ');
    out.push(`  ${path}: ${shown}`);
  }
  out.push('');
  const totals = totalsByKind(plan);
  const unresolvedStages = plan.stages.filter((s) => s.status === 'unresolved').length;
  const withU = unresolvedStages > 0;
  const rows: string[][] = [['kind', 'stages', 'cached', 'run', ...(withU ? ['unresolved'] : []), 'items']];
  for (const kind of STAGE_KINDS) {
    const t = totals[kind];
    if (!t) continue;
    rows.push([
      kind,
      String(t.stages),
      String(t.cached),
      String(t.run),
      ...(withU ? [String(t.unresolved)] : []),
      t.items === null ? (kind === 'dataset' || kind === 'metrics' ? '-' : '?') : groupDigits(t.items),
    ]);
  }
  out.push(...table(rows, [false, true, true, true, true, true]));
  const run = plan.stages.filter((s) => s.status === 'run').length;
  const cached = plan.stages.filter((s) => s.status === 'cached').length;
  out.push('');
  out.push(
    run === 0 && !withU
      ? `all ${plan.stages.length} stages are cached: nothing to run`
      : `${run} of ${plan.stages.length} stages will run, ${cached} cached` +
          (withU ? `, ${unresolvedStages} unresolved (not run)` : ''),
  );
  const refused = plan.points.filter((p) => p.unresolved).length;
  if (refused > 0)
    out.push(
      `${refused} of ${plan.points.length} points are unresolved (see the warnings above): \`pefuse run\` refuses them`,
    );
  const limit = opts.all ? Number.POSITIVE_INFINITY : (opts.maxStages ?? 40);
  const listed = plan.stages.slice(0, limit);
  out.push('');
  const srows: string[][] = [['key', 'kind', 'role', 'status', 'reason', 'items', 'backend', 'points']];
  for (const s of listed) srows.push(stageRow(s));
  out.push(...table(srows, [false, false, false, false, false, true, false, true]));
  if (plan.stages.length > listed.length)
    out.push(`… ${plan.stages.length - listed.length} more stages (use --all, or --json for tools)`);
  return `${out.join('\n')}\n`;
}

function stageRow(s: PlannedStage): string[] {
  return [
    s.key.slice(0, 12),
    s.node.kind,
    s.node.role,
    s.status,
    s.reason,
    s.node.items === null ? '-' : String(s.node.items),
    s.node.backend,
    String(s.points.length),
  ];
}

function table(rows: string[][], right: boolean[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}
