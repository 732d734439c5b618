/**
 * Schema validation (ajv over the JSON Schema in spec.schema.json, which editors can use too), with each
 * ajv error mapped back to a located diagnostic and phrased for people. The validator is compiled at
 * build time (scripts/compile-schema.mjs → compiled/spec.ts), not in every process.
 */
import type { ErrorObject } from 'ajv';
import { type Diagnostic, diag } from '../diagnostics/diagnostic.js';
import { didYouMean } from '../diagnostics/suggest.js';
import type { JsonValue } from '../util/json.js';
import { type LNode, nodeAt } from './located.js';
import { validateSpec } from './validators.js';

/** Human path: `/datasets/0/split` → `datasets[0].split`. */
export function displayPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out === '' ? 'the spec' : out;
}

function segmentsOf(instancePath: string): (string | number)[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

export function validateSchema(tree: LNode, json: JsonValue): Diagnostic[] {
  const validate = validateSpec;
  if (validate(json)) return [];
  const errors = (validate.errors ?? []).slice();
  // oneOf failures produce one error per branch; report the oneOf once and drop its branches' noise.
  const oneOfPaths = errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath);
  const kept = errors.filter(
    (e) =>
      e.keyword === 'oneOf' ||
      !oneOfPaths.some((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`)),
  );
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const e of kept) {
    const d = toDiagnostic(tree, e);
    const id = `${d.span?.file}:${d.span?.start}:${d.message}`;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(d);
    }
  }
  return out;
}

function toDiagnostic(tree: LNode, e: ErrorObject): Diagnostic {
  const segs = segmentsOf(e.instancePath);
  const where = displayPath(segs);
  const at = nodeAt(tree, segs);
  const node = at.node;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const entry = node.kind === 'map' ? node.entries.get(key) : undefined;
      const allowed = allowedKeys(e.parentSchema);
      const hint =
        didYouMean(key, allowed) ?? (allowed.length ? `allowed keys: ${allowed.join(', ')}` : undefined);
      return diag(`unknown key \`${key}\` in ${where}`, entry?.keySpan ?? node.span, { hint });
    }
    case 'required': {
      const key = String(params.missingProperty);
      const span =
        node.kind === 'map' && node.entries.size > 0 ? [...node.entries.values()][0]!.keySpan : node.span;
      return diag(
        `${where === 'the spec' ? 'the spec' : `\`${where}\``} is missing the required key \`${key}\``,
        span,
        {
          hint: requiredHint(key),
        },
      );
    }
    case 'enum': {
      const allowed = ((params.allowedValues as unknown[]) ?? []).map(String);
      const got = node.kind === 'scalar' ? node.value : null;
      const hint = typeof got === 'string' ? didYouMean(got, allowed) : undefined;
      return diag(`\`${where}\` must be one of ${allowed.join(', ')} (got ${show(got, node)})`, node.span, {
        hint,
      });
    }
    case 'type': {
      // A quoted `"${env:T}"` stays a string after substitution; say so, since the text looks numeric.
      const fromEnv =
        node.kind === 'scalar' &&
        typeof node.value === 'string' &&
        node.span.source.slice(node.span.start, node.span.end).includes('${env:');
      return diag(
        `\`${where}\` must be ${article(String(params.type))} (got ${show(node.kind === 'scalar' ? node.value : null, node)})`,
        node.span,
        fromEnv
          ? {
              hint: 'a quoted value stays a string after ${env:…} substitution; write it unquoted to get a number or boolean',
            }
          : {},
      );
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const op = { minimum: '>=', maximum: '<=', exclusiveMinimum: '>', exclusiveMaximum: '<' }[e.keyword];
      return diag(
        `\`${where}\` must be ${op} ${String(params.limit)} (got ${show(node.kind === 'scalar' ? node.value : null, node)})`,
        node.span,
      );
    }
    case 'minItems':
      return diag(
        `\`${where}\` must have at least ${String(params.limit)} entr${params.limit === 1 ? 'y' : 'ies'}`,
        node.span,
      );
    case 'minProperties':
      return diag(`\`${where}\` must not be empty`, node.span);
    case 'pattern':
      return diag(
        `\`${where}\` may contain only letters, digits, '.', '_' and '-' and must start with a letter or digit`,
        node.span,
      );
    case 'oneOf':
      if (segs[segs.length - 1] === 'repeats')
        return diag('`repeats` must be a positive integer or a mapping `{seeds: [..]}`', node.span, {
          hint: 'e.g. `repeats: 3` or `repeats: {seeds: [11, 22, 33]}`',
        });
      return diag(`\`${where}\` does not match any allowed form`, node.span);
    default:
      return diag(`\`${where}\` ${e.message ?? 'is invalid'}`, node.span);
  }
}

function allowedKeys(parentSchema: unknown): string[] {
  const props = (parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props) : [];
}

function requiredHint(key: string): string | undefined {
  switch (key) {
    case 'retrieval':
      return 'add e.g. `retrieval: {backend: onnx, model: openclip-vit-b-32, model_dir: ...}`';
    case 'mode':
      return 'add `mode: t2i` (or i2i, t2t, i2t)';
    case 'datasets':
      return 'add e.g. `datasets: [{name: cirr, split: val, root: ...}]`';
    default:
      return undefined;
  }
}

function article(type: string): string {
  switch (type) {
    case 'integer':
      return 'an integer';
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    default:
      return `a ${type}`;
  }
}

function show(v: unknown, node: LNode): string {
  if (node.kind === 'map') return 'a mapping';
  if (node.kind === 'seq') return 'a list';
  if (typeof v === 'string') return `the string "${v}"`;
  return String(v);
}
