/**
 * The submissions of one stage, recorded in its folder (`stages/<key>/slurm/jobs.jsonl`, one JSON line
 * per `sbatch`, appended and fsynced before the job is waited on), so a restarted orchestrator finds
 * the jobs still queued or running and re-attaches to them instead of submitting duplicates; and each
 * shard's exit marker, written by the job script itself (script.ts).
 */
import { appendFile, mkdir, open, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { exitFile, slurmDir } from './script.js';

export interface JobRecord {
  /** The array's job id. */
  job: string;
  /** Shard indices this submission runs (= its array task ids). */
  shards: number[];
  /** Attempt number of each shard in this submission, in the order of `shards`. */
  attempts: number[];
  /** Total shards of the stage when submitted (a different count means another cut: ignored). */
  of: number;
  submitted_at: string;
  host: string;
  pid: number;
}

export function jobsFile(stageDir: string): string {
  return join(slurmDir(stageDir), 'jobs.jsonl');
}

/** Every submission recorded for the stage, oldest first; torn or foreign lines are skipped. */
export async function readJobs(stageDir: string): Promise<JobRecord[]> {
  let text: string;
  try {
    text = await readFile(jobsFile(stageDir), 'utf8');
  } catch {
    return [];
  }
  const out: JobRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const j = JSON.parse(line) as Partial<JobRecord>;
      if (
        typeof j.job === 'string' &&
        /^\d+$/.test(j.job) &&
        Array.isArray(j.shards) &&
        Array.isArray(j.attempts) &&
        j.shards.length === j.attempts.length &&
        typeof j.of === 'number'
      )
        out.push(j as JobRecord);
    } catch {
      // A line torn by a crash mid-append: the job it named is found again through squeue, or resubmitted.
    }
  }
  return out;
}

/** Appends a submission and fsyncs it (the job is only waited on once this is durable). */
export async function appendJob(stageDir: string, rec: Omit<JobRecord, 'host' | 'pid'>): Promise<JobRecord> {
  const full: JobRecord = { ...rec, host: hostname(), pid: process.pid };
  await mkdir(slurmDir(stageDir), { recursive: true });
  const file = jobsFile(stageDir);
  await appendFile(file, `${JSON.stringify(full)}\n`);
  const fh = await open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  return full;
}

/** The exit code a shard's script wrote, or null when it wrote none (still running, killed, lost). */
export async function readExit(stageDir: string, shard: number, job: string): Promise<number | null> {
  try {
    const t = (await readFile(exitFile(stageDir, shard, job), 'utf8')).trim();
    return /^\d+$/.test(t) ? Number(t) : null;
  } catch {
    return null;
  }
}
