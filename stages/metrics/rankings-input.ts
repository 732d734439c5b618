/**
 * A user-given rankings file (`--rankings FILE.json`: `{"<query key>": [ids…]}`) → per-query rankings,
 * validated: every query present and no unknown key; ids of the right type, known to the gallery (when it
 * is known) and unique within a list (the CIRCO server raises on duplicates; elsewhere they are a bug in
 * whatever produced the file). Query keys: CIRR pairid, CIRCO id, Fashion-IQ/GeneCIS row index. Ids:
 * CIRR/Fashion-IQ names, CIRCO int image ids (ints or digit strings), GeneCIS positions in the sample's
 * `[target] + gallery`.
 */
import { err, ok, type Result } from '../../runner/util/result.js';
import type { LoadedDataset } from '../datasets/types.js';
import { datasetLabel, queryKeyKind } from './describe.js';
import type { RankedQuery } from './recall.js';

function intLike(v: unknown): number | null {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
  return null;
}

export function rankingsFromJson(
  loaded: LoadedDataset,
  json: unknown,
  label = '--rankings',
): Result<RankedQuery[], string> {
  const name = datasetLabel(loaded);
  const keyKind = queryKeyKind(loaded);
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return err(
      `${label}: must be a JSON object {"<${keyKind}>": [ids...]}, got ${Array.isArray(json) ? 'an array' : String(json === null ? 'null' : typeof json)}`,
    );
  const index = new Map(loaded.queries.map((q, i) => [q.id, i]));
  const galleryIds = new Set(loaded.gallery.map((g) => g.id));
  const out: (RankedQuery | undefined)[] = loaded.queries.map(() => undefined);
  const entries = Object.entries(json as Record<string, unknown>);
  for (const [key, list] of entries) {
    const qi = index.get(key);
    if (qi === undefined)
      return err(`${label}: unknown query key "${key}" (${name} queries are keyed by ${keyKind})`);
    if (!Array.isArray(list)) return err(`${label}: query "${key}" must map to an array of image ids`);
    const ids: string[] = [];
    const firstAt = new Map<string, number>();
    for (const [j, raw] of list.entries()) {
      const at = `${label}: query "${key}", item [${j}]`;
      let id: string;
      if (loaded.dataset === 'cirr' || loaded.dataset === 'fashioniq') {
        if (typeof raw !== 'string')
          return err(`${at} must be an image name string, got ${JSON.stringify(raw)}`);
        id = raw;
        if (!galleryIds.has(id)) return err(`${at}: unknown image id "${id}" (not in the ${name} gallery)`);
      } else if (loaded.dataset === 'circo') {
        const v = intLike(raw);
        if (v === null) return err(`${at} must be an integer image id, got ${JSON.stringify(raw)}`);
        id = String(v);
        if (loaded.galleryKnown && !galleryIds.has(id))
          return err(`${at}: unknown image id ${id} (not in the ${name} gallery)`);
      } else {
        const v = intLike(raw);
        const m = loaded.queries[qi]!.gallery?.length ?? 0;
        if (v === null)
          return err(`${at} must be a gallery position (an integer 0..${m - 1}), got ${JSON.stringify(raw)}`);
        if (v >= m)
          return err(
            `${at}: position ${v} is outside the sample's gallery (0..${m - 1}, [target] + gallery)`,
          );
        id = String(v);
      }
      const prev = firstAt.get(id);
      if (prev !== undefined)
        return err(
          `${label}: query "${key}" has a duplicate id ${JSON.stringify(raw)} (at [${prev}] and [${j}]): ids must be unique per query`,
        );
      firstAt.set(id, j);
      ids.push(id);
    }
    out[qi] = { ids };
  }
  const missing = out.indexOf(undefined);
  if (missing >= 0)
    return err(
      `${label}: no ranking for query "${loaded.queries[missing]!.id}" (${loaded.queries.length} queries expected, ${entries.length} given)`,
    );
  return ok(out as RankedQuery[]);
}
