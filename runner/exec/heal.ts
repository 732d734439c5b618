/**
 * Self-healing when a cached object turns out missing or corrupt while a stage reads it.
 *
 * The object store quarantines a corrupt object, but the manifests and journal records that name it
 * stay: without help, the stage that produced it would count as cached forever and every run would fail
 * the same way. So the executor watches which objects a stage could not read and, when the stage fails:
 *
 *   an input stage's manifest names the object ──▶ withdraw that manifest (the next run recomputes it;
 *                                                   the recomputed bytes restore every other manifest
 *                                                   naming the same content, since objects are content-addressed)
 *   this stage's own journaled items name it    ──▶ forget those items and retry the stage now
 */

import { type Failure, failure } from '../contract/failure.js';
import type { StageKey } from '../contract/stage.js';
import { collectRefs, referencesAny } from '../store/refs.js';
import type { ItemRecord, ObjectStore, StageManifest, StageStore } from '../store/types.js';

/** An object store that records in `bad` every object a read found missing or corrupt. */
export function watchObjects(objects: ObjectStore, bad: Set<string>): ObjectStore {
  return {
    root: objects.root,
    put: (data) => objects.put(data),
    putFile: (path) => objects.putFile(path),
    pathOf: (sha) => objects.pathOf(sha),
    has: (sha) => objects.has(sha),
    async read(ref) {
      const r = await objects.read(ref);
      if (!r.ok && (r.error.reason === 'cache-corrupt' || r.error.reason === 'input-missing'))
        bad.add(ref.sha256);
      return r;
    },
  };
}

export interface Healing {
  /** Input stages whose manifests were withdrawn (recomputed by the next run). */
  withdrawn: { key: StageKey; kind: string }[];
  /** This stage's journaled items forgotten (recomputed by a retry now). */
  dropped: number;
}

/** Withdraws the input manifests and forgets the own items that name any of the `bad` objects. */
export async function heal(
  bad: ReadonlySet<string>,
  inputs: Record<string, StageManifest>,
  done: Map<string, ItemRecord>,
  stages: StageStore,
): Promise<Healing> {
  const withdrawn: Healing['withdrawn'] = [];
  if (bad.size === 0) return { withdrawn, dropped: 0 };
  const seen = new Set<string>();
  for (const m of Object.values(inputs)) {
    if (seen.has(m.key) || !referencesAny(m, bad)) continue;
    seen.add(m.key);
    await stages.withdraw(m.key);
    withdrawn.push({ key: m.key, kind: m.record.kind });
  }
  let dropped = 0;
  for (const [id, rec] of done)
    if (referencesAny(rec, bad)) {
      done.delete(id);
      dropped++;
    }
  return { withdrawn, dropped };
}

/** The stage's failure, saying which input stage was withdrawn and that a re-run recomputes it. */
export function healedFailure(f: Failure, h: Healing): Failure {
  const names = h.withdrawn.map((w) => `${w.kind} stage ${w.key.slice(0, 12)}`).join(', ');
  return failure(
    'cache-corrupt',
    `${f.message}; the cached output of ${names} was withdrawn: re-run the same command to recompute it`,
    {
      retryable: false,
      ...(f.item !== undefined ? { item: f.item } : {}),
      ...(f.detail ? { detail: f.detail } : {}),
    },
  );
}

/** Ids of journaled items that name an object the store no longer has (a stat per object). */
export async function itemsWithMissingObjects(
  done: ReadonlyMap<string, ItemRecord>,
  objects: ObjectStore,
): Promise<string[]> {
  const gone: string[] = [];
  for (const [id, rec] of done) {
    for (const sha of collectRefs(rec.output)) {
      if (!(await objects.has(sha))) {
        gone.push(id);
        break;
      }
    }
  }
  return gone;
}
