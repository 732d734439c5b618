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
import type { KeyRecord, StageKey } from '../plan/stage.js';
import type { JsonValue } from '../util/json.js';

/**
 * A reference to an immutable object: its sha256 and byte size. A type alias (not an interface) so a
 * ref can be placed directly inside a `JsonValue` (manifest and item outputs) without a cast.
 */
export type ObjectRef = {
  sha256: string;
  size: number;
};

/** One finished item, as journaled and as listed in a manifest. */
export interface ItemRecord {
  /** Item id within the stage (query id, gallery image id, or a fixed id such as `all`). */
  id: string;
  /** The item's output: inline JSON (a text, a metric) and/or object references. */
  output: JsonValue;
  /** Wall seconds spent computing this item (inference time per sample for the compute table). */
  seconds: number;
  /** True when the item came from the per-item cache rather than being computed. */
  cached?: boolean;
}

/** Written last and atomically when a stage completes. */
export interface StageManifest {
  format: 'pefuse-stage/1';
  key: StageKey;
  record: KeyRecord;
  items: ItemRecord[];
  /** Stage-level output (e.g. the gallery embedding matrix object, the ranking object). */
  output: JsonValue;
  seconds: number;
  host: string;
  device: string | null;
  peak_mem_mb: number | null;
  attempts: number;
  finished_at: string;
}

/** Immutable blobs addressed by sha256. Writes are temp file → fsync → rename; reads verify. */
export interface ObjectStore {
  readonly root: string;
  /** Store bytes (or a UTF-8 string); returns the reference. Idempotent. */
  put(data: Uint8Array | string): Promise<ObjectRef>;
  /** Store a file produced by a worker (hashes it, moves or copies it into place). */
  putFile(path: string): Promise<ObjectRef>;
  /** Read and verify (size + sha256). A missing or corrupt object is an error, never a crash. */
  read(
    ref: ObjectRef,
  ): Promise<import('../util/result.js').Result<Uint8Array, import('../exec/failure.js').Failure>>;
  /** The object's path on disk (for workers that read files directly). */
  pathOf(sha256: string): string;
  has(sha256: string): Promise<boolean>;
}

/** The per-item cache: item key → item output, shared by every stage that computes the same item. */
export interface ItemCache {
  get(itemKey: string): Promise<JsonValue | undefined>;
  put(itemKey: string, output: JsonValue): Promise<void>;
}

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
  readManifest(
    key: StageKey,
  ): Promise<import('../util/result.js').Result<StageManifest | null, import('../exec/failure.js').Failure>>;
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
  journal(key: StageKey): StageJournal;
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
