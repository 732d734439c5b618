/**
 * Fully cached re-runs without opening DuckDB, when the database provably holds everything already.
 *
 * Loading DuckDB, opening the file, one transaction and the checkpoint at close were most of a no-op
 * re-run (≈ 190 ms of 400). What such a run must still write is small: its `runs` row, the experiment
 * row, and its points moved to it (`status` shows the latest run's points). So:
 *
 * - **Proof** (`<db>.deferred/proof.json`): after a run that recorded every stage of its plan (all
 *   published or cached, no database write failed), pefuse closes the file and writes the file's
 *   identity (device, inode, size, mtime in ns, and a hash of its first 12 KiB: DuckDB's main header
 *   and both database headers, whose checkpoint counter changes with every checkpoint) and a digest of
 *   what the run recorded: the plan's points (ids, params, configs, stage keys), the experiment row,
 *   every stage key with its manifest's `finished_at`, the schema version and pefuse's version.
 * - A later run whose plan is all cached, whose database file still has that identity (no
 *   `.wal` beside it) and whose plan and manifests give a digest the proof lists, runs without DuckDB
 *   and writes its run to **`<db>.deferred/runs/<run>.json`** (atomically). Any write to the file by
 *   anyone changes its identity, and a deleted or replaced file has another one: then the run opens
 *   DuckDB and records what the database lacks, as always.
 * - The next read-write open of the database (any `pefuse run` that records, or `status` / `report`,
 *   which do a short read-write open first when runs are waiting) ingests the waiting runs in start
 *   order (replay.ts), in one transaction, and then deletes their files. A run already in `runs` is
 *   not applied again, so a crash between the commit and the deletion is harmless.
 *
 * This module loads no DuckDB: the run command imports it on the fully cached path.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StageKey } from '../contract/stage.js';
import type { Plan } from '../plan/types.js';
import { writeAtomic } from '../store/fsutil.js';
import { canonicalJson, isJsonObject, type JsonValue } from '../util/json.js';
import { packageVersion } from '../util/package.js';
import { LATEST_SCHEMA_VERSION } from './migrations.js';
import type { ExperimentRow, RunRow } from './types.js';

/** The folder beside the database file that holds the proof and the runs waiting to be recorded. */
export function deferredDir(dbFile: string): string {
  return `${dbFile}.deferred`;
}

const runsDir = (dbFile: string) => join(deferredDir(dbFile), 'runs');
const proofFile = (dbFile: string) => join(deferredDir(dbFile), 'proof.json');

/** DuckDB's main header plus its two database headers (4 KiB each). */
const HEADER_BYTES = 12 * 1024;

