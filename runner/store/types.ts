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

/** A reference to an immutable object: its sha256 and byte size. */
export interface ObjectRef {
  sha256: string;
  size: number;
}

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
