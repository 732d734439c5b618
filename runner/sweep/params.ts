/**
 * Sweepable parameter paths and their schemas, derived from the spec schema so that the two never
 * drift: `mllm.temperature` is sweepable because `definitions.mllm.properties.temperature` exists.
 */
import schema from '../spec/spec.schema.json' with { type: 'json' };
import { SWEEPABLE_BLOCKS } from '../spec/types.js';
import { PARAM_VALIDATORS } from '../spec/validators.js';

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  definitions?: Record<string, SchemaNode>;
  $ref?: string;
  [k: string]: unknown;
}

const root = schema as unknown as SchemaNode;

function propertySchema(path: string): SchemaNode | undefined {
  if (path === 'mode') return root.definitions?.mode;
  if (path === 'seed') return root.properties?.seed;
  const [block, prop, ...rest] = path.split('.');
  if (rest.length > 0 || !block || !prop) return undefined;
  if (!(SWEEPABLE_BLOCKS as readonly string[]).includes(block)) return undefined;
  // Own properties only: `mllm.toString` or `score.__proto__` must not find Object.prototype's members.
  const props = root.definitions?.[block]?.properties;
  return props && Object.hasOwn(props, prop) ? props[prop] : undefined;
}

/** Every path a sweep, an `exclude` or a `--set` on a point may name. */
export const SWEEPABLE_PATHS: readonly string[] = [
  'mode',
  'seed',
  ...SWEEPABLE_BLOCKS.flatMap((b) =>
    Object.keys(root.definitions?.[b]?.properties ?? {}).map((p) => `${b}.${p}`),
  ),
];

export function isSweepable(path: string): boolean {
  return propertySchema(path) !== undefined;
}

/**
 * Validates one swept value against its property's schema; returns a phrase like "must be >= 0". The
 * validators are compiled at build time (scripts/compile-schema.mjs → spec/compiled/params.ts).
 */
export function checkValue(path: string, value: unknown): string | null {
  if (!propertySchema(path)) return null;
  const v = Object.hasOwn(PARAM_VALIDATORS, path) ? PARAM_VALIDATORS[path] : undefined;
  if (!v) throw new Error(`no compiled validator for sweepable path ${path}: run \`npm run build\``);
  if (v(value)) return null;
  const e = v.errors?.[0];
  if (!e) return 'is invalid';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type':
      return `must be ${p.type === 'integer' ? 'an integer' : `a ${String(p.type)}`}`;
    case 'enum':
      return `must be one of ${((p.allowedValues as unknown[]) ?? []).map(String).join(', ')}`;
    case 'minimum':
      return `must be >= ${String(p.limit)}`;
    case 'maximum':
      return `must be <= ${String(p.limit)}`;
    case 'exclusiveMinimum':
      return `must be > ${String(p.limit)}`;
    case 'exclusiveMaximum':
      return `must be < ${String(p.limit)}`;
    default:
      return e.message ?? 'is invalid';
  }
}