/** The database file as it is now: null when it is missing or a WAL file beside it is pending. */
export function dbIdentity(dbFile: string): string | null {
  if (existsSync(`${dbFile}.wal`)) return null;
  let fd: number;
  try {
    fd = openSync(dbFile, 'r');
  } catch {
    return null;
  }
  try {
    const st = statSync(dbFile, { bigint: true });
    if (!st.isFile()) return null;
    const head = Buffer.alloc(HEADER_BYTES);
    const n = readSync(fd, head, 0, HEADER_BYTES, 0);
    const hash = createHash('sha256').update(head.subarray(0, n)).digest('hex');
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${hash}`;
  } finally {
    closeSync(fd);
  }
}

/**
 * What a run of `plan` records, as one digest: a proof lists the digests of the runs that recorded
 * all of it. `finished` maps each stage key to its manifest's `finished_at` (a stage recomputed under
 * the same key records a new stage row).
 */
export function recordedDigest(plan: Plan, finished: ReadonlyMap<StageKey, string>): string {
  const h = createHash('sha256');
  h.update(
    canonicalJson({
      pefuse: packageVersion(),
      schema: LATEST_SCHEMA_VERSION,
      experiment: plan.experiment,
      specFile: plan.specFile,
      report: plan.report,
    } as JsonValue),
  );
  // Plain JSON (a plan is built the same way every time; another key order would only cost a run
  // through DuckDB), several times cheaper than canonical JSON for big sweeps.
  for (const p of plan.points) h.update(JSON.stringify([p.index, p.id, p.params, p.config, p.stages]));
  for (const s of plan.stages) h.update(`${s.key}:${finished.get(s.key) ?? ''}\n`);
  return h.digest('hex');
}

interface Proof {
  identity: string;
  digests: string[];
}

/** The digests the database provably holds, or null when it changed since the proof was written. */
export function provenDigests(dbFile: string): string[] | null {
  let proof: unknown;
  try {
    proof = JSON.parse(readFileSync(proofFile(dbFile), 'utf8'));
  } catch {
    return null;
  }
  if (!isJsonObject(proof) || typeof proof.identity !== 'string' || !Array.isArray(proof.digests))
    return null;
  if (proof.identity !== dbIdentity(dbFile)) return null;
  return proof.digests.filter((d): d is string => typeof d === 'string');
}

/**
 * Records that the database file, as `identity` (taken when the run closed it) says, holds everything
 * `digest` stands for. Written after a run that recorded all of its plan; any later writer changes
 * the identity, so the proof then no longer applies.
 */
export async function writeProof(dbFile: string, identity: string, digest: string): Promise<void> {
  const proof: Proof = { identity, digests: [digest] };
  await writeAtomic(proofFile(dbFile), `${JSON.stringify(proof)}\n`, join(deferredDir(dbFile), 'tmp'));
}

/**
 * After a read-write open that only migrated the file and recorded waiting runs (neither changes what
 * a proof's digests stand for): if the file was, when that open took its lock, the one the proof is
 * about, the proof now names the file as that open left it.
 */
export async function carryProof(
  dbFile: string,
  opened: string | null,
  closed: string | null,
): Promise<void> {
  if (opened === null || closed === null) return;
  let proof: unknown;
  try {
    proof = JSON.parse(readFileSync(proofFile(dbFile), 'utf8'));
  } catch {
    return;
  }
  if (!isJsonObject(proof) || proof.identity !== opened || !Array.isArray(proof.digests)) return;
  const digests = proof.digests.filter((d): d is string => typeof d === 'string');
  await writeAtomic(
    proofFile(dbFile),
    `${JSON.stringify({ identity: closed, digests } satisfies Proof)}\n`,
    join(deferredDir(dbFile), 'tmp'),
  );
}

/** A run waiting to be recorded: exactly what a fully cached run writes to the database. */
export interface DeferredRun {
  run: RunRow;
  experiment: ExperimentRow;
  points: Plan['points'];
}

/** Writes a finished run for the next read-write open of the database to record. */
export async function deferRun(dbFile: string, entry: DeferredRun): Promise<void> {
  const dir = runsDir(dbFile);
  await mkdir(dir, { recursive: true });
  const name = `${entry.run.id.replace(/[^0-9A-Za-z.-]/g, '_')}.json`;
  await writeAtomic(join(dir, name), `${JSON.stringify(entry)}\n`, join(deferredDir(dbFile), 'tmp'));
}

/** Whether runs wait to be recorded (one directory listing). */
export function hasDeferredRuns(dbFile: string): boolean {
  try {
    return readdirSync(runsDir(dbFile)).some((n) => n.endsWith('.json'));
  } catch {
    return false;
  }
}

/** The waiting runs with their files, oldest first; unreadable files are left where they are. */
export async function readDeferredRuns(dbFile: string): Promise<{ path: string; entry: DeferredRun }[]> {
  let names: string[];
  try {
    names = readdirSync(runsDir(dbFile)).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const out: { path: string; entry: DeferredRun; started: number }[] = [];
  for (const n of names) {
    const path = join(runsDir(dbFile), n);
    try {
      const v = JSON.parse(await readFile(path, 'utf8')) as DeferredRun;
      if (!isJsonObject(v.run as never) || !Array.isArray(v.points)) continue;
      const run: RunRow = {
        ...v.run,
        startedAt: new Date(v.run.startedAt),
        finishedAt: v.run.finishedAt ? new Date(v.run.finishedAt) : null,
      };
      out.push({ path, entry: { ...v, run }, started: run.startedAt.getTime() });
    } catch {
      // A damaged file (it was written atomically, so only the disk can do this): left for a person.
    }
  }
  out.sort((a, b) => a.started - b.started || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out.map(({ path, entry }) => ({ path, entry }));
}
