/**
 * `slurm_jobs` (migration 6): one row per shard job, upserted by (job id, shard) as its state moves on,
 * in a real DuckDB file.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StageKey } from '../../../runner/contract/stage.js';
import { openResults } from '../../../runner/results/index.js';
import { tempDir } from '../../helpers/cli.js';

describe('slurm_jobs', () => {
  it('records each shard job and updates it as it finishes', async () => {
    const db = openResults(join(tempDir('pefuse-slurmdb-'), 'results.duckdb'), { lingerMs: 0 });
    const key = 'a'.repeat(64) as StageKey;
    const base = { stageKey: key, jobId: '41', attempt: 1, submittedAt: new Date('2026-01-01T00:00:00Z') };
    expect(
      (
        await db.recordSlurmJobs([
          { ...base, shard: 0, state: 'PENDING', logPath: '/c/stages/a/slurm/shard-0.job-41.log' },
          { ...base, shard: 1, state: 'PENDING' },
        ])
      ).ok,
    ).toBe(true);
    expect(
      (
        await db.recordSlurmJobs([
          {
            ...base,
            shard: 0,
            state: 'COMPLETED',
            exitCode: 0,
            node: 'n1',
            finishedAt: new Date('2026-01-01T00:01:00Z'),
            runId: 'r1',
          },
          { ...base, jobId: '42', shard: 1, attempt: 2, state: 'COMPLETED', exitCode: 0 },
        ])
      ).ok,
    ).toBe(true);
    const rows = await db.query(
      'SELECT job_id, shard, attempt, state, exit_code, node, log_path, run_id FROM slurm_jobs ORDER BY job_id, shard',
    );
    await db.close();
    expect(rows.ok && rows.value).toEqual([
      {
        job_id: '41',
        shard: 0,
        attempt: 1,
        state: 'COMPLETED',
        exit_code: 0,
        node: 'n1',
        log_path: '/c/stages/a/slurm/shard-0.job-41.log',
        run_id: 'r1',
      },
      {
        job_id: '41',
        shard: 1,
        attempt: 1,
        state: 'PENDING',
        exit_code: null,
        node: null,
        log_path: null,
        run_id: null,
      },
      {
        job_id: '42',
        shard: 1,
        attempt: 2,
        state: 'COMPLETED',
        exit_code: 0,
        node: null,
        log_path: null,
        run_id: null,
      },
    ]);
  });
});
