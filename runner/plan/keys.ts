/**
 * Key records → stage keys. Data first, hash second (wireit's fingerprint): the record is plain data,
 * canonical JSON makes it comparable, sha256 makes it an address.
 */

import type { KeyRecord, StageKey } from '../contract/stage.js';
import { canonicalJson, type JsonValue, sha256Hex } from '../util/json.js';

/**
 * Version of the key recipe. Bump when what goes into a record changes meaning; every cached stage is
 * then planned again.
 */
export const KEY_SCHEME = 1;

/**
 * The stage key: sha256 of the record's canonical JSON. `model` and `data` objects are usually shared
 * by thousands of records (one model identity per sweep), so their canonical text is cached by object
 * identity; the output is byte-identical to `canonicalJson(record)`.
 */
export function stageKeyOf(record: KeyRecord): StageKey {
  const inputs = record.inputs;
  const names = Object.keys(inputs).sort();
  let inputsJson = '{';
  for (let i = 0; i < names.length; i++)
    inputsJson += `${i > 0 ? ',' : ''}${JSON.stringify(names[i])}:"${inputs[names[i]!]}"`;
  inputsJson += '}';
  // Keys in sorted order: data, impl_version, inputs, kind, model, params, scheme.
  const text = `{"data":${cached(record.data)},"impl_version":${canonicalJson(record.impl_version)},"inputs":${inputsJson},"kind":${JSON.stringify(record.kind)},"model":${cached(record.model)},"params":${canonicalJson(record.params)},"scheme":${canonicalJson(record.scheme)}}`;
  // No cache of texts → keys: looking a 600-character text up costs about what hashing it does, and
  // keeping every text alive made the garbage collector a quarter of planning's time.
  return sha256Hex(text) as StageKey;
}

const textCache = new WeakMap<object, string>();
function cached(v: JsonValue): string {
  if (v === null || typeof v !== 'object') return canonicalJson(v);
  let t = textCache.get(v);
  if (t === undefined) {
    t = canonicalJson(v);
    textCache.set(v, t);
  }
  return t;
}

/** Says, for people, how a record differs from an earlier one of the same slot. */
export function explainChange(now: KeyRecord, before: KeyRecord): string {
  if (now.kind !== before.kind) return 'new';
  if (now.impl_version !== before.impl_version)
    return `version bumped (v${before.impl_version} → v${now.impl_version})`;
  const changed: string[] = [];
  const keys = new Set([...Object.keys(now.params), ...Object.keys(before.params)]);
  for (const k of [...keys].sort()) {
    const a = before.params[k];
    const b = now.params[k];
    if (canonicalJson(a ?? null) !== canonicalJson(b ?? null)) changed.push(`${k} ${show(a)} → ${show(b)}`);
  }
  if (changed.length > 0)
    return `param ${changed.slice(0, 2).join(', ')} changed${changed.length > 2 ? ` (+${changed.length - 2} more)` : ''}`;
  if (canonicalJson(now.model) !== canonicalJson(before.model)) return 'model changed';
  if (canonicalJson(now.data) !== canonicalJson(before.data)) return 'data changed';
  if (canonicalJson(now.inputs) !== canonicalJson(before.inputs)) return 'input changed';
  if (now.scheme !== before.scheme) return 'scheme changed';
  // The very record ran before: its result left the cache (gc, a withdrawn manifest, deleted by hand).
  return 'computed before, no longer in the cache';
}

function show(v: unknown): string {
  return v === undefined ? '(unset)' : JSON.stringify(v);
}

/** Counts differing top-level fields, to pick the closest earlier record. */
export function distance(a: KeyRecord, b: KeyRecord): number {
  let d = 0;
  if (a.impl_version !== b.impl_version) d += 100;
  const keys = new Set([...Object.keys(a.params), ...Object.keys(b.params)]);
  for (const k of keys) if (canonicalJson(a.params[k] ?? null) !== canonicalJson(b.params[k] ?? null)) d += 1;
  if (canonicalJson(a.model) !== canonicalJson(b.model)) d += 10;
  if (canonicalJson(a.data) !== canonicalJson(b.data)) d += 10;
  if (canonicalJson(a.inputs) !== canonicalJson(b.inputs)) d += 5;
  return d;
}
