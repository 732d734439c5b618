/**
 * What a stage reads and writes in the store, as the contract sees it: object references, item records,
 * manifests, and the two store views a runner is handed (objects, per-item cache). The store
 * (`runner/store/`) implements them; a stage never sees more of it.
 */
import type { JsonValue } from '../util/json.js';
import type { Result } from '../util/result.js';
import type { Failure } from './failure.js';
import type { KeyRecord, StageKey } from './stage.js';

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
  read(ref: ObjectRef): Promise<Result<Uint8Array, Failure>>;
  /** The object's path on disk (for workers that read files directly). */
  pathOf(sha256: string): string;
  has(sha256: string): Promise<boolean>;
}

/** The per-item cache: item key → item output, shared by every stage that computes the same item. */
export interface ItemCache {
  get(itemKey: string): Promise<JsonValue | undefined>;
  put(itemKey: string, output: JsonValue): Promise<void>;
}
