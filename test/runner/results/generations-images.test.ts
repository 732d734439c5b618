/**
 * Migration 5 (generations.image_path, generations.truncated_tokens) reaches a results file written
 * before it: old rows are kept (the new columns empty), and new rows fill them.
 */
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import type { StageKey } from '../../../runner/contract/stage.js';
import { MIGRATIONS, openResults } from '../../../runner/results/index.js';
import { migrate } from '../../../runner/results/migrations.js';
import { tempDir } from '../../helpers/cli.js';

describe('generations: image path and truncated tokens', () => {
  it('a file at schema version 1 gains the columns on open; rows are kept and new ones filled', async () => {
    const file = join(tempDir('pefuse-gen-'), 'results.duckdb');
    const inst = await DuckDBInstance.create(file);
    const conn = await inst.connect();
    expect(
      await migrate(
        conn,
        file,
        MIGRATIONS.filter((m) => m.version === 1),
      ),
    ).toBeNull();
    await conn.run(
      `INSERT INTO generations VALUES ('k0', 'diffusion.edit', 'dummy', 'q0', NULL, NULL, '${'a'.repeat(64)}')`,
    );
    conn.closeSync();
    inst.closeSync();

    const db = openResults(file);
    const key = 'b'.repeat(64) as StageKey;
    const w = await db.recordGenerations(key, 'diffusion.edit', 'diffusers:sdxl-turbo', [
      {
        itemId: 'q1',
        image: 'c'.repeat(64),
        imagePath: '/cache/objects/cc/cc…',
        tokens: 102,
        truncatedTokens: 25,
      },
    ]);
    expect(w.ok).toBe(true);
    const r = await db.query(
      'SELECT item_id, image_path, tokens, truncated_tokens FROM generations ORDER BY item_id',
    );
    await db.close();
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value).toEqual([
      { item_id: 'q0', image_path: null, tokens: null, truncated_tokens: null },
      { item_id: 'q1', image_path: '/cache/objects/cc/cc…', tokens: 102, truncated_tokens: 25 },
    ]);
  });
});
