/**
 * The sweep layer of the front end: a checked spec's `sweep` block → its assignments (path → value),
 * after the size check (nothing is expanded past MAX_POINTS).
 */
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import type { LNode } from '../spec/located.js';
import { checkSweepSize } from './count.js';
import { type Assignment, expandSweep } from './expand.js';

export type { AssignedValue, Assignment } from './expand.js';

/** The sweep's assignments, or null when the spec is too large to expand (a located error says so). */
export function sweepAssignments(tree: LNode, diagnostics: Diagnostic[]): Assignment[] | null {
  if (!checkSweepSize(tree, diagnostics)) return null;
  const sweepNode = tree.kind === 'map' ? tree.entries.get('sweep')?.value : undefined;
  return expandSweep(sweepNode, diagnostics);
}
