/**
 * Dataset rules for ranking (docs/cir-benchmarks.md §1.2, §2.2, §3.2, §4.2):
 * - CIRR: the reference image is removed from the ranking (also for Recall_subset), when it is in the
 *   gallery at all.
 * - Fashion-IQ, CIRCO (and the synthetic demo set): nothing is removed; the reference can rank first.
 * - GeneCIS: no shared gallery; each query ranks its own `[target] + gallery` list.
 */
import type { DatasetName, QueryRecord } from '../contracts.js';

export type ScoringPlan =
  /** One gallery for all queries; `exclude[q]` lists gallery rows query q must not return. */
  | { mode: 'shared'; exclude: number[][] | undefined }
  /** Per-query galleries as rows of the gallery matrix (`ids[q]` are the matching gallery ids). */
  | { mode: 'per-sample'; galleries: number[][]; ids: string[][] };

/** A query that cannot be scored under its dataset's rule (e.g. a GeneCIS candidate without embedding). */
export interface RuleProblem {
  query: number;
  message: string;
}

/**
 * Applies the dataset's rule. `galleryRow` maps a gallery id to its row in the gallery embedding.
 * Problems are per query (their plan entry is an empty gallery) so the caller can drop those queries
 * and go on with the others.
 */
export function scoringPlan(
  dataset: DatasetName,
  queries: readonly QueryRecord[],
  galleryRow: ReadonlyMap<string, number>,
): { plan: ScoringPlan; problems: RuleProblem[] } {
  switch (dataset) {
    case 'cirr':
      return {
        problems: [],
        plan: {
          mode: 'shared',
          exclude: queries.map((q) => {
            const row = galleryRow.get(q.reference.id);
            return row === undefined ? [] : [row];
          }),
        },
      };
    case 'fashioniq':
    case 'circo':
    case 'synthetic':
      return { problems: [], plan: { mode: 'shared', exclude: undefined } };
    case 'genecis': {
      const problems: RuleProblem[] = [];
      const galleries: number[][] = [];
      const ids: string[][] = [];
      queries.forEach((q, i) => {
        const list = q.gallery ?? [];
        if (list.length === 0)
          problems.push({ query: i, message: `GeneCIS query ${q.id} has no gallery list` });
        let rows: number[] = [];
        for (const id of list) {
          const row = galleryRow.get(id);
          if (row === undefined) {
            problems.push({
              query: i,
              message: `GeneCIS query ${q.id}: gallery image ${id} has no embedding`,
            });
            rows = [];
            break;
          }
          rows.push(row);
        }
        galleries.push(rows);
        ids.push([...list]);
      });
      return { problems, plan: { mode: 'per-sample', galleries, ids } };
    }
  }
}
