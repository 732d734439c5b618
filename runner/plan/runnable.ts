/**
 * The part of a plan that `run` may execute: the resolved points and the stages they use. Unresolved
 * points (an input not there, so their keys are not the real ones) are refused, with their reasons.
 */
import type { Plan, Point } from './types.js';

export interface RunnablePart {
  /** The plan with only resolved points (re-indexed in their order) and the stages they use. */
  plan: Plan;
  /** The unresolved points, as planned. */
  refused: Point[];
}

export function runnablePart(plan: Plan): RunnablePart {
  const refused = plan.points.filter((p) => p.unresolved);
  if (refused.length === 0) return { plan, refused };
  const newIndex = new Map<number, number>();
  const points: Point[] = [];
  for (const p of plan.points) {
    if (p.unresolved) continue;
    newIndex.set(p.index, points.length);
    points.push({ ...p, index: points.length });
  }
  const stages = plan.stages
    .filter((s) => s.status !== 'unresolved')
    .map((s) => ({
      ...s,
      points: s.points.filter((i) => newIndex.has(i)).map((i) => newIndex.get(i)!),
    }));
  return { plan: { ...plan, points, stages }, refused };
}

/** Refused points, grouped by reason, for people: one line per reason with the point ids. */
export function refusedText(refused: readonly Point[]): string {
  const byReason = new Map<string, string[]>();
  for (const p of refused)
    for (const u of p.unresolved ?? []) {
      const ids = byReason.get(u.reason) ?? [];
      ids.push(p.id);
      byReason.set(u.reason, ids);
    }
  const n = refused.length;
  const lines = [
    `refused ${n} point${n === 1 ? '' : 's'} whose inputs did not resolve (${n === 1 ? 'it' : 'they'} would be computed from the wrong inputs):`,
  ];
  for (const [reason, ids] of byReason) {
    const shown = ids.length > 6 ? `${ids.slice(0, 6).join(', ')}, … (${ids.length})` : ids.join(', ');
    lines.push(`  ${reason}: ${shown}`);
  }
  lines.push('  make what is named there available (or set the variable), then run again to compute them');
  return `${lines.join('\n')}\n`;
}
