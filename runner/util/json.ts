/**
 * JSON values and canonical serialisation.
 *
 * Stage keys are sha256 over *canonical* JSON: object keys sorted, no whitespace, and numbers written
 * the same way whatever their YAML spelling (`1`, `1.0` and `1e0` all serialise as `1`). Key records are
 * therefore plain data that can be printed by `pefuse explain` and compared field by field.
 */
import { createHash, hash } from 'node:crypto';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Canonical JSON: sorted keys, minimal whitespace, finite numbers only (NaN/Infinity are bugs here). */
export function canonicalJson(value: JsonValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`canonicalJson: non-finite number ${value}`);
      // -0 and 0 are the same parameter value; String() spells finite numbers as JSON does.
      return value === 0 ? '0' : String(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++)
          out += (i > 0 ? ',' : '') + canonicalJson(value[i] as JsonValue);
        return `${out}]`;
      }
      const keys = Object.keys(value);
      if (keys.length > 1) keys.sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = value[k];
        if (v === undefined) continue;
        out += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw new Error(`canonicalJson: unsupported value of type ${typeof value}`);
  }
}

/**
 * sha256 in hex. `crypto.hash` (Node ≥ 20.12) skips the Hash object: about 3× faster on the short texts
 * of stage keys and point ids, which planning hashes tens of thousands of times.
 */
export function sha256Hex(data: string | Uint8Array): string {
  return typeof hash === 'function'
    ? hash('sha256', data, 'hex')
    : createHash('sha256').update(data).digest('hex');
}

/** Deep equality under canonical JSON (so 1 and 1.0 are equal, key order is irrelevant). */
export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
