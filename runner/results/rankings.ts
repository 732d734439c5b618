/**
 * Rankings ingest: `rankings(set_id, q, rank, g, score)` through the appender with 2048-row columnar
 * data chunks (`appendDataChunk`, ≈4 M rows/s), plus the id lists stored once per distinct list.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { sha256Hex } from '../util/json.js';
import { duckdb } from './duck.js';
import type { RankingsInput } from './types.js';

const CHUNK = 2048;

const names = new WeakMap<readonly string[], string>();

/**
 * A stable name for an id list (its content hash), so identical galleries are stored once. Cached per
 * array: a sweep usually passes the same gallery array for every point.
 */
export function listName(ids: readonly string[]): string {
  let name = names.get(ids);
  if (name === undefined) {
    name = sha256Hex(JSON.stringify(ids)).slice(0, 32);
    names.set(ids, name);
  }
  return name;
}

/**
 * Flattens per-query galleries (GeneCIS) into one list + remapped indices; a shared gallery passes
 * through unchanged.
 */
export function flattenGallery(r: RankingsInput): { gallery: readonly string[]; indices: Int32Array } {
  const g = r.galleryIds;
  if (g.length === 0 || typeof g[0] === 'string')
    return { gallery: g as readonly string[], indices: r.indices };
  const perQuery = g as readonly (readonly string[])[];
  const pos = new Map<string, number>();
  const gallery: string[] = [];
  const indices = new Int32Array(r.indices.length);
  for (let q = 0; q < r.queryIds.length; q++) {
    const own = perQuery[q] ?? [];
    for (let j = 0; j < r.k; j++) {
      const at = q * r.k + j;
      const local = r.indices[at]!;
      const id = local >= 0 ? own[local] : undefined;
      if (id === undefined) {
        indices[at] = -1;
        continue;
      }
      let p = pos.get(id);
      if (p === undefined) {
        p = gallery.length;
        pos.set(id, p);
        gallery.push(id);
      }
      indices[at] = p;
    }
  }
  return { gallery, indices };
}

export function checkRankings(r: RankingsInput): string | null {
  const n = r.queryIds.length * r.k;
  if (!Number.isInteger(r.k) || r.k <= 0 || r.k > 32767)
    return `k must be an integer in 1..32767, got ${r.k}`;
  if (r.indices.length !== n)
    return `indices has ${r.indices.length} entries, expected ${r.queryIds.length}×${r.k}`;
  if (r.scores.length !== n)
    return `scores has ${r.scores.length} entries, expected ${r.queryIds.length}×${r.k}`;
  return null;
}

async function ensureList(conn: DuckDBConnection, ids: readonly string[]): Promise<string> {
  const name = listName(ids);
  const have = await conn.runAndReadAll('SELECT 1 FROM id_lists WHERE list = $1', [name]);
  if (have.currentRowCount > 0) return name;
  // One row per list; the JSON text is parsed inside DuckDB (much faster than converting 100 k JS strings).
  await conn.run('INSERT INTO id_lists VALUES ($1, $2, $3::JSON::VARCHAR[])', [
    name,
    ids.length,
    JSON.stringify(ids),
  ]);
  return name;
}

/** Delete-then-insert of one score stage's rankings (call inside a transaction). */
export async function writeRankings(conn: DuckDBConnection, r: RankingsInput): Promise<number> {
  const { DuckDBDataChunk, INTEGER, SMALLINT, FLOAT } = duckdb();
  const { gallery, indices } = flattenGallery(r);
  const queryList = await ensureList(conn, r.queryIds);
  const galleryList = await ensureList(conn, gallery);
  const prev = await conn.runAndReadAll('SELECT id FROM rank_sets WHERE stage_key = $1', [r.stageKey]);
  let setId: number;
  if (prev.currentRowCount > 0) {
    setId = Number(prev.getRows()[0]![0]);
    await conn.run('DELETE FROM rankings WHERE set_id = $1', [setId]);
  } else {
    const next = await conn.runAndReadAll('SELECT coalesce(max(id), 0) + 1 FROM rank_sets');
    setId = Number(next.getRows()[0]![0]);
  }
  await conn.run(
    `INSERT INTO rank_sets VALUES ($1, $2, $3, $4, $5, $6, $7, now()::TIMESTAMP)
     ON CONFLICT (stage_key) DO UPDATE SET k = excluded.k, n_queries = excluded.n_queries,
       n_gallery = excluded.n_gallery, query_list = excluded.query_list, gallery_list = excluded.gallery_list,
       recorded_at = excluded.recorded_at`,
    [r.stageKey, setId, r.k, r.queryIds.length, gallery.length, queryList, galleryList],
  );

  // Entries with index -1 (short galleries) are skipped; without any, the inputs are used as they are.
  const total = indices.length;
  const full = !indices.includes(-1);
  const qCol = new Int32Array(total);
  const rankCol = new Int16Array(total);
  const gCol = full ? indices : new Int32Array(total);
  const sCol = full ? r.scores : new Float32Array(total);
  let n = 0;
  for (let q = 0, at = 0; q < r.queryIds.length; q++) {
    for (let j = 0; j < r.k; j++, at++) {
      const g = indices[at]!;
      if (g < 0) continue;
      qCol[n] = q;
      rankCol[n] = j + 1;
      if (!full) {
        gCol[n] = g;
        sCol[n] = r.scores[at]!;
      }
      n++;
    }
  }
  const setCol = new Int32Array(CHUNK).fill(setId);
  const types = [INTEGER, INTEGER, SMALLINT, INTEGER, FLOAT];
  const ap = await conn.createAppender('rankings');
  try {
    let chunk = DuckDBDataChunk.create(types, CHUNK);
    for (let start = 0; start < n; start += CHUNK) {
      const len = Math.min(CHUNK, n - start);
      if (len !== CHUNK) chunk = DuckDBDataChunk.create(types, len);
      // setColumnValues only indexes `values[i]`: typed-array views avoid building JS arrays.
      const cols = [
        setCol.subarray(0, len),
        qCol.subarray(start, start + len),
        rankCol.subarray(start, start + len),
        gCol.subarray(start, start + len),
        sCol.subarray(start, start + len),
      ];
      cols.forEach((c, i) => {
        chunk.setColumnValues(i, c as unknown as number[]);
      });
      ap.appendDataChunk(chunk);
    }
    ap.flushSync();
  } finally {
    ap.closeSync();
  }
  return n;
}
