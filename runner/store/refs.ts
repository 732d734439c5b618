/**
 * Object references inside JSON outputs (`{"sha256": …, "size": …}`), found wherever they sit: stage
 * outputs, item records and item-cache entries all embed them. gc keeps what they name; the executor
 * heals the cache when an object they name turns out missing or corrupt.
 */
import { SHA256_RE } from './fsutil.js';

/** Every `{sha256, size}` object reference anywhere inside a JSON value. */
export function collectRefs(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) {
    for (const v of value) collectRefs(v, into);
  } else if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    if (typeof o.sha256 === 'string' && SHA256_RE.test(o.sha256) && typeof o.size === 'number')
      into.add(o.sha256);
    for (const v of Object.values(o)) collectRefs(v, into);
  }
  return into;
}

/** Whether `v` references any of `shas`. */
export function referencesAny(v: unknown, shas: ReadonlySet<string>): boolean {
  if (shas.size === 0) return false;
  for (const s of collectRefs(v)) if (shas.has(s)) return true;
  return false;
}
