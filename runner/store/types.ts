/**
 * The content-addressed store (architecture §5). Layout under the store root (`cache/` by default):
 *
 *   objects/<aa>/<sha256>          immutable blobs (PNG, .npy embeddings, JSONL), verified on read
 *   stages/<key>/journal.jsonl     one checksummed line per finished item while a stage runs
 *   stages/<key>/manifest.json     written last, atomically: the stage is complete ("published")
 *   stages/<key>/lock/             one lock per stage key (mkdir-based, NFS-safe), reclaimed when stale
 *   items/<aa>/<itemkey>.json      per-item cache (item key = hash(stage identity, item id, input hash))
 *   tmp/                           temp files, renamed into place
 */
import type { StageDescription } from '../contract/description.js';
import type { Failure } from '../contract/failure.js';
import type { ItemCache, ItemRecord, ObjectStore, StageManifest } from '../contract/records.js';
import type { StagePart } from '../contract/shard.js';
import type { KeyRecord, StageKey } from '../contract/stage.js';
import type { Result } from '../util/result.js';

export type {
  ItemCache,
  ItemRecord,
  ObjectRef,
  ObjectStore,
  StageManifest,
} from '../contract/records.js';

// ---------------------------------------------------------------------------------------------------
// The full store API (implemented in runner/store/*.ts; open one with `openStore(root)` from
// runner/store/index.ts). Everything below is used by the executor, the planner and `pefuse gc`.
// ---------------------------------------------------------------------------------------------------

/** The opened store: one object per root, cheap to create (no I/O until used). */
export interface Store {
  readonly root: string;
  readonly objects: ObjectStore;
  readonly items: ItemCache;
  readonly stages: StageStore;
  readonly history: History;
}

/** Who holds a stage lock (the `owner.json` inside the lock directory). */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  started: string;
  /** ISO time of the last heartbeat; a lock whose heartbeat is older than `staleMs` is stale. */
  heartbeat: string;
}

export interface LockOptions {
  /** Wait (polling) until the lock is free or stale; when false, return null at once if it is held. */
  wait: boolean;
  /** Called once, when the lock is found held by someone else and `wait` is true. */
  onWaiting?: (holder: LockHolder) => void;
  /** Called when a stale lock (dead holder, or no heartbeat for `staleMs`) is taken over. */
  onReclaimed?: (holder: LockHolder | null) => void;
  /** A lock whose heartbeat is older than this is reclaimed (default 120 000 ms). */
  staleMs?: number;
  /** Poll interval while waiting (default 500 ms). */
  pollMs?: number;
  /** Stops waiting (the call then resolves to null). */
  signal?: AbortSignal;
}

/** A held stage lock. The heartbeat runs on an unref'd timer until `release()`. */
export interface LockHandle {
  readonly key: StageKey;
  /** Stops the heartbeat and removes the lock directory. Idempotent. */
  release(): Promise<void>;
  /** False once another process reclaimed the lock as stale (seen by the heartbeat). */
  readonly held: boolean;
}

/** Item-level progress of a running stage: one checksummed JSON line per finished item. */
export interface StageJournal {
  /**
   * The journaled items, in order, deduplicated by id (the last valid line for an id wins). Torn or
   * corrupt lines (crash mid-write, bad checksum) are dropped; valid lines after them still count.
   */
  read(): Promise<ItemRecord[]>;
  /** Like `read`, plus how many lines were dropped (for a warning on resume). */
  readDetailed(): Promise<{ items: ItemRecord[]; dropped: number }>;
  /** Appends one item; durable (written + fsynced) when the promise resolves. Concurrent calls are batched. */
  append(item: ItemRecord): Promise<void>;
  /** Deletes the journal (after publish, or to restart a stage from scratch). */
  remove(): Promise<void>;
}

