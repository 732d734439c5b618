/**
 * Object references inside JSON outputs (`{"sha256": …, "size": …}`), found wherever they sit: stage
 * outputs, item records and item-cache entries all embed them. Used to heal the cache when an object
 * turns out to be missing or corrupt: whoever names that object must be recomputed.
 */
import { isJsonObject, type JsonValue } from '../util/json.js';
import type { ObjectRef } from './types.js';

/** Whether `v` is an object reference (a JSON object with a string `sha256` and a numeric `size`). */
export function isObjectRef(v: unknown): v is ObjectRef & JsonValue {
  return isJsonObject(v) && typeof v.sha256 === 'string' && typeof v.size === 'number';
}

/** Every sha256 referenced anywhere inside `v`. */
export function referencedObjects(v: unknown, into: Set<string> = new Set()): Set<string> {
  if (isObjectRef(v)) into.add(v.sha256);
  else if (Array.isArray(v)) for (const x of v) referencedObjects(x, into);
  else if (isJsonObject(v)) for (const x of Object.values(v)) referencedObjects(x, into);
  return into;
}

/** Whether `v` references any of `shas`. */
export function referencesAny(v: unknown, shas: ReadonlySet<string>): boolean {
  if (shas.size === 0) return false;
  for (const s of referencedObjects(v)) if (shas.has(s)) return true;
  return false;
}
