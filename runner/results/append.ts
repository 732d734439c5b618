/**
 * Appender helpers: bulk rows go through DuckDB's appender (millions of rows/s), never per-row INSERT
 * (30–600× slower, see scoring-performance.md).
 */
import type { DuckDBConnection } from '@duckdb/node-api';

export type Cell = string | number | boolean | null;
export type ColType = 'varchar' | 'integer' | 'double' | 'boolean';

/** Appends rows (cells in table column order) to `table`, inside the connection's transaction. */
export async function appendRows(
  conn: DuckDBConnection,
  table: string,
  types: readonly ColType[],
  rows: readonly (readonly Cell[])[],
): Promise<void> {
  if (rows.length === 0) return;
  const ap = await conn.createAppender(table);
  try {
    for (const row of rows) {
      types.forEach((t, i) => {
        const v = row[i] ?? null;
        if (v === null) ap.appendNull();
        else if (t === 'varchar') ap.appendVarchar(String(v));
        else if (t === 'integer') ap.appendInteger(Number(v));
        else if (t === 'double') ap.appendDouble(Number(v));
        else ap.appendBoolean(Boolean(v));
      });
      ap.endRow();
    }
    ap.flushSync();
  } finally {
    ap.closeSync();
  }
}