/** Per-stage state: manifests (published stages), journals (running ones) and locks. */
export interface StageStore {
  /** `<root>/stages`. */
  readonly root: string;
  /** `<root>/stages/<key>` (the stage's working directory; workers may write logs there). */
  dirOf(key: StageKey): string;
  /**
   * The published manifest, null when the stage is not published, or a `cache-corrupt` failure when
   * the manifest is unreadable (the stage then counts as not published and is recomputed).
   */
  readManifest(key: StageKey): Promise<Result<StageManifest | null, Failure>>;
  /** True only for a readable manifest. */
  isPublished(key: StageKey): Promise<boolean>;
  /** Writes the manifest last and atomically (temp → fsync → rename), then removes the journal. */
  publish(manifest: StageManifest): Promise<void>;
  /**
   * Un-publishes a stage whose output names an object that turned out missing or corrupt: the manifest
   * is renamed to `manifest.withdrawn.json` (kept for a human), so the next plan recomputes the stage.
   * False when it was not published.
   */
  withdraw(key: StageKey): Promise<boolean>;
  /** The orchestrator's journal of a stage (`stages/<key>/journal.jsonl`). */
  journal(key: StageKey): StageJournal;
  /**
   * A shard's own journal (`stages/<key>/shards/journal.<i>-of-<n>.jsonl`): each shard process writes
   * only its own, so shards on several hosts need no shared writer. Removed when the stage publishes.
   */
  shardJournal(key: StageKey, part: StagePart): StageJournal;
  /**
   * Every item journaled for a stage: the orchestrator's journal, then each shard journal, merged by
   * id (the first valid record of an id wins; torn lines dropped and counted). What resume and healing
   * start from.
   */
  readJournals(key: StageKey): Promise<{ items: ItemRecord[]; dropped: number }>;
  /** Paths of every journal file of a stage, the orchestrator's first (for `gc`). */
  journalPaths(key: StageKey): Promise<string[]>;
  /** `stages/<key>/shards/`: shard journals, results and logs. */
  shardsDir(key: StageKey): string;
  /** Writes the stage's self-contained description into its folder (atomically); returns the path. */
  writeDescription(d: StageDescription): Promise<string>;
  /** The stage's description; an error says in one line why it is missing or unusable. */
  readDescription(key: StageKey): Promise<Result<StageDescription, string>>;
  /** Takes the stage lock; null when `wait` is false and someone else holds it (or the wait was aborted). */
  lock(key: StageKey, opts: LockOptions): Promise<LockHandle | null>;
  /** The live holder of a stage lock, or null when unlocked or the lock is stale. */
  lockHolder(key: StageKey, staleMs?: number): Promise<LockHolder | null>;
  /** Every stage directory's key (for gc). */
  list(): Promise<StageKey[]>;
}

/** The stage records the planner saw before, to say *why* a stage runs ("param temperature changed"). */
export interface History {
  /** Appends a record for (experiment, role); a record equal to the last one for that role is not repeated. */
  append(experiment: string, role: string, record: KeyRecord): Promise<void>;
  /** The same for many roles at once (one read + one write). */
  appendMany(experiment: string, entries: readonly { role: string; record: KeyRecord }[]): Promise<void>;
  /** Records for (experiment, role), most recent last, at most `HISTORY_CAP`. */
  read(experiment: string, role: string): Promise<KeyRecord[]>;
}

/** History keeps this many records per (experiment, role). */
export const HISTORY_CAP = 50;

export interface GcOptions {
  /** Stage keys to keep (every key of `buildPlan` over the specs, cached or not). */
  reachable: ReadonlySet<StageKey>;
  /** Count what would go, delete nothing. */
  dryRun: boolean;
  /** Only remove unreachable entries not modified for this many days. */
  olderThanDays?: number;
  /**
   * Objects, item entries and temp files younger than this are never removed (a running `pefuse run`
   * may have written them and not yet journaled them). Default 3 600 000 ms (1 h).
   */
  graceMs?: number;
}

/** What gc removed (or would remove with `dryRun`). */
export interface GcReport {
  stages: number;
  objects: number;
  items: number;
  tmp: number;
  /** Total bytes of everything counted above. */
  bytes: number;
  /** Unreachable stages left alone because a live process holds their lock. */
  lockedSkipped: number;
  /** The stages removed (or that a dry run would remove): key, kind (from the manifest) and bytes. */
  removedStages: { key: StageKey; kind: string | null; bytes: number }[];
}
