/**
 * Test-server submission files, in the exact shape of the official examples:
 * - CIRR (`Cuberick-Orion/CIRR:Test-split_server.md`): two JSON objects, each with `"version": "rc2"` and
 *   `"metric": "recall"` (top-50 names, the reference removed) or `"recall_subset"` (top-3 of the 5
 *   non-reference `img_set` members, in global-ranking order), keyed by pairid, names without `.png`.
 * - CIRCO (`miccunifi/CIRCO:README.md`): one object `{"0": [50 unique int ids], …}` for every query, no
 *   metadata keys; the reference is not removed.
 * Key order is irrelevant to the servers (and JS reorders integer-like keys anyway).
 */
import type { JsonObject } from '../../runner/util/json.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import type { LoadedDataset } from '../datasets/types.js';
import type { RankedQuery } from './recall.js';

export interface SubmissionFile {
  /** File name (the CIRPLANT / official-demo naming). */
  name: string;
  content: JsonObject;
  /** How many queries it holds and how long each list is, for the CLI summary. */
  queries: number;
  listLength: number;
}

export const CIRR_TOP = 50;
export const CIRR_SUBSET_TOP = 3;
export const CIRCO_TOP = 50;

/** Submissions for CIRR or CIRCO; other benchmarks have no test server. */
export function buildSubmissions(
  loaded: LoadedDataset,
  ranked: readonly RankedQuery[],
  label: string,
): Result<SubmissionFile[], string> {
  if (loaded.dataset === 'cirr') return cirrSubmissions(loaded, ranked, label);
  if (loaded.dataset === 'circo') return circoSubmission(loaded, ranked, label);
  return err(
    `only CIRR and CIRCO have test servers; ${loaded.dataset} results are evaluated locally with pefuse evaluate`,
  );
}

export function cirrSubmissions(
  loaded: LoadedDataset,
  ranked: readonly RankedQuery[],
  label: string,
): Result<SubmissionFile[], string> {
  const recall: JsonObject = { version: 'rc2', metric: 'recall' };
  const subset: JsonObject = { version: 'rc2', metric: 'recall_subset' };
  const need = Math.min(CIRR_TOP, loaded.gallery.length - 1);
  for (const [i, q] of loaded.queries.entries()) {
    const r = ranked[i]!;
    const ref = q.reference.id;
    const top = r.ids.filter((id) => id !== ref).slice(0, CIRR_TOP);
    if (top.length < need)
      return err(
        `${label}: query "${q.id}" ranks ${top.length} images besides the reference; the recall submission needs the top ${need} (give longer lists, full rankings or --scores)`,
      );
    const members = new Set((q.subset ?? []).filter((m) => m !== ref));
    const order = (r.subset ?? r.ids.filter((id) => members.has(id))).slice(0, CIRR_SUBSET_TOP);
    const needSubset = Math.min(CIRR_SUBSET_TOP, members.size);
    if (order.length < needSubset)
      return err(
        `${label}: query "${q.id}" ranks only ${order.length} of its ${members.size} non-reference img_set members; ` +
          `the recall_subset submission needs the top ${needSubset} (give full rankings)`,
      );
    recall[q.id] = top;
    subset[q.id] = order;
  }
  const prefix = loaded.split === 'test' ? 'test1' : 'val';
  const n = loaded.queries.length;
  return ok([
    { name: `${prefix}_pred_ranks_recall.json`, content: recall, queries: n, listLength: CIRR_TOP },
    {
      name: `${prefix}_pred_ranks_recall_subset.json`,
      content: subset,
      queries: n,
      listLength: CIRR_SUBSET_TOP,
    },
  ]);
}

export function circoSubmission(
  loaded: LoadedDataset,
  ranked: readonly RankedQuery[],
  label: string,
): Result<SubmissionFile[], string> {
  const content: JsonObject = {};
  for (const [i, q] of loaded.queries.entries()) {
    const ids = ranked[i]!.ids;
    if (ids.length < CIRCO_TOP)
      return err(
        `${label}: query "${q.id}" has ${ids.length} ids; the CIRCO server needs exactly ${CIRCO_TOP} per query`,
      );
    if (new Set(ids.slice(0, CIRCO_TOP)).size !== CIRCO_TOP)
      return err(
        `${label}: query "${q.id}" has duplicate ids in its top ${CIRCO_TOP}; the CIRCO server rejects them`,
      );
    content[q.id] = ids.slice(0, CIRCO_TOP).map(Number);
  }
  return ok([
    {
      name: `circo_${loaded.split}_submission.json`,
      content,
      queries: loaded.queries.length,
      listLength: CIRCO_TOP,
    },
  ]);
}
