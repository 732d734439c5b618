/**
 * Reading upstream stage outputs from a StageRunContext: the dataset's query/gallery lists and the
 * per-item outputs of text- and image-producing stages. Problems are Failures naming the input.
 */
import { type Failure, failure } from '../../runner/contract/failure.js';
import type { StageRunContext } from '../../runner/contract/run.js';
import type { StageKind } from '../../runner/contract/stage.js';
import { readJsonObject } from '../../runner/store/json.js';
import type { ObjectRef, StageManifest } from '../../runner/store/types.js';
import { isJsonObject } from '../../runner/util/json.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import type { DatasetOutput, GalleryItem, QueryRecord } from '../contracts.js';

/** The input named `name`, else the first input whose stage kind is `kind`. */
export function findInput(
  ctx: StageRunContext,
  names: readonly string[],
  kind: StageKind,
): StageManifest | undefined {
  for (const n of names) if (ctx.inputs[n] !== undefined) return ctx.inputs[n];
  return Object.values(ctx.inputs).find((m) => m.record.kind === kind);
}

function isRef(v: unknown): v is ObjectRef {
  return isJsonObject(v) && typeof v.sha256 === 'string' && typeof v.size === 'number';
}

/** Reads and parses a JSON object from the store. */
export function readJson<T>(ctx: StageRunContext, ref: ObjectRef, what: string): Promise<Result<T, Failure>> {
  return readJsonObject<T>(ctx.objects, ref, what);
}

/** The dataset manifest's output (input `dataset`, `gallery`, or any `dataset`-kind input). */
export function datasetOutputOf(
  ctx: StageRunContext,
  names: readonly string[] = ['dataset'],
): Result<DatasetOutput, Failure> {
  const m = findInput(ctx, names, 'dataset');
  if (m === undefined)
    return err(
      failure(
        'input-missing',
        `${ctx.node.kind} needs a dataset input (named ${names.map((n) => `"${n}"`).join(' or ')})`,
      ),
    );
  const out = m.output;
  if (!isJsonObject(out) || !isRef(out.queries) || !isRef(out.gallery))
    return err(failure('bad-input', `the dataset input of ${ctx.node.kind} has no queries/gallery objects`));
  return ok(out as unknown as DatasetOutput);
}

export async function readQueries(
  ctx: StageRunContext,
  ds: DatasetOutput,
): Promise<Result<QueryRecord[], Failure>> {
  return readJson<QueryRecord[]>(ctx, ds.queries, 'the query list');
}

export async function readGallery(
  ctx: StageRunContext,
  ds: DatasetOutput,
): Promise<Result<Array<GalleryItem & { oracle_caption?: string }>, Failure>> {
  return readJson(ctx, ds.gallery, 'the gallery list');
}

/** The descriptions of a text item: `texts` when there are several, else `[text]`; null when neither. */
export function textsOfItem(output: unknown): string[] | null {
  if (!isJsonObject(output)) return null;
  const many = output.texts;
  if (Array.isArray(many) && many.length > 0 && many.every((t) => typeof t === 'string'))
    return many as string[];
  return typeof output.text === 'string' ? [output.text] : null;
}

/** `{text}` per item id from a text-producing stage's manifest (mllm.compose / mllm.caption). */
export function textsOf(m: StageManifest): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of m.items) {
    const o = item.output;
    if (isJsonObject(o) && typeof o.text === 'string') out.set(item.id, o.text);
  }
  return out;
}

/** `{image: ObjectRef}` per item id from an image-producing stage's manifest (diffusion.edit). */
export function imagesOf(m: StageManifest): Array<{ id: string; image: ObjectRef }> {
  const out: Array<{ id: string; image: ObjectRef }> = [];
  for (const item of m.items) {
    const o = item.output;
    if (isJsonObject(o) && isRef(o.image)) out.push({ id: item.id, image: o.image });
  }
  return out;
}
