/**
 * Are user-given ranked lists deep enough for the metrics asked of them? A list is a prefix of the
 * global ranking, so an id missing from it ranks below every listed id. That makes recall@K exact only
 * when the list holds at least K ids (after CIRR's reference removal), or the whole gallery; a shorter
 * list would silently turn recall@50 into recall@5. CIRR Recall_subset@K is exact when the list holds
 * at least K of the non-reference `img_set` members (then they are the subset's top K) — the same
 * rule as `pefuse export` for the recall_subset file. CIRCO is exempt: its server accepts short lists
 * and divides AP@K by min(#GT, K) whatever their length.
 */
import { err, ok, type Result } from '../../runner/util/result.js';
import type { LoadedDataset } from '../datasets/types.js';
import {
  CIRR_RECALL_KS,
  CIRR_SUBSET_KS,
  FASHIONIQ_RECALL_KS,
  GENECIS_RECALL_KS,
  type RankedQuery,
} from './recall.js';

export interface DepthKs {
  recall?: readonly number[];
  recallSubset?: readonly number[];
}

const HOW = 'give longer lists (the full ranking is always enough) or --scores';

/** The first query whose list is too short for the official metrics, as a message; ok otherwise. */
export function checkRankingDepth(
  loaded: LoadedDataset,
  ranked: readonly RankedQuery[],
  label: string,
  ks: DepthKs = {},
): Result<void, string> {
  if (loaded.dataset === 'circo') return ok(undefined);
  const recallKs =
    ks.recall ??
    (loaded.dataset === 'cirr'
      ? CIRR_RECALL_KS
      : loaded.dataset === 'fashioniq'
        ? FASHIONIQ_RECALL_KS
        : GENECIS_RECALL_KS);
  const maxK = Math.max(0, ...recallKs);
  const subsetK = Math.max(0, ...(ks.recallSubset ?? CIRR_SUBSET_KS));
  for (const [i, q] of loaded.queries.entries()) {
    const ids = ranked[i]!.ids;
    const at = `${label}: query "${q.id}"`;
    if (loaded.dataset === 'cirr') {
      const ref = q.reference.id;
      const withRef = ids.includes(ref);
      const have = ids.length - (withRef ? 1 : 0);
      const whole = loaded.gallery.length - 1;
      const need = Math.min(maxK, whole);
      if (have < need) {
        const hint = withRef
          ? ` (the list still holds the reference ${ref}: the official code removes it before taking the top ${maxK})`
          : '';
        return err(
          `${at} has ${have} gallery id${have === 1 ? '' : 's'} after removing the reference${hint}; ` +
            `recall@${maxK} needs at least ${need}${need < maxK ? ' (the whole gallery but the reference)' : ''}: ${HOW}`,
        );
      }
      const members = new Set((q.subset ?? []).filter((m) => m !== ref));
      const needSubset = Math.min(subsetK, members.size);
      const listed = listedMembers(ranked[i]!, members);
      if (listed < needSubset)
        return err(
          `${at} lists ${listed} of its ${members.size} non-reference img_set members; ` +
            `recall_subset@${subsetK} needs the top ${needSubset} of them in global-ranking order ` +
            '(as `pefuse export` requires for the recall_subset file): give full rankings or --scores',
        );
    } else {
      const whole = loaded.dataset === 'genecis' ? (q.gallery?.length ?? 0) : loaded.gallery.length;
      const need = Math.min(maxK, whole);
      if (ids.length < need) {
        const what = loaded.dataset === 'genecis' ? 'gallery position' : 'gallery id';
        const scope =
          loaded.dataset === 'genecis'
            ? ` (the sample's [target] + gallery has ${whole} candidates)`
            : need < maxK
              ? ' (the whole gallery)'
              : '';
        return err(
          `${at} has ${ids.length} ${what}${ids.length === 1 ? '' : 's'}; recall@${maxK} needs at least ${need}${scope}: ${HOW}`,
        );
      }
    }
  }
  return ok(undefined);
}

/** How many of `members` the query's subset order (or its list) holds. */
function listedMembers(q: RankedQuery, members: ReadonlySet<string>): number {
  if (q.subset !== undefined) return q.subset.filter((m) => members.has(m)).length;
  let n = 0;
  for (const id of q.ids) if (members.has(id)) n++;
  return n;
}
